import { GuardError } from '../errors.js';
import type { LiteralSpan } from '../literal-shape.js';

/** One statement of a MySQL text, as the server will split it. */
export interface MySqlPiece {
  text: string;
}

/*
 * The literals the shape cache may abstract (see ../literal-shape.ts), for MySQL: a plain
 * single-quoted string (no escapes, no doubled quotes, no introducer such as `_utf8` or `N` before
 * it) or an unsigned integer of at most 15 digits that stands alone as a word.
 */

/**
 * node-sql-parser reads a longer integer as `bigint` rather than `number` (from 2^53), so its
 * node type would depend on the value; up to 15 digits it is always a `number`.
 */
const MAX_NUMBER_DIGITS = 15;

/**
 * Anywhere in the text, even inside a string: MySQL and MariaDB run what is inside `/*! ... *\/`
 * and `/*M! ... *\/`, while the parser skips it as a comment. Refusing the sequence wherever it
 * appears also covers servers whose sql_mode (ANSI_QUOTES, NO_BACKSLASH_ESCAPES) would end a
 * string where this lexer does not.
 */
const VERSIONED_COMMENT = /\/\*M?!/i;

/**
 * Splits a MySQL text into statements the way the server reads it (strings with backslash and
 * doubled-quote escapes, backtick identifiers, `#`, `-- ` and `/* *\/` comments), and refuses
 * what the server and the parser would read differently. Throws GuardError.
 *
 * With `literals`, also collects the literals the shape cache may abstract, found by this same
 * scan so that the shape and the split can never disagree about where a string or comment ends.
 */
export function splitMySql(sql: string, literals?: LiteralSpan[]): MySqlPiece[] {
  if (VERSIONED_COMMENT.test(sql)) {
    throw new GuardError(
      'ERR_GUARD_VERSIONED_COMMENT',
      'versioned comments (/*! ... */, /*M! ... */) are refused: the server executes what they contain',
    );
  }
  const pieces: PieceRange[] = [];
  let start = 0;
  let meaningful = false;
  const n = sql.length;
  let i = 0;
  const finish = (end: number) => {
    if (meaningful) pieces.push({ start, end });
    meaningful = false;
  };
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x27 /* ' */ || c === 0x22 /* " */ || c === 0x60 /* ` */) {
      meaningful = true;
      const end = skipQuoted(sql, i, c);
      if (literals && c === 0x27 && isPlainString(sql, i, end))
        literals.push({ start: i, end, kind: 'string' });
      i = end;
    } else if (c === 0x23 /* # */) {
      i = lineCommentEnd(sql, i);
    } else if (c === 0x2d /* - */ && sql.charCodeAt(i + 1) === 0x2d) {
      const after = sql.charCodeAt(i + 2);
      // MySQL needs whitespace or a control character after `--` for a comment; `1--1` is 1 - -1.
      // The parser takes any `--` as a comment, so whatever follows would be hidden from the guard.
      if (i + 2 < n && after > 0x20) {
        throw new GuardError(
          'ERR_GUARD_AMBIGUOUS_COMMENT',
          `"--" followed by "${sql[i + 2]}" at character ${i + 1} is refused: MySQL reads it as two minus signs, not a comment; write "-- " or "- -"`,
        );
      }
      i = lineCommentEnd(sql, i);
    } else if (c === 0x2f /* / */ && sql.charCodeAt(i + 1) === 0x2a /* * */) {
      const close = sql.indexOf('*/', i + 2);
      // An optimizer hint /*+ ... */ is part of the statement; other comments are not.
      if (sql.charCodeAt(i + 2) === 0x2b) meaningful = true;
      i = close < 0 ? n : close + 2;
    } else if (c === 0x3b /* ; */) {
      finish(i);
      i++;
      start = i;
    } else if (literals && c >= 0x30 && c <= 0x39 && !isWordChar(sql.charCodeAt(i - 1))) {
      // A word that starts with a digit: a number if it is digits only (`12abc` is an identifier).
      meaningful = true;
      let end = i + 1;
      while (end < n && isDigit(sql.charCodeAt(end))) end++;
      if (!isWordChar(sql.charCodeAt(end)) && end - i <= MAX_NUMBER_DIGITS)
        literals.push({ start: i, end, kind: 'number' });
      i = end;
    } else {
      if (c > 0x20) meaningful = true;
      i++;
    }
  }
  finish(n);
  return joinStoredPrograms(sql, pieces).map((r) => ({ text: sql.slice(r.start, r.end).trim() }));
}

