export { PgServerConnection } from './connection.js';
export type { PgServerState } from './connection.js';
export { PgServerError } from './errors.js';
export type { PgServerErrorCode } from './errors.js';
export type {
  AuthenticationRequest,
  AuthenticationResult,
  PgMessageHandler,
  PgServerConnectionOptions,
  ScramLogin,
  StartupInfo,
} from './options.js';
export { tlsServerEndPoint } from './scram.js';
