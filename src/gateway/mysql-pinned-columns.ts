import NodeSqlParser from 'node-sql-parser';
import { isUnboundedFilter, type PinCheck } from '../guard/mysql/constant-truth.js';
import { readRows } from './row-estimates.js';
import type { TargetEngine } from './types.js';

/**
 * A MySQL UPDATE or DELETE the guard calls bounded because it pins a column (`body = 0`), checked
 * against the columns' types. MySQL compares a string (or date, JSON, ...) column with a number
 * as numbers, converting each row's value: `body = 0` holds for every body that does not start
 * with a digit, so it bounds nothing. A pin holds when the column is numeric, or when it is
 * compared with a quoted string; a number, a `?` or any other expression against a column of
 * another type proves no bound. An unknown column proves none either.
 */

const parser = new NodeSqlParser.Parser();
const NUMERIC_TYPES = new Set([
  'tinyint',
  'smallint',
  'mediumint',
  'int',
  'integer',
  'bigint',
  'decimal',
  'numeric',
  'float',
  'double',
  'real',
  'bit',
  'year',
]);
const STRING_LITERALS = new Set(['single_quote_string', 'double_quote_string', 'string', 'natural_string']);
const NO_READS = { noteLiteralRead: () => undefined };

/**
 * Why the write's pins bound nothing on this table (a sentence for the decision's reason), or
 * undefined when they do. Fails closed: a text that cannot be read again as one UPDATE or DELETE,
 * or a table whose columns cannot be found, bounds nothing either (a failed catalog read throws,
 * and the caller treats that the same way).
 */
export async function unpinnedByTypes(
  engine: TargetEngine,
  sql: string,
  table: string,
): Promise<string | undefined> {
  let ast: unknown;
  try {
    ast = parser.astify(sql, { database: 'MySQL' });
  } catch {
    ast = undefined;
  }
  const statement = (Array.isArray(ast) ? (ast.length === 1 ? ast[0] : undefined) : ast) as
    { type?: unknown; where?: unknown } | undefined;
  if (statement?.type !== 'update' && statement?.type !== 'delete') {
    return "the statement could not be read again to check its WHERE's columns";
  }
  const [schema, name] = table.includes('.') ? table.split('.', 2) : [null, table];
  const rows = await readRows(
    engine,
    'SELECT COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?',
    [schema, name],
  );
  if (rows.length === 0) return `the columns of ${table} could not be found to check the WHERE's pins`;
  const types = new Map(rows.map((r) => [String(r['name']).toLowerCase(), String(r['type']).toLowerCase()]));
  const mismatched: string[] = [];
  const pins: PinCheck = (column, value) => {
    const type = types.get(column.toLowerCase());
    if (type !== undefined && NUMERIC_TYPES.has(type)) return true;
    if (type !== undefined && typeof value['type'] === 'string' && STRING_LITERALS.has(value['type']))
      return true;
    mismatched.push(column);
    return false;
  };
  if (!isUnboundedFilter(statement.where, NO_READS, pins)) return undefined;
  const named = [...new Set(mismatched)];
  return named.length === 0
    ? undefined
    : `${named.join(', ')} ${named.length === 1 ? 'is' : 'are'} not numeric and compared with something other than a quoted string: MySQL converts every row's value to compare it, so the WHERE may hold for every row`;
}
