/**
 * Errors of the MySQL client side (talking to a target). Each carries a stable `code`; errors the
 * server sent also carry its errno and SQLSTATE so a channel can forward them unchanged.
 */
export type MysqlClientErrorCode =
  /** The statement failed on the server (syntax error, unknown table, ...); errno and SQLSTATE say why. */
  | 'ERR_TARGET_QUERY'
  /** The server refused the session for a reason other than credentials (unknown database, too many connections). */
  | 'ERR_TARGET_CONNECT'
  /** The CA file named by the target cannot be read. */
  | 'ERR_TARGET_CA_UNREADABLE'
  /** The server refused our credentials (errno 1045 and relatives). */
  | 'ERR_TARGET_AUTH'
  /** TCP connection refused, timed out, or the host did not resolve. */
  | 'ERR_TARGET_UNREACHABLE'
  /** TLS was required but could not be set up, or the certificate did not verify. */
  | 'ERR_TARGET_TLS'
  /** The statement ran longer than its timeout and was killed. */
  | 'ERR_TARGET_TIMEOUT'
  /** The caller aborted the statement and it was killed. */
  | 'ERR_TARGET_CANCELLED'
  /** The connection broke or the client was closed. */
  | 'ERR_TARGET_CLOSED'
  /** A parameter could not be sent (unsupported type). */
  | 'ERR_TARGET_PARAMS';

export class MysqlClientError extends Error {
  readonly code: MysqlClientErrorCode;
  /** MySQL error number when the server sent one (1045, 1064, ...). */
  readonly errno: number | undefined;
  /** Five-character SQLSTATE when known. */
  readonly sqlstate: string | undefined;

  constructor(
    code: MysqlClientErrorCode,
    message: string,
    extra: { errno?: number; sqlstate?: string } = {},
  ) {
    super(message);
    this.name = 'MysqlClientError';
    this.code = code;
    this.errno = extra.errno;
    this.sqlstate = extra.sqlstate;
  }
}

/** Stable codes of the wire codec and the server side. */
export type MysqlProtocolErrorCode =
  /** A packet announced more bytes than the cap allows; it was refused before buffering. */
  | 'ERR_PACKET_TOO_LARGE'
  /** A sequence id was not the one expected. */
  | 'ERR_PACKET_SEQUENCE'
  /** A payload ended before a field it must contain, or a field is malformed. */
  | 'ERR_PACKET_MALFORMED'
  /** A row value does not fit its column's binary type (text "abc" for an INT column). */
  | 'ERR_VALUE_ENCODING'
  /** The peer did something the handshake does not allow (plain auth without TLS, ...). */
  | 'ERR_HANDSHAKE'
  /** The peer did not finish the handshake in time. */
  | 'ERR_HANDSHAKE_TIMEOUT'
  /** Statement text that is not UTF-8 outside its string literals. */
  | 'ERR_TEXT_ENCODING';

export class MysqlProtocolError extends Error {
  readonly code: MysqlProtocolErrorCode;

  constructor(code: MysqlProtocolErrorCode, message: string) {
    super(message);
    this.name = 'MysqlProtocolError';
    this.code = code;
  }
}