interface PieceRange {
  start: number;
  end: number;
}

/**
 * `CREATE [OR REPLACE] [DEFINER = ...] [AGGREGATE] PROCEDURE | FUNCTION | TRIGGER | EVENT`: a
 * stored program, whose body (`BEGIN ... END`) holds statements ended by `;` of its own.
 */
const STORED_PROGRAM =
  /^CREATE\s+(?:OR\s+REPLACE\s+)?(?:DEFINER\s*=\s*\S+\s+)?(?:AGGREGATE\s+)?(?:PROCEDURE|FUNCTION|TRIGGER|EVENT)\b/i;

/** Blocks that end with `END <word>`, which a plain END does not close. */
const NAMED_ENDS = new Set(['IF', 'LOOP', 'WHILE', 'REPEAT', 'FOR']);

/**
 * Joins the pieces of a stored program's body back into its CREATE statement, as the server's
 * parser reads it: BEGIN and CASE open a block that END (or END CASE) closes. A program whose
 * blocks do not all close by the end of the text is left split, so its pieces fail on their own
 * (the guard cannot read `END`): a miscount can only refuse, never hide a statement inside a body.
 * (The target connection runs one statement per text, so it too refuses a text that this would
 * join while the server reads two.)
 */
function joinStoredPrograms(sql: string, pieces: PieceRange[]): PieceRange[] {
  if (!pieces.some((p) => STORED_PROGRAM.test(sql.slice(p.start, p.end).trimStart()))) return pieces;
  const out: PieceRange[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const first = pieces[i] as PieceRange;
    if (!STORED_PROGRAM.test(sql.slice(first.start, first.end).trimStart())) {
      out.push(first);
      continue;
    }
    let depth = blockDepth(sql.slice(first.start, first.end));
    let last = i;
    while (depth > 0 && last + 1 < pieces.length) {
      last++;
      const next = pieces[last] as PieceRange;
      depth += blockDepth(sql.slice(next.start, next.end));
    }
    if (depth !== 0 || last === i) {
      out.push(first);
      continue;
    }
    out.push({ start: first.start, end: (pieces[last] as PieceRange).end });
    i = last;
  }
  return out;
}

/** BEGIN and CASE blocks a piece opens, less the ones it closes (see joinStoredPrograms). */
function blockDepth(text: string): number {
  const tokens = tokenizeMySql(text);
  let depth = 0;
  for (let k = 0; k < tokens.length; k++) {
    const token = tokens[k] as MySqlToken;
    if (token.kind !== 'word') continue;
    if (token.text === 'BEGIN' || token.text === 'CASE') depth++;
    else if (token.text === 'END') {
      const after = tokens[k + 1];
      if (after?.kind === 'word' && NAMED_ENDS.has(after.text)) {
        k++;
        continue;
      }
      // END, END label, END CASE (whose CASE opens nothing).
      depth--;
      if (after?.kind === 'word' && after.text === 'CASE') k++;
    }
  }
  return depth;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Characters of an unquoted MySQL identifier or number (NaN, before the text, is not one). */
function isWordChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x5f /* _ */ ||
    c === 0x24 /* $ */ ||
    c >= 0x80
  );
}

/**
 * A closed single-quoted string with no backslash and no doubled quote inside, not glued to a word
 * before it (`_utf8'x'`, `N'x'`, `X'0A'`, `B'1'` are other kinds of literal).
 */
function isPlainString(sql: string, open: number, end: number): boolean {
  if (end - open < 2 || sql.charCodeAt(end - 1) !== 0x27 || isWordChar(sql.charCodeAt(open - 1)))
    return false;
  for (let j = open + 1; j < end - 1; j++) {
    const c = sql.charCodeAt(j);
    if (c === 0x27 || c === 0x5c) return false;
  }
  return true;
}

