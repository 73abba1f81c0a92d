import { astifyMySql } from './readable.js';
import type { Effect } from '../../config/schema.js';
import type { ClassifiedStatement } from '../classified.js';
import { GuardError, tooManyStatements } from '../errors.js';
import { LruCache } from '../lru.js';
import { StatementFacts } from '../statement-facts.js';
import { classifyMySqlAst, plannedEffects, type MySqlClassifyContext } from './classify.js';
import {
  literalShape,
  probeText,
  sameSummary,
  shapeSummary,
  type LiteralSpan,
  type ShapeSummary,
} from '../literal-shape.js';
import { clientCharsetChange } from './client-charset.js';
import { splitMySql, withoutComments, type MySqlPiece } from './lexer.js';
import { sameApartFromLiterals, type ShapeEntry } from './shape-cache.js';

type Node = Record<string, unknown>;

export interface MySqlAnalysis {
  statements: ClassifiedStatement[];
  /**
   * node-sql-parser's AST per statement; `null` for a statement classified by its keywords only.
   * Undefined when the classification came from the shape cache: this text was not parsed.
   */
  parsed: (Node | null)[] | undefined;
}

export interface MySqlStatementsOptions {
  /** Shapes remembered (least recently used evicted); 0 disables the shape cache. */
  shapeCacheSize?: number;
  /** Most statements in one text (see StatementAnalyzerOptions.maxStatements). */
  maxStatements?: number;
}

/** A parse of a text's statements, and whether its classification may serve its whole shape. */
interface ParsedPieces {
  analysis: MySqlAnalysis & { parsed: (Node | null)[] };
  reusable: boolean;
}

/**
 * Statements node-sql-parser does not parse, classified by their leading keywords. All of them
 * are administrative or privileged, so naming the effect is enough for a policy to deny them;
 * their objects are not reported.
 */
