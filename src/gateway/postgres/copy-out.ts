import { quoteIdent } from './sql-quote.js';
/**
 * COPY ... TO STDOUT sends rows as CopyData lines, not DataRows. Before one runs, the relay asks
 * the target to describe the equivalent SELECT (same relation and columns, or the same query) and
 * plans masking on that: a COPY whose output would hold a masked column is refused, since its
 * lines are not rewritten. This file turns a parsed COPY into that SELECT.
 */

interface ParsedStatement {
  stmt?: Record<string, unknown>;
  stmt_location?: number;
  stmt_len?: number;
}

type Node = Record<string, unknown>;

/** A COPY ... TO STDOUT of the text, as the SELECT that describes its output; `null` when it cannot be told. */
export type CopyOut = { select: string } | null;

/**
 * Every COPY ... TO STDOUT in a parsed text (libpg-query's result), in order. An entry is null when
 * the SELECT cannot be built (the caller then refuses: fail closed).
 */
export function copyOutStatements(sql: string, parsed: unknown): CopyOut[] {
  const stmts = (parsed as { stmts?: ParsedStatement[] } | undefined)?.stmts;
  if (!Array.isArray(stmts)) return [];
  let bytes: Buffer | undefined;
  const out: CopyOut[] = [];
  for (const raw of stmts) {
    const copy = raw.stmt?.CopyStmt as Node | undefined;
    if (
      copy === undefined ||
      copy.is_from === true ||
      copy.filename !== undefined ||
      copy.is_program === true
    )
      continue;
    bytes ??= Buffer.from(sql, 'utf8');
    const start = raw.stmt_location ?? 0;
    const text = bytes.toString('utf8', start, raw.stmt_len ? start + raw.stmt_len : bytes.length);
    out.push(selectFor(copy, text));
  }
  return out;
}

/**
 * Whether the `index`-th COPY ... TO STDOUT of a parsed text sends a header line first (HEADER in
 * text or CSV format). The row limit does not count that line as a row. Anything but a plain
 * `HEADER`, `HEADER true|on|1` reads as no header, so a line of doubt counts as a row (fail closed).
 */
export function copyOutHasHeader(parsed: unknown, index: number): boolean {
  const stmts = (parsed as { stmts?: ParsedStatement[] } | undefined)?.stmts;
  if (!Array.isArray(stmts)) return false;
  let seen = 0;
  for (const raw of stmts) {
    const copy = raw.stmt?.CopyStmt as Node | undefined;
    if (copy === undefined || copy.is_from === true) continue;
    if (copy.filename !== undefined || copy.is_program === true) continue;
    if (seen++ !== index) continue;
    const options = Array.isArray(copy.options) ? (copy.options as Node[]) : [];
    let header = false;
    for (const option of options) {
      const def = option.DefElem as Node | undefined;
      if (def?.defname === 'header') header = headerValue(def.arg as Node | undefined);
    }
    return header;
  }
  return false;
}

function headerValue(arg: Node | undefined): boolean {
  if (arg === undefined) return true;
  if (arg.Boolean !== undefined) return (arg.Boolean as Node).boolval === true;
  if (arg.Integer !== undefined) return (arg.Integer as Node).ival === 1;
  const text = (arg.String as Node | undefined)?.sval;
  return typeof text === 'string' && ['true', 'on', '1'].includes(text.toLowerCase());
}

function selectFor(copy: Node, text: string): CopyOut {
  const relation = copy.relation as Node | undefined;
  if (relation !== undefined) {
    const name = relation.relname;
    if (typeof name !== 'string') return null;
    const schema = typeof relation.schemaname === 'string' ? `${quoteIdent(relation.schemaname)}.` : '';
    const columns = Array.isArray(copy.attlist)
      ? (copy.attlist as Node[]).map((a) => (a.String as Node | undefined)?.sval)
      : [];
    if (columns.some((c) => typeof c !== 'string')) return null;
    const list = columns.length > 0 ? columns.map((c) => quoteIdent(c as string)).join(', ') : '*';
    return { select: `SELECT ${list} FROM ${schema}${quoteIdent(name)}` };
  }
  if (copy.query !== undefined) {
    const inner = parenthesised(text);
    return inner === undefined ? null : { select: inner };
  }
  return null;
}

/** The text inside the first parenthesis of `text` and its match, skipping quoted text and comments. */
export function parenthesised(text: string): string | undefined {
  let depth = 0;
  let open = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'" || c === '"') {
      const close = text.indexOf(c, i + 1);
      if (close < 0) return undefined;
      i = close;
    } else if (c === '-' && text[i + 1] === '-') {
      const eol = text.indexOf('\n', i);
      if (eol < 0) return undefined;
      i = eol;
    } else if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      if (close < 0) return undefined;
      i = close + 1;
    } else if (c === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(text.slice(i));
      if (tag) {
        const close = text.indexOf(tag[0], i + tag[0].length);
        if (close < 0) return undefined;
        i = close + tag[0].length - 1;
      }
    } else if (c === '(') {
      if (depth++ === 0) open = i;
    } else if (c === ')') {
      if (--depth === 0) return text.slice(open + 1, i);
      if (depth < 0) return undefined;
    }
  }
  return undefined;
}
