import { NATURAL_JOIN_MARKER } from '../../guard/mysql/readable.js';
import type { Cte, Expr, FromItem, Query, Statement, Target } from './ir.js';

/**
 * Lowers node-sql-parser's MySQL AST (`astify(sql, { database: 'MySQL' })`) into the lineage IR.
 * As for Postgres: an unknown expression keeps every column reference beneath it, an unknown
 * FROM item or statement becomes `unresolved`.
 */

type Node = Record<string, unknown>;

const isObject = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** node-sql-parser spells names as strings or as `{ type, value }` (quoted identifiers). */
function ident(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isObject(v)) {
    if (typeof v.value === 'string') return v.value;
    if (isObject(v.expr)) return ident(v.expr);
  }
  return undefined;
}

const NO_DATA_STATEMENTS = new Set([
  'show',
  'desc',
  'set',
  'use',
  'transaction',
  'explain',
  'lock',
  'unlock',
]);

export function lowerMysql(parsed: unknown): Statement[] {
  const stmts = Array.isArray(parsed) ? parsed : [parsed];
  return stmts.map(lowerStatement);
}

function lowerStatement(stmt: unknown): Statement {
  if (!isObject(stmt) || typeof stmt.type !== 'string')
    return { kind: 'unresolved', reason: 'empty statement' };
  if (stmt.type === 'select') return { kind: 'query', query: lowerSelect(stmt), cursor: undefined };
  if (stmt.type === 'insert' || stmt.type === 'replace' || stmt.type === 'update' || stmt.type === 'delete') {
    // MariaDB's RETURNING is not in node-sql-parser's MySQL grammar; without it nothing is returned.
    return stmt.returning ? { kind: 'unresolved', reason: 'RETURNING is not modelled' } : { kind: 'no-data' };
  }
  if (NO_DATA_STATEMENTS.has(stmt.type)) return { kind: 'no-data' };
  return { kind: 'unresolved', reason: `statement ${stmt.type} is not modelled` };
}

function cteColumn(v: unknown): string | undefined {
  if (isObject(v) && v.type === 'column_ref') return ident(v.column);
  return ident(v);
}

function lowerWith(w: unknown): Cte[] {
  return list(w).map((c) => {
    const node = isObject(c) ? c : {};
    // `WITH c (a, b) AS (...)`: the names come as column references.
    const written = list(node.columns);
    const cols = written.map(cteColumn).filter((s): s is string => s !== undefined);
    const query: Query =
      cols.length !== written.length
        ? { kind: 'unresolved', reason: 'a CTE column list it cannot read' }
        : isObject(node.stmt)
          ? lowerQueryNode(node.stmt)
          : { kind: 'unresolved', reason: 'CTE body' };
    return {
      name: ident(node.name) ?? '',
      columnAliases: cols.length > 0 ? cols : undefined,
      query,
    };
  });
}

/** A subquery node: `{ ast: select }` or the select itself. */
function lowerQueryNode(n: Node): Query {
  const ast = isObject(n.ast) ? n.ast : n;
  if (ast.type === 'select') return lowerSelect(ast);
  return { kind: 'unresolved', reason: `subquery ${String(ast.type)} is not modelled` };
}

function lowerSelect(s: Node): Query {
  const ctes = lowerWith(s.with);
  const recursive =
    ctes.length > 0 && isObject(list(s.with)[0]) && (list(s.with)[0] as Node).recursive === true;
  if (!isObject(s._next)) {
    const single = lowerSingleSelect(s, true);
    return ctes.length > 0 ? withCtes(single, ctes, recursive) : single;
  }
  // UNION / INTERSECT / EXCEPT: a chain of selects linked by `_next`, each link's operator in
  // `set_op` of the select before it. The operation's own ORDER BY / LIMIT is `_orderby` /
  // `_limit` of the first select, or, when the last select is not in parentheses, that select's.
  const nodes: Node[] = [];
  for (let next: unknown = s; isObject(next); next = next._next) nodes.push(next);
  const last = nodes[nodes.length - 1] as Node;
  const trailing = last.parentheses_symbol !== true;
  const branches = nodes.map((n) => lowerSingleSelect(n, n !== last || !trailing));
  const filters = orderAndLimit(s._orderby, s._limit);
  if (trailing) {
    const own = orderAndLimit(last.orderby, last.limit);
    filters.input.push(...own.input);
    filters.keys.push(...own.keys);
  }
  // Only UNION ALL concatenates; UNION [DISTINCT], INTERSECT and EXCEPT compare rows.
  const compares = nodes.slice(0, -1).some((n) => String(n.set_op ?? 'union').toLowerCase() !== 'union all');
  return { kind: 'set', ctes, recursive, branches, filters, compares };
}

