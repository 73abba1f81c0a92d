/** What a MySQL listener needs: the connection, its contracts, and the pieces to build replies. */
export { MysqlServerConnection } from './connection.js';
export { passwordKeyFromPem, type PasswordKey } from './password-key.js';
export type {
  MysqlAuthRequest,
  MysqlAuthResult,
  MysqlCommandHandler,
  MysqlReply,
  MysqlResultWriter,
  MysqlServerConnectionOptions,
  MysqlSessionInfo,
} from './types.js';
export type { MysqlCommand, ParamValue, ExecuteParams } from '../codec/commands.js';
export { decodeExecuteParams } from '../codec/commands.js';
export type { ColumnDefinition, TextValue } from '../codec/resultset.js';
export { ColumnFlag, ColumnType, BINARY_CHARSET, UTF8MB4_CHARSET } from '../codec/column-types.js';
export { ServerErrno } from '../codec/constants.js';
export { MysqlProtocolError, type MysqlProtocolErrorCode } from '../errors.js';
