/** What a command may touch of the outside world; injected so commands can be tested in-process. */
export interface CommandIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Whether stdout is a terminal (list commands print a header line only then). */
  isTTY?: boolean;
}

export const processIO: CommandIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  isTTY: process.stdout.isTTY === true,
};

/** A usage error: the command prints the message and its help hint, and exits 2. */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
}