/** ORDER BY keys and LIMIT values. */
function orderAndLimit(orderby: unknown, limit: unknown): { input: Expr[]; keys: Expr[] } {
  const input: Expr[] = isObject(limit) ? list(limit.value).map(lowerExpr) : [];
  const keys = list(orderby).map((o) => keyExpr(isObject(o) ? o.expr : o));
  return { input, keys };
}

function withCtes(q: Query, ctes: Cte[], recursive: boolean): Query {
  return q.kind === 'select' ? { ...q, ctes, recursive } : q;
}

/** One SELECT; `ownOrder` false: its ORDER BY / LIMIT belong to the set operation it ends. */
function lowerSingleSelect(s: Node, ownOrder: boolean): Query {
  const from = list(s.from).map(lowerFromItem);
  const joined = nestJoins(from, list(s.from));
  const { input, keys } = ownOrder ? orderAndLimit(s.orderby, s.limit) : { input: [], keys: [] };
  for (const k of ['where', 'having'] as const) if (s[k]) input.push(lowerExpr(s[k]));
  // Windows sort and partition the rows (which come back in that order), a named one even when
  // only `OVER w` names it in the select list: their keys are filters.
  for (const w of list(isObject(s.window) ? s.window.expr : undefined)) input.push(lowerExpr(w));
  for (const w of inlineWindows(s.columns)) input.push(lowerExpr(w));
  const group = isObject(s.groupby) ? list(s.groupby.columns) : list(s.groupby);
  for (const g of group) keys.push(keyExpr(g));
  const distinctWord = isObject(s.distinct) ? s.distinct.type : s.distinct;
  const distinct = typeof distinctWord === 'string' && /distinct/i.test(distinctWord);
  return {
    kind: 'select',
    ctes: [],
    recursive: false,
    from: joined,
    targets: lowerTargets(s.columns),
    filters: { input, keys },
    ...(distinct ? { distinct } : {}),
  };
}

/**
 * The OVER (...) definitions of the window calls in a select list, outside subqueries (a
 * subquery's windows are its own query's filters).
 */
function inlineWindows(node: unknown, out: Node[] = []): Node[] {
  if (Array.isArray(node)) {
    for (const item of node) inlineWindows(item, out);
    return out;
  }
  if (!isObject(node) || node.type === 'select' || 'ast' in node) return out;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'over' && isObject(value)) out.push(value);
    else inlineWindows(value, out);
  }
  return out;
}

/** node-sql-parser lists joined tables flat, with `join` and `on` on the right-hand item. */
function nestJoins(items: FromItem[], raw: unknown[]): FromItem[] {
  const out: FromItem[] = [];
  items.forEach((item, i) => {
    const r = raw[i];
    const prev = out[out.length - 1];
    if (isObject(r) && typeof r.join === 'string' && prev) {
      out[out.length - 1] = {
        kind: 'join',
        // MySQL lists a USING / NATURAL join's columns from its first table: for RIGHT JOIN, the right.
        starOrder: /right/i.test(r.join) ? 'mysql-right' : 'mysql-left',
        left: prev,
        right: item,
        on: r.on ? lowerExpr(r.on) : undefined,
        using:
          /natural/i.test(r.join) || isNaturalMarker(r.using)
            ? 'natural'
            : Array.isArray(r.using)
              ? r.using.map(ident).filter((u): u is string => u !== undefined)
              : undefined,
        alias: undefined,
      };
    } else out.push(item);
  });
  return out;
}

