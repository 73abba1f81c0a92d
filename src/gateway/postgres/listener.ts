import { X509Certificate } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { sendCancelRequest } from '../../../protocols/postgres/client/index.js';
import { PgServerConnection, tlsServerEndPoint } from '../../../protocols/postgres/server/index.js';
import type { AssembledGateway } from '../assembled.js';
import type { Config } from '../../config/load.js';
import { listenOn } from '../listen.js';
import { CancelKeys } from './cancel-keys.js';
import type { ClientSession } from './client-session.js';
import { openClientSession } from './session-opener.js';
import { loadListenerTls, type TlsMaterial } from './tls-material.js';

export interface PostgresListener {
  /** Where it listens (the real port when configured with port 0). */
  readonly address: { host: string; port: number };
  /** SHA-256 fingerprint of the listener's certificate. */
  readonly fingerprint: string;
  /**
   * Honours a CancelRequest that quotes a key this listener issued (another worker process passed
   * it on); false when the key is not one of this listener's.
   */
  cancel(processId: number, secretKey: number): boolean;
  /** Stops accepting, ends every session, and resolves when the server is closed. */
  close(): Promise<void>;
}

export interface PostgresListenerOptions {
  /** Overrides server.postgres.listen (tests: 127.0.0.1:0). */
  listen?: string;
  clock?: () => number;
  /**
   * A CancelRequest quoting a key this listener did not issue. With several worker processes the
   * request may have reached the wrong one: pass it on to the others (each checks its own keys).
   */
  onForeignCancel?: (processId: number, secretKey: number) => void;
}

/** The parts of an assembled gateway the listener uses. */
export type ListenerParts = Pick<
  AssembledGateway,
  'gateway' | 'authenticator' | 'masking' | 'guard' | 'recorder'
>;

/**
 * The Postgres listener: psql, pgbench and drivers connect to Sluice as to a PostgreSQL server,
 * log in with a token as the password, and are relayed to their own connection to the target,
 * every statement guarded, every result masked and recorded.
 */
export async function startPostgresListener(
  assembled: ListenerParts,
  config: Config,
  logger: Logger,
  options: PostgresListenerOptions = {},
): Promise<PostgresListener> {
  const settings = config.server.postgres;
  const listen = options.listen ?? settings?.listen;
  if (listen === undefined) throw new Error('server.postgres.listen is not configured');
  const log = logger.child({ component: 'postgres-listener' });
  const tls: TlsMaterial = await loadListenerTls(config, log);
  // SCRAM-SHA-256-PLUS binds the exchange to this certificate (tls-server-end-point).
  const endPoint = tlsServerEndPoint(new X509Certificate(tls.cert).raw);
  const now = options.clock ?? Date.now;
  const cancelKeys = new CancelKeys();
  const sessions = new Set<ClientSession>();
  const connections = new Set<PgServerConnection>();
  const parts = {
    config,
    gateway: assembled.gateway,
    authenticator: assembled.authenticator,
    masking: assembled.masking,
    guard: assembled.guard,
    recorder: assembled.recorder,
    cancelKeys,
    logger: log,
    now,
  };

  const cancel = (processId: number, secretKey: number): boolean => {
    const target = cancelKeys.lookup(processId, secretKey);
    if (target === undefined) return false;
    if (target.cannotCancel) {
      target.cannotCancel();
      return true;
    }
    sendCancelRequest(target.host, target.port, target.key).catch((err: unknown) =>
      log.warn({ err: (err as Error).message }, 'forwarding a cancel request failed'),
    );
    return true;
  };

  /** The recorded end of a session whose connection the gateway closed. */
  const endReasonOf = (code: string): string | undefined =>
    code === 'ERR_PG_IDLE_TIMEOUT'
      ? 'idle timeout'
      : code === 'ERR_PG_SOCKET'
        ? undefined
        : code === 'ERR_PG_STARTUP_TIMEOUT'
          ? 'startup timeout'
          : 'protocol error';

  const accept = (socket: Socket): void => {
    const remote = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : undefined;
    let session: ClientSession | undefined;
    /** Why the connection ended, when the gateway ended it (recorded as the session's end). */
    let endReason: string | undefined;
    const connection: PgServerConnection = new PgServerConnection(socket, {
      tls: { key: tls.key, cert: tls.cert },
      allowPlaintextAuth: settings?.allowPlaintextAuth ?? false,
      idleTimeoutMs: settings?.idleTimeout ?? 0,
      isWorking: () => session?.working ?? false,
      maxMessageBody: settings?.maxMessageSize ?? 64 * 1024 * 1024,
      // A user name that is a Sluice token without its signature logs in with SCRAM-SHA-256.
      scram: (info) => assembled.authenticator.scramLogin(info.user),
      ...(endPoint ? { tlsServerEndPoint: endPoint } : {}),
      authenticate: async (request) => {
        const opened = await openClientSession(parts, request, connection, remote);
        if (opened.ok) {
          session = opened.session;
          sessions.add(session);
        }
        return opened.result;
      },
      onMessage: (message, frame) => session?.onMessage(message, frame),
      onCancel: (processId, secretKey) => {
        // An unknown key is ignored, as Postgres does: the sender learns nothing.
        if (!cancel(processId, secretKey)) options.onForeignCancel?.(processId, secretKey);
      },
      onError: (error) => {
        endReason ??= endReasonOf(error.code);
        log.info({ remote, code: error.code, err: error.message }, 'postgres connection ended early');
      },
      onClose: () => {
        connections.delete(connection);
        if (session !== undefined) {
          sessions.delete(session);
          session.close(endReason ?? 'client disconnected');
        }
      },
    });
    connections.add(connection);
  };

  const server: Server = createServer(accept);
  const address = await listenOn(server, listen);
  const { host } = address;
  log.info(
    {
      event: 'listen',
      channel: 'postgres',
      host,
      port: address.port,
      fingerprint: tls.fingerprint,
      tls: tls.source,
    },
    `Postgres listening on ${host}:${address.port} (certificate SHA-256 ${tls.fingerprint})`,
  );

  return {
    address,
    fingerprint: tls.fingerprint,
    cancel,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const connection of connections) connection.close();
        for (const session of sessions) session.close('gateway shutting down');
      }),
  };
}
