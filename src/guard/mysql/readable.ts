import { randomBytes } from 'node:crypto';
import NodeSqlParser from 'node-sql-parser';
import { tokenizeMySql, type MySqlToken } from './lexer.js';

/**
 * MySQL reads that node-sql-parser's grammar lacks, rewritten into the equivalent statements it
 * has, for analysis only (the target always receives the caller's text):
 *
 * - `TABLE t [ORDER BY ...] [LIMIT ...]` is `SELECT * FROM t ...`;
 * - `VALUES ROW(a, b), ROW(c, d)` (MariaDB: `VALUES (a, b), (c, d)`) is
 *   `SELECT a, b UNION ALL SELECT c, d`, the same values in the same positions;
 * - `a NATURAL [LEFT|RIGHT] [OUTER] JOIN b` is `a [LEFT|RIGHT] JOIN b USING (<marker>)`, and the
 *   lineage lowering reads that marker as NATURAL (the shared columns once in `*`);
 * - `JSON_TABLE(doc, path COLUMNS (...)) AS jt` is `(SELECT doc AS c1, doc AS c2, ...) AS jt`:
 *   every column is computed from the document (an ordinality column too), NESTED
 *   columns included;
 * - `CONVERT(x, UNSIGNED [INTEGER])` (and SIGNED) is `CAST(x AS UNSIGNED [INTEGER])`: the grammar
 *   takes neither INTEGER nor every expression in CONVERT (Connector/J's getColumns sends
 *   `CONVERT(CASE ... END, UNSIGNED INTEGER)`).
 *
 * A rewrite is tried only when the caller's text does not parse, and only where the tokens around
 * it are the ones the rewrite expects; anything else is left for the parser to refuse.
 */

/** The USING column that stands for NATURAL; random per process, so no caller can write it. */
export const NATURAL_JOIN_MARKER = `sluice_natural_${randomBytes(12).toString('hex')}`;

const parser = new NodeSqlParser.Parser();

/** node-sql-parser's `astify`, with the rewrites above when the text itself does not parse. */
export function astifyMySql(text: string): unknown {
  try {
    return parser.astify(text, { database: 'MySQL' });
  } catch (err) {
    const readable = readableText(text);
    if (readable === undefined) throw err;
    try {
      return parser.astify(readable, { database: 'MySQL' });
    } catch {
      throw err;
    }
  }
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

/** The rewritten text, or undefined when no rewrite applies. */
export function readableText(text: string): string | undefined {
  const tokens = tokenizeMySql(text);
  const edits: Edit[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token?.kind !== 'word') continue;
    if (token.text === 'TABLE' && startsQuery(tokens, i)) {
      edits.push({ start: token.start, end: token.end, text: 'SELECT * FROM' });
    } else if (token.text === 'VALUES' && startsQuery(tokens, i)) {
      const rows = valuesRows(tokens, i + 1, edits);
      if (rows === undefined) return undefined;
      edits.push({ start: token.start, end: token.end, text: '' });
      i = rows - 1;
    } else if (token.text === 'NATURAL') {
      if (!naturalJoin(tokens, i, edits)) return undefined;
    } else if (token.text === 'CONVERT' && isPunct(tokens[i + 1], '(')) {
      convertToInteger(tokens, i, edits);
    } else if (token.text === 'JSON_TABLE' && isPunct(tokens[i + 1], '(')) {
      const end = jsonTable(text, tokens, i, edits);
      if (end === undefined) return undefined;
      i = end;
    }
  }
  if (edits.length === 0) return undefined;
  edits.sort((a, b) => b.start - a.start);
  let out = text;
  for (const edit of edits) out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
  return out;
}

const QUERY_OPENERS = new Set(['UNION', 'ALL', 'DISTINCT', 'EXCEPT', 'INTERSECT']);

/** A query expression starts here: at the beginning, after `(`, or after a set operator. */
function startsQuery(tokens: readonly MySqlToken[], i: number): boolean {
  const prev = tokens[i - 1];
  if (prev === undefined) return true;
  if (prev.kind === 'punct') return prev.text === '(';
  return prev.kind === 'word' && QUERY_OPENERS.has(prev.text);
}

/**
 * Edits each `ROW(...)` (or bare `(...)`) row into `SELECT ...`, rows joined by UNION ALL.
 * Returns the index of the first token after the rows, or undefined when they are not rows.
 */
