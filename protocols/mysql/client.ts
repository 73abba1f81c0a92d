import { PassThrough, type Readable } from 'node:stream';
import mysql from 'mysql2';
import type { FieldPacket, Pool, PoolConnection, Query, ResultSetHeader, SslOptions } from 'mysql2';
import { ColumnType, columnTypeName } from './codec/column-types.js';
import { toClientError } from './client-errors.js';
import { poolOptionsFor, sslOptionsFor, type MysqlClientOptions } from './client-options.js';
import { MysqlClientError } from './errors.js';

export type { MysqlClientOptions, MysqlTlsMode } from './client-options.js';

/** A result column as the target described it. */
export interface MysqlColumn {
  name: string;
  /** SQL type name: varchar, int, datetime, decimal, json, ... */
  type: string;
  /** Wire type code (ColumnType). */
  typeCode: number;
  flags: number;
  characterSet: number;
  decimals: number;
  /** Schema (database), original table and original column; empty for computed columns. */
  orgSchema: string;
  orgTable: string;
  orgName: string;
  /** Table alias as written in the statement. */
  table: string;
  /** The column's display length as the target announced it. */
  columnLength: number;
  /** MariaDB's extended metadata, when the target sent it: type (uuid, inet6) and format (json). */
  extendedTypeName?: string | undefined;
  extendedFormat?: string | undefined;
}

/** Receives a result as it streams. A returned promise pauses the connection until it settles. */
export interface MysqlResultHandler {
  columns(columns: MysqlColumn[]): void | Promise<void>;
  row(values: unknown[]): void | Promise<void>;
}

export interface MysqlQueryOptions {
  /** With params the statement is prepared and executed (binary protocol); without, sent as text. */
  params?: readonly unknown[] | undefined;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  /**
   * The statement may leave session state (user variables, settings, a transaction, locks): its
   * pooled connection is closed afterwards instead of going back to the pool for another caller.
   */
  changesSession?: boolean | undefined;
  /** Values go on to a MySQL client: FLOAT and DOUBLE of text results as the server's text. */
  wireForm?: boolean | undefined;
  /**
   * The file a LOAD DATA LOCAL INFILE of this statement sends, when the server asks for it (by
   * name). Without it the server gets an empty file and the statement fails.
   */
  localFile?: ((name: string) => Readable) | undefined;
  /** The state the connection must be in first (the caller's identity); see ConnectionState. */
  state?: ConnectionState | undefined;
}

/**
 * Statements that put a pooled connection in a caller's state (user variables, a role) and take
 * it out again: `enter` before each statement of that state, `leave` before a statement of
 * another state (`key`) or of none.
 */
export interface ConnectionState {
  key: string;
  enter: readonly { sql: string; values: readonly unknown[] }[];
  leave: readonly string[];
}

/** What a server's OK packet says. */
export interface MysqlOk {
  affectedRows: number;
  insertId: number;
  warnings: number;
  /** The server's text, e.g. `Rows matched: 2  Changed: 1  Warnings: 0` (changedRows). */
  info: string;
  serverStatus: number;
}

export type MysqlQueryResult =
  | {
      kind: 'rows';
      /** Rows of every result set. */
      rowCount: number;
      /**
       * A CALL answers with its procedure's result sets (each begins with another `columns`
       * call on the handler) and then the OK of the CALL itself.
       */
      ok?: MysqlOk;
    }
  | ({ kind: 'ok' } & MysqlOk);

/** What the client reports about itself, for the caller's logger. */
export type MysqlClientEvent =
  | { type: 'tls-fallback'; host: string; port: number }
  | { type: 'kill-failed'; threadId: number; error: MysqlClientError };

type PoolState = { kind: 'open'; pool: Pool; ssl: SslOptions | undefined } | { kind: 'closed' };

/** ER_NOT_ALLOWED_COMMAND: what a server says to LOAD DATA LOCAL when the client sends no files. */
const NOT_ALLOWED_COMMAND = { errno: 1148, sqlstate: '42000' };

