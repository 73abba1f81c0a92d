import NodeSqlParser from 'node-sql-parser';
import { tokenizeMySql, type MySqlToken } from '../mysql/lexer.js';
import type { ClaimReader } from './condition.js';
import { RowFilterRefusal } from './condition.js';
import { checkNewRows, type NewRow } from './new-rows.js';
import type { RowFilterRule } from './template.js';

/**
 * Row filters on a MySQL statement, by text: each table reference to a filtered table (in FROM and
 * JOIN, at any depth: subqueries, CTEs, unions) is replaced, where the parser located it, by a
 * derived table of the same name that holds only the matching rows:
 *
 *   orders AS o   →   (SELECT * FROM `orders` WHERE (tenant_id = <claim>) LIMIT <all>) AS `o`
 *
 * The columns are the table's own, in order, under the same name, so the rest of the statement
 * (its qualifiers, `*`, masking's lineage of the caller's text) reads the same. Claims enter as
 * string literals that no sql_mode reads differently (hex, read as utf8mb4).
 *
 * Statements: SELECT; INSERT and REPLACE into a table without a filter (what they read is
 * filtered as above); INSERT ... VALUES into a filtered table whose rows provably match it
 * (new-rows.ts), as written; single-table UPDATE and DELETE, whose target keeps its name and whose WHERE
 * becomes `(<filter>) AND CASE WHEN (<filter>) THEN (<their WHERE>) ELSE FALSE END`, so their
 * own condition runs only on rows the filter passed. An UPDATE may not set a column the filter
 * reads (it would move rows to another tenant).
 *
 * Fail closed: every mention of a filtered table's name (or of a view over one) anywhere in the
 * text, strings and backticks included, must be a reference this rewrite replaced or kept as a
 * filtered target, a reference to a same-named table of a database the rule does not cover, or a
 * qualifier (`orders.id`) of one; any other mention, and any statement of another kind, is
 * refused. The rewritten text must parse again as one statement of the same kind.
 */

const parser = new NodeSqlParser.Parser();
const LOCATED = { database: 'MySQL', parseOptions: { includeLocations: true } } as const;

interface Located {
  start: { offset: number };
  end: { offset: number };
}

interface TableReference {
  db: string | null;
  table: string;
  as: string | null;
  loc: Located;
}

/** Words of a string's content (see mysqlNamedFiltered). */
const WORD = /[\p{L}\p{N}_$]+/gu;

/**
 * The text to run in place of `sql`, or undefined when it names no filtered table. `names` holds
 * the filtered tables' names and those of views over them (lower case). Throws RowFilterRefusal.
 */