function valuesRows(tokens: readonly MySqlToken[], from: number, edits: Edit[]): number | undefined {
  let i = from;
  for (;;) {
    const row = tokens[i];
    let open = row;
    if (row?.kind === 'word' && row.text === 'ROW') open = tokens[i + 1];
    if (open?.kind !== 'punct' || open.text !== '(' || row === undefined) return undefined;
    const close = matchingParen(tokens, tokens.indexOf(open));
    const closeToken = close === undefined ? undefined : tokens[close];
    if (closeToken === undefined || close === undefined || close === tokens.indexOf(open) + 1)
      return undefined;
    edits.push({ start: row.start, end: open.end, text: 'SELECT ' });
    edits.push({ start: closeToken.start, end: closeToken.end, text: ' ' });
    i = close + 1;
    const next = tokens[i];
    if (next?.kind === 'punct' && next.text === ',') {
      edits.push({ start: next.start, end: next.end, text: ' UNION ALL ' });
      i++;
      continue;
    }
    return i;
  }
}

function matchingParen(tokens: readonly MySqlToken[], open: number): number | undefined {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i];
    if (t?.kind !== 'punct') continue;
    if (t.text === '(') depth++;
    else if (t.text === ')' && --depth === 0) return i;
  }
  return undefined;
}

/** What may follow a joined table: the next join, the next clause, or the end of the query. */
const AFTER_TABLE = new Set([
  'JOIN',
  'INNER',
  'CROSS',
  'LEFT',
  'RIGHT',
  'NATURAL',
  'STRAIGHT_JOIN',
  'WHERE',
  'GROUP',
  'HAVING',
  'WINDOW',
  'ORDER',
  'LIMIT',
  'UNION',
  'EXCEPT',
  'INTERSECT',
  'FOR',
  'LOCK',
  'INTO',
]);

/** Words that are not an alias after a table name. */
const NOT_ALIAS = new Set([...AFTER_TABLE, 'ON', 'USING', 'USE', 'IGNORE', 'FORCE', 'PARTITION', 'AS']);

/**
 * `NATURAL [LEFT|RIGHT] [OUTER] JOIN <table or (subquery)> [[AS] alias]`: drops NATURAL and adds
 * `USING (<marker>)` after the table. False when the tokens do not have that form.
 */
function naturalJoin(tokens: readonly MySqlToken[], at: number, edits: Edit[]): boolean {
  const natural = tokens[at];
  if (!natural) return false;
  let i = at + 1;
  if (isWord(tokens[i], 'LEFT') || isWord(tokens[i], 'RIGHT')) i++;
  if (isWord(tokens[i], 'OUTER')) i++;
  if (!isWord(tokens[i], 'JOIN')) return false;
  i++;
  const first = tokens[i];
  if (first === undefined) return false;
  if (first.kind === 'punct' && first.text === '(') {
    const close = matchingParen(tokens, i);
    if (close === undefined) return false;
    i = close + 1;
  } else if (isName(first)) {
    i++;
    if (isPunct(tokens[i], '.') && isName(tokens[i + 1])) i += 2;
  } else return false;
  if (isWord(tokens[i], 'AS')) i++;
  if (isName(tokens[i])) i++;
  const next = tokens[i];
  const ends =
    next === undefined ||
    (next.kind === 'word' && AFTER_TABLE.has(next.text)) ||
    isPunct(next, ',') ||
    isPunct(next, ')');
  const last = tokens[i - 1];
  if (!ends || last === undefined) return false;
  edits.push({ start: natural.start, end: natural.end, text: '' });
  edits.push({ start: last.end, end: last.end, text: ` USING (\`${NATURAL_JOIN_MARKER}\`)` });
  return true;
}

/**
 * `JSON_TABLE(doc, 'path' COLUMNS (defs))` at `at`: one edit replacing it with a derived table.
 * Returns the index of its closing parenthesis, or undefined when it does not have that form.
 */
function jsonTable(
  text: string,
  tokens: readonly MySqlToken[],
  at: number,
  edits: Edit[],
): number | undefined {
  const open = at + 1;
  const close = matchingParen(tokens, open);
  if (close === undefined) return undefined;
  const comma = topLevel(tokens, open + 1, close).find((i) => isPunct(tokens[i], ','));
  const openToken = tokens[open];
  const commaToken = comma === undefined ? undefined : tokens[comma];
  if (comma === undefined || openToken === undefined || commaToken === undefined || comma === open + 1)
    return undefined;
  const doc = text.slice(openToken.end, commaToken.start).trim();
  const path = tokens[comma + 1];
  if (path?.kind !== 'quoted' || !isWord(tokens[comma + 2], 'COLUMNS')) return undefined;
  const names = jsonTableColumns(tokens, comma + 3);
  if (names === undefined || names.end !== close - 1 || names.columns.length === 0) return undefined;
  const first = tokens[at];
  const last = tokens[close];
  if (!first || !last) return undefined;
  // An ordinality column counts the document's rows: it is derived from the document too (the
  // number of rows a masked document yields is what a filter on it would tell).
  const outputs = names.columns.map(
    (c) => `${c.ordinality ? `((${doc}) IS NULL)` : `(${doc})`} AS ${c.name}`,
  );
  edits.push({ start: first.start, end: last.end, text: `(SELECT ${outputs.join(', ')})` });
  return close;
}

