/**
 * Wire errors of the Postgres codec. Each carries a stable `code` (what a program matches on) and
 * the SQLSTATE a server answers with (what the client sees in its ErrorResponse).
 */

export type ProtocolErrorCode =
  /** A startup packet announced more than the startup cap (10,000 bytes) or less than its header. */
  | 'ERR_PG_STARTUP_LENGTH'
  /** A typed message announced a body larger than the configured cap. */
  | 'ERR_PG_MESSAGE_TOO_LARGE'
  /** A typed message announced a length below its own 4-byte length field. */
  | 'ERR_PG_BAD_LENGTH'
  /** A message type byte that the frontend protocol does not define. */
  | 'ERR_PG_UNKNOWN_MESSAGE'
  /** A field runs past the end of its frame, a string lacks its terminator, a count is negative... */
  | 'ERR_PG_MALFORMED'
  /** A startup request code or protocol major version this server does not speak. */
  | 'ERR_PG_UNSUPPORTED_PROTOCOL'
  /** A well-formed message that is not allowed in the current connection state. */
  | 'ERR_PG_UNEXPECTED_MESSAGE';

/** SQLSTATEs the codec answers with. */
export const SqlState = {
  ProtocolViolation: '08P01',
  ProgramLimitExceeded: '54000',
  FeatureNotSupported: '0A000',
  InvalidAuthorizationSpecification: '28000',
  InvalidPassword: '28P01',
  IdleSessionTimeout: '57P05',
  AdminShutdown: '57P01',
  ConnectionFailure: '08006',
  InternalError: 'XX000',
} as const;

const sqlStateByCode: Readonly<Record<ProtocolErrorCode, string>> = {
  ERR_PG_STARTUP_LENGTH: SqlState.ProtocolViolation,
  ERR_PG_MESSAGE_TOO_LARGE: SqlState.ProgramLimitExceeded,
  ERR_PG_BAD_LENGTH: SqlState.ProtocolViolation,
  ERR_PG_UNKNOWN_MESSAGE: SqlState.ProtocolViolation,
  ERR_PG_MALFORMED: SqlState.ProtocolViolation,
  ERR_PG_UNSUPPORTED_PROTOCOL: SqlState.FeatureNotSupported,
  ERR_PG_UNEXPECTED_MESSAGE: SqlState.ProtocolViolation,
};

/** A frame that breaks the protocol. The connection that produced it cannot be trusted further. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;
  /** The SQLSTATE to put in the FATAL ErrorResponse sent before closing. */
  readonly sqlState: string;

  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.code = code;
    this.sqlState = sqlStateByCode[code];
  }
}