export function rewriteMysqlStatement(
  sql: string,
  rules: readonly RowFilterRule[],
  names: ReadonlySet<string>,
  readClaim: ClaimReader,
  isKnown: (db: string | null, table: string) => boolean,
): string | undefined {
  const tokens = tokenizeMySql(sql);
  const mentions = tokens.filter((token) => mentionsName(sql, token, names));
  if (mentions.length === 0) return undefined;
  const first = described(sql, mentions[0] as MySqlToken, rules);
  let ast: unknown;
  try {
    ast = parser.astify(sql, LOCATED);
  } catch {
    throw new RowFilterRefusal(
      `${first}, and this statement could not be read to apply the filter; write it as a plain SELECT`,
    );
  }
  const statements = Array.isArray(ast) ? ast : [ast];
  const only = statements.length === 1 ? (statements[0] as StatementNode | null) : undefined;
  const kind = only?.type;
  if (only == null || typeof kind !== 'string' || !KINDS.has(kind)) {
    throw new RowFilterRefusal(
      `${first}, which Sluice applies on MySQL targets to SELECT, INSERT ... SELECT, UPDATE and DELETE only: a statement of another kind that names it is refused`,
    );
  }

  const edits: Edit[] = [];
  const covered: { start: number; end: number }[] = [];
  const target = kind === 'update' || kind === 'delete' ? writeTarget(sql, only, rules, first) : undefined;
  if (target !== undefined) {
    covered.push(target.span);
    edits.push(...whereEdits(sql, tokens, only, target.rule, readClaim));
  }
  if (kind === 'insert') {
    const into = insertTarget(sql, tokens, only, rules, readClaim);
    if (into !== undefined) covered.push(into);
  }
  const references = tableReferences(only).filter(
    (ref) => target === undefined || ref.loc.start.offset !== target.span.start,
  );
  if (references.some((ref) => !isKnown(ref.db, ref.table) && !isCte(only, ref))) throw new UnknownRelation();
  for (const ref of references) {
    const start = ref.loc.start.offset;
    const end = trimmedEnd(sql, start, ref.loc.end.offset);
    const rule = ruleFor(rules, ref);
    if (rule !== undefined) {
      edits.push({ start, end, text: filteredTable(ref, rule, readClaim) });
      covered.push({ start, end });
    } else if (ref.db !== null && rules.some((r) => r.name === ref.table.toLowerCase())) {
      // `other.orders` of a database no rule with that name covers.
      covered.push({ start, end });
    }
  }
  for (const [i, token] of tokens.entries()) {
    if (!mentionsName(sql, token, names)) continue;
    const inside = covered.some((c) => token.start >= c.start && token.end <= c.end);
    const qualifier =
      token.kind !== 'quoted' || sql[token.start] === '`'
        ? tokens[i + 1]?.text === '.' && tokens[i - 1]?.text !== '.'
        : false;
    if (inside || (qualifier && rules.some((r) => r.name === nameOf(sql, token)))) continue;
    throw new RowFilterRefusal(
      `${described(sql, token, rules)}, and it is named at character ${token.start + 1} where Sluice cannot apply the filter; name the table only in FROM or JOIN of a SELECT`,
    );
  }
  if (edits.length === 0) return undefined;
  let text = sql;
  for (const edit of edits.sort((a, b) => b.start - a.start)) {
    text = text.slice(0, edit.start) + edit.text + text.slice(edit.end);
  }
  try {
    const again = parser.astify(text, LOCATED);
    const reread = Array.isArray(again) ? again : [again];
    if (reread.length !== 1 || (reread[0] as StatementNode | null)?.type !== kind) throw new Error(kind);
  } catch {
    throw new RowFilterRefusal(
      'the statement could not be rewritten for the row filters (its rewritten form does not parse); simplify it',
    );
  }
  return text;
}

/** The statements the rewrite knows (node-sql-parser's `type`). */
const KINDS = new Set(['select', 'insert', 'replace', 'update', 'delete']);