/** `USING (<marker>)`: a NATURAL join the parser could not read as one (see readable.ts). */
function isNaturalMarker(using: unknown): boolean {
  return Array.isArray(using) && using.length === 1 && ident(using[0]) === NATURAL_JOIN_MARKER;
}

function keyExpr(n: unknown): Expr {
  if (isObject(n) && n.type === 'number' && typeof n.value === 'number')
    return { kind: 'ordinal', position: n.value };
  return lowerExpr(n);
}

function lowerTargets(columns: unknown): Target[] {
  if (columns === '*') return [{ kind: 'star', qualifier: [] }];
  return list(columns).map((c): Target => {
    const node = isObject(c) ? c : {};
    const expr = isObject(node.expr) ? node.expr : node;
    if (expr.type === 'column_ref' && ident(expr.column) === '*') {
      return { kind: 'star', qualifier: qualifier(expr) };
    }
    if (expr.type === 'star') return { kind: 'star', qualifier: [] };
    return { kind: 'expr', name: ident(node.as), expr: lowerExpr(expr) };
  });
}

function qualifier(ref: Node): string[] {
  const out: string[] = [];
  const db = ident(ref.db) ?? ident(ref.schema);
  if (db) out.push(db);
  const table = ident(ref.table);
  if (table) out.push(table);
  return out;
}

function lowerFromItem(n: unknown): FromItem {
  if (!isObject(n)) return { kind: 'unresolved', reason: 'unknown FROM item' };
  const alias = ident(n.as);
  if (isObject(n.expr) && isObject(n.expr.ast)) {
    return {
      kind: 'subquery',
      query: rowsFromOuter(lowerQueryNode(n.expr)),
      alias,
      columnAliases: undefined,
    };
  }
  if (n.type === 'dual')
    return { kind: 'subquery', query: { kind: 'values', rows: [] }, alias, columnAliases: undefined };
  const table = ident(n.table);
  if (table !== undefined && n.type === undefined) {
    return {
      kind: 'relation',
      schema: ident(n.db) ?? undefined,
      name: table,
      alias,
      columnAliases: undefined,
    };
  }
  return { kind: 'unresolved', reason: `FROM item ${String(n.type ?? 'of unknown kind')} is not modelled` };
}

/**
 * A derived table without FROM whose outputs name columns: what JSON_TABLE is read as (see
 * readable.ts: `JSON_TABLE(doc, ...) AS jt` is `(SELECT (doc) AS c1, ...) AS jt`), where those
 * columns are of the tables before it. How many rows it has depends on the document, so the
 * columns its outputs reference are filter inputs.
 */
function rowsFromOuter(q: Query): Query {
  if (q.kind !== 'select' || q.from.length > 0) return q;
  const refs = q.targets.flatMap((t) => (t.kind === 'expr' ? columnRefs(t.expr) : []));
  if (refs.length === 0) return q;
  return { ...q, filters: { input: [...q.filters.input, ...refs], keys: q.filters.keys } };
}

/** The column references of an expression, outside subqueries. */
function columnRefs(e: Expr): Expr[] {
  switch (e.kind) {
    case 'column':
    case 'star':
      return [e];
    case 'field':
      return columnRefs(e.base);
    case 'compute':
    case 'call':
      return e.args.flatMap(columnRefs);
    case 'nullness':
      return columnRefs(e.arg);
    default:
      return [];
  }
}

const CONSTANT_TYPES = new Set([
  'number',
  'bool',
  'boolean',
  'null',
  'string',
  'single_quote_string',
  'double_quote_string',
  'natural_string',
  'hex_string',
  'bit_string',
  'full_hex_string',
  'param',
  'origin',
  'datatype',
  'default',
]);

