import { ConfigError, loadConfigFile, type Config } from '../config/load.js';

/** The config file a command uses: `--config`, else $SLUICE_CONFIG, else sluice.yaml. */
export function configPathOf(option: string | undefined, env: NodeJS.ProcessEnv): string {
  return option || env.SLUICE_CONFIG || 'sluice.yaml';
}

/** How every command's help describes --config. */
export const CONFIG_OPTION_HELP = 'the YAML configuration (default: $SLUICE_CONFIG, else sluice.yaml)';

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
