import { GatewayError } from '../errors.js';

/** A MySQL ERR packet's fields. */
export interface MysqlWireError {
  errno: number;
  sqlstate: string;
  message: string;
}

/** Error numbers the listener answers with (include/mysqld_error.h). */
export const MysqlErrno = {
  /** ER_DBACCESS_DENIED_ERROR: a database (target) this session may not switch to. */
  DbAccessDenied: 1044,
  /** ER_ACCESS_DENIED_ERROR: a refused login. */
  AccessDenied: 1045,
  /** ER_UNKNOWN_ERROR: anything without a more precise number. */
  Unknown: 1105,
  /** ER_PARSE_ERROR: a text the guard cannot parse (refused, as a syntax error). */
  ParseError: 1064,
  /** ER_TABLEACCESS_DENIED_ERROR: what a statement the policy refuses gets. */
  StatementDenied: 1142,
  /** ER_UNKNOWN_CHARACTER_SET: a SET NAMES of a set Sluice cannot convert. */
  UnknownCharacterSet: 1115,
  /** ER_WRONG_ARGUMENTS: COM_STMT_EXECUTE parameters that do not decode. */
  WrongArguments: 1210,
  /** ER_UNKNOWN_STMT_HANDLER: an unknown prepared statement id. */
  UnknownStatement: 1243,
  /** ER_USER_LIMIT_REACHED: a budget of the policy (statements a minute, at once) is spent. */
  UserLimitReached: 1226,
  /** ER_KILL_DENIED_ERROR: KILL of a connection someone else logged in on. */
  KillDenied: 1095,
  /** ER_QUERY_INTERRUPTED: a statement stopped by a timeout or cancel. */
  Interrupted: 1317,
  /** ER_MAX_PREPARED_STMT_COUNT_REACHED. */
  TooManyPreparedStatements: 1461,
  /** ER_NOT_SUPPORTED_YET. */
  NotSupported: 1235,
  /** ER_CONNECTION_KILLED (MariaDB), SQLSTATE 70100: the session's target connection is gone. */
  ConnectionKilled: 1927,
} as const;

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** A numeric MySQL errno a target error may carry (not yet kept by GatewayError; read if present). */
function targetErrno(err: GatewayError): number | undefined {
  const errno = (err as unknown as { errno?: unknown }).errno;
  return typeof errno === 'number' && Number.isInteger(errno) && errno > 0 && errno < 0x10000
    ? errno
    : undefined;
}

/**
 * The one place where local errors of the statement path become MySQL ERR packets. Policy refusals
 * (denied, not approved, masking refused) all answer 1142 / 42000, which clients and tools already
 * treat as "you may not"; target errors keep the target's SQLSTATE and message. Anything else is
 * reported without detail (it may hold internals) and logged by the caller.
 */
export function toWireError(err: unknown): { wire: MysqlWireError; expected: boolean } {
  if (!(err instanceof GatewayError)) {
    return {
      wire: { errno: MysqlErrno.Unknown, sqlstate: 'HY000', message: 'Internal error' },
      expected: false,
    };
  }
  switch (err.code) {
    case 'ERR_STATEMENT_DENIED':
      return {
        wire: {
          errno: err.sqlstate === '42601' ? MysqlErrno.ParseError : MysqlErrno.StatementDenied,
          sqlstate: '42000',
          // A text neither the guard nor the target reads: the target's own syntax error.
          message: (err.sqlstate === '42601' ? err.targetText : undefined) ?? err.message,
        },
        expected: true,
      };
    case 'ERR_APPROVAL_DENIED':
    case 'ERR_APPROVAL_PENDING':
    case 'ERR_MASKING_REFUSED':
    case 'ERR_TARGET_IDENTITY':
      return {
        wire: { errno: MysqlErrno.StatementDenied, sqlstate: '42000', message: err.message },
        expected: true,
      };
    case 'ERR_UNKNOWN_TARGET':
    case 'ERR_TARGET_NOT_ALLOWED':
    case 'ERR_APPROVAL_UNKNOWN':
    case 'ERR_APPROVALS_DISABLED':
    case 'ERR_TABLE_NOT_FOUND':
      return {
        wire: { errno: MysqlErrno.DbAccessDenied, sqlstate: '42000', message: err.message },
        expected: true,
      };
    case 'ERR_BUDGET':
      return {
        wire: { errno: MysqlErrno.UserLimitReached, sqlstate: '42000', message: err.message },
        expected: true,
      };
    case 'ERR_CANCELLED':
      return {
        wire: { errno: MysqlErrno.Interrupted, sqlstate: '70100', message: err.message },
        expected: true,
      };
    case 'ERR_RECORDING_UNAVAILABLE':
      return { wire: { errno: MysqlErrno.Unknown, sqlstate: 'HY000', message: err.message }, expected: true };
    case 'ERR_TARGET': {
      const sqlstate = err.sqlstate !== undefined && SQLSTATE.test(err.sqlstate) ? err.sqlstate : 'HY000';
      // A statement killed by its timeout keeps its meaning: 70100 is only ever ER_QUERY_INTERRUPTED.
      const fallback = sqlstate === '70100' ? MysqlErrno.Interrupted : MysqlErrno.Unknown;
      return {
        wire: { errno: targetErrno(err) ?? fallback, sqlstate, message: err.targetText ?? err.message },
        expected: true,
      };
    }
  }
}
