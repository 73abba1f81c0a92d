import { ConfigError, loadConfigFile, type Config } from '../config/load.js';

/**
 * Loads the config file a command was given. An invalid file is printed (every problem by key
 * path, no stack) as `sluice <command>: ...` and yields undefined: the command then exits 1.
 */
export function loadCommandConfig(
  command: string,
  path: string,
  io: { stderr: (text: string) => void; env: NodeJS.ProcessEnv },
): Config | undefined {
  try {
    return loadConfigFile(path, io.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`sluice ${command}: ${err.message}\n`);
    return undefined;
  }
}
