// Runs the sluice CLI from source, for tests that spawn it as a real process
// (spawned with the test's own execArgv, so TypeScript loads the same way it does under tap).
import { main } from '../../src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`sluice: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
