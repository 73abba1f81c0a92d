import type { BackendMessage } from 'pg-protocol/dist/messages';
import { serialize } from 'pg-protocol/dist/serializer';
import { PgClientError, PgServerError, noticeFields } from './errors.js';
import { dataRowText } from './data-row.js';

/** A column of a RowDescription, as the server described it. */
export interface PgField {
  name: string;
  /** OID of the table when the column is a plain table column, else 0. */
  tableOid: number;
  /** Attribute number of the column in that table, else 0. */
  columnAttr: number;
  typeOid: number;
  typeSize: number;
  typeModifier: number;
  format: 'text' | 'binary';
}

/** One completed statement: its command tag and the row count the tag carries. */
export interface PgCommandResult {
  /** SELECT 3, INSERT 0 1, UPDATE 2, CREATE TABLE ...; empty for an empty query. */
  tag: string;
  rowCount: number;
}

export interface PgQueryResult {
  /** Tag of the last statement. */
  command: string;
  /** Row count of the last statement. */
  rowCount: number;
  /** Every statement of the query string, in order (several for a multi-statement simple query). */
  results: PgCommandResult[];
  /** DataRows received over all statements. */
  rowsReceived: number;
}

/**
 * Receives a result as it streams. For each statement that returns rows, `columns` comes first,
 * then one `row` (or `rawRow` in raw mode) per DataRow. A returned promise is backpressure: the
 * connection stops reading from the socket until it settles. A throw or rejection fails the query
 * (which is then cancelled on the server) with that error.
 */
export interface PgResultHandler {
  /** `frame` is the RowDescription message as received, for a caller that forwards it as is. */
  columns?(fields: PgField[], frame: Buffer): void | Promise<void>;
  /** Text mode: field values as text, null for NULL. */
  row?(values: (string | null)[]): void | Promise<void>;
  /**
   * Raw mode: the whole DataRow message (type byte and length included), undecoded, to forward as
   * is. The bytes stay valid after the call. Split it with `dataRowFields` when needed.
   */
  rawRow?(frame: Buffer): void | Promise<void>;
  complete?(result: PgCommandResult): void;
}

type Outcome = { ok: true; result: PgQueryResult } | { ok: false; error: Error };

/**
 * The client side of one query, from the first response message to ReadyForQuery. The query
 * settles only at ReadyForQuery, so that whatever happened (server error, sink error, cancel) the
 * connection is in a known state, ready for the next query, when the caller hears back.
 */
export class QueryRun {
  readonly #handler: PgResultHandler;
  readonly #raw: boolean;
  readonly #send: (bytes: Buffer) => void;
  readonly #onSinkError: () => void;
  readonly #results: PgCommandResult[] = [];
  #rows = 0;
  #serverError: PgServerError | null = null;
  #sinkError: Error | null = null;
  #interruption: PgClientError | null = null;
  #settle!: (outcome: Outcome) => void;
  readonly done: Promise<Outcome>;

  constructor(
    handler: PgResultHandler,
    mode: 'text' | 'raw',
    send: (bytes: Buffer) => void,
    onSinkError: () => void,
  ) {
    this.#handler = handler;
    this.#raw = mode === 'raw';
    this.#send = send;
    this.#onSinkError = onSinkError;
    this.done = new Promise<Outcome>((resolve) => {
      this.#settle = resolve;
    });
  }

  /** Whether rows still go to the handler (not after an error, a cancel or a timeout). */
  get delivering(): boolean {
    return this.#sinkError === null && this.#interruption === null;
  }

