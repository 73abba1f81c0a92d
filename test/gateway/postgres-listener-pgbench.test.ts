import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startHarness, SUBJECT } from './postgres-listener-harness.js';

const run = promisify(execFile);

const h = await startHarness(t, {
  seed: 'SELECT 1',
  policy: `
  - name: bench
    when: { groups: [ai-agents], targets: [shop] }
    statements:
      default: deny
      allow: [read, write, session, transaction]
      deny: [ddl, { effect: write, unbounded: true }]
    limits: { statementTimeout: 30s }
`,
});
// pgbench -i needs DDL: the scratch database is initialised directly, as the superuser.
await run('pgbench', ['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', '5432', '-U', 'postgres', h.db], {
  env: { PATH: process.env.PATH },
});

async function pgbench(mode: string): Promise<{ stdout: string; stderr: string }> {
  return run(
    'pgbench',
    ['-n', '-M', mode, '-t', '50', '-c', '2', '-h', '127.0.0.1', '-p', String(h.port), '-U', SUBJECT, 'shop'],
    { env: { PATH: process.env.PATH, PGPASSWORD: h.token, PGSSLMODE: 'disable' }, timeout: 30_000 },
  );
}

for (const mode of ['simple', 'extended', 'prepared']) {
  t.test(`pgbench -M ${mode} (TPC-B, 2 clients x 50 transactions) runs through the listener`, async (t) => {
    const before = Number((await h.direct('SELECT count(*) AS n FROM pgbench_history')).rows[0].n);
    const out = await pgbench(mode);
    t.match(out.stdout, new RegExp(`query mode: ${mode}`));
    t.match(out.stdout, /number of transactions actually processed: 100\/100/);
    t.match(out.stdout, /number of failed transactions: 0 /);
    const after = Number((await h.direct('SELECT count(*) AS n FROM pgbench_history')).rows[0].n);
    t.equal(after - before, 100, 'every transaction wrote its history row on the target');
  });
}
