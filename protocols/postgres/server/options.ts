import type { TlsOptions } from 'node:tls';
import type { FrontendFrame } from '../codec/frontend-reader.js';
import type { FrontendTypedMessage } from '../codec/frontend-messages.js';
import type { PgServerError } from './errors.js';
import type { PgServerConnection } from './connection.js';

/** Who is connecting, from the StartupMessage. */
export interface StartupInfo {
  readonly user: string;
  /** Defaults to the user name, as in Postgres. */
  readonly database: string;
  /** Every startup parameter as sent (user, database, application_name, options, `_pq_.*`, ...). */
  readonly parameters: ReadonlyMap<string, string>;
  /** Whether the session runs over TLS. */
  readonly tls: boolean;
}

export interface AuthenticationRequest extends StartupInfo {
  readonly password: string;
}

export interface ScramLogin {
  readonly password: string;
  readonly salt: Buffer;
  readonly user: string;
}

export type AuthenticationResult =
  | {
      readonly ok: true;
      /** ParameterStatus messages sent after AuthenticationOk (server_version, client_encoding, ...). */
      readonly parameterStatus: readonly (readonly [string, string])[];
      /** BackendKeyData: what a CancelRequest for this session must quote. */
      readonly backendKey: { readonly processId: number; readonly secretKey: number };
    }
  | {
      readonly ok: false;
      /**
       * 28P01 invalid_password (default), 28000 invalid_authorization_specification, 08006
       * connection_failure (what the session needs behind the login cannot be reached), or 3D000
       * invalid_catalog_name (no such database), or 42501 insufficient_privilege (a startup
       * parameter the policy does not allow).
       */
      readonly sqlState?: '28P01' | '28000' | '08006' | '3D000' | '42501';
      /** Told to the client; defaults to `password authentication failed for user "<user>"`. */
      readonly message?: string;
    };

/**
 * Receives each message after authentication, in arrival order. While the returned promise is
 * pending no further message is delivered and the socket is not read (backpressure). Frames and the
 * Buffers inside a message are views of received bytes: copy what you keep after the promise settles.
 */
export type PgMessageHandler = (
  message: FrontendTypedMessage,
  frame: FrontendFrame,
  connection: PgServerConnection,
) => void | Promise<void>;

export interface PgServerConnectionOptions {
  /** TLS for SSLRequest (a `secureContext`, or `key` and `cert`). Absent: SSLRequest is answered 'N'. */
  readonly tls?: TlsOptions;
  /** Ask for a cleartext password over a connection without TLS. Off by default: the password would travel in the clear. */
  readonly allowPlaintextAuth?: boolean;
  /** Time allowed from connect to ReadyForQuery (Postgres' authentication_timeout). Default 10 s. */
  readonly startupTimeoutMs?: number;
  /** Close a ready session that sends nothing for this long while idle. 0 or absent: never. */
  readonly idleTimeoutMs?: number;
  /**
   * Whether the session is still working for the client (a statement at its target, results
   * on their way): not idle, whatever the time since the client last sent something.
   */
  readonly isWorking?: () => boolean;
  /** Cap on a message body (Query, Parse, Bind, CopyData, ...). Default 16 MiB. */
  readonly maxMessageBody?: number;
  /**
   * SCRAM-SHA-256 instead of a cleartext password, for a startup whose password the server can
   * know beforehand: return it, its salt, and the user name the session goes by (what
   * `authenticate` and messages then see). Undefined: a cleartext password is asked for.
   */
  readonly scram?: (info: StartupInfo) => ScramLogin | undefined;
  /**
   * tls-server-end-point channel binding data of the TLS certificate (see `tlsServerEndPoint`):
   * with it, SCRAM-SHA-256-PLUS is offered over TLS.
   */
  readonly tlsServerEndPoint?: Buffer;
  /** After a cleartext password, or a SCRAM exchange that proved it, with that password. */
  readonly authenticate: (request: AuthenticationRequest) => Promise<AuthenticationResult>;
  readonly onMessage: PgMessageHandler;
  /** A StartupMessage arrived (before the password is asked). */
  readonly onStartup?: (info: StartupInfo) => void;
  /** A CancelRequest arrived; the connection closes right after. */
  readonly onCancel?: (processId: number, secretKey: number) => void;
  /** The session ended early, and why. Never thrown. */
  readonly onError?: (error: PgServerError) => void;
  /** The socket closed (after an error too). */
  readonly onClose?: () => void;
}
