import { GuardError } from '../errors.js';

/** One statement of a MySQL text, as the server will split it. */
export interface MySqlPiece {
  text: string;
}

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
 */
export function splitMySql(sql: string): MySqlPiece[] {
  if (VERSIONED_COMMENT.test(sql)) {
    throw new GuardError(
      'ERR_GUARD_VERSIONED_COMMENT',
      'versioned comments (/*! ... */, /*M! ... */) are refused: the server executes what they contain',
    );
  }
  const pieces: MySqlPiece[] = [];
  let start = 0;
  let meaningful = false;
  const n = sql.length;
  let i = 0;
  const finish = (end: number) => {
    if (meaningful) pieces.push({ text: sql.slice(start, end).trim() });
    meaningful = false;
  };
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x27 /* ' */ || c === 0x22 /* " */ || c === 0x60 /* ` */) {
      meaningful = true;
      i = skipQuoted(sql, i, c);
    } else if (c === 0x23 /* # */) {
      i = lineEnd(sql, i);
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
      i = lineEnd(sql, i);
    } else if (c === 0x2f /* / */ && sql.charCodeAt(i + 1) === 0x2a /* * */) {
      const close = sql.indexOf('*/', i + 2);
      // An optimizer hint /*+ ... */ is part of the statement; other comments are not.
      if (sql.charCodeAt(i + 2) === 0x2b) meaningful = true;
      i = close < 0 ? n : close + 2;
    } else if (c === 0x3b /* ; */) {
      finish(i);
      i++;
      start = i;
    } else {
      if (c > 0x20) meaningful = true;
      i++;
    }
  }
  finish(n);
  return pieces;
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