function lowerExpr(n: unknown): Expr {
  if (Array.isArray(n)) return { kind: 'compute', args: n.map(lowerExpr) };
  if (!isObject(n)) return { kind: 'const' };
  if (isObject(n.ast)) return { kind: 'subquery', query: lowerQueryNode(n), scalar: true };
  const type = typeof n.type === 'string' ? n.type : '';
  if (type === 'column_ref') {
    const column = ident(n.column);
    if (column === undefined) return { kind: 'unresolved', reason: 'column reference without a name' };
    if (column === '*') return { kind: 'star', qualifier: qualifier(n) };
    return { kind: 'column', path: [...qualifier(n), column] };
  }
  // A user variable may hold a value an earlier statement read (`SELECT @v := ssn ...`,
  // `SELECT ssn INTO @v`, `SET @v = (SELECT ...)`): where it comes from is not in this statement.
  if (type === 'var' && n.prefix === '@') {
    return { kind: 'unresolved', reason: `user variable @${String(n.name)} may hold any value read before` };
  }
  // COUNT(*) counts rows; it reads no column's value.
  if (type === 'star') return { kind: 'const' };
  if (CONSTANT_TYPES.has(type) && !isObject(n.expr)) return { kind: 'const' };
  if (type === 'function') {
    const parts = isObject(n.name) ? list(n.name.name).map(ident) : [ident(n.name)];
    const name = (parts[parts.length - 1] ?? '').toLowerCase();
    const schema = parts.length > 1 ? parts[parts.length - 2] : undefined;
    // The argument list one by one (so `LENGTH(ssn)` is a call of one argument), then the rest.
    const argList = isObject(n.args) && n.args.type === 'expr_list' ? list(n.args.value) : undefined;
    const args = argList
      ? [...argList.map(lowerExpr), ...childExprs(n, ['name', 'args'])]
      : childExprs(n, ['name']);
    return { kind: 'call', name, schema, args };
  }
  if (
    type === 'binary_expr' &&
    (n.operator === 'IS' || n.operator === 'IS NOT') &&
    isObject(n.right) &&
    n.right.type === 'null'
  ) {
    return { kind: 'nullness', arg: lowerExpr(n.left) };
  }
  if (type === 'expr_list' && list(n.value).some((v) => isObject(v) && isObject(v.ast))) {
    // IN (SELECT ...): the subquery decides which rows, like any filter.
    return { kind: 'compute', args: list(n.value).map(lowerExpr) };
  }
  // Operators, CASE, CAST, aggregates, windows, intervals, ...: every operand beneath.
  return { kind: 'compute', args: childExprs(n, []) };
}

function childExprs(n: Node, skip: string[]): Expr[] {
  const out: Expr[] = [];
  for (const [key, v] of Object.entries(n)) {
    if (skip.includes(key) || key === 'type' || key === 'target') continue;
    if (Array.isArray(v) || isObject(v)) out.push(lowerExpr(v));
  }
  return out;
}

/**
 * What the statements store (see lowerPostgresWrites): for each INSERT and REPLACE (rows, SET
 * and ON DUPLICATE KEY UPDATE values), UPDATE (its SET values, over every table it joins),
 * CREATE TABLE ... SELECT and LOAD DATA's SET, a query whose outputs are the values written.
 */
export function lowerMysqlWrites(parsed: unknown): Query[] {
  const stmts = Array.isArray(parsed) ? parsed : [parsed];
  return stmts.flatMap((stmt): Query[] => (isObject(stmt) ? writtenValues(stmt) : []));
}

