import type { ErrorScreen, ResultColumn, RowMasker } from '../gateway/types.js';
import { tokenizeMySql } from '../guard/mysql/lexer.js';
import { REDACTED } from './strategies.js';

/**
 * MySQL's `SHOW WARNINGS` / `SHOW ERRORS` return the previous statements' diagnostics as rows
 * (Level, Code, Message). A Message is target text like an error's, so it is screened as the
 * errors of the statements it reports on would be: withheld (`****`) where one of their screens
 * withholds it, passed as it is otherwise. Level and Code carry no value.
 */

/**
 * Whether a MySQL text is one statement that reads the diagnostics area: SHOW WARNINGS or SHOW
 * ERRORS, read by its tokens (a comment between the words is the same statement to the server).
 */
export function readsDiagnostics(sql: string): boolean {
  const tokens = tokenizeMySql(sql);
  // One statement: a trailing semicolon is allowed, a second statement is not.
  const last = tokens.length - 1;
  if (tokens.some((t, i) => t.kind === 'punct' && t.text === ';' && i !== last)) return false;
  const [show, what] = tokens;
  return (
    show?.kind === 'word' &&
    show.text === 'SHOW' &&
    what?.kind === 'word' &&
    (what.text === 'WARNINGS' || what.text === 'ERRORS')
  );
}

export class DiagnosticsMasker implements RowMasker {
  readonly masked: readonly boolean[];
  readonly #screens: readonly ErrorScreen[];
  readonly #message: number;

  constructor(columns: readonly ResultColumn[], screens: readonly ErrorScreen[]) {
    this.#screens = screens;
    this.#message = columns.findIndex((c) => c.name.toLowerCase() === 'message');
    // Columns other than the three known ones are withheld outright.
    this.masked = columns.map(
      (c, i) => i === this.#message || !['level', 'code'].includes(c.name.toLowerCase()),
    );
  }

  mask(values: unknown[]): unknown[] {
    let out = values;
    for (let i = 0; i < values.length; i++) {
      if (!this.masked[i] || values[i] === null || values[i] === undefined) continue;
      if (i === this.#message && !this.#withholds(values[i])) continue;
      if (out === values) out = [...values];
      out[i] = REDACTED;
    }
    return out;
  }

  /** Code is an errno, not the SQLSTATE the screens read, so the text alone decides. */
  #withholds(message: unknown): boolean {
    const text = typeof message === 'string' ? message : String(message);
    return this.#screens.some((s) => s.withholds([text]));
  }
}