/** A statement without a local file to send: the server gets an empty one, the caller an error. */
function noLocalFile(): Readable {
  return failedFile('LOAD DATA LOCAL INFILE needs a client that sends the file; this one does not');
}

/** A file that cannot be sent: its read fails with `message` (ER_NOT_ALLOWED_COMMAND). */
export function failedFile(message: string): Readable {
  return new PassThrough().destroy(new MysqlClientError('ERR_TARGET_QUERY', message, NOT_ALLOWED_COMMAND));
}

/** The state each pooled connection is in (see ConnectionState); none when absent. */
const connectionStates = new WeakMap<PoolConnection, ConnectionState>();

/** 1317 ER_QUERY_INTERRUPTED, SQLSTATE 70100: what MySQL reports for a killed statement. */
const INTERRUPTED = { errno: 1317, sqlstate: '70100' };

/**
 * A small pool of connections to one MySQL/MariaDB target, with streamed results, prepared
 * statements and cancellation by KILL QUERY on a separate connection.
 */
export class MysqlClient {
  readonly #options: MysqlClientOptions;
  readonly #onEvent: (event: MysqlClientEvent) => void;
  #state: PoolState;

  constructor(options: MysqlClientOptions, onEvent: (event: MysqlClientEvent) => void = () => {}) {
    this.#options = options;
    this.#onEvent = onEvent;
    const ssl = sslOptionsFor(options.tls, options.ca);
    this.#state = { kind: 'open', pool: this.#createPool(ssl), ssl };
  }

  /** Runs one statement, streaming its rows into the handler. */
  async query(
    sql: string,
    handler: MysqlResultHandler,
    options: MysqlQueryOptions = {},
  ): Promise<MysqlQueryResult> {
    const params = options.params === undefined ? undefined : toDriverParams(options.params);
    if (options.signal?.aborted) throw cancelledError();
    const started = Date.now();
    const connection = await this.#acquireWithin(options);
    try {
      await this.#enterState(connection, options.state);
    } catch (err) {
      connection.destroy();
      throw this.toError(err);
    }
    // The time spent waiting for a connection counts against the statement's timeout.
    const remainingMs =
      options.timeoutMs !== undefined && options.timeoutMs > 0
        ? Math.max(1, options.timeoutMs - (Date.now() - started))
        : undefined;
    return new StatementRun(this, connection, handler, options, remainingMs).start(sql, params);
  }

