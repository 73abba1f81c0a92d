import { SqlState } from '../codec/errors.js';

export type PgServerErrorCode =
  /** The client broke the protocol; `cause` is the codec's ProtocolError. */
  | 'ERR_PG_PROTOCOL'
  /** Startup and authentication did not finish within `startupTimeoutMs`. */
  | 'ERR_PG_STARTUP_TIMEOUT'
  /** No message arrived within `idleTimeoutMs` while the session was idle. */
  | 'ERR_PG_IDLE_TIMEOUT'
  /** The StartupMessage named no user. */
  | 'ERR_PG_NO_USER'
  /** A password was about to be asked over a plaintext connection that does not allow it. */
  | 'ERR_PG_TLS_REQUIRED'
  /** The TLS handshake failed. */
  | 'ERR_PG_TLS_HANDSHAKE'
  /** `authenticate` refused the client. */
  | 'ERR_PG_AUTH_FAILED'
  /** A callback of the caller threw or rejected; `cause` holds what it threw. */
  | 'ERR_PG_CALLBACK'
  /** The socket failed (reset, broken pipe). */
  | 'ERR_PG_SOCKET';

/** Why a server-side session ended early. `sqlState` is what the client was told (when it could be). */
export class PgServerError extends Error {
  override readonly name = 'PgServerError';
  readonly code: PgServerErrorCode;
  readonly sqlState: string;

  constructor(code: PgServerErrorCode, sqlState: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.sqlState = sqlState;
  }
}

export const callbackFailure = (cause: unknown): PgServerError =>
  new PgServerError('ERR_PG_CALLBACK', SqlState.InternalError, 'internal error in the server', { cause });
