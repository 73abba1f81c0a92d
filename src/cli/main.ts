import { runCheck } from './check.js';
import { runApprovals } from './approvals.js';
import { runDemo } from './demo.js';
import { MAIN_HELP } from './help.js';
import { processIO, type CommandIO } from './io.js';
import { runMcp } from './mcp.js';
import { runRecordings } from './recordings.js';
import { runServe } from './serve.js';
import { runToken } from './token.js';

/** The `sluice` command. Returns the exit code. */
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
      return runServe(rest, io);
    case 'mcp':
      return runMcp(rest, io);
    case 'check':
      return runCheck(rest, io);
    case 'token':
      return runToken(rest, io);
    case 'recordings':
      return runRecordings(rest, {
        stdout: process.stdout,
        stderr: process.stderr,
        env: io.env,
        isTTY: Boolean(process.stderr.isTTY),
      });
    case 'demo':
      return runDemo(rest, io);
    case 'approvals':
      return runApprovals(rest, io);
    default:
      io.stderr(`sluice: unknown command "${command}"\n\n${MAIN_HELP}`);
      return 2;
  }
}
