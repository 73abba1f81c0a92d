import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { lazyPasswordKey } from './password-key.js';
import { MysqlProtocolError, MysqlServerConnection } from '../../../protocols/mysql/server/index.js';
import type { AssembledGateway } from '../assembled.js';
import type { Config } from '../../config/load.js';
import { wireApprovalWaitMs } from '../approval-notice.js';
import { listenOn } from '../listen.js';
import { loadListenerTls } from '../postgres/tls-material.js';
import { readServerVersion } from './target-version.js';
import { MysqlClientSession } from './client-session.js';
import { ConnectionIds } from './kill.js';

export interface MysqlListener {
  /** Where it listens (the real port when configured with port 0). */
  readonly address: { host: string; port: number };
  /** SHA-256 fingerprint of the listener's certificate. */
  readonly fingerprint: string;
  /** Client connections open now (handshaking or logged in). */
  readonly connections: number;
  /** Stops accepting, ends every session, and resolves when the server is closed. */
  close(): Promise<void>;
}

export interface MysqlListenerOptions {
  /** Overrides server.mysql.listen (tests: 127.0.0.1:0). */
  listen?: string;
  /** Time from accept to logged in. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Largest packet a logged-in client may send. Default 16 MiB. */
  maxPacketSize?: number;
}

/** The parts of an assembled gateway the listener uses. */
export type MysqlListenerParts = Pick<AssembledGateway, 'gateway' | 'authenticator' | 'guard'>;

/**
 * The MySQL listener: the mysql/mariadb CLI and drivers connect to Sluice as to a MySQL server,
 * log in with a token as the (clear-text, TLS-protected) password and the target as the
 * database, and every statement runs through the gateway pipeline on the client's own target
 * connection.
 */
export async function startMysqlListener(
  assembled: MysqlListenerParts,
  config: Config,
  logger: Logger,
  options: MysqlListenerOptions = {},
): Promise<MysqlListener> {
  const settings = config.server.mysql;
  const listen = options.listen ?? settings?.listen;
  if (listen === undefined) throw new Error('server.mysql.listen is not configured');
  const log = logger.child({ component: 'mysql-listener' });
  const tls = await loadListenerTls(config, log);
  const secureContext = createSecureContext({ cert: tls.cert, key: tls.key });
  const parts = {
    config,
    gateway: assembled.gateway,
    authenticator: assembled.authenticator,
    guard: assembled.guard,
    approvalWaitMs: wireApprovalWaitMs(config),
    idleTimeoutMs: settings?.idleTimeout ?? 0,
    logger: log,
  };
  // Clients choose features by the server version (MariaDB or MySQL, which release): announce the
  // first MySQL target's own, read from its greeting (at most a couple of seconds when it is down).
  const firstTarget = [...config.targets.values()].find((target) => target.engine === 'mysql');
  const serverVersion =
    firstTarget === undefined ? undefined : await readServerVersion(firstTarget.host, firstTarget.port);
  if (firstTarget !== undefined && serverVersion === undefined) {
    log.info({ target: firstTarget.name }, 'target version unknown: announcing the default');
  }
  // Without TLS a stock client's password travels RSA-encrypted (caching_sha2_password).
  const passwordKey = settings?.allowPlaintextAuth === true ? lazyPasswordKey(config, log) : undefined;
  // Made (or read) now, in the background, so that the first such login does not wait for it.
  void passwordKey?.().catch((err: unknown) =>
    log.warn({ err: (err as Error).message }, 'the RSA key for logins without TLS cannot be made'),
  );
  const open = new Map<MysqlServerConnection, MysqlClientSession>();
  const byConnectionId = new Map<number, MysqlClientSession>();
  const connectionIds = new ConnectionIds();
  const sessionParts = { ...parts, peer: (id: number) => byConnectionId.get(id) };

  const accept = (socket: Socket): void => {
    const remote = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : undefined;
    const connectionId = connectionIds.next();
    // The connection corks its writes until the end of the tick: close after that, so the last
    // reply (the reason for a reset) reaches the client before the socket goes.
    const client = new MysqlClientSession(sessionParts, remote, () => setImmediate(() => connection.close()));
    const connection: MysqlServerConnection = new MysqlServerConnection(socket, {
      connectionId,
      secureContext,
      serverVersion,
      mariadb: serverVersion !== undefined && /mariadb/i.test(serverVersion),
      allowPlaintextAuth: settings?.allowPlaintextAuth ?? false,
      passwordKey,
      ...(options.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: options.handshakeTimeoutMs } : {}),
      ...(options.maxPacketSize !== undefined ? { maxPacketSize: options.maxPacketSize } : {}),
      authenticate: client.authenticate,
      changeUser: client.changeUser,
      handler: client,
      onError: (err) => {
        // Hostile or broken clients end up here (garbage, oversized packets, stalled handshakes).
        const code = err instanceof MysqlProtocolError ? err.code : (err as NodeJS.ErrnoException).code;
        log.info(
          {
            event: 'mysql.connection',
            remote,
            connectionId,
            session: client.sessionId,
            code,
            err: err.message,
          },
          'mysql connection error',
        );
      },
    });
    open.set(connection, client);
    byConnectionId.set(connectionId, client);
    void connection.closed.then(() => {
      open.delete(connection);
      byConnectionId.delete(connectionId);
      client.close('client disconnected');
    });
  };

  const server: Server = createServer(accept);
  const address = await listenOn(server, listen);
  const { host } = address;
  log.info(
    {
      event: 'listen',
      channel: 'mysql',
      host,
      port: address.port,
      fingerprint: tls.fingerprint,
      tls: tls.source,
    },
    `MySQL listening on ${host}:${address.port} (certificate SHA-256 ${tls.fingerprint})`,
  );

  return {
    address,
    fingerprint: tls.fingerprint,
    get connections() {
      return open.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const [connection, client] of open) {
          client.close('gateway shutting down');
          connection.close();
        }
      }),
  };
}