interface StatementNode {
  type?: unknown;
  table?: unknown;
  from?: unknown;
  set?: unknown;
  where?: unknown;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

/**
 * The filtered table an UPDATE or DELETE writes, when it writes one: its rule and where its name
 * stands. A statement writing several tables (a join, `DELETE a, b FROM ...`) that include a
 * filtered one, or setting a column its filter reads, is refused.
 */
function writeTarget(
  sql: string,
  statement: StatementNode,
  rules: readonly RowFilterRule[],
  first: string,
): { rule: RowFilterRule; span: { start: number; end: number } } | undefined {
  const named = (statement.type === 'update' ? statement.table : statement.from) as TableReference[] | null;
  const written = Array.isArray(named) ? named : [];
  const filtered = written.filter(
    (ref) => typeof ref.table === 'string' && ruleFor(rules, ref) !== undefined,
  );
  if (filtered.length === 0) return undefined;
  const single =
    statement.type === 'update'
      ? written.length === 1
      : written.length === 1 &&
        Array.isArray(statement.table) &&
        statement.table.length === 1 &&
        (statement.table[0] as { addition?: unknown }).addition === true;
  const ref = filtered[0] as TableReference;
  if (!single || !isLocated(ref.loc)) {
    throw new RowFilterRefusal(
      `${first}: an UPDATE or DELETE of it must name that one table only (no join, no second table)`,
    );
  }
  const rule = ruleFor(rules, ref) as RowFilterRule;
  for (const assignment of Array.isArray(statement.set) ? (statement.set as { column?: unknown }[]) : []) {
    const column = typeof assignment.column === 'string' ? assignment.column.toLowerCase() : undefined;
    if (column === undefined || rule.columns.has(column)) {
      throw new RowFilterRefusal(
        `${rule.table} has a row filter that reads ${column ?? 'a column'}: an UPDATE may not set it`,
      );
    }
  }
  const start = ref.loc.start.offset;
  return { rule, span: { start, end: trimmedEnd(sql, start, ref.loc.end.offset) } };
}

/** Words after an INSERT's target and column list: its rows begin. */
const INSERT_ROWS = new Set(['VALUES', 'VALUE', 'SET', 'SELECT', 'WITH', 'TABLE']);

/**
 * An INSERT into a filtered table runs as written when its new rows provably match the filter
 * (new-rows.ts): a VALUES list or SET of plain constants, no ON DUPLICATE KEY UPDATE (it would
 * update a row that may be another's). The span of the target and its column list, whose names
 * the rewrite then takes as accounted for; undefined when the target has no filter.
 */
function insertTarget(
  sql: string,
  tokens: readonly MySqlToken[],
  statement: StatementNode & { columns?: unknown; values?: unknown; on_duplicate_update?: unknown },
  rules: readonly RowFilterRule[],
  readClaim: ClaimReader,
): { start: number; end: number } | undefined {
  const named = Array.isArray(statement.table) ? (statement.table as TableReference[]) : [];
  const rule = named.length === 1 ? ruleFor(rules, named[0] as TableReference) : undefined;
  if (rule === undefined) return undefined;
  if (statement.on_duplicate_update != null) {
    throw new RowFilterRefusal(
      `INSERT into ${rule.table} ... ON DUPLICATE KEY UPDATE is refused: the row it updates may be another's`,
    );
  }
  let columns: string[] | undefined;
  let rows: NewRow[];
  const values = statement.values as { type?: unknown; values?: { value?: unknown[] }[] } | null | undefined;
  if (Array.isArray(statement.set)) {
    const set = statement.set as { column?: unknown; value?: unknown }[];
    columns = set.map((a) => (typeof a.column === 'string' ? a.column : ''));
    rows = [set.map((a) => mysqlConstant(a.value))];
  } else if (values?.type === 'values' && Array.isArray(values.values)) {
    columns = Array.isArray(statement.columns)
      ? statement.columns.map((c) => (typeof c === 'string' ? c : ''))
      : undefined;
    rows = values.values.map((row) => (Array.isArray(row.value) ? row.value.map(mysqlConstant) : []));
  } else {
    throw new RowFilterRefusal(
      `INSERT into ${rule.table} is refused unless its rows are a VALUES list or SET of constants (INSERT ... SELECT cannot be checked against the row filter)`,
    );
  }
  checkNewRows(rule, readClaim, columns, rows, true);
  let depth = 0;
  for (const token of tokens.slice(1)) {
    if (token.kind === 'punct' && token.text === '(') depth++;
    else if (token.kind === 'punct' && token.text === ')') depth--;
    else if (depth === 0 && token.kind === 'word' && INSERT_ROWS.has(token.text)) {
      return { start: 0, end: token.start };
    }
  }
  throw new RowFilterRefusal(`${rule.table} has a row filter, and this INSERT's rows could not be located`);
}

/** A plain constant's text (`5`, `acme`); undefined for anything else, or a string with escapes. */
function mysqlConstant(value: unknown): string | undefined {
  const node = value as { type?: unknown; value?: unknown } | null;
  if (node?.type === 'number' && typeof node.value === 'number' && Number.isFinite(node.value)) {
    return String(node.value);
  }
  const quoted = node?.type === 'single_quote_string' || node?.type === 'double_quote_string';
  if (quoted && typeof node.value === 'string' && !/['"\\]/.test(node.value)) return node.value;
  return undefined;
}

/** Clause words that end a single-table UPDATE's or DELETE's WHERE. */
const AFTER_WHERE = new Set(['ORDER', 'LIMIT', 'RETURNING']);

/**
 * The edits that put the filter in front of an UPDATE's or DELETE's own WHERE (found among the
 * statement's tokens outside parentheses), or give it a WHERE of the filter alone.
 */
function whereEdits(
  sql: string,
  tokens: readonly MySqlToken[],
  statement: StatementNode,
  rule: RowFilterRule,
  readClaim: ClaimReader,
): Edit[] {
  const filter = `(${conditionText(rule, readClaim)})`;
  // From SET on (UPDATE) or from the start (DELETE): the target itself holds no clause words.
  const from =
    statement.type === 'update' ? tokens.findIndex((t) => t.kind === 'word' && t.text === 'SET') : 0;
  let depth = 0;
  let where = -1;
  let after = -1;
  let last = -1;
  for (let i = Math.max(from, 0); i < tokens.length; i++) {
    const token = tokens[i] as MySqlToken;
    if (token.kind === 'punct' && token.text === ';' && depth === 0) break;
    last = i;
    if (token.kind === 'punct' && token.text === '(') depth++;
    else if (token.kind === 'punct' && token.text === ')') depth--;
    if (depth < 0) break;
    if (depth !== 0 || token.kind !== 'word') continue;
    if (token.text === 'WHERE' && where < 0 && after < 0) where = i;
    else if (AFTER_WHERE.has(token.text) && after < 0) after = i;
  }
  const unread = from < 0 || depth !== 0 || (statement.where != null) !== where >= 0;
  if (unread) {
    throw new RowFilterRefusal(
      `${rule.table} has a row filter, and this statement's WHERE could not be located to apply it; simplify it`,
    );
  }
  const endOfWhere = after >= 0 ? (tokens[after] as MySqlToken).start : (tokens[last] as MySqlToken).end;
  if (where < 0) return [{ start: endOfWhere, end: endOfWhere, text: ` WHERE ${filter} ` }];
  const whereToken = tokens[where] as MySqlToken;
  const conditionEnd = after >= 0 ? (tokens[after - 1] as MySqlToken).end : endOfWhere;
  return [
    { start: whereToken.end, end: whereToken.end, text: ` ${filter} AND CASE WHEN ${filter} THEN (` },
    { start: conditionEnd, end: conditionEnd, text: ') ELSE FALSE END' },
  ];
}

/** A relation the catalog does not hold: it may have been made since the catalog was read. */
export class UnknownRelation extends Error {}

/** Whether an unqualified reference names a CTE of the statement (any WITH in it). */
function isCte(statement: unknown, ref: TableReference): boolean {
  if (ref.db !== null) return false;
  const name = ref.table.toLowerCase();
  let found = false;
  const walk = (value: unknown): void => {
    if (found || value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) return value.forEach(walk);
    const object = value as Record<string, unknown>;
    if (Array.isArray(object['with'])) {
      for (const cte of object['with'] as { name?: { value?: unknown } | string }[]) {
        const cteName = typeof cte.name === 'string' ? cte.name : cte.name?.value;
        if (typeof cteName === 'string' && cteName.toLowerCase() === name) found = true;
      }
    }
    for (const [key, child] of Object.entries(object)) if (key !== 'loc') walk(child);
  };
  walk(statement);
  return found;
}

/** Table references of FROM lists (JOINs are entries of them), at every depth of the tree. */
function tableReferences(node: unknown): TableReference[] {
  const found: TableReference[] = [];
  const walk = (value: unknown, inFrom: boolean): void => {
    if (Array.isArray(value)) {
      for (const v of value) walk(v, inFrom);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const object = value as Record<string, unknown>;
    if (inFrom && typeof object['table'] === 'string' && isLocated(object['loc'])) {
      found.push({
        db: typeof object['db'] === 'string' ? object['db'] : null,
        table: object['table'],
        as: typeof object['as'] === 'string' ? object['as'] : null,
        loc: object['loc'],
      });
    }
    for (const [key, child] of Object.entries(object)) {
      if (key !== 'loc') walk(child, key === 'from');
    }
  };
  walk(node, false);
  return found;
}

function isLocated(value: unknown): value is Located {
  const loc = value as Located | undefined;
  return typeof loc?.start?.offset === 'number' && typeof loc.end?.offset === 'number';
}

function ruleFor(rules: readonly RowFilterRule[], ref: TableReference): RowFilterRule | undefined {
  const name = ref.table.toLowerCase();
  const db = ref.db?.toLowerCase();
  // An unqualified name is filtered whichever database is current (USE may have changed it).
  return rules.find(
    (r) => r.name === name && (r.schema === undefined || db === undefined || r.schema === db),
  );
}

/** The largest LIMIT MySQL takes: every row. */
const NO_LIMIT = '18446744073709551615';

function filteredTable(ref: TableReference, rule: RowFilterRule, readClaim: ClaimReader): string {
  const table = ref.db === null ? quoted(ref.table) : `${quoted(ref.db)}.${quoted(ref.table)}`;
  // The LIMIT keeps the derived table from being merged into the statement or given its
  // conditions (MariaDB's pushdown): the caller's own conditions never run on other rows, so
  // a warning such as `Truncated incorrect DOUBLE value: '...'` cannot show another tenant's value.
  return `(SELECT * FROM ${table} WHERE (${conditionText(rule, readClaim)}) LIMIT ${NO_LIMIT}) AS ${quoted(ref.as ?? ref.table)}`;
}

/** The rule's condition with each claim as a literal (strings as hex, read as utf8mb4). */
function conditionText(rule: RowFilterRule, readClaim: ClaimReader): string {
  let next = 0;
  return rule.where.replace(/\{claims\.([^{}\s]+)\}/g, () => {
    const path = rule.claims[next++] as string;
    const value = readClaim(path);
    // A string, as on Postgres: compared with a number column it is read as a number, and a
    // number claim compared with a text column stays text (`'acme' = 0` would hold in MySQL).
    const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
    if (typeof text === 'string') {
      const hex = Buffer.from(text, 'utf8').toString('hex');
      return hex === '' ? "''" : `CONVERT(X'${hex}' USING utf8mb4)`;
    }
    throw new RowFilterRefusal(
      value === undefined
        ? `the row filter on ${rule.table} needs the claim ${path}, which the caller's token does not carry`
        : `the row filter on ${rule.table} needs the claim ${path} to be a string or a number on a MySQL target`,
    );
  });
}

function quoted(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

/** The parser's location may take in the whitespace after a reference; the edit does not. */
function trimmedEnd(sql: string, start: number, end: number): number {
  let e = end;
  while (e > start && /\s/.test(sql[e - 1] ?? '')) e--;
  return e;
}

/** A word or quoted identifier that is one of `names`, or a string with one of them in it. */
function mentionsName(sql: string, token: MySqlToken, names: ReadonlySet<string>): boolean {
  if (token.kind === 'word') return names.has(token.text.toLowerCase());
  if (token.kind !== 'quoted') return false;
  const quote = sql[token.start];
  if (quote === '`') return names.has(nameOf(sql, token));
  // A string may be an identifier (ANSI_QUOTES) or end elsewhere (NO_BACKSLASH_ESCAPES).
  return (token.text.toLowerCase().match(WORD) ?? []).some((w) => names.has(w));
}

/** What a mention names: `orders has a row filter`, `v_orders reads a table with a row filter`. */
function described(sql: string, token: MySqlToken, rules: readonly RowFilterRule[]): string {
  const name = nameOf(sql, token);
  if (token.kind === 'quoted' && sql[token.start] !== '`') {
    return `a string names a table with a row filter (${rules.map((r) => r.table).join(', ')})`;
  }
  return rules.some((r) => r.name === name)
    ? `${name} has a row filter`
    : `${name} is a view over a table with a row filter`;
}

function nameOf(sql: string, token: MySqlToken): string {
  if (token.kind === 'quoted' && sql[token.start] === '`') {
    return token.text.slice(1, -1).replaceAll('``', '`').toLowerCase();
  }
  return token.text.toLowerCase();
}
