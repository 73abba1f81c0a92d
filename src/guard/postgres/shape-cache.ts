import type { ClassifiedStatement } from '../classified.js';
import { deepFreeze } from '../deep-freeze.js';
import {
  literalShape,
  probeText,
  sameSummary,
  shapeSummary,
  type LiteralSpan,
  type ShapeSummary,
} from '../literal-shape.js';
import { LruCache } from '../lru.js';
import { postgresLiteralSpans, type PostgresLexed } from './literal-spans.js';
import type { PgParseResult } from './parser.js';

/** A text parsed and classified (what the analyzer does without a shape). */
export interface PgParsedText {
  parsed: PgParseResult;
  classified: ClassifiedStatement[];
}

type Node = Record<string, unknown>;

type ShapeEntry =
  | { state: 'candidate'; text: string; spans: readonly LiteralSpan[]; summary: ShapeSummary }
  | { state: 'verified'; summary: ShapeSummary; parsed: PgParseResult }
  | { state: 'refused' };

/** Statements whose texts commonly differ only in their values (agents inline them). */
const SHAPED_STATEMENTS = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt']);

/** Longer texts get no shape: an entry holds its first text until verified, and long texts rarely repeat. */
const MAX_SHAPED_TEXT = 16 * 1024;

/**
 * Postgres analyses by shape, so that a text never seen before whose shape was (`... WHERE aid =
 * 4711`, then `... WHERE aid = 90210`) is decided without parsing it: the guard's classification
 * and the parse tree masking lowers into column lineage are those of the first text of the shape.
 * A shape is the text with each abstracted literal replaced by a marker (../literal-shape.ts).
 *
 * Why reuse is sound:
 * 1. Two texts of one shape differ only inside literals found by a scan that follows the server's
 *    lexer (literal-spans.ts): plain single-quoted strings and plain integers. Whatever the scan
 *    could only guess (E'' strings, open quotes) gives the text no shape.
 * 2. The Postgres grammar reads such a token as a constant (an `A_Const`) wherever it stands, and
 *    no rule depends on a string's content or an integer's digits (an integer beyond 32 bits
 *    becomes an `fval`, still an `A_Const`). This is also checked per shape before any reuse: a
 *    probe text with every abstracted literal changed must parse to the same tree apart from the
 *    contents of `A_Const` nodes and source positions.
 * 3. The classifier notes every look at a constant's value (constant truth, `BEGIN READ WRITE`);
 *    a classification that looked is never reused. The probe must classify the same.
 * 4. Postgres reads a bare integer in ORDER BY, GROUP BY and DISTINCT ON as an output position,
 *    not a value, and column lineage follows it: a shape with a constant anywhere in those
 *    clauses is never reused.
 * Only single SELECT, INSERT, UPDATE and DELETE statements are shaped: COPY, PREPARE, DO, SET and
 * the rest are rarer, and their consumers read more of the text (COPY's query text, DO's body).
 *
 * The first text of a shape is parsed and becomes a candidate. The second runs the check (the
 * first text parsed again, and the probe); if it passes, that text and every later one of the
 * shape are answered from the first text's classification and its fresh (frozen) parse. The
 * `parsed` handed out for them is therefore another text's tree: the same apart from constant
 * values and source positions (`location`, `stmt_len`), which no consumer of a shaped statement
 * reads.
 */
export class PostgresShapes {
  readonly #shapes: LruCache<string, ShapeEntry>;

  constructor(size: number) {
    this.#shapes = new LruCache(size);
  }

  /**
   * Analyses `sql`: from its shape when that is known and verified, else with `parseText`
   * (which may throw; nothing is remembered then).
   */
  analyze(sql: string, parseText: (text: string) => PgParsedText): PgParsedText {
    const lexed = sql.length <= MAX_SHAPED_TEXT ? postgresLiteralSpans(sql) : undefined;
    const key = lexed ? literalShape(sql, lexed.spans) : undefined;
    if (lexed === undefined || key === undefined) return parseText(sql);
    let entry = this.#shapes.get(key);
    if (entry?.state === 'candidate') {
      entry = verify(entry, key, parseText);
      this.#shapes.set(key, entry);
    }
    if (entry?.state === 'verified') {
      return {
        parsed: entry.parsed,
        classified: [{ summary: { ...entry.summary, text: statementTextOf(sql, lexed) } }],
      };
    }
    const run = parseText(sql);
    if (entry === undefined) {
      const summary = reusableSummary(sql, lexed, run);
      this.#shapes.set(
        key,
        summary ? { state: 'candidate', text: sql, spans: lexed.spans, summary } : { state: 'refused' },
      );
    }
    return run;
  }
}