/**
 * The end of the `#` or `-- ` comment at `from`, as the server reads it: the next line feed. The
 * parser also ends one at a carriage return, so a CR inside the comment with more on its line
 * (`# x\r, 'y\n...`) would show the parser text the server skips, and hide from it what the
 * server runs: refused. A CR right before the line feed (CRLF) or at the end is the same to both.
 */
function lineCommentEnd(sql: string, from: number): number {
  const end = lineEnd(sql, from);
  for (let j = sql.indexOf('\r', from); j >= 0 && j < end; j = sql.indexOf('\r', j + 1)) {
    let k = j;
    while (sql.charCodeAt(k) === 0x0d) k++;
    if (k < sql.length && sql.charCodeAt(k) !== 0x0a) {
      throw new GuardError(
        'ERR_GUARD_AMBIGUOUS_COMMENT',
        `a carriage return inside the comment at character ${from + 1} is refused: MySQL reads the comment to the end of the line, the parser only to the carriage return; end the line with "\\n"`,
      );
    }
  }
  return end;
}

function lineEnd(sql: string, from: number): number {
  const nl = sql.indexOf('\n', from);
  return nl < 0 ? sql.length : nl + 1;
}

function skipQuoted(sql: string, open: number, quote: number): number {
  const n = sql.length;
  let i = open + 1;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x5c /* \ */ && quote !== 0x60) {
      i += 2;
    } else if (c === quote) {
      if (sql.charCodeAt(i + 1) === quote) i += 2;
      else return i + 1;
    } else {
      i++;
    }
  }
  return n;
}

/** A token of one MySQL statement: a word, a quoted name or string, or one punctuation character. */
export interface MySqlToken {
  kind: 'word' | 'quoted' | 'punct';
  start: number;
  end: number;
  /** Upper-cased for words; the raw text otherwise. */
  text: string;
}

/**
 * The tokens of one statement (as splitMySql returns it), comments left out. Numbers are words;
 * operators come one character at a time, which is enough for recognising clause keywords.
 */
export function tokenizeMySql(sql: string): MySqlToken[] {
  const tokens: MySqlToken[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x27 || c === 0x22 || c === 0x60) {
      const end = skipQuoted(sql, i, c);
      tokens.push({ kind: 'quoted', start: i, end, text: sql.slice(i, end) });
      i = end;
    } else if (c === 0x23 || (c === 0x2d && sql.charCodeAt(i + 1) === 0x2d)) {
      i = lineEnd(sql, i);
    } else if (c === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
      const close = sql.indexOf('*/', i + 2);
      i = close < 0 ? n : close + 2;
    } else if (isWordChar(c)) {
      let end = i + 1;
      while (end < n && isWordChar(sql.charCodeAt(end))) end++;
      tokens.push({ kind: 'word', start: i, end, text: sql.slice(i, end).toUpperCase() });
      i = end;
    } else if (c > 0x20) {
      tokens.push({ kind: 'punct', start: i, end: i + 1, text: sql[i] ?? '' });
      i++;
    } else {
      i++;
    }
  }
  return tokens;
}

/**
 * One statement (as splitMySql returns it) with every comment replaced by a space, strings and
 * quoted names left as they are: the text that keyword rules read, so that `SHOW /**\/ ENGINE`
 * or `SET /**\/ STATEMENT` is the statement the server sees, not another one.
 */
export function withoutComments(sql: string): string {
  let out = '';
  let from = 0;
  const n = sql.length;
  let i = 0;
  const cut = (start: number, end: number) => {
    out += `${sql.slice(from, start)} `;
    from = end;
  };
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x27 || c === 0x22 || c === 0x60) {
      i = skipQuoted(sql, i, c);
    } else if (c === 0x23 || (c === 0x2d && sql.charCodeAt(i + 1) === 0x2d)) {
      const end = lineEnd(sql, i);
      cut(i, end);
      i = end;
    } else if (c === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
      const close = sql.indexOf('*/', i + 2);
      const end = close < 0 ? n : close + 2;
      cut(i, end);
      i = end;
    } else {
      i++;
    }
  }
  return out + sql.slice(from);
}
