import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { serialize } from 'pg-protocol/dist/serializer';
import type { BackendMessage } from 'pg-protocol/dist/messages';
import { Parser } from 'pg-protocol/dist/parser';
import { AUTHENTICATION, decodeAuthRequest } from './auth-request.js';
import { sendCancelRequest, type BackendKey } from './cancel.js';
import { DATA_ROW } from './data-row.js';
import { PgClientError, PgServerError, noticeFields, type PgNotice } from './errors.js';
import { FrameReader } from './frame-reader.js';
import { toWireParam } from './params.js';
import { QueryRun, type PgQueryResult, type PgResultHandler } from './query-run.js';
import { Authenticator, type PasswordSource } from './startup.js';
import { connectWithin, type PgTlsMode } from './transport.js';

export interface PgConnectOptions {
  host: string;
  port: number;
  user: string;
  database: string;
  /** A function is called only when the server asks, so a sealed secret is revealed only then. */
  password?: PasswordSource;
  tls?: PgTlsMode;
  /** PEM of the CA(s) for verify-full. */
  ca?: string | Buffer;
  applicationName?: string;
  /** More startup parameters (GUCs such as search_path, statement_timeout). */
  params?: Record<string, string>;
  /** Bound on TCP connect, TLS and authentication together. Default 10 s. */
  connectTimeoutMs?: number;
  /** Largest backend message accepted. Default 1 GiB (the server's own limit on a value). */
  maxMessageSize?: number;
  /** How long to wait for ReadyForQuery after a cancel before dropping the connection. Default 5 s. */
  cancelGraceMs?: number;
  onNotice?: (notice: PgNotice) => void;
}

export interface PgQueryOptions {
  /** When given (even empty), the extended protocol is used with these values for $1, $2, ... */
  params?: readonly unknown[];
  /** Client-side statement timer: on expiry the query is cancelled and fails with ERR_PG_STATEMENT_TIMEOUT. */
  timeoutMs?: number;
  /** Aborting cancels the query; it fails with ERR_PG_QUERY_CANCELLED. */
  signal?: AbortSignal;
  /** text (default): rows as text values; raw: rows as undecoded DataRow messages. */
  mode?: 'text' | 'raw';
}

/** Where the connection is in its life. `busy` means a query is running. */
export type PgConnectionState = 'connecting' | 'authenticating' | 'idle' | 'busy' | 'closed';

/** ReadyForQuery status: idle, in a transaction block, in a failed transaction block. */
export type PgTransactionStatus = 'I' | 'T' | 'E';

/** What the connection is doing with incoming messages right now. */
type Phase =
  | { kind: 'connecting' }
  | { kind: 'authenticating'; auth: Authenticator; settle: (error?: Error) => void }
  | { kind: 'idle' }
  | { kind: 'busy'; run: QueryRun }
  | { kind: 'closed'; reason: Error };

const DEFAULT_MAX_MESSAGE = 1024 * 1024 * 1024;
const DEFAULT_CANCEL_GRACE_MS = 5_000;
/** Tags of statements that change session state a later user of a pooled connection would inherit. */
const SESSION_TAGS = /^(SET|RESET|PREPARE|DECLARE CURSOR|LISTEN|LOAD|DISCARD|SET CONSTRAINTS)\b/;

/**
 * One connection to a PostgreSQL server, speaking protocol 3.0 as a client. One query at a time.
 * Incoming bytes are split into messages by a FrameReader and handled one by one; when a result
 * handler returns a promise, reading stops (the socket is paused) until it settles, so memory stays
 * flat whatever the result size.
 */