  /** Marks the query as cancelled by us (timeout, abort); it settles with `error` at ReadyForQuery. */
  interrupt(error: PgClientError): boolean {
    if (this.#interruption !== null) return false;
    this.#interruption = error;
    return true;
  }

  dataRow(frame: Buffer): void | Promise<void> {
    this.#rows++;
    if (!this.delivering) return undefined;
    if (this.#raw) return this.#deliver(() => this.#handler.rawRow?.(frame));
    const values = dataRowText(frame);
    return this.#deliver(() => this.#handler.row?.(values));
  }

  message(msg: BackendMessage, frame: Buffer): void | Promise<void> {
    switch (msg.name) {
      case 'rowDescription': {
        if (!this.delivering) return undefined;
        const fields = (msg as unknown as { fields: RawField[] }).fields.map(toField);
        return this.#deliver(() => this.#handler.columns?.(fields, frame));
      }
      case 'commandComplete': {
        const tag = (msg as unknown as { text: string }).text;
        const result = { tag, rowCount: rowCountOf(tag) };
        this.#results.push(result);
        if (this.delivering) this.#handler.complete?.(result);
        return undefined;
      }
      case 'emptyQuery':
        this.#results.push({ tag: '', rowCount: 0 });
        return undefined;
      case 'error':
        // The first error is the one that explains; later ones (after Sync) only echo it.
        this.#serverError ??= new PgServerError(
          noticeFields(msg as unknown as Record<string, string | undefined>),
        );
        return undefined;
      case 'copyInResponse':
        // COPY FROM STDIN would have the gateway stream a caller's data; refuse it cleanly.
        this.#send(serialize.copyFail('COPY FROM STDIN is not supported through this connection'));
        return undefined;
      case 'readyForQuery':
        this.#finish();
        return undefined;
      // parseComplete, bindComplete, noData, parameterDescription, portalSuspended,
      // copyOutResponse, copyData, copyDone: nothing for the handler.
      default:
        return undefined;
    }
  }

  /** The connection failed under the query: settle now, there will be no ReadyForQuery. */
  fail(error: Error): void {
    // A FATAL ErrorResponse just before the close says why better than the close does.
    this.#settle({ ok: false, error: this.#sinkError ?? this.#interruption ?? this.#serverError ?? error });
  }

  #finish(): void {
    // What the caller did (a failing sink) explains more than the cancel that followed it; our
    // own cancel (timeout, abort) explains more than the server's 57014 that it caused.
    if (this.#sinkError !== null) {
      this.#settle({ ok: false, error: this.#sinkError });
    } else if (this.#interruption !== null) {
      if (this.#serverError !== null && this.#interruption.cause === undefined) {
        Object.defineProperty(this.#interruption, 'cause', { value: this.#serverError });
      }
      this.#settle({ ok: false, error: this.#interruption });
    } else if (this.#serverError !== null) {
      this.#settle({ ok: false, error: this.#serverError });
    } else {
      const last = this.#results[this.#results.length - 1];
      this.#settle({
        ok: true,
        result: {
          command: last?.tag ?? '',
          rowCount: last?.rowCount ?? 0,
          results: this.#results,
          rowsReceived: this.#rows,
        },
      });
    }
  }

  #deliver(call: () => void | Promise<void>): void | Promise<void> {
    try {
      const pending = call();
      if (pending === undefined) return undefined;
      return pending.then(undefined, (err: unknown) => this.#sinkFailed(err));
    } catch (err) {
      this.#sinkFailed(err);
      return undefined;
    }
  }

  #sinkFailed(err: unknown): void {
    if (this.#sinkError !== null) return;
    this.#sinkError = err instanceof Error ? err : new Error(String(err));
    this.#onSinkError();
  }
}

interface RawField {
  name: string;
  tableID: number;
  columnID: number;
  dataTypeID: number;
  dataTypeSize: number;
  dataTypeModifier: number;
  format: 'text' | 'binary';
}

function toField(f: RawField): PgField {
  return {
    name: f.name,
    tableOid: f.tableID,
    columnAttr: f.columnID,
    typeOid: f.dataTypeID,
    typeSize: f.dataTypeSize,
    typeModifier: f.dataTypeModifier,
    format: f.format,
  };
}

/** The row count a command tag carries: its last number (INSERT 0 5 → 5), else 0. */
export function rowCountOf(tag: string): number {
  const match = /(\d+)$/.exec(tag);
  return match ? Number(match[1]) : 0;
}
