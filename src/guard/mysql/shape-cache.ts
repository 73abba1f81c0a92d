import type { LiteralSpan, ShapeSummary } from '../literal-shape.js';
import { isLiteralNode } from './literals.js';

/**
 * Classifications of MySQL texts by shape (see ../literal-shape.ts), so that a text never seen before, whose
 * shape was, is decided without parsing it again: agents inline their values
 * (`... WHERE id = 42`) far more often than they use placeholders.
 *
 * Why reuse is sound, and the three checks it rests on:
 * 1. Two texts of one shape differ only inside abstracted literals: plain single-quoted strings
 *    and integers of at most 15 digits, found by the same scan that splits and refuses the text
 *    (lexer.ts). Every text still goes through that scan, so refusals that depend on a string's
 *    content (a versioned comment) still apply.
 * 2. node-sql-parser reads such a literal as a literal node whose `value` is all that depends on
 *    it. Its grammar has no rule that matches a particular string content or digit sequence (its
 *    only value-dependent action, `number` versus `bigint`, starts at 16 digits). This is also
 *    checked, per shape, before any reuse: a probe text with every abstracted literal changed
 *    must parse to the same AST apart from the `value` of literal nodes. A literal read as a name
 *    (a table, a function, a variable) would differ there, and the shape is refused.
 * 3. The classifier reads literal values only through literalValue (literals.ts), which notes the
 *    read; an analysis that read one (`WHERE 1` against `WHERE 0`) is never reused. The probe's
 *    classification must also equal the original's.
 * What is never reused: statements the parser refused, statements classified by their keywords
 * (PREPARE, EXECUTE, EXPLAIN ANALYZE, DO, KILL, ...), and any text with a U+0000 in it.
 *
 * The first text of a shape is parsed and becomes a candidate (its text and classification, not
 * its AST). The second text of the shape runs the check: the first text is parsed again beside
 * the probe; if they pass, that text and every later one of the shape are decided from the first
 * text's classification; if not, the shape is refused and its texts are always parsed. The first
 * text of a shape costs one parse, as without this cache; the second costs two (three when the
 * shape is refused); later ones none.
 */
export type ShapeEntry =
  | {
      state: 'candidate';
      /** The first text of the shape and its literals: what the probe varies. */
      text: string;
      spans: readonly LiteralSpan[];
      summaries: readonly ShapeSummary[];
    }
  | { state: 'verified'; summaries: readonly ShapeSummary[] }
  | { state: 'refused' };

/**
 * Whether two ASTs are equal apart from the `value` of literal nodes where both values are
 * primitives (strings or numbers). Everything else, including every other key of a literal node
 * and the key sets themselves, must be equal.
 */
export function sameApartFromLiterals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bs = b as unknown[];
    return a.length === bs.length && a.every((v, i) => sameApartFromLiterals(v, bs[i]));
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) return false;
  const literal = isLiteralNode(x) && x.type === y.type;
  for (const key of keys) {
    if (!Object.hasOwn(y, key)) return false;
    const u = x[key];
    const v = y[key];
    if (literal && key === 'value' && isPrimitive(u) && isPrimitive(v)) continue;
    if (!sameApartFromLiterals(u, v)) return false;
  }
  return true;
}

function isPrimitive(value: unknown): boolean {
  return typeof value !== 'object' || value === null;
}
