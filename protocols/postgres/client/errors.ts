/**
 * The two error families of the client. A `PgServerError` is what the server said (an
 * ErrorResponse, with its SQLSTATE); a `PgClientError` is what went wrong on this side, with a
 * stable string `code`. Callers branch on `code`, never on message text.
 */

/** The fields of an ErrorResponse or NoticeResponse that callers act on. */
export interface PgNoticeFields {
  severity: string;
  /** SQLSTATE, five characters, e.g. 42P01. */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  /** 1-based character position in the statement text, when the server reports one. */
  position?: number;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
}

export type PgNotice = PgNoticeFields;

export class PgServerError extends Error {
  readonly severity: string;
  /** SQLSTATE. */
  readonly code: string;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly position: number | undefined;
  readonly where: string | undefined;
  readonly schema: string | undefined;
  readonly table: string | undefined;
  readonly column: string | undefined;
  readonly constraint: string | undefined;

  constructor(fields: PgNoticeFields) {
    super(fields.message);
    this.name = 'PgServerError';
    this.severity = fields.severity;
    this.code = fields.code;
    this.detail = fields.detail;
    this.hint = fields.hint;
    this.position = fields.position;
    this.where = fields.where;
    this.schema = fields.schema;
    this.table = fields.table;
    this.column = fields.column;
    this.constraint = fields.constraint;
  }

  /** SQLSTATE under the name the gateway's error mapping also reads. */
  get sqlstate(): string {
    return this.code;
  }
}

export type PgClientErrorCode =
  /** TCP connect failed (refused, no route, DNS). */
  | 'ERR_PG_UNREACHABLE'
  /** Connect, TLS and authentication did not finish within the connect timeout. */
  | 'ERR_PG_CONNECT_TIMEOUT'
  /** TLS was required but the server refused it, or the handshake or verification failed. */
  | 'ERR_PG_TLS'
  /** The server asked for a password and none is configured. */
  | 'ERR_PG_PASSWORD_REQUIRED'
  /** The server asked for an authentication method this client does not speak. */
  | 'ERR_PG_AUTH_UNSUPPORTED'
  /** SCRAM exchange failed on our side (bad server proof, skipped final message, ...). */
  | 'ERR_PG_AUTH_FAILED'
  /** The server sent something that breaks the protocol. */
  | 'ERR_PG_PROTOCOL'
  /** The connection ended (or was closed) while something was waiting on it. */
  | 'ERR_PG_CONNECTION_CLOSED'
  /** A query was started while another one is running on the same connection. */
  | 'ERR_PG_BUSY'
  /** The client-side statement timer fired; the query was cancelled. */
  | 'ERR_PG_STATEMENT_TIMEOUT'
  /** The caller aborted the query; it was cancelled. */
  | 'ERR_PG_QUERY_CANCELLED'
  /** A query parameter has no text form. */
  | 'ERR_PG_PARAMETER'
  /** The statement text contains a NUL byte, which the protocol cannot carry. */
  | 'ERR_PG_INVALID_TEXT'
  /** The pool was closed. */
  | 'ERR_PG_POOL_CLOSED';

export class PgClientError extends Error {
  readonly code: PgClientErrorCode;

  constructor(code: PgClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PgClientError';
    this.code = code;
  }
}

/** Turns the raw field map of pg-protocol's error/notice message into our fields. */
export function noticeFields(raw: {
  severity?: string | undefined;
  code?: string | undefined;
  message?: string | undefined;
  detail?: string | undefined;
  hint?: string | undefined;
  position?: string | undefined;
  where?: string | undefined;
  schema?: string | undefined;
  table?: string | undefined;
  column?: string | undefined;
  constraint?: string | undefined;
}): PgNoticeFields {
  const fields: PgNoticeFields = {
    severity: raw.severity ?? 'ERROR',
    code: raw.code ?? 'XX000',
    message: raw.message ?? 'unknown server error',
  };
  if (raw.detail !== undefined) fields.detail = raw.detail;
  if (raw.hint !== undefined) fields.hint = raw.hint;
  if (raw.position !== undefined) {
    const position = Number.parseInt(raw.position, 10);
    if (Number.isFinite(position)) fields.position = position;
  }
  if (raw.where !== undefined) fields.where = raw.where;
  if (raw.schema !== undefined) fields.schema = raw.schema;
  if (raw.table !== undefined) fields.table = raw.table;
  if (raw.column !== undefined) fields.column = raw.column;
  if (raw.constraint !== undefined) fields.constraint = raw.constraint;
  return fields;
}