function writtenValues(stmt: Node): Query[] {
  const select = (from: FromItem[], exprs: Expr[], where?: unknown): Query => ({
    kind: 'select',
    ctes: [],
    recursive: false,
    from,
    targets: exprs.map((expr) => ({ kind: 'expr', name: undefined, expr })),
    filters: { input: where ? [lowerExpr(where)] : [], keys: [] },
  });
  const setValues = (set: unknown): Expr[] =>
    list(set).map((s) => lowerExpr(isObject(s) ? s.value : undefined));
  const tables = (): FromItem[] => nestJoins(list(stmt.table).map(lowerFromItem), list(stmt.table));
  if (stmt.type === 'insert' || stmt.type === 'replace') {
    const out: Query[] = [];
    const values = isObject(stmt.values) ? stmt.values : undefined;
    // The row the statement proposes, for VALUES(col) in ON DUPLICATE KEY UPDATE.
    let proposed: Query = { kind: 'values', rows: [] };
    let named = false;
    // What ON DUPLICATE KEY UPDATE may read besides the target: the SELECT's FROM, with its CTEs.
    let source: SourceScope = { ctes: [], recursive: false, from: [] };
    if (values?.type === 'values') {
      const rows = list(values.values).map((row) => list(isObject(row) ? row.value : row).map(lowerExpr));
      out.push(select([], rows.flat()));
      proposed = { kind: 'values', rows };
    } else if (values !== undefined) {
      const query = lowerQueryNode(values);
      out.push(starOf(query));
      proposed = query;
      source = sourceScope(query);
    }
    const set = list(stmt.set);
    if (set.length > 0) {
      out.push(select(tables(), setValues(set)));
      proposed = {
        kind: 'select',
        ctes: [],
        recursive: false,
        from: tables(),
        targets: set.map((s) => ({
          kind: 'expr',
          name: isObject(s) ? ident(s.column) : undefined,
          expr: lowerExpr(isObject(s) ? s.value : undefined),
        })),
        filters: { input: [], keys: [] },
      };
      named = true;
    }
    const update = isObject(stmt.on_duplicate_update) ? list(stmt.on_duplicate_update.set) : [];
    if (update.length > 0) {
      // MySQL / MariaDB bind these over the target table and the SELECT's FROM items (by their
      // aliases); VALUES(col) is the column of the proposed row.
      const target = tables();
      const first = target[0];
      const columns = list(stmt.columns)
        .map(ident)
        .filter((c): c is string => c !== undefined);
      const row: FromItem = {
        kind: 'subquery',
        query: proposed,
        alias: PROPOSED_ROW,
        columnAliases: columns.length > 0 && !named ? columns : undefined,
        ...(columns.length === 0 && !named && first?.kind === 'relation'
          ? { columnsOf: { schema: first.schema, name: first.name } }
          : {}),
      };
      out.push({
        kind: 'select',
        ctes: source.ctes,
        recursive: source.recursive,
        from: [...target, ...source.from, row],
        targets: setValues(update.map(proposedRefs)).map((expr) => ({ kind: 'expr', name: undefined, expr })),
        // Its affected rows (1 inserted, 2 updated, 0 unchanged) compare the stored values of the
        // columns it assigns with the new ones.
        filters: {
          input: [],
          keys: assignedColumns(update, first?.kind === 'relation' ? (first.alias ?? first.name) : undefined),
        },
      });
    }
    return out;
  }
  if (stmt.type === 'update') {
    // MySQL reports the rows an UPDATE changed (`Changed: n`): whether the value it writes was
    // the one stored, so the columns it assigns are compared, as a filter compares.
    const update = select(tables(), setValues(stmt.set), stmt.where);
    return [
      update.kind === 'select'
        ? { ...update, filters: { ...update.filters, keys: assignedColumns(stmt.set) } }
        : update,
    ];
  }
  if (stmt.type === 'delete') {
    const from = list(stmt.from);
    return [select(nestJoins(from.map(lowerFromItem), from), [], stmt.where)];
  }
  // SET of a system variable keeps the value for `SELECT @@...` to read back. A user variable is
  // read back masked (it has no traceable origin), so what it is given needs no check here.
  if (stmt.type === 'set') {
    const assigned = list(stmt.expr).flatMap((a) =>
      isObject(a) && a.type === 'assign' && !(isObject(a.left) && a.left.prefix === '@')
        ? [lowerExpr(a.right)]
        : [],
    );
    return assigned.length > 0 ? [select([], assigned)] : [];
  }
  if (stmt.type === 'create' && isObject(stmt.query_expr)) return [starOf(lowerQueryNode(stmt.query_expr))];
  // SELECT ... INTO OUTFILE / DUMPFILE writes its rows to a file on the server, which LOAD DATA
  // INFILE (or LOAD_FILE) reads back in clear: what it selects is stored.
  if (stmt.type === 'select' && writesFile(stmt)) return [starOf(lowerSelect(stmt))];
  // LOAD DATA ... SET col = expr: the file's fields come from the client; what SET computes may
  // read anything (a subquery of a masked column).
  if (stmt.type === 'load_data') {
    const set = setValues(stmt.set);
    return set.length > 0 ? [select(tables(), set)] : [];
  }
  return [];
}

