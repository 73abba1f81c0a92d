import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import type { AssembledGateway } from './assemble.js';

export interface RunningListeners {
  postgres: { port: number } | undefined;
  close(): Promise<void>;
}

/** Starts the wire listeners the config names (server.postgres, server.mysql). */
export async function startListeners(
  _parts: AssembledGateway,
  _config: Config,
  _logger: Logger,
): Promise<RunningListeners> {
  return { postgres: undefined, close: async () => undefined };
}
