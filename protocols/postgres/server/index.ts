export { PgServerConnection } from './connection.js';
export type { PgServerState } from './connection.js';
export { PgServerError } from './errors.js';
export type { PgServerErrorCode } from './errors.js';
export type {
  AuthenticationRequest,
  AuthenticationResult,
  PgMessageHandler,
  PgServerConnectionOptions,
  StartupInfo,
} from './options.js';
