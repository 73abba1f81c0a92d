import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import { startMysqlListener, type MysqlListener } from '../gateway/mysql/listener.js';
import { startPostgresListener, type PostgresListener } from '../gateway/postgres/listener.js';
import type { AssembledGateway } from './assemble.js';

export interface RunningListeners {
  postgres: { host: string; port: number } | undefined;
  mysql: { host: string; port: number } | undefined;
  close(): Promise<void>;
}

/** Starts the wire listeners the config names (server.postgres, server.mysql); each logs where it listens. */
export async function startListeners(
  parts: AssembledGateway,
  config: Config,
  logger: Logger,
): Promise<RunningListeners> {
  let postgres: PostgresListener | undefined;
  let mysql: MysqlListener | undefined;
  try {
    if (config.server.postgres) {
      postgres = await startPostgresListener(parts, config, logger);
    }
    if (config.server.mysql) {
      mysql = await startMysqlListener(parts, config, logger);
    }
  } catch (err) {
    await postgres?.close();
    await mysql?.close();
    throw err;
  }
  return {
    postgres: postgres?.address,
    mysql: mysql?.address,
    async close() {
      await Promise.allSettled([postgres?.close(), mysql?.close()]);
    },
  };
}
