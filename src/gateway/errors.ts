/**
 * Local errors of the statement path. Each has a stable `code`; channels turn them into their own
 * wire errors in one place each (MCP: a tool result with isError; Postgres: SQLSTATE; MySQL: errno).
 */
export type GatewayErrorCode =
  | 'ERR_STATEMENT_DENIED'
  | 'ERR_APPROVAL_PENDING'
  | 'ERR_APPROVAL_DENIED'
  | 'ERR_APPROVAL_UNKNOWN'
  | 'ERR_APPROVALS_DISABLED'
  | 'ERR_TABLE_NOT_FOUND'
  | 'ERR_RECORDING_UNAVAILABLE'
  | 'ERR_UNKNOWN_TARGET'
  | 'ERR_TARGET_NOT_ALLOWED'
  | 'ERR_TARGET'
  | 'ERR_TARGET_IDENTITY'
  | 'ERR_BUDGET'
  | 'ERR_MASKING_REFUSED'
  | 'ERR_CANCELLED';

export class GatewayError extends Error {
  readonly code: GatewayErrorCode;
  /** SQLSTATE to report on wire channels, when the error came from (or maps to) one. */
  readonly sqlstate: string | undefined;
  readonly detail: string | undefined;
  /** MySQL error number, when the target is MySQL and said one. */
  readonly errno: number | undefined;
  /**
   * For a target's error: its text without the `<target>: ` prefix the message carries, for wire
   * channels, whose clients expect the server's own words.
   */
  readonly targetText: string | undefined;

  constructor(
    code: GatewayErrorCode,
    message: string,
    extra: { sqlstate?: string; detail?: string; errno?: number; targetText?: string } = {},
  ) {
    super(message);
    this.name = 'GatewayError';
    this.code = code;
    this.sqlstate = extra.sqlstate;
    this.detail = extra.detail;
    this.errno = extra.errno;
    this.targetText = extra.targetText;
  }
}

/** Details a target error may carry (Postgres ErrorResponse fields, MySQL errno). */
interface TargetErrorShape {
  message?: unknown;
  code?: unknown;
  sqlstate?: unknown;
  detail?: unknown;
  hint?: unknown;
  position?: unknown;
  errno?: unknown;
}

/**
 * Wraps whatever a target engine threw into a GatewayError that is safe to show the caller.
 * Engines already keep credentials out of their messages; this keeps only known, plain fields.
 */
export function targetError(err: unknown, target: string): GatewayError {
  if (err instanceof GatewayError) return err;
  const shape = (typeof err === 'object' && err !== null ? err : {}) as TargetErrorShape;
  const message = typeof shape.message === 'string' ? shape.message : String(err);
  const sqlstate =
    typeof shape.sqlstate === 'string'
      ? shape.sqlstate
      : typeof shape.code === 'string' && /^[0-9A-Z]{5}$/.test(shape.code)
        ? shape.code
        : undefined;
  const parts: string[] = [];
  if (typeof shape.detail === 'string' && shape.detail) parts.push(`detail: ${shape.detail}`);
  if (typeof shape.hint === 'string' && shape.hint) parts.push(`hint: ${shape.hint}`);
  if (typeof shape.position === 'number' || typeof shape.position === 'string')
    parts.push(`position: ${String(shape.position)}`);
  const code = typeof shape.code === 'string' && !sqlstate ? ` (${shape.code})` : '';
  const extra: { sqlstate?: string; detail?: string; errno?: number; targetText?: string } = {
    targetText: `${message}${code}`,
  };
  if (sqlstate !== undefined) extra.sqlstate = sqlstate;
  if (typeof shape.errno === 'number' && Number.isInteger(shape.errno) && shape.errno > 0)
    extra.errno = shape.errno;
  if (parts.length > 0) extra.detail = parts.join('; ');
  return new GatewayError('ERR_TARGET', `${target}: ${message}${code}`, extra);
}