export class PgConnection {
  readonly #options: PgConnectOptions;
  readonly #socket: Socket | TLSSocket;
  readonly #reader: FrameReader;
  readonly #parser = new Parser();
  readonly #parameters = new Map<string, string>();
  readonly encrypted: boolean;
  #phase: Phase = { kind: 'connecting' };
  #backendKey: BackendKey | undefined;
  #transactionStatus: PgTransactionStatus = 'I';
  /** A handler promise is pending: frames wait in the reader. */
  #stalled = false;
  /** A CancelRequest was sent: it may still land on a later query, so this connection is not reused. */
  #cancelSent = false;
  #sessionChanged = false;
  #closed: Promise<void>;

  private constructor(options: PgConnectOptions, socket: Socket | TLSSocket, encrypted: boolean) {
    this.#options = options;
    this.#socket = socket;
    this.encrypted = encrypted;
    this.#reader = new FrameReader(options.maxMessageSize ?? DEFAULT_MAX_MESSAGE);
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      this.#reader.push(chunk);
      this.#pump();
    });
    socket.on('error', (err) =>
      this.#fail(
        new PgClientError('ERR_PG_CONNECTION_CLOSED', `connection lost: ${err.message}`, { cause: err }),
      ),
    );
    socket.on('close', () =>
      this.#fail(new PgClientError('ERR_PG_CONNECTION_CLOSED', 'server closed the connection')),
    );
    socket.resume();
  }

  /** Connects, negotiates TLS, authenticates and waits for ReadyForQuery. */
  static async connect(options: PgConnectOptions): Promise<PgConnection> {
    return connectWithin(options, async (transport, signal) => {
      const connection = new PgConnection(options, transport.socket, transport.encrypted);
      await connection.#startup(signal);
      return connection;
    });
  }

  get state(): PgConnectionState {
    return this.#phase.kind;
  }

  /** Server parameters reported by ParameterStatus (server_version, TimeZone, ...), kept current. */
  get parameters(): ReadonlyMap<string, string> {
    return this.#parameters;
  }

  get backendKey(): BackendKey | undefined {
    return this.#backendKey;
  }

  get transactionStatus(): PgTransactionStatus {
    return this.#transactionStatus;
  }

  /**
   * Whether a pool may hand this connection to someone else: idle, outside a transaction, no
   * cancel in flight that could hit a later query, and no session state (SET, PREPARE, ...) left by
   * an earlier user.
   */
  get reusable(): boolean {
    return (
      this.#phase.kind === 'idle' &&
      this.#transactionStatus === 'I' &&
      !this.#cancelSent &&
      !this.#sessionChanged
    );
  }

  /**
   * Marks the connection as carrying session state its user left (a statement the caller knows
   * may change it without Postgres saying so, e.g. `SELECT set_config(...)`): no pool reuses it.
   */
  markSessionChanged(): void {
    this.#sessionChanged = true;
  }

  /**
   * Runs one query. Without `params` it is a simple Query (several statements allowed); with
   * `params` it is Parse/Bind/Describe/Execute/Sync on the unnamed statement and portal. Settles
   * at ReadyForQuery, so the connection is ready again when it does, also after an error.
   */
  query(sql: string, handler: PgResultHandler, options: PgQueryOptions = {}): Promise<PgQueryResult> {
    if (this.#phase.kind !== 'idle') {
      const code = this.#phase.kind === 'closed' ? 'ERR_PG_CONNECTION_CLOSED' : 'ERR_PG_BUSY';
      return Promise.reject(
        new PgClientError(code, `cannot start a query: connection is ${this.#phase.kind}`),
      );
    }
    if (options.signal?.aborted) {
      return Promise.reject(new PgClientError('ERR_PG_QUERY_CANCELLED', 'query aborted before it was sent'));
    }
    if (sql.includes('\0')) {
      // The wire carries the text as a C string: the server would run only what precedes the NUL,
      // which is not the text a guard looked at.
      return Promise.reject(new PgClientError('ERR_PG_INVALID_TEXT', 'statement text contains a NUL byte'));
    }
    let payload: Buffer;
    try {
      payload = options.params === undefined ? serialize.query(sql) : extendedQuery(sql, options.params);
    } catch (err) {
      return Promise.reject(err);
    }
    const run = new QueryRun(
      handler,
      options.mode ?? 'text',
      (bytes) => this.#write(bytes),
      () =>
        this.#interrupt(
          run,
          new PgClientError('ERR_PG_QUERY_CANCELLED', 'result handler failed; query cancelled'),
        ),
    );
    this.#phase = { kind: 'busy', run };

    const { timeoutMs, signal } = options;
    const timer =
      timeoutMs !== undefined && timeoutMs > 0
        ? setTimeout(
            () =>
              this.#interrupt(
                run,
                new PgClientError(
                  'ERR_PG_STATEMENT_TIMEOUT',
                  `statement ran longer than ${timeoutMs} ms and was cancelled`,
                ),
              ),
            timeoutMs,
          )
        : undefined;
    const onAbort = () =>
      this.#interrupt(run, new PgClientError('ERR_PG_QUERY_CANCELLED', 'query cancelled by the caller'));
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#write(payload);

    return run.done.then((outcome) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (outcome.ok) return outcome.result;
      throw outcome.error;
    });
  }

  /** Asks the server to cancel whatever this connection runs (CancelRequest on a new socket). */
  async cancel(): Promise<void> {
    const key = this.#backendKey;
    if (key === undefined)
      throw new PgClientError('ERR_PG_PROTOCOL', 'server sent no BackendKeyData; cannot cancel');
    this.#cancelSent = true;
    await sendCancelRequest(this.#options.host, this.#options.port, key);
  }

  /** Sends Terminate and waits for the socket to close. */
  async close(): Promise<void> {
    if (this.#phase.kind !== 'closed') {
      this.#socket.end(serialize.end());
      this.#fail(new PgClientError('ERR_PG_CONNECTION_CLOSED', 'connection closed by the client'));
    }
    await this.#closed;
  }

  /** Drops the connection at once. */
  destroy(reason?: Error): void {
    this.#fail(reason ?? new PgClientError('ERR_PG_CONNECTION_CLOSED', 'connection destroyed by the client'));
    this.#socket.destroy();
  }

  #startup(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => this.destroy(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = (error?: Error) => {
        signal.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const auth = new Authenticator(this.#options.user, this.#options.password, (bytes) =>
        this.#write(bytes),
      );
      this.#phase = { kind: 'authenticating', auth, settle };
      const params: Record<string, string> = {
        ...this.#options.params,
        user: this.#options.user,
        database: this.#options.database,
        // Values are decoded as UTF-8 and dates read in ISO form, whatever the server defaults are.
        client_encoding: 'UTF8',
        DateStyle: 'ISO, MDY',
        // Statement texts are parsed by the gateway with standard strings; the server must agree.
        standard_conforming_strings: 'on',
      };
      if (this.#options.applicationName !== undefined)
        params.application_name = this.#options.applicationName;
      this.#write(serialize.startup(params));
    });
  }

  #write(bytes: Buffer): void {
    if (!this.#socket.destroyed) this.#socket.write(bytes);
  }

  /** Handles buffered frames until one needs to wait (backpressure) or none is left. */
  #pump(): void {
    if (this.#stalled) return;
    try {
      for (let frame = this.#reader.next(); frame !== undefined; frame = this.#reader.next()) {
        const pending = this.#handle(frame);
        if (pending !== undefined) {
          this.#stalled = true;
          this.#socket.pause();
          pending.then(
            () => this.#resume(),
            (err: unknown) => this.#fail(asConnectionError(err)),
          );
          return;
        }
        if (this.#phase.kind === 'closed') return;
      }
    } catch (err) {
      this.#fail(asConnectionError(err));
    }
  }

  #resume(): void {
    this.#stalled = false;
    if (this.#phase.kind === 'closed') return;
    this.#socket.resume();
    this.#pump();
  }

  #handle(frame: Buffer): void | Promise<void> {
    const phase = this.#phase;
    if (frame[0] === DATA_ROW) {
      if (phase.kind !== 'busy') throw new PgClientError('ERR_PG_PROTOCOL', 'DataRow outside a query');
      return phase.run.dataRow(frame);
    }
    if (frame[0] === AUTHENTICATION) {
      if (phase.kind !== 'authenticating')
        throw new PgClientError('ERR_PG_PROTOCOL', 'authentication request outside startup');
      return phase.auth.answer(decodeAuthRequest(frame));
    }
    const msg = this.#decode(frame);
    switch (msg.name) {
      case 'parameterStatus': {
        const { parameterName, parameterValue } = msg as unknown as {
          parameterName: string;
          parameterValue: string;
        };
        if (parameterName === 'client_encoding' && parameterValue !== 'UTF8') {
          // Text values are decoded as UTF-8; a statement that switches the encoding would have
          // every later value misread, so the connection ends instead.
          throw new PgClientError(
            'ERR_PG_PROTOCOL',
            `client_encoding changed to ${parameterValue}; only UTF8 is supported`,
          );
        }
        if (parameterName === 'standard_conforming_strings' && parameterValue !== 'on') {
          // The gateway parses texts with standard strings; a server reading backslashes as
          // escapes would run texts that mean something else, so the connection ends instead.
          throw new PgClientError(
            'ERR_PG_PROTOCOL',
            `standard_conforming_strings changed to ${parameterValue}; only on is supported`,
          );
        }
        // A reported setting changing under a query (SET, set_config(), SET ROLE moving
        // is_superuser) is session state the next user of a pooled connection must not inherit.
        if (phase.kind === 'busy' && this.#parameters.get(parameterName) !== parameterValue) {
          this.#sessionChanged = true;
        }
        this.#parameters.set(parameterName, parameterValue);
        return undefined;
      }
      case 'backendKeyData': {
        const { processID, secretKey } = msg as unknown as { processID: number; secretKey: number };
        this.#backendKey = { processId: processID, secretKey };
        return undefined;
      }
      case 'notice':
        this.#options.onNotice?.(noticeFields(msg as unknown as Record<string, string | undefined>));
        return undefined;
      case 'notification':
        return undefined;
      default:
        break;
    }
    switch (phase.kind) {
      case 'authenticating':
        return this.#duringStartup(phase, msg);
      case 'busy':
        if (msg.name === 'readyForQuery') this.#readyAfterQuery(msg);
        else if (
          msg.name === 'commandComplete' &&
          SESSION_TAGS.test((msg as unknown as { text: string }).text)
        ) {
          this.#sessionChanged = true;
        }
        return phase.run.message(msg, frame);
      default:
        if (msg.name === 'error') {
          // An error while idle is the server ending the session (FATAL, e.g. admin shutdown).
          const error = new PgServerError(noticeFields(msg as unknown as Record<string, string | undefined>));
          this.#fail(error);
          return undefined;
        }
        throw new PgClientError('ERR_PG_PROTOCOL', `unexpected ${msg.name} while ${phase.kind}`);
    }
  }

  #duringStartup(phase: Extract<Phase, { kind: 'authenticating' }>, msg: BackendMessage): void {
    if (msg.name === 'error') {
      const error = new PgServerError(noticeFields(msg as unknown as Record<string, string | undefined>));
      this.#fail(error);
      this.#socket.destroy();
      return;
    }
    if (msg.name === 'readyForQuery') {
      if (!phase.auth.authenticated)
        throw new PgClientError('ERR_PG_PROTOCOL', 'ReadyForQuery before AuthenticationOk');
      this.#transactionStatus = statusOf(msg);
      this.#phase = { kind: 'idle' };
      phase.settle();
      return;
    }
    throw new PgClientError('ERR_PG_PROTOCOL', `unexpected ${msg.name} during startup`);
  }

  #readyAfterQuery(msg: BackendMessage): void {
    this.#transactionStatus = statusOf(msg);
    this.#phase = { kind: 'idle' };
  }

  /** Sends a cancel for the running query once, and drops the connection if it does not come back. */
  #interrupt(run: QueryRun, error: PgClientError): void {
    if (!run.interrupt(error)) return;
    const grace = setTimeout(() => {
      if (this.#phase.kind === 'busy' && this.#phase.run === run) this.destroy(error);
    }, this.#options.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS);
    void run.done.then(() => clearTimeout(grace));
    this.cancel().catch(() => {
      // The server could not be told to stop: the only way left to end the query is to drop the connection.
      this.destroy(error);
    });
  }

  #decode(frame: Buffer): BackendMessage {
    // pg-protocol loops forever on an ErrorResponse/NoticeResponse whose field list is not
    // terminated, and throws RangeErrors on short bodies: check the one, convert the other.
    if ((frame[0] === ERROR_RESPONSE || frame[0] === NOTICE_RESPONSE) && !wellFormedFieldList(frame)) {
      throw new PgClientError('ERR_PG_PROTOCOL', 'malformed error or notice message');
    }
    let decoded: BackendMessage | undefined;
    try {
      this.#parser.parse(frame, (msg) => {
        decoded = msg;
      });
    } catch (err) {
      throw new PgClientError('ERR_PG_PROTOCOL', `malformed backend message: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (decoded === undefined) throw new PgClientError('ERR_PG_PROTOCOL', 'incomplete backend message');
    // pg-protocol reports a message type it does not know as an 'error' without fields; a real
    // ErrorResponse always has a severity.
    if (decoded.name === 'error' && (decoded as unknown as { severity?: string }).severity === undefined) {
      throw new PgClientError(
        'ERR_PG_PROTOCOL',
        `unknown backend message type '${String.fromCharCode(frame[0] ?? 0)}'`,
      );
    }
    return decoded;
  }

  #fail(reason: Error): void {
    const phase = this.#phase;
    if (phase.kind === 'closed') return;
    this.#phase = { kind: 'closed', reason };
    if (phase.kind === 'authenticating') phase.settle(reason);
    else if (phase.kind === 'busy') phase.run.fail(reason);
    // Whatever failed, the socket goes too, except on the paths where it is already closing
    // (socket error or close, or close() whose Terminate must still be flushed).
    const closing = reason instanceof PgClientError && reason.code === 'ERR_PG_CONNECTION_CLOSED';
    if (!closing && !this.#socket.destroyed) this.#socket.destroy();
  }
}

/** Failures of the message loop reach callers typed: ours and the server's as they are, anything else as a protocol error. */
function asConnectionError(err: unknown): Error {
  if (err instanceof PgClientError || err instanceof PgServerError) return err;
  return new PgClientError('ERR_PG_PROTOCOL', `backend message could not be handled: ${String(err)}`, {
    cause: err,
  });
}

const ERROR_RESPONSE = 0x45; // E
const NOTICE_RESPONSE = 0x4e; // N

/** A field list is { byte code, cstring value }* followed by one NUL that ends the message. */
function wellFormedFieldList(frame: Buffer): boolean {
  let at = 5;
  while (at < frame.length) {
    if (frame[at] === 0) return at === frame.length - 1;
    const end = frame.indexOf(0, at + 1);
    if (end < 0) return false;
    at = end + 1;
  }
  return false;
}

function statusOf(msg: BackendMessage): PgTransactionStatus {
  const status = (msg as unknown as { status: string }).status;
  return status === 'T' || status === 'E' ? status : 'I';
}

function extendedQuery(sql: string, params: readonly unknown[]): Buffer {
  const values = params.map((value, i) => toWireParam(value, i));
  return Buffer.concat([
    serialize.parse({ text: sql }),
    serialize.bind({ values }),
    serialize.describe({ type: 'P' }),
    serialize.execute({}),
    serialize.sync(),
  ]);
}
