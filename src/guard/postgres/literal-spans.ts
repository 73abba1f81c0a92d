import type { LiteralSpan } from '../literal-shape.js';

/** What the shape cache needs of a Postgres text, from one scan of it. */
export interface PostgresLexed {
  /** The literals the shape cache may abstract, in order. */
  spans: LiteralSpan[];
  /** Offset of the first `;` outside strings, quoted names and comments; -1 when there is none. */
  firstSemicolon: number;
}

/** Integers longer than this stay in the shape (libpg-query reads them as `fval` text anyway). */
const MAX_NUMBER_DIGITS = 15;

/**
 * A Postgres number token from its first character: decimal, hexadecimal, octal or binary, with
 * a fraction, an exponent, underscores, and whatever word characters follow it (PostgreSQL reads
 * those as an error, older servers as an alias). Only a token of plain digits is abstracted.
 */
const NUMBER_TOKEN =
  /(?:0[xXoObB][0-9A-Fa-f_]*|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]*)?|\.[0-9][0-9_]*(?:[eE][+-]?[0-9_]*)?)[A-Za-z0-9_$\u0080-\uffff]*/y;
const PLAIN_INTEGER = /^[0-9]+$/;
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;

/**
 * Finds the literals of a Postgres text that a shape may abstract (see ../literal-shape.ts): plain
 * single-quoted strings, with no backslash and no doubled quote inside and nothing glued before
 * them, and unsigned integers of at most 15 digits that stand alone as a token. It follows the
 * server's lexer (standard_conforming_strings on, as libpg-query parses): `--` and nested `/* *\/`
 * comments, double-quoted names, dollar-quoted strings, `$1` parameters.
 *
 * Undefined when the text holds something whose end this scan would have to guess: a string with
 * a prefix (E'', U&'', B'', X'', N''), or a string, name, comment or dollar quote left open. Such
 * a text has no shape and is always parsed.
 */
export function postgresLiteralSpans(sql: string): PostgresLexed | undefined {
  const spans: LiteralSpan[] = [];
  let firstSemicolon = -1;
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x27 /* ' */) {
      // A letter or `&` glued before the quote makes it an E'', U&'', B'', X'' or N'' string,
      // whose escapes this scan does not follow.
      const before = sql.charCodeAt(i - 1);
      if (isWordChar(before) || before === 0x26 /* & */) return undefined;
      let plain = true;
      let j = i + 1;
      for (;;) {
        if (j >= n) return undefined;
        const d = sql.charCodeAt(j);
        if (d === 0x27) {
          if (sql.charCodeAt(j + 1) !== 0x27) break;
          plain = false;
          j += 2;
        } else {
          if (d === 0x5c /* \ */) plain = false;
          j++;
        }
      }
      if (plain) spans.push({ start: i, end: j + 1, kind: 'string' });
      i = j + 1;
    } else if (c === 0x22 /* " */) {
      let j = i + 1;
      for (;;) {
        if (j >= n) return undefined;
        if (sql.charCodeAt(j) === 0x22) {
          if (sql.charCodeAt(j + 1) !== 0x22) break;
          j += 2;
        } else j++;
      }
      i = j + 1;
    } else if (c === 0x2d /* - */ && sql.charCodeAt(i + 1) === 0x2d) {
      i = lineEnd(sql, i + 2);
    } else if (c === 0x2f /* / */ && sql.charCodeAt(i + 1) === 0x2a /* * */) {
      const end = commentEnd(sql, i);
      if (end < 0) return undefined;
      i = end;
    } else if (c === 0x24 /* $ */) {
      const before = sql.charCodeAt(i - 1);
      if (isWordChar(before) || isDigit(sql.charCodeAt(i + 1))) {
        // Part of a name (`a$b`) or a parameter (`$1`): kept as it is.
        i++;
        while (i < n && isDigit(sql.charCodeAt(i))) i++;
        continue;
      }
      DOLLAR_TAG.lastIndex = i;
      const tag = DOLLAR_TAG.exec(sql);
      if (tag === null) {
        i++;
        continue;
      }
      const close = sql.indexOf(tag[0], i + tag[0].length);
      if (close < 0) return undefined;
      i = close + tag[0].length;
    } else if (c === 0x3b /* ; */) {
      if (firstSemicolon < 0) firstSemicolon = i;
      i++;
    } else if (isDigit(c) || (c === 0x2e /* . */ && isDigit(sql.charCodeAt(i + 1)))) {
      const before = sql.charCodeAt(i - 1);
      if (isWordChar(before) || before === 0x2e) {
        i++;
        continue;
      }
      NUMBER_TOKEN.lastIndex = i;
      const token = NUMBER_TOKEN.exec(sql)?.[0] ?? sql[i] ?? '';
      if (token.length <= MAX_NUMBER_DIGITS && PLAIN_INTEGER.test(token)) {
        spans.push({ start: i, end: i + token.length, kind: 'number' });
      }
      i += token.length;
    } else if (isWordStart(c)) {
      i++;
      while (i < n && isWordChar(sql.charCodeAt(i))) i++;
    } else {
      i++;
    }
  }
  return { spans, firstSemicolon };
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isWordStart(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f /* _ */ || c >= 0x80;
}

/** Characters of an unquoted Postgres name, digits and `$` included (NaN, before the text, is not one). */
function isWordChar(c: number): boolean {
  return isWordStart(c) || isDigit(c) || c === 0x24; /* $ */
}

/** A `--` comment ends at the end of its line (either line break). */
function lineEnd(sql: string, from: number): number {
  for (let i = from; i < sql.length; i++) {
    const c = sql.charCodeAt(i);
    if (c === 0x0a || c === 0x0d) return i + 1;
  }
  return sql.length;
}

/** The end of a `/* *\/` comment opened at `open`; Postgres nests them. -1 when it is left open. */
function commentEnd(sql: string, open: number): number {
  let depth = 0;
  let i = open;
  while (i < sql.length) {
    if (sql.charCodeAt(i) === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
      depth++;
      i += 2;
    } else if (sql.charCodeAt(i) === 0x2a && sql.charCodeAt(i + 1) === 0x2f) {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else i++;
  }
  return -1;
}
