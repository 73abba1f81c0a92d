// Runs the benchmark scenarios one after another, each in its own process so that one's heap
// and JIT state do not colour the next: `npm run bench` (all) or `npm run bench -- masking guard`.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const SCENARIOS = ['guard', 'masking', 'pg-framing', 'pg-client', 'recording', 'pgbench', 'mysql'];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !SCENARIOS.includes(name));
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(', ')}; choose from ${SCENARIOS.join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length > 0 ? wanted : SCENARIOS) {
  console.log(`\n## ${name}\n`);
  const result = spawnSync(process.execPath, [join(import.meta.dirname, `${name}.js`)], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    console.log(`(${name} exited ${result.status ?? result.signal})`);
  }
}
process.exit(failed > 0 ? 1 : 0);
