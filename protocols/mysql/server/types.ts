import type { LocalFileTransfer } from './local-file.js';
import type { ClientCharset } from '../codec/charsets.js';
import type { SecureContext } from 'node:tls';
import type { MysqlCommand } from '../codec/commands.js';
import type { ErrFields, OkFields } from '../codec/responses.js';
import type { ColumnDefinition, TextValue } from '../codec/resultset.js';
import type { PasswordKey } from './password-key.js';

/** What a client presented, for the owner to decide on. The password is clear text. */
export interface MysqlAuthRequest {
  user: string;
  database: string | undefined;
  password: string;
  /** Whether the password travelled over TLS. */
  tls: boolean;
  remoteAddress: string | undefined;
  /** Connection attributes the client sent (program name, driver, ...). */
  attributes: ReadonlyMap<string, string>;
}

export type MysqlAuthResult = { ok: true } | { ok: false; message?: string };

/** The authenticated session a command belongs to. */
export interface MysqlSessionInfo {
  connectionId: number;
  user: string;
  database: string | undefined;
  tls: boolean;
  attributes: ReadonlyMap<string, string>;
  /**
   * The character set the client speaks: commands are decoded from it and replies encoded to it.
   * A handler that honours SET NAMES changes it; the next command is read in the new set.
   */
  charset: ClientCharset;
  /**
   * The character set results go out in (values, column names, messages): the client's at login;
   * SET NAMES or `character_set_results` change it.
   */
  resultsCharset: ClientCharset;
  /** The client set CLIENT_MULTI_STATEMENTS (or COM_SET_OPTION turned it on): a COM_QUERY may hold several statements. */
  multiStatements: boolean;
}

/** Streams the rows of one result set. A promise from `row` means: wait, the client is slow. */
export interface MysqlResultWriter {
  row(values: readonly TextValue[]): Promise<void> | undefined;
  /** With SERVER_MORE_RESULTS_EXISTS in `status` the command is not answered yet: another result follows. */
  end(fields?: { warnings?: number; status?: number }): void;
  /**
   * Ends the result set with an ERR packet in place of the closing EOF, as a server does when a
   * statement fails after its rows began (a row never starts with 0xff, so clients tell them apart).
   */
  fail(fields: ErrFields): void;
}

/** How a handler answers one command; exactly one of these per command. */
export interface MysqlReply {
  /** With SERVER_MORE_RESULTS_EXISTS in `status`, another result (or error) follows. */
  ok(fields?: OkFields): void;
  error(fields: ErrFields): void;
  /**
   * Sends the column count and definitions; then rows, then `end()`. Rows are text-protocol rows,
   * or binary-protocol rows with `binary` (the answer to COM_STMT_EXECUTE).
   */
  resultSet(columns: readonly ColumnDefinition[], options?: { binary?: boolean }): MysqlResultWriter;
  /** Answers COM_STMT_PREPARE. */
  prepared(fields: {
    statementId: number;
    params: readonly ColumnDefinition[];
    columns: readonly ColumnDefinition[];
  }): void;
  /** Answers COM_STATISTICS: one line of text, no packet header. */
  statistics(text: string): void;
  /** Answers COM_FIELD_LIST: the table's column definitions, then EOF. */
  fields(columns: readonly ColumnDefinition[]): void;
  /** For COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA, which have no response. */
  none(): void;
  /**
   * Asks the client for a local file (LOAD DATA LOCAL INFILE), before the command is answered;
   * undefined when the client does not send local files. Answer only after `finished()`.
   */
  localFile(name: string): LocalFileTransfer | undefined;
  readonly answered: boolean;
}

export interface MysqlCommandHandler {
  /** Called for each command after authentication, one at a time, in order. */
  command(command: MysqlCommand, reply: MysqlReply, session: MysqlSessionInfo): Promise<void>;
}

export interface MysqlServerConnectionOptions {
  connectionId: number;
  /** Offer TLS (CLIENT_SSL) with this context; without it the server offers none. */
  secureContext?: SecureContext | undefined;
  /** Accept a clear-text password over a plaintext connection. Off by default: only over TLS. */
  allowPlaintextAuth?: boolean | undefined;
  /**
   * How the password is asked for over TLS: `caching_sha2_password` full authentication (the
   * default, which stock clients answer without options) or a switch to `mysql_clear_password`.
   * Without TLS it is the former only with a `passwordKey`.
   */
  passwordPlugin?: 'caching_sha2_password' | 'mysql_clear_password' | undefined;
  /**
   * The RSA key for caching_sha2_password full authentication without TLS (with
   * `allowPlaintextAuth`): asked for on the first login that needs it. Without it a plaintext
   * login switches to mysql_clear_password.
   */
  passwordKey?: (() => Promise<PasswordKey>) | undefined;
  /** Time from accept to authenticated; a client that stalls is disconnected. Default 10 s. */
  handshakeTimeoutMs?: number | undefined;
  /** Largest packet during the handshake. Default 8 KiB. */
  maxHandshakePacketSize?: number | undefined;
  /** Largest packet after authentication. Default 16 MiB. */
  maxPacketSize?: number | undefined;
  serverVersion?: string | undefined;
  /**
   * Greet as a MariaDB server (CLIENT_MYSQL unset) and offer its extended column metadata, which
   * MariaDB clients need to tell JSON, UUID or INET6 columns from plain text.
   */
  mariadb?: boolean | undefined;
  authenticate(request: MysqlAuthRequest): Promise<MysqlAuthResult>;
  /**
   * COM_CHANGE_USER's new login, with the password asked for as at connect. Without it the command
   * is unknown (1047). A refusal closes the connection.
   */
  changeUser?: ((request: MysqlAuthRequest) => Promise<MysqlAuthResult>) | undefined;
  handler: MysqlCommandHandler;
  /** Errors the connection could not hand to the client (handler failures, socket errors). */
  onError?: ((err: Error) => void) | undefined;
}