/** The classification of a text that may serve its shape, or undefined. */
function reusableSummary(sql: string, lexed: PostgresLexed, run: PgParsedText): ShapeSummary | undefined {
  const [raw, ...more] = run.parsed.stmts;
  const [classified, ...others] = run.classified;
  if (raw === undefined || classified === undefined || more.length > 0 || others.length > 0) return undefined;
  const kind = Object.keys(raw.stmt)[0] ?? '';
  if (!SHAPED_STATEMENTS.has(kind) || classified.literalValuesRead) return undefined;
  if (classified.prepare || classified.execute || classified.deallocate) return undefined;
  // The statement's own text is cut from each text by the scan: it must cut what the parser does.
  if (statementTextOf(sql, lexed) !== classified.summary.text) return undefined;
  if (hasPositionalConstant(raw.stmt)) return undefined;
  return shapeSummary(classified.summary);
}

/**
 * Parses the candidate's first text again and a probe of it with every abstracted literal
 * changed, and compares: same shape, same tree apart from constants and positions, the same
 * classification, no constant's value read. The first parse is not used: it was handed to callers,
 * and a fresh one cannot have been changed.
 */
function verify(
  candidate: Extract<ShapeEntry, { state: 'candidate' }>,
  key: string,
  parseText: (text: string) => PgParsedText,
): ShapeEntry {
  const refused: ShapeEntry = { state: 'refused' };
  const probe = probeText(candidate.text, candidate.spans);
  const probeLexed = postgresLiteralSpans(probe);
  if (probeLexed === undefined || literalShape(probe, probeLexed.spans) !== key) return refused;
  let original: PgParsedText;
  let probed: PgParsedText;
  try {
    original = parseText(candidate.text);
    probed = parseText(probe);
  } catch {
    return refused;
  }
  const originalLexed = postgresLiteralSpans(candidate.text);
  if (originalLexed === undefined) return refused;
  for (const [run, text, lexed] of [
    [original, candidate.text, originalLexed],
    [probed, probe, probeLexed],
  ] as const) {
    const summary = reusableSummary(text, lexed, run);
    if (summary === undefined || !sameSummary(summary, candidate.summary)) return refused;
  }
  if (!sameApartFromConstants(original.parsed.stmts[0]?.stmt, probed.parsed.stmts[0]?.stmt)) return refused;
  return { state: 'verified', summary: candidate.summary, parsed: deepFreeze(original.parsed) };
}

/** The text of the text's only statement, as `statementText` cuts it from the parser's offsets. */
function statementTextOf(sql: string, lexed: PostgresLexed): string {
  return (lexed.firstSemicolon < 0 ? sql : sql.slice(0, lexed.firstSemicolon)).trim();
}

/** Clauses where Postgres reads a bare integer as an output column's position. */
const POSITIONAL_CLAUSES = new Set(['sortClause', 'groupClause', 'distinctClause']);

function hasPositionalConstant(node: unknown, inPositional = false): boolean {
  if (typeof node !== 'object' || node === null) return false;
  if (Array.isArray(node)) return node.some((item) => hasPositionalConstant(item, inPositional));
  for (const key in node as Node) {
    if (inPositional && key === 'A_Const') return true;
    if (hasPositionalConstant((node as Node)[key], inPositional || POSITIONAL_CLAUSES.has(key))) return true;
  }
  return false;
}

/** The keys of an `A_Const` that hold its value; `ival` and `fval` are both numbers. */
function constantKind(node: Node): string {
  if ('ival' in node || 'fval' in node) return 'number';
  for (const key of ['sval', 'boolval', 'bsval', 'isnull']) if (key in node) return key;
  return '';
}

/**
 * Whether two statement trees are equal apart from source positions and the values inside
 * `A_Const` nodes of the same kind (a number stays a number, a string a string).
 */
export function sameApartFromConstants(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bs = b as unknown[];
    return a.length === bs.length && a.every((v, i) => sameApartFromConstants(v, bs[i]));
  }
  const x = a as Node;
  const y = b as Node;
  const keys = Object.keys(x).filter((k) => k !== 'location');
  if (keys.length !== Object.keys(y).filter((k) => k !== 'location').length) return false;
  for (const key of keys) {
    if (!Object.hasOwn(y, key)) return false;
    const u = x[key];
    const v = y[key];
    if (key === 'A_Const' && typeof u === 'object' && typeof v === 'object' && u !== null && v !== null) {
      const kind = constantKind(u as Node);
      if (kind === '' || kind !== constantKind(v as Node)) return false;
      continue;
    }
    if (!sameApartFromConstants(u, v)) return false;
  }
  return true;
}