const KEYWORD_EFFECTS: ReadonlyArray<readonly [RegExp, string, readonly Effect[]]> = [
  // The caller's identity at the target (`@sluice_sub`, quoted or not; see classify.ts).
  [/@\s*[`'"]?SLUICE_/, 'SET', ['session', 'dcl']],
  [/^KILL\b/, 'KILL', ['admin']],
  [/^(SHUTDOWN|RESTART)\b/, 'SHUTDOWN', ['admin']],
  [/^FLUSH\b/, 'FLUSH', ['admin']],
  [/^RESET\b/, 'RESET', ['admin']],
  [/^PURGE\b/, 'PURGE', ['admin']],
  [/^CHANGE\s+(MASTER|REPLICATION)\b/, 'CHANGE REPLICATION', ['admin']],
  [/^(START|STOP)\s+(SLAVE|REPLICA|GROUP_REPLICATION|ALL\s+SLAVES)\b/, 'REPLICATION', ['admin']],
  [
    /^(OPTIMIZE|REPAIR|CHECK|CHECKSUM|ANALYZE)\s+(NO_WRITE_TO_BINLOG\s+|LOCAL\s+)?TABLES?\b/,
    'MAINTENANCE',
    ['admin'],
  ],
  [/^(CACHE\s+INDEX|LOAD\s+INDEX)\b/, 'CACHE INDEX', ['admin']],
  [/^BINLOG\b/, 'BINLOG', ['admin']],
  [/^(INSTALL|UNINSTALL)\b/, 'INSTALL', ['admin', 'program']],
  [/^CLONE\b/, 'CLONE', ['admin', 'file']],
  [/^IMPORT\s+TABLE\b/, 'IMPORT TABLE', ['ddl', 'file']],
  [/^LOAD\s+(DATA|XML)\b/, 'LOAD DATA', ['file', 'write']],
  [/^HANDLER\b/, 'HANDLER', ['read', 'session']],
  [/^(GRANT|REVOKE)\b/, 'GRANT', ['dcl']],
  [/^(CREATE|ALTER|DROP|RENAME)\s+(USER|ROLE)\b/, 'USER', ['dcl']],
  [/^SET\s+(DEFAULT\s+ROLE|PASSWORD)\b/, 'SET PASSWORD', ['dcl']],
  // SET STATEMENT ... FOR <statement>: its statement is not read here; never run.
  [/^SET\s+STATEMENT\b/, 'SET STATEMENT', ['unknown']],
  // A server-wide setting anywhere in the list (`SET @a = 1, GLOBAL x = 2`, `@@global.x`).
  [/^SET\b[\s\S]*(\b(GLOBAL|PERSIST|PERSIST_ONLY)\b|@@GLOBAL\.)/, 'SET GLOBAL', ['admin']],
  [
    /^SET\s+NAMES\s+['"`]?(UTF8MB4|UTF8|UTF8MB3)['"`]?(\s+COLLATE\s+['"`]?\w+['"`]?)?$/,
    'SET NAMES',
    ['routine'],
  ],
  // InnoDB reads under SERIALIZABLE take shared locks on every row they read (LOCK IN SHARE
  // MODE): a lock, which other sessions' writes wait for.
  [
    /^SET\s+((SESSION|LOCAL)\s+)?TRANSACTION\s+[\s\S]*\bSERIALIZABLE\b/,
    'SET TRANSACTION',
    ['routine', 'lock'],
  ],
  [
    /^SET\s+((SESSION|LOCAL)\s+)?TRANSACTION\s+(ISOLATION\s+LEVEL\s+(READ\s+UNCOMMITTED|READ\s+COMMITTED|REPEATABLE\s+READ|SERIALIZABLE)|READ\s+ONLY)(\s*,\s*(ISOLATION\s+LEVEL\s+(READ\s+UNCOMMITTED|READ\s+COMMITTED|REPEATABLE\s+READ|SERIALIZABLE)|READ\s+ONLY))?$/,
    'SET TRANSACTION',
    ['routine'],
  ],
  [/^SET\b/, 'SET', ['session']],
  [
    /^CREATE\s+(OR\s+REPLACE\s+)?(DEFINER\s*=\s*\S+\s+)?(AGGREGATE\s+)?(PROCEDURE|FUNCTION|TRIGGER|EVENT)\b/,
    'CREATE PROCEDURE',
    ['ddl', 'procedural'],
  ],
  [/^(CREATE|ALTER|DROP|RENAME|TRUNCATE)\b/, 'DDL', ['ddl']],
  // Plain BEGIN only: MariaDB's `BEGIN NOT ATOMIC ... END` is a compound statement, not a transaction.
  // A prepared XA transaction outlives the session; RECOVER and COMMIT/ROLLBACK of an xid reach
  // other sessions' ones.
  [/^XA\s+(PREPARE|RECOVER|COMMIT|ROLLBACK)\b/, 'XA', ['transaction', 'admin']],
  [/^XA\b/, 'XA', ['transaction']],
  [/^START\s+TRANSACTION\b.*\bREAD\s+WRITE\b/s, 'START TRANSACTION', ['routine', 'session']],
  [
    /^(BEGIN(\s+WORK)?\s*$|SAVEPOINT\b|RELEASE\s+SAVEPOINT\b|ROLLBACK\b|COMMIT\b|START\s+TRANSACTION\b)/,
    'TRANSACTION',
    ['routine'],
  ],
  [/^(SIGNAL|RESIGNAL)\b/, 'SIGNAL', ['procedural']],
  // The gateway account's own grants carry its password hash; the process list, the engine status
  // and another session's plan carry other sessions' SQL text.
  [/^SHOW\s+(GRANTS|CREATE\s+USER|(FULL\s+)?PROCESSLIST|ENGINE\b|PROFILES?\b)/, 'SHOW', ['admin']],
  // The binary and relay logs hold other sessions' statements (MariaDB annotates row events with
  // their text); a replica's status its last failed statement; the userstat lists and open tables
  // other sessions' activity, as information_schema's views of them do.
  [
    /^SHOW\s+(BINLOG\s+EVENTS|RELAYLOG\b|(ALL\s+)?(SLAVES?|REPLICAS?)\s+(STATUS|HOSTS)|REPLICAS\b|(USER|CLIENT|INDEX|TABLE)_STATISTICS\b|QUERY_RESPONSE_TIME\b|WSREP_|OPEN\s+TABLES\b)/,
    'SHOW',
    ['admin'],
  ],
  // MariaDB's plan (and, in its note, the SQL text) of another session's running statement.
  [/^SHOW\s+(EXPLAIN|ANALYZE)\b/, 'SHOW', ['admin']],
  [/^(HELP|SHOW)\b/, 'SHOW', ['read']],
];

const LEADING_COMMENTS = /^(?:\s+|\/\*[\s\S]*?\*\/|#[^\n]*(?:\n|$)|--\s[^\n]*(?:\n|$))*/;
const PREPARE_FROM =
  /^PREPARE\s+(`(?:[^`]|``)+`|[\w$]+)\s+FROM\s+('(?:[^'\\]|\\[\s\S]|'')*'|"(?:[^"\\]|\\[\s\S]|"")*")\s*$/i;
const EXECUTE = /^EXECUTE\s+(`(?:[^`]|``)+`|[\w$]+)(\s+USING\b[\s\S]*)?$/i;
const DEALLOCATE = /^(?:DEALLOCATE|DROP)\s+PREPARE\s+(`(?:[^`]|``)+`|[\w$]+)\s*$/i;
const EXPLAIN_ANALYZE = /^(?:EXPLAIN|DESCRIBE|DESC)\s+ANALYZE\s+(?:FORMAT\s*=\s*\w+\s+)?([\s\S]+)$/i;
const EXPLAIN_PLAIN =
  /^(?:EXPLAIN|DESCRIBE|DESC)\s+(?:(?:EXTENDED|PARTITIONS)\s+|FORMAT\s*=\s*\w+\s+)?([\s\S]+)$/i;
const DO_EXPRESSIONS = /^DO\s+([\s\S]+)$/i;

/**
 * The statement a plain MySQL `EXPLAIN` / `DESCRIBE` text plans (leading comments aside), or
 * undefined when the text is not one (EXPLAIN ANALYZE and FOR CONNECTION are not plain).
 */
export function explainedStatement(text: string): string | undefined {
  const body = text.replace(LEADING_COMMENTS, '');
  if (EXPLAIN_ANALYZE.test(body) || /^(EXPLAIN|DESCRIBE|DESC)\s+FOR\s+CONNECTION\b/i.test(body))
    return undefined;
  return EXPLAIN_PLAIN.exec(body)?.[1];
}

/** Statement names are case-insensitive in MySQL. */
function preparedName(raw: string): string {
  return (raw.startsWith('`') ? raw.slice(1, -1).replace(/``/g, '`') : raw).toLowerCase();
}

/** The value of a quoted MySQL string literal (default sql_mode: backslash escapes on). */
function unquote(literal: string): string {
  const quote = literal[0] ?? "'";
  const inner = literal.slice(1, -1);
  const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', b: '\b', Z: '\x1a' };
  return inner.replace(/\\([\s\S])|(['"])\2/g, (_m, esc: string | undefined, doubled: string | undefined) => {
    if (doubled !== undefined) return doubled === quote ? doubled : doubled + doubled;
    const e = esc ?? '';
    if (e === '%' || e === '_') return `\\${e}`;
    return escapes[e] ?? e;
  });
}

/**
 * Longer texts are not given a shape: a shape entry holds the key and (until verified) the text,
 * and long generated statements rarely repeat.
 */
const MAX_SHAPED_TEXT = 16 * 1024;

export class MySqlStatements {
  readonly #ctx: MySqlClassifyContext;
  readonly #shapes: LruCache<string, ShapeEntry> | undefined;
  readonly #maxStatements: number;

  constructor(functions: ReadonlyMap<string, readonly Effect[]>, options: MySqlStatementsOptions = {}) {
    this.#ctx = { functions };
    const size = options.shapeCacheSize ?? 2000;
    this.#shapes = size > 0 ? new LruCache(size) : undefined;
    this.#maxStatements = options.maxStatements ?? Number.POSITIVE_INFINITY;
  }

  /** Splits, parses and classifies a MySQL text. Throws GuardError. */
  analyze(sql: string): MySqlAnalysis {
    const shapes = this.#shapes;
    const spans: LiteralSpan[] | undefined = shapes && sql.length <= MAX_SHAPED_TEXT ? [] : undefined;
    // The split refuses what must be refused (versioned comments, `--x`) for every text, also
    // for one whose shape is known: that check depends on what the literals hold.
    const pieces = splitMySql(sql, spans);
    if (pieces.length > this.#maxStatements) throw tooManyStatements(pieces.length, this.#maxStatements);
    const shape = shapes && spans ? literalShape(sql, spans) : undefined;
    if (shapes === undefined || spans === undefined || shape === undefined)
      return this.#parse(pieces).analysis;

    let known = shapes.get(shape);
    if (known?.state === 'candidate') {
      known = this.#verify(known, shape);
      shapes.set(shape, known);
    }
    if (known?.state === 'verified' && known.summaries.length === pieces.length) {
      return fromShape(known.summaries, pieces);
    }
    const run = this.#parse(pieces);
    if (known === undefined) {
      shapes.set(
        shape,
        run.reusable
          ? {
              state: 'candidate',
              text: sql,
              spans,
              summaries: run.analysis.statements.map((s) => shapeSummary(s.summary)),
            }
          : { state: 'refused' },
      );
    }
    return run.analysis;
  }

  #parse(pieces: readonly MySqlPiece[]): ParsedPieces {
    const analysis: ParsedPieces['analysis'] = { statements: [], parsed: [] };
    let reusable = true;
    for (const piece of pieces) {
      const before = analysis.statements.length;
      if (!this.#statement(piece.text, analysis, 0) || analysis.statements.length !== before + 1)
        reusable = false;
    }
    return { analysis, reusable };
  }

  /**
   * Parses the candidate's first text again and a probe of it with every abstracted literal
   * changed (see shape-cache.ts), and compares: same shape, same AST apart from literal values,
   * the same classification as the first time, no literal value read. The first parse is not
   * kept for this: its AST was handed to callers, and a fresh one cannot have been changed.
   */
  #verify(candidate: Extract<ShapeEntry, { state: 'candidate' }>, shape: string): ShapeEntry {
    const refused: ShapeEntry = { state: 'refused' };
    const probe = probeText(candidate.text, candidate.spans);
    let original: ParsedPieces;
    let probed: ParsedPieces;
    try {
      const spans: LiteralSpan[] = [];
      const pieces = splitMySql(probe, spans);
      if (literalShape(probe, spans) !== shape) return refused;
      probed = this.#parse(pieces);
      original = this.#parse(splitMySql(candidate.text));
    } catch {
      return refused;
    }
    const expected = candidate.summaries;
    for (const run of [original, probed]) {
      const { statements, parsed } = run.analysis;
      if (!run.reusable || statements.length !== expected.length) return refused;
      for (let i = 0; i < statements.length; i++) {
        const summary = statements[i]?.summary;
        const want = expected[i];
        if (!summary || !want || !sameSummary(shapeSummary(summary), want)) return refused;
        if (!sameApartFromLiterals(parsed[i], original.analysis.parsed[i])) return refused;
      }
    }
    return { state: 'verified', summaries: expected };
  }

  /**
   * Parses and classifies one statement into `out`. Returns whether its classification may serve
   * other texts of its shape: parsed by node-sql-parser (not classified by its keywords) and
   * classified without reading a literal's value.
   */
  #statement(text: string, out: MySqlAnalysis & { parsed: (Node | null)[] }, depth: number): boolean {
    // The set the server reads later texts in: anything but UTF-8 there and the server would split
    // strings where the guard does not (see client-charset.ts). Never run; read from the text
    // itself, so that the parsed and the keyword-classified forms are both seen.
    const charset = clientCharsetChange(text);
    let result: unknown;
    try {
      result = astifyMySql(text);
    } catch (err) {
      const classified = this.#byKeywords(text, depth);
      if (classified) {
        out.statements.push(charset === 'other' ? withUnknown(classified) : classified);
        out.parsed.push(null);
        return false;
      }
      throw parseError(err);
    }
    // Its value is a literal read here, not through the facts: not a shape for other texts.
    let reusable = charset === 'none';
    for (const ast of Array.isArray(result) ? result : [result]) {
      const node = ast as Node | null;
      if (typeof node !== 'object' || node === null || Array.isArray(node)) continue;
      const facts = new StatementFacts();
      const command = classifyMySqlAst(node, facts, this.#ctx);
      if (charset === 'other') facts.add('unknown');
      if (facts.literalValuesRead) reusable = false;
      out.statements.push({ summary: facts.summary(text, command) });
      out.parsed.push(node);
    }
    return reusable;
  }

  /** Classifies one statement, for PREPARE bodies and EXPLAIN ANALYZE. */
  #inner(text: string, depth: number): { facts: StatementFacts; command: string } | undefined {
    if (depth > 4) return undefined;
    const inner: MySqlAnalysis & { parsed: (Node | null)[] } = { statements: [], parsed: [] };
    try {
      const pieces = splitMySql(text);
      if (pieces.length !== 1 || pieces[0] === undefined) return undefined;
      this.#statement(pieces[0].text, inner, depth + 1);
    } catch (err) {
      if (err instanceof GuardError) return undefined;
      throw err;
    }
    const first = inner.statements[0];
    if (inner.statements.length !== 1 || first === undefined) return undefined;
    const facts = new StatementFacts();
    facts.addAll(first.summary.effects);
    for (const o of first.summary.objects) facts.addObject(o);
    if (first.summary.unbounded) facts.markUnbounded();
    return { facts, command: first.summary.command };
  }

  #byKeywords(text: string, depth: number): ClassifiedStatement | undefined {
    // Comments anywhere, not only in front: `SET /**/ STATEMENT ... FOR` is SET STATEMENT.
    const body = withoutComments(text).trim();
    const upper = body.toUpperCase();

    const prepare = PREPARE_FROM.exec(body);
    if (prepare?.[1] !== undefined && prepare[2] !== undefined) {
      const prepared = unquote(prepare[2]);
      const inner = this.#inner(prepared, depth);
      const facts = inner?.facts ?? new StatementFacts();
      if (!inner) facts.add('unknown');
      const summary = facts.summary(text, 'PREPARE');
      return {
        summary,
        prepare: {
          name: preparedName(prepare[1]),
          body: {
            ...summary,
            command: inner?.command ?? 'UNKNOWN',
            ...(inner ? { preparedText: prepared } : {}),
          },
        },
      };
    }
    // PREPARE ... FROM @variable: the body is not in the text.
    if (/^PREPARE\b/.test(upper)) return { summary: unknownSummary(text, 'PREPARE') };

    const execute = EXECUTE.exec(body);
    if (execute?.[1] !== undefined) {
      return {
        summary: unknownSummary(text, 'EXECUTE'),
        execute: {
          name: preparedName(execute[1]),
          base: { text, command: 'EXECUTE', effects: [], objects: [], unbounded: false },
        },
      };
    }
    const deallocate = DEALLOCATE.exec(body);
    if (deallocate?.[1] !== undefined) {
      const facts = new StatementFacts();
      facts.add('session');
      return {
        summary: facts.summary(text, 'DEALLOCATE PREPARE'),
        deallocate: { name: preparedName(deallocate[1]) },
      };
    }

    const analyze = EXPLAIN_ANALYZE.exec(body);
    if (analyze?.[1] !== undefined) {
      // EXPLAIN ANALYZE runs the statement.
      const inner = this.#inner(analyze[1], depth);
      if (!inner) return { summary: unknownSummary(text, 'EXPLAIN ANALYZE') };
      inner.facts.add('read');
      return { summary: inner.facts.summary(text, 'EXPLAIN ANALYZE') };
    }
    const explain = EXPLAIN_PLAIN.exec(body);
    if (explain?.[1] !== undefined && !/^(EXPLAIN|DESCRIBE|DESC)\s+FOR\s+CONNECTION\b/.test(upper)) {
      const inner = this.#inner(explain[1], depth);
      if (!inner) return { summary: unknownSummary(text, 'EXPLAIN') };
      const facts = new StatementFacts();
      facts.add('read');
      plannedEffects(inner.facts, facts);
      return { summary: facts.summary(text, 'EXPLAIN') };
    }
    const doExpr = DO_EXPRESSIONS.exec(body);
    if (doExpr?.[1] !== undefined) {
      // DO evaluates expressions and discards the results: classify them as a SELECT of the same.
      const inner = this.#inner(`SELECT ${doExpr[1]}`, depth);
      if (!inner) return { summary: unknownSummary(text, 'DO') };
      return { summary: inner.facts.summary(text, 'DO') };
    }

    for (const [pattern, command, effects] of KEYWORD_EFFECTS) {
      if (!pattern.test(upper)) continue;
      const facts = new StatementFacts();
      facts.addAll(effects);
      this.#unparsedParts(upper, command, facts);
      return { summary: facts.summary(text, command) };
    }
    return undefined;
  }

  /**
   * A statement classified by its keywords was not parsed, so what sits inside it is not known.
   * Side-effect functions named anywhere in it still count; a query or an expression inside a
   * SET or a schema change makes it `unknown` rather than let its keyword speak for it.
   */
  #unparsedParts(upper: string, command: string, facts: StatementFacts): void {
    for (const [name, effects] of this.#ctx.functions) {
      if (
        upper.includes(name.toUpperCase()) &&
        new RegExp(`\\b${name.replace(/[^\w$]/g, '\\$&')}\\s*\\(`, 'i').test(upper)
      )
        facts.addAll(effects);
    }
    if (
      (command === 'SET' && (upper.includes('(') || upper.includes('SQL_MODE'))) ||
      (command === 'DDL' && /\bSELECT\b/.test(upper)) ||
      // SHOW ... WHERE / LIKE with a subquery or a call: an expression the guard has not read.
      (command === 'SHOW' && upper.includes('('))
    ) {
      facts.add('unknown');
    }
  }
}

/** The shape's classification, with this text's statements. */
function fromShape(summaries: readonly ShapeSummary[], pieces: readonly MySqlPiece[]): MySqlAnalysis {
  const statements: ClassifiedStatement[] = [];
  summaries.forEach((summary, i) => {
    statements.push({ summary: { ...summary, text: pieces[i]?.text ?? '' } });
  });
  return { statements, parsed: undefined };
}

function withUnknown(classified: ClassifiedStatement): ClassifiedStatement {
  const { effects } = classified.summary;
  if (effects.includes('unknown')) return classified;
  return { ...classified, summary: { ...classified.summary, effects: [...effects, 'unknown'] } };
}

function unknownSummary(text: string, command: string): ClassifiedStatement['summary'] {
  return { text, command, effects: ['unknown'], objects: [], unbounded: false };
}

function parseError(err: unknown): GuardError {
  const message = err instanceof Error ? err.message : String(err);
  const offset = (err as { location?: { start?: { offset?: unknown } } } | null)?.location?.start?.offset;
  const where = typeof offset === 'number' ? ` (at character ${offset + 1})` : '';
  return new GuardError('ERR_GUARD_PARSE', `${message}${where}`);
}