interface JsonTableColumn {
  name: string;
  ordinality: boolean;
}

/** The columns of `( defs )` opening at `open`, NESTED ones flattened; `end` is its `)`. */
function jsonTableColumns(
  tokens: readonly MySqlToken[],
  open: number,
): { columns: JsonTableColumn[]; end: number } | undefined {
  if (!isPunct(tokens[open], '(')) return undefined;
  const end = matchingParen(tokens, open);
  if (end === undefined) return undefined;
  const columns: JsonTableColumn[] = [];
  const commas = topLevel(tokens, open + 1, end).filter((i) => isPunct(tokens[i], ','));
  let start = open + 1;
  for (const stop of [...commas, end]) {
    const head = tokens[start];
    if (head === undefined || start >= stop) return undefined;
    if (isWord(head, 'NESTED')) {
      let i = start + 1;
      if (isWord(tokens[i], 'PATH')) i++;
      if (tokens[i]?.kind !== 'quoted' || !isWord(tokens[i + 1], 'COLUMNS')) return undefined;
      const nested = jsonTableColumns(tokens, i + 2);
      if (nested === undefined || nested.end !== stop - 1) return undefined;
      columns.push(...nested.columns);
    } else {
      const name =
        head.kind === 'quoted' && head.text.startsWith('`')
          ? head.text
          : head.kind === 'word'
            ? `\`${head.text.toLowerCase()}\``
            : undefined;
      if (name === undefined) return undefined;
      columns.push({
        name,
        ordinality: isWord(tokens[start + 1], 'FOR') && isWord(tokens[start + 2], 'ORDINALITY'),
      });
    }
    start = stop + 1;
  }
  return { columns, end };
}

/** `CONVERT(x, [UN]SIGNED [INTEGER|INT])` at `at` becomes `CAST(x AS ...)`; other CONVERTs are left alone. */
function convertToInteger(tokens: readonly MySqlToken[], at: number, edits: Edit[]): void {
  const close = matchingParen(tokens, at + 1);
  if (close === undefined) return;
  const commas = topLevel(tokens, at + 2, close).filter((k) => isPunct(tokens[k], ','));
  const comma = commas.at(-1);
  if (comma === undefined || commas.length !== 1) return;
  const type = tokens.slice(comma + 1, close).map((t) => (t.kind === 'word' ? t.text : `\u0000${t.text}`));
  const [sign, width, ...rest] = type;
  if ((sign !== 'SIGNED' && sign !== 'UNSIGNED') || rest.length > 0) return;
  if (width !== undefined && width !== 'INTEGER' && width !== 'INT') return;
  const convert = tokens[at] as MySqlToken;
  const separator = tokens[comma] as MySqlToken;
  edits.push({ start: convert.start, end: convert.end, text: 'CAST' });
  edits.push({ start: separator.start, end: separator.end, text: ' AS ' });
  // The grammar spells the width INTEGER only.
  const widthToken = tokens[comma + 2] as MySqlToken;
  if (width === 'INT') edits.push({ start: widthToken.start, end: widthToken.end, text: 'INTEGER' });
}

/** Indexes of the tokens in [from, to) that are not inside parentheses. */
function topLevel(tokens: readonly MySqlToken[], from: number, to: number): number[] {
  const out: number[] = [];
  let depth = 0;
  for (let i = from; i < to; i++) {
    const t = tokens[i];
    if (isPunct(t, '(')) depth++;
    else if (isPunct(t, ')')) depth--;
    else if (depth === 0) out.push(i);
  }
  return out;
}

function isWord(token: MySqlToken | undefined, word: string): boolean {
  return token?.kind === 'word' && token.text === word;
}

function isPunct(token: MySqlToken | undefined, text: string): boolean {
  return token?.kind === 'punct' && token.text === text;
}

/** A table name or alias: an unreserved word or a backquoted name. */
function isName(token: MySqlToken | undefined): boolean {
  if (token === undefined) return false;
  if (token.kind === 'quoted') return token.text.startsWith('`');
  return token.kind === 'word' && !NOT_ALIAS.has(token.text);
}