  /**
   * Puts the connection in `wanted`, or in none: `enter` runs before every statement of a state
   * (the caller's own statements may have changed a variable or the role since), `leave` when the
   * connection served another state before.
   */
  async #enterState(connection: PoolConnection, wanted: ConnectionState | undefined): Promise<void> {
    const current = connectionStates.get(connection);
    if (current === undefined && wanted === undefined) return;
    const run = (sql: string, values: readonly unknown[] = []) =>
      new Promise<void>((resolve, reject) => {
        connection.query(sql, [...values], (err: unknown) => (err ? reject(err as Error) : resolve()));
      });
    connectionStates.delete(connection);
    if (current !== undefined && current.key !== wanted?.key) for (const sql of current.leave) await run(sql);
    for (const { sql, values } of wanted?.enter ?? []) await run(sql, values);
    if (wanted !== undefined) connectionStates.set(connection, wanted);
  }

  /**
   * Prepares `sql` on a pooled connection without running it: its parameters and result columns
   * as the server describes them. The statement stays in that connection's statement cache, so an
   * execute of the same text there reuses it.
   */
  async describe(sql: string): Promise<{ params: MysqlColumn[]; columns: MysqlColumn[] }> {
    const connection = await this.#acquireWithin({});
    try {
      const statement = await new Promise<{ parameters: FieldPacket[]; columns: FieldPacket[] }>(
        (resolve, reject) => {
          connection.prepare(sql, (err, prepared) =>
            err
              ? reject(err)
              : resolve(prepared as unknown as { parameters: FieldPacket[]; columns: FieldPacket[] }),
          );
        },
      );
      connection.release();
      return {
        params: (statement.parameters ?? []).map(toMysqlColumn),
        columns: (statement.columns ?? []).map(toMysqlColumn),
      };
    } catch (err) {
      const fatal = (err as { fatal?: unknown }).fatal === true;
      if (fatal) connection.destroy();
      else connection.release();
      throw this.toError(err);
    }
  }

  /**
   * Closes the target's prepared statement of `sql` on an idle pooled connection (the one a
   * session's single-connection pool holds), when the client closed its own: the target's
   * max_prepared_stmt_count is shared by every client of the server. Best effort; other
   * connections of a larger pool drop theirs from their bounded cache in time.
   */
  async forgetPrepared(sql: string): Promise<void> {
    const connection = await this.#acquireWithin({}).catch(() => undefined);
    if (connection === undefined) return;
    try {
      connection.unprepare(sql);
    } finally {
      connection.release();
    }
  }

  /**
   * A pooled connection, unless the signal aborts or the timeout passes first (all connections
   * busy). A connection that arrives after we gave up goes straight back to the pool.
   */
  #acquireWithin(options: MysqlQueryOptions): Promise<PoolConnection> {
    const { signal, timeoutMs } = options;
    const acquiring = this.#acquire();
    if (signal === undefined && (timeoutMs === undefined || timeoutMs <= 0)) return acquiring;
    return new Promise<PoolConnection>((resolve, reject) => {
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const giveUp = (error: MysqlClientError): void => {
        if (!settle()) return;
        acquiring.then(
          (connection) => connection.release(),
          () => {},
        );
        reject(error);
      };
      const onAbort = (): void => giveUp(cancelledError());
      const timer =
        timeoutMs !== undefined && timeoutMs > 0
          ? setTimeout(
              () =>
                giveUp(
                  new MysqlClientError(
                    'ERR_TARGET_TIMEOUT',
                    `no connection to the target became free within ${timeoutMs} ms`,
                    INTERRUPTED,
                  ),
                ),
              timeoutMs,
            )
          : undefined;
      signal?.addEventListener('abort', onAbort, { once: true });
      acquiring.then(
        (connection) => {
          if (settle()) resolve(connection);
        },
        (err: unknown) => {
          if (settle()) reject(err);
        },
      );
    });
  }

  async close(): Promise<void> {
    if (this.#state.kind === 'closed') return;
    const { pool } = this.#state;
    this.#state = { kind: 'closed' };
    await new Promise<void>((resolve) => pool.end(() => resolve()));
  }

  /** Sends KILL QUERY for a connection's thread on a fresh connection outside the pool. */
  async killQuery(threadId: number): Promise<void> {
    if (!Number.isSafeInteger(threadId) || threadId <= 0) return;
    const ssl =
      this.#state.kind === 'open' ? this.#state.ssl : sslOptionsFor(this.#options.tls, this.#options.ca);
    const options = poolOptionsFor(this.#options, ssl);
    const killer = mysql.createConnection({ ...options, connectTimeout: this.cancelTimeoutMs });
    killer.on('error', () => {});
    try {
      await new Promise<void>((resolve, reject) => {
        killer.query(`KILL QUERY ${threadId}`, (err) => (err ? reject(err) : resolve()));
      });
    } catch (err) {
      this.#onEvent({ type: 'kill-failed', threadId, error: this.toError(err, 'connect') });
    } finally {
      killer.destroy();
    }
  }

  get cancelTimeoutMs(): number {
    return this.#options.cancelTimeoutMs ?? 3_000;
  }

  toError(err: unknown, phase: 'connect' | 'query' = 'query'): MysqlClientError {
    return toClientError(err, this.#options, phase);
  }

  #createPool(ssl: SslOptions | undefined): Pool {
    const pool = mysql.createPool(poolOptionsFor(this.#options, ssl));
    pool.on('connection', (connection) => {
      // TIMESTAMP values then arrive in UTC and can be given a 'Z'. If that fails the connection
      // is dropped: its timestamps would be labelled UTC without being so.
      connection.query("SET time_zone = '+00:00'", (err) => {
        if (err) connection.destroy();
      });
      // Queued before any statement of a caller: a connection that cannot be made read-only is
      // dropped, never handed out read-write.
      if (this.#options.readOnly === true) {
        connection.query('SET SESSION TRANSACTION READ ONLY', (err) => {
          if (err) connection.destroy();
        });
      }
    });
    return pool;
  }

  async #acquire(): Promise<PoolConnection> {
    const state = this.#state;
    if (state.kind === 'closed')
      throw new MysqlClientError('ERR_TARGET_CLOSED', 'the MySQL client is closed');
    try {
      return await getConnection(state.pool);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (this.#options.tls === 'prefer' && code === 'HANDSHAKE_NO_SSL_SUPPORT' && this.#state === state) {
        // The server offers no TLS at all; prefer means "plaintext then".
        this.#onEvent({ type: 'tls-fallback', host: this.#options.host, port: this.#options.port });
        this.#state = { kind: 'open', pool: this.#createPool(undefined), ssl: undefined };
        state.pool.end(() => {});
        return this.#acquire();
      }
      if (this.#state !== state && this.#state.kind === 'open') return this.#acquire();
      throw this.toError(err, 'connect');
    }
  }
}

function getConnection(pool: Pool): Promise<PoolConnection> {
  return new Promise((resolve, reject) =>
    pool.getConnection((err, conn) => (err ? reject(err) : resolve(conn))),
  );
}

function cancelledError(): MysqlClientError {
  return new MysqlClientError('ERR_TARGET_CANCELLED', 'the statement was cancelled', INTERRUPTED);
}

/** Parameters in forms mysql2 binds reliably; objects and arrays travel as JSON text. */
type DriverParam = string | number | boolean | Date | Buffer | null;

function toDriverParams(params: readonly unknown[]): DriverParam[] {
  return params.map((value, i) => {
    if (value === null || value === undefined) return null;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
    if (typeof value === 'bigint') return value.toString();
    if (Buffer.isBuffer(value) || value instanceof Date) return value;
    if (typeof value === 'object') return JSON.stringify(value);
    throw new MysqlClientError(
      'ERR_TARGET_PARAMS',
      `parameter ${i + 1} has an unsupported type (${typeof value})`,
    );
  });
}

export function toMysqlColumn(field: FieldPacket): MysqlColumn {
  const typeCode = field.columnType ?? field.type ?? 0;
  const flags = typeof field.flags === 'number' ? field.flags : 0;
  const characterSet = field.characterSet ?? field.charsetNr ?? 0;
  return {
    name: field.name,
    type: columnTypeName({
      type: typeCode,
      flags,
      characterSet,
      extendedTypeName: field.extendedTypeName,
      extendedFormat: field.extendedFormat,
    }),
    typeCode,
    flags,
    characterSet,
    decimals: field.decimals,
    orgSchema: field.db ?? field.schema ?? '',
    orgTable: field.orgTable ?? '',
    orgName: field.orgName ?? '',
    table: field.table ?? '',
    columnLength: field.columnLength ?? 0,
    extendedTypeName: field.extendedTypeName,
    extendedFormat: field.extendedFormat,
  };
}

/** The accessors mysql2 hands a `typeCast` function. */
interface CastField {
  type: string;
  string(): string | null;
  buffer(): Buffer | null;
}

type TypeCast = (field: CastField, next: () => unknown) => unknown;

/** GEOMETRY values as the target's own bytes (SRID and WKB), not mysql2's lossy parse of them. */
const geometryAsBytes: TypeCast = (field, next) => (field.type === 'GEOMETRY' ? field.buffer() : next());

/**
 * For a wire client, also FLOAT and DOUBLE as the server printed them in a text result (`1e308`,
 * `-3.4e38`), which a JavaScript number would print otherwise. Binary results carry the number's
 * own bytes, which a number keeps exactly.
 */
const wireTextCast: TypeCast = (field, next) => {
  if (field.type === 'FLOAT' || field.type === 'DOUBLE') return field.string();
  return geometryAsBytes(field, next);
};

/** The cast a result needs, if any: only results with such columns pay for one. */
function castFor(fields: readonly FieldPacket[], wire: boolean, binary: boolean): TypeCast | undefined {
  let geometry = false;
  let floating = false;
  for (const field of fields) {
    const type = field.columnType;
    if (type === ColumnType.Geometry) geometry = true;
    else if (type === ColumnType.Float || type === ColumnType.Double) floating = true;
  }
  if (wire && !binary && floating) return wireTextCast;
  return geometry ? geometryAsBytes : undefined;
}

type RunState = { kind: 'running' } | { kind: 'cancelling'; error: unknown } | { kind: 'done' };

/**
 * One statement on one pooled connection. Rows go to the handler in order; while a handler promise
 * is pending the connection is paused, so unread rows stay in the socket (memory stays flat).
 */
class StatementRun {
  readonly #client: MysqlClient;
  readonly #connection: PoolConnection;
  readonly #handler: MysqlResultHandler;
  readonly #options: MysqlQueryOptions;
  /** What is left of the statement timeout after waiting for a connection. */
  readonly #remainingMs: number | undefined;
  #state: RunState = { kind: 'running' };
  #rowCount = 0;
  #sawColumns = false;
  /** Prepared and executed: binary rows. */
  #binary = false;
  #ok: ResultSetHeader | undefined;
  #timer: NodeJS.Timeout | undefined;
  #resolve: (result: MysqlQueryResult) => void = () => {};
  #reject: (err: unknown) => void = () => {};

  constructor(
    client: MysqlClient,
    connection: PoolConnection,
    handler: MysqlResultHandler,
    options: MysqlQueryOptions,
    remainingMs: number | undefined,
  ) {
    this.#client = client;
    this.#connection = connection;
    this.#handler = handler;
    this.#options = options;
    this.#remainingMs = remainingMs;
  }

  start(sql: string, params: DriverParam[] | undefined): Promise<MysqlQueryResult> {
    return new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      const { signal, timeoutMs } = this.#options;
      if (this.#remainingMs !== undefined) {
        this.#timer = setTimeout(() => {
          this.#cancel(
            new MysqlClientError(
              'ERR_TARGET_TIMEOUT',
              `the statement ran longer than ${timeoutMs} ms and was killed`,
              INTERRUPTED,
            ),
          );
        }, this.#remainingMs);
      }
      signal?.addEventListener('abort', this.#onAbort, { once: true });
      let query: Query;
      this.#binary = params !== undefined;
      try {
        query =
          params === undefined
            ? this.#connection.query({
                sql,
                rowsAsArray: true,
                infileStreamFactory: this.#options.localFile ?? noLocalFile,
              })
            : this.#connection.execute({ sql, rowsAsArray: true }, params);
      } catch (err) {
        this.#finish(err);
        return;
      }
      query.on('fields', (fields: FieldPacket[] | undefined) => this.#onFields(query, fields));
      query.on('result', (row: unknown) => this.#onResult(row));
      query.on('error', (err: unknown) => this.#finish(err));
      query.on('end', () => this.#finish(undefined));
      // mysql2 reports a connection lost under an event-style statement on the connection only.
      this.#connection.on('error', this.#onConnectionError);
      this.#connection.on('end', this.#onConnectionEnd);
    });
  }

  readonly #onAbort = (): void => this.#cancel(cancelledError());

  readonly #onConnectionError = (err: unknown): void => this.#finish(err);

  /** 'end' may come before the 'error' that says why; give that error a turn first. */
  readonly #onConnectionEnd = (): void => {
    setImmediate(() =>
      this.#finish(new MysqlClientError('ERR_TARGET_CLOSED', 'the connection to the target closed', {})),
    );
  };

  #onFields(query: Query, fields: FieldPacket[] | undefined): void {
    // mysql2 also emits 'fields' (with nothing) for a statement that returns no result set.
    if (this.#state.kind !== 'running' || fields === undefined) return;
    this.#sawColumns = true;
    // mysql2 builds the row parser from the statement's options right after this event.
    const cast = castFor(fields, this.#options.wireForm === true, this.#binary);
    if (cast !== undefined) (query as unknown as { options: { typeCast?: unknown } }).options.typeCast = cast;
    this.#deliver(() => this.#handler.columns(fields.map(toMysqlColumn)));
  }

  #onResult(row: unknown): void {
    if (this.#state.kind !== 'running') return;
    if (!Array.isArray(row)) {
      this.#ok = row as ResultSetHeader;
      return;
    }
    this.#rowCount++;
    this.#deliver(() => this.#handler.row(row));
  }

  /** Calls the handler; a promise it returns pauses the connection until it settles. */
  #deliver(call: () => void | Promise<void>): void {
    let outcome: void | Promise<void>;
    try {
      outcome = call();
    } catch (err) {
      this.#cancel(err);
      return;
    }
    if (outcome === undefined || typeof (outcome as { then?: unknown }).then !== 'function') return;
    this.#connection.pause();
    outcome.then(
      () => {
        if (this.#state.kind === 'running') this.#connection.resume();
      },
      (err: unknown) => this.#cancel(err),
    );
  }

  /**
   * Stops the statement: the server is told to KILL QUERY (on another connection, since this one
   * is busy), then this connection is dropped rather than returned to the pool, so a late KILL can
   * never hit the next statement that would run on it.
   */
  #cancel(reason: unknown): void {
    if (this.#state.kind !== 'running') return;
    this.#state = { kind: 'cancelling', error: reason };
    this.#clearTriggers();
    const threadId = this.#connection.threadId;
    const bound = new Promise<void>((resolve) => setTimeout(resolve, this.#client.cancelTimeoutMs).unref());
    void Promise.race([this.#client.killQuery(threadId), bound]).then(() => {
      this.#state = { kind: 'done' };
      this.#connection.destroy();
      this.#reject(reason);
    });
  }

  #finish(err: unknown): void {
    if (this.#state.kind !== 'running') return;
    this.#state = { kind: 'done' };
    this.#clearTriggers();
    if (err !== undefined) {
      const error = this.#client.toError(err);
      // A statement error leaves the connection usable; a fatal one (server shutdown, lost
      // connection) or anything unexpected may have broken it.
      const fatal = (err as { fatal?: unknown }).fatal === true;
      const reusable = !fatal && (error.code === 'ERR_TARGET_QUERY' || error.code === 'ERR_TARGET_PARAMS');
      if (reusable && !this.#options.changesSession) this.#connection.release();
      else this.#connection.destroy();
      this.#reject(error);
      return;
    }
    if (this.#options.changesSession) this.#connection.destroy();
    else this.#connection.release();
    const ok = this.#ok === undefined ? undefined : okOf(this.#ok);
    if (this.#sawColumns) {
      this.#resolve({ kind: 'rows', rowCount: this.#rowCount, ...(ok ? { ok } : {}) });
    } else {
      this.#resolve(ok ? { kind: 'ok', ...ok } : { kind: 'rows', rowCount: this.#rowCount });
    }
  }

  #clearTriggers(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    this.#connection.off('error', this.#onConnectionError);
    this.#connection.off('end', this.#onConnectionEnd);
  }
}

function okOf(header: ResultSetHeader): MysqlOk {
  return {
    affectedRows: header.affectedRows,
    insertId: header.insertId,
    warnings: header.warningStatus,
    info: header.info ?? '',
    serverStatus: header.serverStatus ?? 0,
  };
}
