import type { Effect } from '../config/schema.js';
import type { Dialect, StatementSummary } from '../gateway/types.js';
import type { ClassifiedStatement } from './classified.js';
import { GuardError, type GuardErrorCode, tooManyStatements } from './errors.js';
import { LruCache } from './lru.js';
import { MySqlStatements } from './mysql/statements.js';
import { classifyPostgres } from './postgres/classify.js';
import { PostgresParser } from './postgres/parser.js';
import { PostgresShapes, type PgParsedText } from './postgres/shape-cache.js';
import type { PreparedChange, PreparedStatementLookup } from './prepared.js';
import { sideEffectTable, type SideEffectFunctions } from './side-effect-functions.js';
import { sortEffects } from './statement-facts.js';

/**
 * What the guard understood of a SQL text.
 *
 * `parsed` is the dialect parser's own output, for column lineage (masking):
 * - postgres: what libpg-query's `parse` returns, `{ version, stmts: [{ stmt, stmt_location?,
 *   stmt_len? }] }` (stmt_location/stmt_len are UTF-8 byte offsets). For a text decided by its
 *   shape (postgres/shape-cache.ts) it is the frozen parse of the first text of that shape: the
 *   same tree apart from constant values and source positions;
 * - mysql: an array with node-sql-parser's AST (`astify(..., { database: 'MySQL' })`) for each
 *   statement, in order, and `null` for a statement node-sql-parser does not parse and the guard
 *   classified by its keywords (KILL, FLUSH, PREPARE, ...); or `undefined` when the text was
 *   decided by its shape (another text of the same shape was parsed; see
 *   mysql/shape-cache.ts), and a caller that needs the AST parses the text itself.
 * Treat it as read-only: analyses are cached and shared.
 */
export type Analysis =
  | {
      ok: true;
      statements: StatementSummary[];
      parsed: unknown;
      /** PREPARE / DEALLOCATE in the text, for the session's registry (absent when none). */
      preparedChanges?: readonly PreparedChange[];
    }
  | { ok: false; error: string; code: GuardErrorCode };

export interface StatementAnalyzerOptions {
  /** Entries added to (or replacing) the default side-effect function list of each dialect. */
  sideEffectFunctions?: Partial<Record<Dialect, SideEffectFunctions>>;
  /** Analyses kept per dialect (least recently used evicted). Default 2000; 0 disables. */
  cacheSize?: number;
  /**
   * Statement shapes (texts with their literal values abstracted) whose classification is kept
   * for other texts of the same shape, per dialect; see mysql/shape-cache.ts and
   * postgres/shape-cache.ts. Default 2000; 0 disables.
   */
  shapeCacheSize?: number;
  /**
   * Longest text analysed, in characters, per dialect; longer texts are refused
   * (ERR_GUARD_TOO_LONG). Parsing runs on the caller's thread, and node-sql-parser needs about
   * 10 µs a character, so a long MySQL text would stall every session of the gateway.
   * libpg-query about 2.5 µs a character of dense text. Defaults: postgres 256 KiB, mysql 64 KiB.
   */
  maxTextLength?: Partial<Record<Dialect, number>>;
  /**
   * Most statements in one text; a text of more is refused (ERR_GUARD_TOO_MANY) before they are
   * classified (MySQL: before they are parsed). Default 1000.
   */
  maxStatements?: number;
}

const DEFAULT_MAX_TEXT_LENGTH: Readonly<Record<Dialect, number>> = {
  postgres: 256 * 1024,
  mysql: 64 * 1024,
};
const DEFAULT_MAX_STATEMENTS = 1000;

export interface StatementAnalyzer {
  /**
   * Parses and classifies `sql`. `prepared` is the session's prepared statements: an EXECUTE of
   * a name found there counts as its body; without it (or for an unknown name) EXECUTE is
   * `unknown`. Never throws: anything not understood is `{ ok: false }` or an `unknown` effect.
   */
  analyze(sql: string, dialect: Dialect, prepared?: PreparedStatementLookup): Promise<Analysis>;
}

/** Texts longer than this are analysed every time rather than kept in the cache. */
const MAX_CACHED_TEXT = 64 * 1024;

interface CacheEntry {
  analysis: Analysis;
  /** Present when the text contains EXECUTE: the analysis must be resolved per session. */
  classified?: readonly ClassifiedStatement[];
}

export function createStatementAnalyzer(options: StatementAnalyzerOptions = {}): StatementAnalyzer {
  return new CachedStatementAnalyzer(options);
}

class CachedStatementAnalyzer implements StatementAnalyzer {
  readonly #postgres = new PostgresParser();
  readonly #postgresFunctions: ReadonlyMap<string, readonly Effect[]>;
  readonly #postgresShapes: PostgresShapes | undefined;
  readonly #mysql: MySqlStatements;
  readonly #cache: Record<Dialect, LruCache<string, CacheEntry>>;
  readonly #maxTextLength: Readonly<Record<Dialect, number>>;
  readonly #maxStatements: number;

