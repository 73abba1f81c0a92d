import type { PoolOptions, SslOptions } from 'mysql2';

export type MysqlTlsMode = 'disable' | 'prefer' | 'require' | 'verify-full';

export interface MysqlClientOptions {
  host: string;
  port: number;
  user: string;
  /** Sent only during authentication; never logged or put into an error. */
  password: string | undefined;
  database: string;
  tls: MysqlTlsMode;
  /** PEM of the CA that signs the target's certificate (verify-full; with require, checks the chain). */
  ca?: string | Buffer | undefined;
  /** Connections kept per target. */
  poolMax?: number | undefined;
  connectTimeoutMs?: number | undefined;
  /** Every transaction on the pool's connections is read-only (SET SESSION TRANSACTION READ ONLY). */
  readOnly?: boolean | undefined;
  /** How long a KILL QUERY may take before we give up waiting and drop the connection anyway. */
  cancelTimeoutMs?: number | undefined;
}

/**
 * The TLS settings for mysql2's `ssl` option, or undefined for plaintext. `prefer` first tries
 * TLS without verification (like libpq's sslmode=prefer); the client falls back to plaintext when
 * the server does not offer TLS at all.
 */
export function sslOptionsFor(mode: MysqlTlsMode, ca: string | Buffer | undefined): SslOptions | undefined {
  switch (mode) {
    case 'disable':
      return undefined;
    case 'prefer':
      return { rejectUnauthorized: false };
    case 'require':
      // Encrypt; verify the chain only when a CA was given (libpq's sslmode=require behaves so too).
      return ca === undefined ? { rejectUnauthorized: false } : { ca, rejectUnauthorized: true };
    case 'verify-full': {
      const ssl: SslOptions = { rejectUnauthorized: true, verifyIdentity: true };
      if (ca !== undefined) ssl.ca = ca;
      return ssl;
    }
  }
}

/**
 * mysql2 options for one pool. Values come back in forms the engine can make JSON-friendly without
 * losing precision: big integers as strings when unsafe, DECIMAL always as a string, dates as the
 * server's text, rows as arrays (column names may repeat).
 */
export function poolOptionsFor(options: MysqlClientOptions, ssl: SslOptions | undefined): PoolOptions {
  const pool: PoolOptions = {
    host: options.host,
    port: options.port,
    user: options.user,
    database: options.database,
    connectionLimit: options.poolMax ?? 4,
    maxIdle: options.poolMax ?? 4,
    idleTimeout: 60_000,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    waitForConnections: true,
    queueLimit: 0,
    rowsAsArray: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    decimalNumbers: false,
    dateStrings: true,
    // JSON as the server's text: MariaDB's JSON is text anyway, and the listener relays it as sent.
    jsonStrings: true,
    timezone: 'Z',
    multipleStatements: false,
    maxPreparedStatements: 256,
    // Cleartext auth would hand the password to whatever answers on that port; never offer it.
    enableCleartextPlugin: false,
  };
  if (options.password !== undefined) pool.password = options.password;
  if (ssl !== undefined) pool.ssl = ssl;
  return pool;
}
