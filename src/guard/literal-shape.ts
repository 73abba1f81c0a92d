import type { StatementSummary } from '../gateway/types.js';

/**
 * A literal whose value a shape cache may abstract: a plain single-quoted string or an unsigned
 * integer that stands alone as a word, as each dialect's lexer decides (mysql/lexer.ts,
 * postgres/literal-spans.ts). `start`/`end` are offsets in the text, the quotes included.
 */
export interface LiteralSpan {
  start: number;
  end: number;
  kind: 'string' | 'number';
}

/**
 * The shape of a SQL text: the text itself with the value of each abstractable literal (see
 * LiteralSpan) replaced by a marker for its kind, as pg_stat_statements normalises a query. Two
 * texts with the same shape differ only inside those literals: every keyword, identifier, comment,
 * space and punctuation outside them is the same, character for character.
 *
 * Numbers keep their digit count in the shape (`7` and `42` differ); strings do not keep their
 * length. The marker starts with U+0000, which no text with a shape contains, so a marker can only
 * have come from a literal.
 */
export function literalShape(sql: string, spans: readonly LiteralSpan[]): string | undefined {
  if (spans.length === 0 || sql.includes('\u0000')) return undefined;
  let key = '';
  let from = 0;
  for (const span of spans) {
    key += sql.slice(from, span.start);
    key += span.kind === 'string' ? '\u0000s\u0000' : `\u0000n${span.end - span.start}\u0000`;
    from = span.end;
  }
  return key + sql.slice(from);
}

/**
 * The text with every abstracted literal changed to another value of the same shape: each string
 * to a distinct neutral word, each digit of each number to the next digit. Parsing this beside the
 * original shows whether the parser read any of those literals as something other than a
 * literal value (a name, a keyword, a structure).
 */
export function probeText(sql: string, spans: readonly LiteralSpan[]): string {
  let out = '';
  let from = 0;
  spans.forEach((span, i) => {
    out += sql.slice(from, span.start);
    const literal = sql.slice(span.start, span.end);
    if (span.kind === 'string') {
      let value = `sluice probe ${i}`;
      if (`'${value}'` === literal) value += '.';
      out += `'${value}'`;
    } else {
      out += literal.replace(/[0-9]/g, (d) => String((Number(d) + 1) % 10));
    }
    from = span.end;
  });
  return out + sql.slice(from);
}

/** A statement's classification without its text: one per statement of the shape, in order. */
export type ShapeSummary = Readonly<Omit<StatementSummary, 'text'>>;

export function shapeSummary(summary: StatementSummary): ShapeSummary {
  return Object.freeze({
    command: summary.command,
    effects: Object.freeze([...summary.effects]) as StatementSummary['effects'],
    objects: Object.freeze([...summary.objects]) as string[],
    unbounded: summary.unbounded,
    ...(summary.settings ? { settings: Object.freeze([...summary.settings]) as string[] } : {}),
  });
}

export function sameSummary(a: ShapeSummary, b: ShapeSummary): boolean {
  return (
    a.command === b.command &&
    a.unbounded === b.unbounded &&
    sameList(a.effects, b.effects) &&
    sameList(a.objects, b.objects) &&
    sameList(a.settings ?? [], b.settings ?? [])
  );
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