  constructor(options: StatementAnalyzerOptions) {
    this.#maxTextLength = { ...DEFAULT_MAX_TEXT_LENGTH, ...options.maxTextLength };
    this.#maxStatements = options.maxStatements ?? DEFAULT_MAX_STATEMENTS;
    const size = options.cacheSize ?? 2000;
    this.#cache = { postgres: new LruCache(size), mysql: new LruCache(size) };
    this.#postgresFunctions = sideEffectTable('postgres', options.sideEffectFunctions?.postgres);
    const shapeCacheSize = options.shapeCacheSize ?? 2000;
    this.#postgresShapes = shapeCacheSize > 0 ? new PostgresShapes(shapeCacheSize) : undefined;
    this.#mysql = new MySqlStatements(sideEffectTable('mysql', options.sideEffectFunctions?.mysql), {
      shapeCacheSize,
      maxStatements: this.#maxStatements,
    });
  }

  async analyze(sql: string, dialect: Dialect, prepared?: PreparedStatementLookup): Promise<Analysis> {
    const cache = this.#cache[dialect];
    let entry = cache.get(sql);
    if (entry === undefined) {
      const max = this.#maxTextLength[dialect];
      if (sql.length > max) {
        return {
          ok: false,
          code: 'ERR_GUARD_TOO_LONG',
          error: `the text is ${sql.length} characters long; the guard analyses at most ${max} for ${dialect}`,
        };
      }
      if (dialect === 'postgres' && !this.#postgres.loaded) {
        try {
          await this.#postgres.ready();
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          return {
            ok: false,
            code: 'ERR_GUARD_PARSER_UNAVAILABLE',
            error: `the Postgres parser did not load: ${reason}`,
          };
        }
      }
      entry = this.#analyzeText(sql, dialect);
      if (sql.length <= MAX_CACHED_TEXT) cache.set(sql, entry);
    }
    return entry.classified ? resolveExecutes(entry, prepared) : entry.analysis;
  }

  readonly #parsePostgres = (sql: string): PgParsedText => {
    const parsed = this.#postgres.parse(sql);
    if (parsed.stmts.length > this.#maxStatements)
      throw tooManyStatements(parsed.stmts.length, this.#maxStatements);
    const ctx = { parser: this.#postgres, functions: this.#postgresFunctions };
    return { parsed, classified: classifyPostgres(sql, parsed, ctx) };
  };

  #analyzeText(sql: string, dialect: Dialect): CacheEntry {
    let classified: ClassifiedStatement[];
    let parsed: unknown;
    try {
      if (dialect === 'postgres') {
        const shapes = this.#postgresShapes;
        const run = shapes ? shapes.analyze(sql, this.#parsePostgres) : this.#parsePostgres(sql);
        parsed = run.parsed;
        classified = run.classified;
      } else {
        const result = this.#mysql.analyze(sql);
        parsed = result.parsed;
        classified = result.statements;
      }
    } catch (err) {
      if (err instanceof GuardError) return { analysis: { ok: false, code: err.code, error: err.message } };
      const reason = err instanceof Error ? err.message : String(err);
      return {
        analysis: {
          ok: false,
          code: 'ERR_GUARD_INTERNAL',
          error: `the statement could not be classified: ${reason}`,
        },
      };
    }
    const changes: PreparedChange[] = [];
    for (const c of classified) {
      if (c.prepare) changes.push({ kind: 'prepare', name: c.prepare.name, body: c.prepare.body });
      if (c.deallocate) {
        changes.push(
          'all' in c.deallocate
            ? { kind: 'deallocate-all' }
            : { kind: 'deallocate', name: c.deallocate.name },
        );
      }
    }
    // Analyses are cached and handed to every caller: freeze what the policy decides on, so that
    // no caller can change the verdict of the next session by editing a shared summary.
    for (const c of classified) {
      freezeSummary(c.summary);
      if (c.prepare) freezeSummary(c.prepare.body);
    }
    const analysis: Analysis = {
      ok: true,
      statements: Object.freeze(classified.map((c) => c.summary)) as StatementSummary[],
      parsed,
    };
    if (changes.length > 0) analysis.preparedChanges = changes;
    const hasExecute = classified.some((c) => c.execute !== undefined);
    return hasExecute ? { analysis, classified } : { analysis };
  }
}

function freezeSummary(summary: StatementSummary): void {
  Object.freeze(summary.effects);
  Object.freeze(summary.objects);
  Object.freeze(summary);
}

/**
 * Replaces each EXECUTE's `unknown` by the body it runs: a PREPARE earlier in the same text, else
 * the session's registry. A name found in neither stays `unknown`.
 */
function resolveExecutes(entry: CacheEntry, prepared: PreparedStatementLookup | undefined): Analysis {
  const { analysis, classified } = entry;
  if (!analysis.ok || !classified) return analysis;
  const local = new Map<string, StatementSummary | null>();
  const statements = classified.map((c): StatementSummary => {
    if (c.prepare) local.set(c.prepare.name, c.prepare.body);
    if (c.deallocate) {
      if ('all' in c.deallocate) {
        // Everything the session had is gone too; later EXECUTEs see only later PREPAREs.
        prepared = undefined;
        local.clear();
      } else {
        local.set(c.deallocate.name, null);
      }
    }
    if (!c.execute) return c.summary;
    const body = local.has(c.execute.name) ? local.get(c.execute.name) : prepared?.get(c.execute.name);
    if (!body) return c.summary;
    const base = c.execute.base;
    return {
      text: base.text,
      command: 'EXECUTE',
      effects: sortEffects(new Set([...base.effects, ...body.effects])),
      objects: [...new Set([...base.objects, ...body.objects])],
      unbounded: base.unbounded || body.unbounded,
      ...(body.preparedText !== undefined ? { preparedText: body.preparedText } : {}),
    };
  });
  const resolved: Analysis = { ok: true, statements, parsed: analysis.parsed };
  if (analysis.preparedChanges) resolved.preparedChanges = analysis.preparedChanges;
  return resolved;
}
