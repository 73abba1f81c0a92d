import { loadModule, parsePlPgSQLSync, parseSync } from 'libpg-query';
import { GuardError } from '../errors.js';

/** libpg-query's parse result: `{ version, stmts: [{ stmt, stmt_location?, stmt_len? }] }`. */
export interface PgParseResult {
  version: number;
  stmts: PgRawStatement[];
}

export interface PgRawStatement {
  stmt: Record<string, unknown>;
  /** Byte offset (UTF-8) of the statement in the text; absent means 0. */
  stmt_location?: number;
  /** Byte length; absent or 0 means "to the end of the text". */
  stmt_len?: number;
}

/**
 * The real Postgres parser (libpg-query, WASM). The module is instantiated once per process by the
 * library; `ready()` awaits that once per parser object and remembers a failure so that every
 * later call fails closed with the same error instead of retrying forever.
 */
export class PostgresParser {
  #ready: Promise<void> | undefined;
  #loaded = false;

  ready(): Promise<void> {
    this.#ready ??= loadModule().then(() => {
      this.#loaded = true;
    });
    return this.#ready;
  }

  get loaded(): boolean {
    return this.#loaded;
  }

  /** Parses a SQL text; throws GuardError('ERR_GUARD_PARSE') with the parser's message and position. */
  parse(sql: string): PgParseResult {
    try {
      // The library refuses "" outright; a blank text is, like the server sees it, no statement.
      return parseSync(sql === '' ? ' ' : sql) as unknown as PgParseResult;
    } catch (err) {
      throw parseError(err);
    }
  }

  /** Parses a DO block or CREATE FUNCTION text with the PL/pgSQL parser. */
  parsePlPgSql(sql: string): unknown {
    try {
      return parsePlPgSQLSync(sql);
    } catch (err) {
      throw parseError(err);
    }
  }
}

function parseError(err: unknown): GuardError {
  const message = err instanceof Error ? err.message : String(err);
  const details = (err as { sqlDetails?: { cursorPosition?: unknown } } | null)?.sqlDetails;
  const cursor = typeof details?.cursorPosition === 'number' ? details.cursorPosition : undefined;
  // The parser counts from 0; people (and psql) count from 1.
  const where = cursor !== undefined && cursor >= 0 ? ` (at character ${cursor + 1})` : '';
  return new GuardError('ERR_GUARD_PARSE', `${message}${where}`);
}

/** The text of one statement of a parse, from the parser's UTF-8 byte offsets. */
export function statementText(sql: string, bytes: Buffer | undefined, raw: PgRawStatement): string {
  const start = raw.stmt_location ?? 0;
  const len = raw.stmt_len ?? 0;
  if (bytes === undefined) return (len > 0 ? sql.slice(start, start + len) : sql.slice(start)).trim();
  const end = len > 0 ? start + len : bytes.length;
  return bytes.subarray(start, end).toString('utf8').trim();
}

/** Byte offsets equal string offsets only for ASCII text; otherwise the caller needs the bytes. */
export function bytesIfNeeded(sql: string): Buffer | undefined {
  for (let i = 0; i < sql.length; i++) if (sql.charCodeAt(i) > 0x7f) return Buffer.from(sql, 'utf8');
  return undefined;
}
