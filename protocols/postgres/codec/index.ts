export { FrontendCode, StartupCode, BackendCode, AuthenticationCode } from './codes.js';
export { ProtocolError, SqlState } from './errors.js';
export type { ProtocolErrorCode } from './errors.js';
export { FrontendReader, MAX_STARTUP_PACKET } from './frontend-reader.js';
export type { FrontendFrame, FrontendReaderOptions, FrontendReaderPhase } from './frontend-reader.js';
export { decodeFrontendMessage, decodePassword, decodeSASLInitialResponse } from './frontend-messages.js';
export type {
  AuthenticationResponse,
  Bind,
  CancelRequest,
  Close,
  CopyData,
  CopyDone,
  CopyFail,
  Describe,
  Execute,
  FormatCode,
  FrontendMessage,
  FrontendStartupMessage,
  FrontendTypedMessage,
  FunctionCall,
  Flush,
  GSSENCRequest,
  Parse,
  Query,
  SASLInitialResponse,
  SSLRequest,
  StartupMessage,
  Sync,
  Terminate,
} from './frontend-messages.js';
export {
  allocMessage,
  authenticationCleartextPassword,
  authenticationMD5Password,
  authenticationOk,
  authenticationSASL,
  authenticationSASLContinue,
  authenticationSASLFinal,
  backendKeyData,
  bindComplete,
  closeComplete,
  commandComplete,
  concatMessages,
  copyData,
  copyDone,
  copyInResponse,
  copyOutResponse,
  dataRow,
  emptyQueryResponse,
  errorResponse,
  negotiateProtocolVersion,
  noData,
  noticeResponse,
  parameterDescription,
  parameterStatus,
  parseComplete,
  portalSuspended,
  readyForQuery,
  rowDescription,
} from './backend-writer.js';
export type { FieldDescription, NoticeFields, Severity, TransactionStatus } from './backend-writer.js';
export {
  dataRowFieldIndex,
  readDataRowFields,
  rebuildDataRow,
  rebuiltDataRowLength,
  writeRebuiltDataRow,
} from './data-row.js';
export type { FieldReplacement } from './data-row.js';
