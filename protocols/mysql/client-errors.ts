import { MysqlClientError } from './errors.js';

/** The fields of an error mysql2 (or Node's net/tls) raises that we read. */
interface DriverErrorShape {
  code?: unknown;
  errno?: unknown;
  sqlState?: unknown;
  sqlMessage?: unknown;
  message?: unknown;
}

/** Server errnos that mean "these credentials were not accepted". */
const AUTH_ERRNOS = new Set([1044, 1045, 1251, 1698, 2049, 2059, 2061]);
/** Socket error codes that mean "we never reached the server". */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * Removes every occurrence of the password from a message. The drivers we use never put it there,
 * but an error text is shown to callers and recorded, so we do not rely on that.
 */
export function scrubSecret(message: string, secret: string | undefined): string {
  if (!secret || secret.length < 1) return message;
  return message.split(secret).join('[secret]');
}

/**
 * Turns whatever mysql2 or the socket raised into a MysqlClientError with a stable code. This is
 * the one place where driver errors change shape; nothing above it sees a raw driver error.
 */
export function toClientError(
  err: unknown,
  context: { host: string; port: number; password: string | undefined },
  phase: 'connect' | 'query' = 'query',
): MysqlClientError {
  if (err instanceof MysqlClientError) return err;
  const shape = (typeof err === 'object' && err !== null ? err : {}) as DriverErrorShape;
  const code = typeof shape.code === 'string' ? shape.code : '';
  const rawMessage =
    typeof shape.sqlMessage === 'string'
      ? shape.sqlMessage
      : typeof shape.message === 'string'
        ? shape.message
        : String(err);
  const message = scrubSecret(rawMessage, context.password);
  const where = `${context.host}:${context.port}`;
  const sqlstate = typeof shape.sqlState === 'string' && shape.sqlState ? shape.sqlState : undefined;
  const errno = typeof shape.errno === 'number' && shape.errno > 0 && sqlstate ? shape.errno : undefined;

  if (errno !== undefined) {
    const extra: { errno: number; sqlstate?: string } = { errno };
    if (sqlstate !== undefined) extra.sqlstate = sqlstate;
    return new MysqlClientError(
      AUTH_ERRNOS.has(errno)
        ? 'ERR_TARGET_AUTH'
        : phase === 'connect'
          ? 'ERR_TARGET_CONNECT'
          : 'ERR_TARGET_QUERY',
      message,
      extra,
    );
  }
  if (code === 'MYSQL_CLEAR_PASSWORD_NOT_ENABLED' || code === 'AUTH_SWITCH_PLUGIN_ERROR') {
    // The server asked for an authentication method we refuse (clear text) or cannot do.
    return new MysqlClientError('ERR_TARGET_AUTH', `MySQL target at ${where}: ${message}`, {
      sqlstate: '28000',
    });
  }
  if (UNREACHABLE_CODES.has(code)) {
    return new MysqlClientError('ERR_TARGET_UNREACHABLE', `cannot reach MySQL target at ${where} (${code})`, {
      sqlstate: '08001',
    });
  }
  if (
    code === 'HANDSHAKE_NO_SSL_SUPPORT' ||
    code === 'HANDSHAKE_SSL_ERROR' ||
    /certificate|ssl|tls/i.test(code)
  ) {
    return new MysqlClientError('ERR_TARGET_TLS', `TLS to MySQL target at ${where} failed: ${message}`, {
      sqlstate: '08001',
    });
  }
  return new MysqlClientError('ERR_TARGET_CLOSED', `MySQL target at ${where}: ${message}`, {
    sqlstate: '08006',
  });
}
