import type { PostgresParser } from '../postgres/parser.js';
import { type PgNode, stripLocations, walkNodes } from './tree.js';

/** One `rowFilters` entry, compiled at load: the table it names and its condition as a tree. */
export interface RowFilterRule {
  /** As configured, for messages: `orders`, `sales.orders`. */
  readonly table: string;
  /** Lower case; undefined: the table of that name in any schema. */
  readonly schema: string | undefined;
  readonly name: string;
  readonly where: string;
  /** The condition's parse, with `$k` (ParamRef k) where claim `claims[k - 1]` goes. */
  readonly condition: PgNode;
  /** Claim paths, in placeholder order (`tenant`, `org.id`). */
  readonly claims: readonly string[];
  /** Columns the condition reads (lower case): an UPDATE may not set them. */
  readonly columns: ReadonlySet<string>;
}

export class RowFilterConfigError extends Error {
  override name = 'RowFilterConfigError';
}

const PLACEHOLDER = /\{claims\.([^{}\s]+)\}/g;

/** The claim paths a row filter's condition names (`{claims.tenant}` gives `tenant`). */
export function claimPathsOf(where: string): string[] {
  return [...where.matchAll(PLACEHOLDER)].map((m) => m[1] as string);
}

/**
 * Compiles a policy's `rowFilters`. The condition is parsed by the real parser as the WHERE of a
 * SELECT, with each `{claims.NAME}` as a parameter: a claim's value later enters the tree as a
 * constant node, never as text. Throws RowFilterConfigError naming the entry at fault.
 */
export function compileRowFilters(
  policy: string,
  entries: readonly { table: string; where: string }[],
  parser: PostgresParser,
): RowFilterRule[] {
  return entries.map((entry, i) => {
    const at = `policies.${policy}.rowFilters[${i}]`;
    const parts = entry.table.split('.');
    if (parts.length > 2 || parts.some((p) => p === '')) {
      throw new RowFilterConfigError(`${at}.table: expected table or schema.table, got "${entry.table}"`);
    }
    if (/\$\d/.test(entry.where)) {
      throw new RowFilterConfigError(`${at}.where: parameters ($1) are not allowed; use {claims.NAME}`);
    }
    const claims: string[] = [];
    const text = entry.where.replace(PLACEHOLDER, (_m, path: string) => {
      claims.push(path);
      return `$${claims.length}`;
    });
    if (text.includes('{claims.')) {
      throw new RowFilterConfigError(`${at}.where: a {claims.NAME} placeholder is malformed`);
    }
    let condition: PgNode;
    try {
      condition = conditionOf(parser, text);
    } catch (err) {
      throw new RowFilterConfigError(`${at}.where: ${(err as Error).message}`);
    }
    const columns = new Set<string>();
    let params = 0;
    walkNodes(condition, (key, value) => {
      if (key === 'ColumnRef') {
        const fields = (value as { fields?: PgNode[] }).fields ?? [];
        const last = fields[fields.length - 1] as { String?: { sval?: string } } | undefined;
        if (last?.String?.sval !== undefined) columns.add(last.String.sval.toLowerCase());
      }
      if (key === 'ParamRef') params++;
    });
    if (params !== claims.length) {
      throw new RowFilterConfigError(`${at}.where: each {claims.NAME} must stand where a value goes`);
    }
    const [schema, name] = parts.length === 2 ? parts : [undefined, parts[0]];
    return {
      table: entry.table,
      schema: schema?.toLowerCase(),
      name: (name as string).toLowerCase(),
      where: entry.where,
      condition,
      claims,
      columns,
    };
  });
}

/** The WHERE of `SELECT 1 WHERE (text)`, refusing anything but a plain condition. */
function conditionOf(parser: PostgresParser, text: string): PgNode {
  const parsed = parser.parse(`SELECT 1 WHERE (${text})`);
  const select = parsed.stmts[0]?.stmt['SelectStmt'] as Record<string, unknown> | undefined;
  const allowed = new Set(['targetList', 'whereClause', 'limitOption', 'op']);
  if (
    parsed.stmts.length !== 1 ||
    select === undefined ||
    select['op'] !== 'SETOP_NONE' ||
    Object.keys(select).some((k) => !allowed.has(k)) ||
    select['whereClause'] === undefined
  ) {
    throw new Error('expected one condition, such as tenant_id = {claims.tenant}');
  }
  return stripLocations(select['whereClause']) as PgNode;
}
