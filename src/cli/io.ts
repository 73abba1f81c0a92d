/** What a command may touch of the outside world; injected so commands can be tested in-process. */
export interface CommandIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

export const processIO: CommandIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};

/** A usage error: the command prints the message and its help hint, and exits 2. */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
}
