import { MAIN_HELP } from './help.js';
import { processIO, type CommandIO } from './io.js';

/**
 * The `sluice` command. Returns the exit code. Each command's module is loaded only when that
 * command runs: the parsers and drivers behind `serve` take a while to load, and `--help` or
 * `token` should not wait for them.
 */
export async function main(argv: string[], io: CommandIO = processIO): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      io.stdout(MAIN_HELP);
      return command === undefined ? 2 : 0;
    case 'serve':
      return (await import('./serve.js')).runServe(rest, io);
    case 'mcp':
      return (await import('./mcp.js')).runMcp(rest, io);
    case 'check':
      return (await import('./check.js')).runCheck(rest, io);
    case 'policy':
      return (await import('./policy.js')).runPolicy(rest, io);
    case 'token':
      return (await import('./token.js')).runToken(rest, io);
    case 'recordings':
      return (await import('./recordings.js')).runRecordings(rest, {
        stdout: process.stdout,
        stderr: process.stderr,
        env: io.env,
        isTTY: Boolean(process.stderr.isTTY),
        stdoutIsTTY: Boolean(process.stdout.isTTY),
      });
    case 'demo':
      return (await import('./demo.js')).runDemo(rest, io);
    case 'approvals':
      return (await import('./approvals.js')).runApprovals(rest, io);
    default:
      io.stderr(`sluice: unknown command "${command}"\n\n${MAIN_HELP}`);
      return 2;
  }
}
