const enum Scan {
  Code,
  SingleQuoted,
  DoubleQuoted,
  Backticked,
  LineComment,
  BlockComment,
}

/**
 * Counts the `?` parameter markers of a MySQL statement, skipping quoted strings, quoted
 * identifiers and comments, for the parameter count of COM_STMT_PREPARE_OK. The count only tells
 * the client how many values to bind: the statement itself is guarded as text, and the target
 * rejects an execute whose values do not match its own count, so a miscount cannot widen access.
 */
export function countPlaceholders(sql: string): number {
  let state: Scan = Scan.Code;
  let count = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    const next = sql[i + 1];
    switch (state) {
      case Scan.Code:
        if (c === '?') count++;
        else if (c === "'") state = Scan.SingleQuoted;
        else if (c === '"') state = Scan.DoubleQuoted;
        else if (c === '`') state = Scan.Backticked;
        else if (c === '#') state = Scan.LineComment;
        else if (c === '-' && next === '-' && (sql[i + 2] === undefined || /\s/.test(sql[i + 2] as string)))
          state = Scan.LineComment;
        else if (c === '/' && next === '*') {
          state = Scan.BlockComment;
          i++;
        }
        break;
      case Scan.SingleQuoted:
      case Scan.DoubleQuoted: {
        const quote = state === Scan.SingleQuoted ? "'" : '"';
        if (c === '\\') i++;
        else if (c === quote) {
          if (next === quote) i++;
          else state = Scan.Code;
        }
        break;
      }
      case Scan.Backticked:
        if (c === '`') {
          if (next === '`') i++;
          else state = Scan.Code;
        }
        break;
      case Scan.LineComment:
        if (c === '\n') state = Scan.Code;
        break;
      case Scan.BlockComment:
        if (c === '*' && next === '/') {
          state = Scan.Code;
          i++;
        }
        break;
    }
  }
  return count;
}
