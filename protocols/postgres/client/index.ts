export { PgConnection } from './connection.js';
export type {
  PgConnectOptions,
  PgConnectionState,
  PgQueryOptions,
  PgTransactionStatus,
} from './connection.js';
export type { PgCommandResult, PgField, PgQueryResult, PgResultHandler } from './query-run.js';
export { rowCountOf } from './query-run.js';
export { PgClientError, PgServerError } from './errors.js';
export type { PgClientErrorCode, PgNotice, PgNoticeFields } from './errors.js';
export type { PgTlsMode } from './transport.js';
export type { BackendKey } from './cancel.js';
export { sendCancelRequest } from './cancel.js';
export { dataRowFields, dataRowText } from './data-row.js';
export { decodeText, decoderFor, typeName, TypeOid } from './values.js';
export type { TextDecoder } from './values.js';
export { parseTextArray } from './text-array.js';
export type { TextArray } from './text-array.js';
export { PgPool } from './pool.js';
export type { PgPoolOptions } from './pool.js';
export { TypeCatalog } from './type-catalog.js';
