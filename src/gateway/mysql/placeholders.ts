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
  return placeholderOffsets(sql).length;
}

/**
 * The text with its `?` parameter markers replaced by `values` in turn (by `otherwise` when there
 * are fewer): for masking, which traces a SQL `EXECUTE ... USING` through the prepared text, with
 * its parameters as what they are (a literal, or a user variable of unknown origin), never as
 * constants of the statement.
 */
export function replacePlaceholders(sql: string, values: readonly string[], otherwise: string): string {
  let out = '';
  let from = 0;
  placeholderOffsets(sql).forEach((at, i) => {
    out += `${sql.slice(from, at)} ${values[i] ?? otherwise} `;
    from = at + 1;
  });
  return out + sql.slice(from);
}

const EXECUTE_USING = /^\s*EXECUTE\s+(?:`(?:[^`]|``)+`|[\w$]+)\s+USING\s+([\s\S]+?)\s*;?\s*$/i;
const LITERAL = /^(?:[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?|'(?:[^'\\]|\\[\s\S]|'')*')$/i;

/**
 * The USING values of `EXECUTE name USING a, b` when every one is a plain literal (MariaDB takes
 * expressions there); undefined for anything else (user variables, expressions).
 */
export function literalUsingValues(executeText: string): string[] | undefined {
  const list = EXECUTE_USING.exec(executeText)?.[1];
  if (list === undefined) return undefined;
  const values: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < list.length; i++) {
    const c = list[i] as string;
    if (quoted) {
      current += c;
      if (c === '\\') current += list[++i] ?? '';
      else if (c === "'") {
        if (list[i + 1] === "'") current += list[++i];
        else quoted = false;
      }
    } else if (c === "'") {
      quoted = true;
      current += c;
    } else if (c === ',') {
      values.push(current.trim());
      current = '';
    } else current += c;
  }
  values.push(current.trim());
  return values.every((v) => LITERAL.test(v)) ? values : undefined;
}

/** Where the `?` markers are, outside strings, quoted identifiers and comments. */
function placeholderOffsets(sql: string): number[] {
  let state: Scan = Scan.Code;
  const offsets: number[] = [];
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    const next = sql[i + 1];
    switch (state) {
      case Scan.Code:
        if (c === '?') offsets.push(i);
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
  return offsets;
}