/** The alias under which ON DUPLICATE KEY UPDATE reads the proposed row (VALUES(col)). */
const PROPOSED_ROW = 'sluice_proposed';

interface SourceScope {
  ctes: Cte[];
  recursive: boolean;
  from: FromItem[];
}

/** The FROM items (and CTEs) of an INSERT's SELECT; of every branch of a set operation. */
function sourceScope(q: Query): SourceScope {
  if (q.kind === 'select') return { ctes: q.ctes, recursive: q.recursive, from: q.from };
  if (q.kind === 'set') {
    const branches = q.branches.map(sourceScope);
    return {
      ctes: [...q.ctes, ...branches.flatMap((b) => b.ctes)],
      recursive: q.recursive || branches.some((b) => b.recursive),
      from: branches.flatMap((b) => b.from),
    };
  }
  return { ctes: [], recursive: false, from: [] };
}

/** `VALUES(col)` (the value the INSERT proposed for col) as a column of the proposed row. */
function proposedRefs(n: unknown): unknown {
  if (Array.isArray(n)) return n.map(proposedRefs);
  if (!isObject(n)) return n;
  if (n.type === 'function') {
    const parts = isObject(n.name) ? list(n.name.name).map(ident) : [ident(n.name)];
    const args = isObject(n.args) && n.args.type === 'expr_list' ? list(n.args.value) : [];
    const arg = args[0];
    if (
      parts.length === 1 &&
      parts[0]?.toLowerCase() === 'values' &&
      args.length === 1 &&
      isObject(arg) &&
      arg.type === 'column_ref' &&
      ident(arg.column) !== undefined
    ) {
      return { type: 'column_ref', table: PROPOSED_ROW, column: ident(arg.column) };
    }
  }
  return Object.fromEntries(Object.entries(n).map(([k, v]) => [k, proposedRefs(v)]));
}

/** The columns a SET list assigns, as references (qualified by `table` when the item is not). */
function assignedColumns(set: unknown, table?: string): Expr[] {
  return list(set).flatMap((item): Expr[] => {
    if (!isObject(item)) return [];
    const column = ident(item.column);
    if (column === undefined) return [];
    const qualifier = typeof item.table === 'string' && item.table ? item.table : table;
    return [{ kind: 'column', path: qualifier === undefined ? [column] : [qualifier, column] }];
  });
}

/** Whether a SELECT (any branch of it) ends INTO OUTFILE or INTO DUMPFILE. */
function writesFile(select: Node): boolean {
  for (let branch: unknown = select; isObject(branch); branch = branch._next) {
    const keyword = isObject(branch.into) ? String(branch.into.keyword ?? '').toLowerCase() : '';
    if (keyword === 'outfile' || keyword === 'dumpfile') return true;
  }
  return false;
}

/** `SELECT * FROM (query)`: the query's outputs as a select of their own. */
function starOf(query: Query): Query {
  return {
    kind: 'select',
    ctes: [],
    recursive: false,
    from: [{ kind: 'subquery', query, alias: 'sluice_written', columnAliases: undefined }],
    targets: [{ kind: 'star', qualifier: [] }],
    filters: { input: [], keys: [] },
  };
}
