import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import { startMysqlListener, type MysqlListener } from '../gateway/mysql/listener.js';
import { startPostgresListener, type PostgresListener } from '../gateway/postgres/listener.js';
import type { AssembledGateway } from './assemble.js';

export interface RunningListeners {
  postgres: { host: string; port: number } | undefined;
  mysql: { host: string; port: number } | undefined;
  /** Honours a Postgres CancelRequest passed on by another worker; false when the key is not ours. */
  cancel(processId: number, secretKey: number): boolean;
  close(): Promise<void>;
}

export interface ListenerOptions {
  /** A Postgres CancelRequest quoting a key these listeners did not issue (see PostgresListenerOptions). */
  onForeignCancel?: (processId: number, secretKey: number) => void;
}

/** Starts the wire listeners the config names (server.postgres, server.mysql); each logs where it listens. */
export async function startListeners(
  parts: AssembledGateway,
  config: Config,
  logger: Logger,
  options: ListenerOptions = {},
): Promise<RunningListeners> {
  let postgres: PostgresListener | undefined;
  let mysql: MysqlListener | undefined;
  try {
    if (config.server.postgres) {
      postgres = await startPostgresListener(
        parts,
        config,
        logger,
        options.onForeignCancel ? { onForeignCancel: options.onForeignCancel } : {},
      );
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
    cancel: (processId, secretKey) => postgres?.cancel(processId, secretKey) ?? false,
    async close() {
      await Promise.allSettled([postgres?.close(), mysql?.close()]);
    },
  };
}
