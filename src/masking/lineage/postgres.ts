import {
  noFilters,
  type Cte,
  type Expr,
  type Filters,
  type FromItem,
  type Query,
  type Statement,
  type Target,
} from './ir.js';

/**
 * Lowers libpg-query's parse tree (the JSON of PostgreSQL's own parser) into the lineage IR.
 * Unknown node types are not guessed at: an unknown expression keeps every column reference found
 * beneath it (conservative), an unknown FROM item or statement becomes `unresolved`.
 */

type Node = Record<string, unknown>;

const isObject = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A node is `{ TypeName: body }`; returns [TypeName, body]. */
function unwrap(n: unknown): [string, Node] | undefined {
  if (!isObject(n)) return undefined;
  const keys = Object.keys(n);
  if (keys.length !== 1) return undefined;
  const key = keys[0] as string;
  const body = n[key];
  return isObject(body) ? [key, body] : undefined;
}

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function str(n: unknown): string | undefined {
  const u = unwrap(n);
  if (u && u[0] === 'String') return typeof u[1].sval === 'string' ? u[1].sval : undefined;
  return undefined;
}

const strings = (v: unknown): string[] =>
  list(v)
    .map(str)
    .filter((s): s is string => s !== undefined);

const optString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Statements that return no rows from tables, or no rows at all. */
const NO_DATA_STATEMENTS = new Set([
  'VariableShowStmt',
  'VariableSetStmt',
  'TransactionStmt',
  'ExplainStmt',
  'ClosePortalStmt',
  'DeallocateStmt',
  'DiscardStmt',
  'ListenStmt',
  'UnlistenStmt',
  'NotifyStmt',
  'CheckPointStmt',
  'LockStmt',
  'PrepareStmt',
]);

export function lowerPostgres(parsed: unknown): Statement[] {
  if (!isObject(parsed) || !Array.isArray(parsed.stmts)) {
    return [{ kind: 'unresolved', reason: 'not a PostgreSQL parse tree' }];
  }
  return parsed.stmts.map((raw) => lowerStatement(isObject(raw) ? raw.stmt : undefined));
}

/**
 * The statements the text's EXPLAINs plan (each ExplainStmt's query), lowered: EXPLAIN ANALYZE
 * runs them and reports the rows each step kept and removed, plain EXPLAIN estimates them from
 * the column's statistics, so their filters tell what a filter on a masked column would.
 */
export function lowerExplained(parsed: unknown): Statement[] {
  if (!isObject(parsed) || !Array.isArray(parsed.stmts)) return [];
  return parsed.stmts.flatMap((raw) => {
    const u = unwrap(isObject(raw) ? raw.stmt : undefined);
    return u && u[0] === 'ExplainStmt' && isObject(u[1].query) ? [lowerStatement(u[1].query)] : [];
  });
}

function lowerStatement(stmt: unknown): Statement {
  const u = unwrap(stmt);
  if (!u) return { kind: 'unresolved', reason: 'empty statement' };
  const [type, body] = u;
  switch (type) {
    case 'SelectStmt':
      if (isObject(body.intoClause)) return { kind: 'no-data' };
      return { kind: 'query', query: lowerSelect(body), cursor: undefined };
    case 'DeclareCursorStmt':
      return { kind: 'query', query: lowerQueryNode(body.query), cursor: optString(body.portalname) };
    case 'FetchStmt':
      return body.ismove === true
        ? { kind: 'no-data' }
        : { kind: 'fetch', cursor: optString(body.portalname) ?? '' };
    case 'CopyStmt': {
      if (body.is_from === true) return { kind: 'no-data' };
      if (body.query) return { kind: 'query', query: lowerQueryNode(body.query), cursor: undefined };
      return { kind: 'query', query: copyTable(body), cursor: undefined };
    }
    case 'InsertStmt':
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'MergeStmt':
      return lowerReturning(type, body);
    default:
      if (NO_DATA_STATEMENTS.has(type)) return { kind: 'no-data' };
      return { kind: 'unresolved', reason: `statement ${type} is not modelled` };
  }
}

/** COPY t (cols) TO STDOUT: the table's columns, or the listed ones. */
function copyTable(body: Node): Query {
  const rel = lowerFromItem({ RangeVar: body.relation });
  const cols = strings(body.attlist);
  const targets: Target[] =
    cols.length > 0
      ? cols.map((c) => ({ kind: 'expr', name: c, expr: { kind: 'column', path: [c] } }))
      : [{ kind: 'star', qualifier: [] }];
  return {
    kind: 'select',
    ctes: [],
    recursive: false,
    from: [rel],
    targets,
    filters: { input: [], keys: [] },
  };
}

/** INSERT/UPDATE/DELETE ... RETURNING: outputs computed over the target table (and FROM/USING). */
function lowerReturning(type: string, body: Node): Statement {
  // PostgreSQL 18 wraps RETURNING in a clause (with OLD/NEW aliases); older trees have a list.
  const returning = isObject(body.returningClause)
    ? list(body.returningClause.exprs)
    : list(body.returningList);
  if (returning.length === 0) return { kind: 'no-data' };
  if (type === 'MergeStmt') return { kind: 'unresolved', reason: 'MERGE ... RETURNING is not modelled' };
  const from: FromItem[] = [lowerFromItem({ RangeVar: body.relation })];
  for (const f of [...list(body.fromClause), ...list(body.usingClause)]) from.push(lowerFromItem(f));
  const filters: Filters = { input: [], keys: [] };
  if (body.whereClause) filters.input.push(lowerExpr(body.whereClause));
  const with_ = lowerWith(body.withClause);
  const extra: Expr[] = [];
  // The values written can flow into RETURNING (UPDATE t SET x = ssn RETURNING x).
  for (const t of list(body.targetList)) {
    const rt = unwrap(t);
    if (rt && rt[0] === 'ResTarget' && rt[1].val) extra.push(lowerExpr(rt[1].val));
  }
  if (body.selectStmt)
    extra.push({ kind: 'subquery', query: lowerQueryNode(body.selectStmt), scalar: false });
  const targets = lowerTargets(returning).map((t): Target =>
    extra.length > 0 && t.kind === 'expr' ? { ...t, expr: { kind: 'compute', args: [t.expr, ...extra] } } : t,
  );
  return {
    kind: 'query',
    cursor: undefined,
    query: { kind: 'select', ctes: with_.ctes, recursive: with_.recursive, from, targets, filters },
  };
}

function lowerQueryNode(n: unknown): Query {
  const u = unwrap(n);
  if (u && u[0] === 'SelectStmt') return lowerSelect(u[1]);
  return { kind: 'unresolved', reason: `query ${u?.[0] ?? 'of unknown kind'} is not modelled` };
}

const WRITES = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

function lowerWith(w: unknown): { ctes: Cte[]; recursive: boolean } {
  if (!isObject(w)) return { ctes: [], recursive: false };
  const ctes: Cte[] = [];
  for (const c of list(w.ctes)) {
    const u = unwrap(c);
    if (!u || u[0] !== 'CommonTableExpr') continue;
    const colnames = strings(u[1].aliascolnames);
    const inner = unwrap(u[1].ctequery);
    const name = optString(u[1].ctename) ?? '';
    // A data-modifying CTE's rows are its RETURNING list, over the table it changes.
    const returned =
      inner && inner[0] !== 'SelectStmt' && WRITES.has(inner[0])
        ? lowerReturning(inner[0], inner[1])
        : undefined;
    ctes.push({
      name,
      columnAliases: colnames.length > 0 ? colnames : undefined,
      query:
        inner && inner[0] === 'SelectStmt'
          ? lowerSelect(inner[1])
          : returned?.kind === 'query'
            ? returned.query
            : { kind: 'unresolved', reason: `data-modifying CTE ${name}` },
    });
  }
  return { ctes, recursive: w.recursive === true };
}

/** A SelectStmt body (set operations carry bare bodies in larg / rarg). */
function lowerSelect(s: Node): Query {
  const { ctes, recursive } = lowerWith(s.withClause);
  const keys = sortKeys(s.sortClause);
  const limits = [s.limitCount, s.limitOffset].filter(Boolean).map(lowerExpr);
  if (typeof s.op === 'string' && s.op !== 'SETOP_NONE') {
    const branches = [s.larg, s.rarg].map((b) =>
      isObject(b) ? lowerSelect(b) : unresolvedQuery('set branch'),
    );
    // UNION ALL only concatenates; UNION, INTERSECT and EXCEPT (ALL or not) compare rows.
    const compares = s.op !== 'SETOP_UNION' || s.all !== true;
    return { kind: 'set', ctes, recursive, branches, filters: { input: limits, keys }, compares };
  }
  if (Array.isArray(s.valuesLists) && s.valuesLists.length > 0) {
    const rows = s.valuesLists.map((row) => {
      const u = unwrap(row);
      return u && u[0] === 'List' ? list(u[1].items).map(lowerExpr) : [lowerExpr(row)];
    });
    return { kind: 'values', rows };
  }
  const from = list(s.fromClause).map(lowerFromItem);
  const input: Expr[] = [...limits];
  for (const k of ['whereClause', 'havingClause'] as const) if (s[k]) input.push(lowerExpr(s[k]));
  for (const w of list(s.windowClause)) input.push(lowerExpr(w));
  // A window written in place (`row_number() OVER (ORDER BY ssn)`) sorts and partitions the rows
  // as a named one does, and the rows come back in that order: its keys are filters too.
  for (const w of inlineWindows(s.targetList)) input.push(lowerExpr({ WindowDef: w }));
  const windows = namedWindows;
  namedWindows = new Map(
    list(s.windowClause).flatMap((w) => {
      const def = unwrap(w);
      return def && def[0] === 'WindowDef' && typeof def[1].name === 'string' ? [[def[1].name, def[1]]] : [];
    }),
  );
  let targets: Target[];
  try {
    targets = lowerTargets(list(s.targetList));
  } finally {
    namedWindows = windows;
  }
  // DISTINCT ON (exprs) compares those; a plain DISTINCT (an empty node) compares every output.
  const distinctOn = list(s.distinctClause).filter((d) => unwrap(d));
  for (const d of distinctOn) input.push(lowerExpr(d));
  const distinct = list(s.distinctClause).length > 0 && distinctOn.length === 0;
  const groupKeys = list(s.groupClause).map(sortKeyExpr);
  return {
    kind: 'select',
    ctes,
    recursive,
    from,
    targets,
    filters: { input, keys: [...keys, ...groupKeys] },
    ...(distinct ? { distinct } : {}),
  };
}

/** The named windows (WINDOW w AS (...)) of the SELECT whose select list is being lowered. */
let namedWindows = new Map<string, Node>();

/**
 * What a window's value depends on: its PARTITION BY and ORDER BY, its frame's offsets (`ROWS
 * BETWEEN (SELECT ...) PRECEDING` decides how many rows an aggregate sums), and those of the named
 * window it refers to (`OVER w`, `OVER (w ROWS ...)`).
 */
function windowInputs(w: Node, depth = 0): unknown[] {
  const own = [
    ...list(w.partitionClause),
    ...list(w.orderClause),
    ...(w.startOffset ? [w.startOffset] : []),
    ...(w.endOffset ? [w.endOffset] : []),
  ];
  const ref = typeof w.refname === 'string' ? w.refname : typeof w.name === 'string' ? w.name : undefined;
  const base = ref === undefined ? undefined : namedWindows.get(ref);
  return base !== undefined && base !== w && depth < 8 ? [...own, ...windowInputs(base, depth + 1)] : own;
}

/**
 * The OVER (...) definitions of the window calls in a select list, outside subqueries (a subquery's
 * windows are its own query's filters).
 */
function inlineWindows(node: unknown, out: Node[] = []): Node[] {
  if (Array.isArray(node)) {
    for (const item of node) inlineWindows(item, out);
    return out;
  }
  if (!isObject(node)) return out;
  for (const key in node) {
    if (key === 'SubLink' || key === 'SelectStmt') continue;
    const value = node[key];
    if (key === 'FuncCall' && isObject(value) && isObject(value.over)) out.push(value.over);
    inlineWindows(value, out);
  }
  return out;
}

const unresolvedQuery = (what: string): Query => ({ kind: 'unresolved', reason: `${what} is not modelled` });

function sortKeys(v: unknown): Expr[] {
  return list(v).map((n) => {
    const u = unwrap(n);
    return sortKeyExpr(u && u[0] === 'SortBy' ? u[1].node : n);
  });
}

/** ORDER BY 2 / GROUP BY 2 mean output 2. */
function sortKeyExpr(n: unknown): Expr {
  const u = unwrap(n);
  if (u && u[0] === 'A_Const') {
    const ival = isObject(u[1].ival) ? u[1].ival.ival : undefined;
    if (typeof ival === 'number') return { kind: 'ordinal', position: ival };
  }
  return lowerExpr(n);
}

function lowerTargets(items: unknown[]): Target[] {
  const out: Target[] = [];
  for (const item of items) {
    const u = unwrap(item);
    if (!u || u[0] !== 'ResTarget') {
      out.push({
        kind: 'expr',
        name: undefined,
        expr: { kind: 'unresolved', reason: 'unknown select item' },
      });
      continue;
    }
    const val = unwrap(u[1].val);
    if (val && val[0] === 'ColumnRef') {
      const fields = list(val[1].fields);
      const last = unwrap(fields[fields.length - 1]);
      if (last && last[0] === 'A_Star') {
        out.push({ kind: 'star', qualifier: strings(fields.slice(0, -1)) });
        continue;
      }
    }
    out.push({ kind: 'expr', name: optString(u[1].name), expr: lowerExpr(u[1].val) });
  }
  return out;
}

function alias(n: unknown): { alias: string | undefined; columnAliases: string[] | undefined } {
  if (!isObject(n)) return { alias: undefined, columnAliases: undefined };
  const cols = strings(n.colnames);
  return { alias: optString(n.aliasname), columnAliases: cols.length > 0 ? cols : undefined };
}

function lowerFromItem(n: unknown): FromItem {
  const u = unwrap(n);
  if (!u) return { kind: 'unresolved', reason: 'unknown FROM item' };
  const [type, b] = u;
  switch (type) {
    case 'RangeVar': {
      const name = optString(b.relname);
      if (!name) return { kind: 'unresolved', reason: 'relation without a name' };
      return { kind: 'relation', schema: optString(b.schemaname), name, ...alias(b.alias) };
    }
    case 'RangeSubselect':
      return { kind: 'subquery', query: lowerQueryNode(b.subquery), ...alias(b.alias) };
    case 'JoinExpr': {
      const on: Expr[] = [];
      if (b.quals) on.push(lowerExpr(b.quals));
      return {
        kind: 'join',
        left: lowerFromItem(b.larg),
        right: lowerFromItem(b.rarg),
        on: on[0],
        using: b.isNatural === true ? 'natural' : b.usingClause ? strings(b.usingClause) : undefined,
        alias: alias(b.alias).alias,
      };
    }
    case 'RangeFunction': {
      const fns = list(b.functions).map((f) => {
        const l = unwrap(f);
        return l && l[0] === 'List' ? list(l[1].items)[0] : f;
      });
      // ROWS FROM (f(), g()) and WITH ORDINALITY are one relation, its rows zipped from each call.
      const calls = fns.map(lowerExpr);
      const [call, ...rest] = calls;
      if (!call || call.kind !== 'call' || rest.some((c) => c.kind !== 'call'))
        return { kind: 'unresolved', reason: 'function list in FROM' };
      const more = rest.flatMap((c) =>
        c.kind === 'call' ? [{ name: c.name, schema: c.schema, args: c.args }] : [],
      );
      return {
        kind: 'function',
        name: call.name,
        schema: call.schema,
        args: call.args,
        ...alias(b.alias),
        ...(more.length > 0 ? { more } : {}),
      };
    }
    case 'RangeTableSample': {
      // The sampled relation's columns, as read; the sample's arguments decide which rows.
      const inner = lowerFromItem(b.relation);
      const sample = [...list(b.args), ...(b.repeatable ? [b.repeatable] : [])].map(lowerExpr);
      if (inner.kind === 'relation') return { ...inner, sample };
      return { kind: 'unresolved', reason: 'TABLESAMPLE of a non-relation', inputs: sample };
    }
    case 'RangeTableFunc':
    case 'JsonTable':
      // XMLTABLE / JSON_TABLE: not modelled (their outputs are untraceable), but the document
      // and paths they read decide how many rows there are.
      return { kind: 'unresolved', reason: `FROM item ${type} is not modelled`, inputs: childExprs(b) };
    default:
      return { kind: 'unresolved', reason: `FROM item ${type} is not modelled` };
  }
}

function lowerExpr(n: unknown): Expr {
  const u = unwrap(n);
  if (!u) {
    if (Array.isArray(n)) return { kind: 'compute', args: n.map(lowerExpr) };
    // A struct that is not a wrapped node: look beneath it rather than assume it is constant.
    if (isObject(n)) return { kind: 'compute', args: childExprs(n) };
    return { kind: 'const' };
  }
  const [type, b] = u;
  switch (type) {
    case 'ColumnRef': {
      const fields = list(b.fields);
      const last = unwrap(fields[fields.length - 1]);
      if (last && last[0] === 'A_Star') return { kind: 'star', qualifier: strings(fields.slice(0, -1)) };
      return { kind: 'column', path: strings(fields) };
    }
    case 'A_Const':
    case 'ParamRef':
    case 'SQLValueFunction':
    case 'SetToDefault':
      return { kind: 'const' };
    case 'FuncCall': {
      const names = strings(b.funcname);
      const args = [
        ...list(b.args),
        ...list(b.agg_order),
        ...(b.agg_filter ? [b.agg_filter] : []),
        ...(isObject(b.over) ? windowInputs(b.over) : []),
      ];
      return {
        kind: 'call',
        name: (names[names.length - 1] ?? '').toLowerCase(),
        schema: names.length > 1 ? names[names.length - 2] : undefined,
        args: args.map(lowerExpr),
      };
    }
    case 'A_Indirection': {
      const base = lowerExpr(b.arg);
      const ind = list(b.indirection);
      const field = str(ind[0]);
      if (ind.length === 1 && field !== undefined) return { kind: 'field', base, field };
      const star = unwrap(ind[ind.length - 1]);
      if (star && star[0] === 'A_Star') return { kind: 'compute', args: [base] };
      return { kind: 'compute', args: [base, ...ind.map(lowerExpr)] };
    }
    case 'SubLink': {
      const query = lowerQueryNode(b.subselect);
      const sub: Expr = { kind: 'subquery', query, scalar: b.subLinkType === 'EXPR_SUBLINK' };
      return b.testexpr ? { kind: 'compute', args: [lowerExpr(b.testexpr), sub] } : sub;
    }
    case 'NullTest':
      return { kind: 'nullness', arg: lowerExpr(b.arg) };
    case 'SortBy':
      return lowerExpr(b.node);
    case 'WindowDef':
      return { kind: 'compute', args: windowInputs(b).map(lowerExpr) };
    case 'SelectStmt':
      return { kind: 'subquery', query: lowerSelect(b), scalar: false };
    default:
      // Operators, casts, CASE, COALESCE, row/array constructors, JSON/XML builders and anything
      // newer: the union of every operand found beneath.
      return { kind: 'compute', args: childExprs(b) };
  }
}

/** Every expression node beneath a node we do not model one by one. */
function childExprs(b: Node): Expr[] {
  const out: Expr[] = [];
  for (const [key, v] of Object.entries(b)) {
    if (key === 'typeName' || key === 'location') continue;
    if (Array.isArray(v)) for (const item of v) out.push(lowerExpr(item));
    else if (isObject(v)) out.push(lowerExpr(v));
  }
  return out;
}

/**
 * What the statements store: for each INSERT, UPDATE and MERGE at any depth (data-modifying CTEs
 * and PREPARE bodies too), SELECT INTO and CREATE TABLE AS, a query whose outputs are the values
 * written, with the CTEs in scope where it stands. Values that reach a table can be read back
 * later in clear, so masking refuses a write of values derived from masked columns.
 */
export function lowerPostgresWrites(parsed: unknown): Query[] {
  if (!isObject(parsed) || !Array.isArray(parsed.stmts)) return [unresolvedQuery('this parse tree')];
  const out: Query[] = [];
  for (const raw of parsed.stmts) collectWrites(isObject(raw) ? raw.stmt : undefined, [], false, out);
  return out;
}

function collectWrites(node: unknown, scope: Cte[], recursive: boolean, out: Query[]): void {
  if (Array.isArray(node)) {
    for (const item of node) collectWrites(item, scope, recursive, out);
    return;
  }
  if (!isObject(node)) return;
  let ctes = scope;
  let rec = recursive;
  if (isObject(node.withClause)) {
    const own = lowerWith(node.withClause);
    ctes = [...scope, ...own.ctes];
    rec ||= own.recursive;
  }
  for (const [key, value] of Object.entries(node)) {
    if (isObject(value)) {
      const own = isObject(value.withClause) ? lowerWith(value.withClause) : undefined;
      const written = writtenValues(key, value, own ? [...ctes, ...own.ctes] : ctes);
      for (const query of written) {
        out.push({
          kind: 'select',
          ctes: query.ctes,
          recursive: rec || own?.recursive === true,
          from: query.from,
          targets: query.targets,
          filters: query.where === undefined ? noFilters() : { input: [query.where], keys: [] },
        });
      }
      collectWrites(value, ctes, rec, out);
    } else if (Array.isArray(value)) {
      collectWrites(value, ctes, rec, out);
    }
  }
}

interface Written {
  ctes: Cte[];
  from: FromItem[];
  targets: Target[];
  /** The write's WHERE: not stored, but a function it calls may store its arguments. */
  where?: Expr;
}

/** The values one write node stores, as select lists over what it reads. */
function writtenValues(type: string, body: Node, ctes: Cte[]): Written[] {
  const exprTargets = (exprs: Expr[]): Target[] =>
    exprs.map((expr) => ({ kind: 'expr', name: undefined, expr }));
  const setValues = (targetList: unknown): Expr[] =>
    list(targetList).flatMap((t) => {
      const rt = unwrap(t);
      return rt && rt[0] === 'ResTarget' && rt[1].val !== undefined ? [lowerExpr(rt[1].val)] : [];
    });
  const target = (): FromItem => lowerFromItem({ RangeVar: body.relation });
  switch (type) {
    case 'InsertStmt': {
      if (!body.selectStmt) return [];
      const rows = lowerQueryNode(body.selectStmt);
      const source: FromItem = {
        kind: 'subquery',
        query: rows,
        alias: 'sluice_written',
        columnAliases: undefined,
      };
      const out: Written[] = [{ ctes, from: [source], targets: [{ kind: 'star', qualifier: [] }] }];
      const conflict = isObject(body.onConflictClause) ? setValues(body.onConflictClause.targetList) : [];
      if (conflict.length > 0) {
        // EXCLUDED is the row the INSERT proposed: its values are the source's.
        const cols = list(body.cols).flatMap((c) => {
          const rt = unwrap(c);
          return rt && rt[0] === 'ResTarget' && typeof rt[1].name === 'string' ? [rt[1].name] : [];
        });
        // Without a column list the proposed row is named after the target table's columns.
        const relation = target();
        const excluded: FromItem = {
          kind: 'subquery',
          query: rows,
          alias: 'excluded',
          columnAliases: cols.length > 0 ? cols : undefined,
          ...(relation.kind === 'relation'
            ? { columnsOf: { schema: relation.schema, name: relation.name } }
            : {}),
        };
        // DO UPDATE ... WHERE decides which conflicting rows change, like an UPDATE's WHERE.
        const where = isObject(body.onConflictClause) ? body.onConflictClause.whereClause : undefined;
        out.push({
          ctes,
          from: [relation, excluded],
          targets: exprTargets(conflict),
          ...(where ? { where: lowerExpr(where) } : {}),
        });
      }
      return out;
    }
    case 'UpdateStmt':
      return [
        {
          ctes,
          from: [target(), ...list(body.fromClause).map(lowerFromItem)],
          targets: exprTargets(setValues(body.targetList)),
          ...(body.whereClause ? { where: lowerExpr(body.whereClause) } : {}),
        },
      ];
    case 'DeleteStmt':
      return [
        {
          ctes,
          from: [target(), ...list(body.usingClause).map(lowerFromItem)],
          targets: [],
          ...(body.whereClause ? { where: lowerExpr(body.whereClause) } : {}),
        },
      ];
    case 'MergeStmt': {
      const values = list(body.mergeWhenClauses).flatMap((c) => {
        const clause = unwrap(c);
        if (!clause || clause[0] !== 'MergeWhenClause') return [];
        return [...setValues(clause[1].targetList), ...list(clause[1].values).map(lowerExpr)];
      });
      // Its join condition and each WHEN ... AND condition decide which rows it changes, and the
      // count it reports: filters, as a WHERE is.
      const conditions = [
        body.joinCondition,
        ...list(body.mergeWhenClauses).map((c) => {
          const clause = unwrap(c);
          return clause && clause[0] === 'MergeWhenClause' ? clause[1].condition : undefined;
        }),
      ].filter((e) => isObject(e));
      const where: Expr | undefined =
        conditions.length === 0 ? undefined : { kind: 'compute', args: conditions.map(lowerExpr) };
      return [
        {
          ctes,
          from: [target(), lowerFromItem(body.sourceRelation)],
          targets: exprTargets(values),
          ...(where ? { where } : {}),
        },
      ];
    }
    case 'SelectStmt':
      if (!isObject(body.intoClause)) return [];
      return [selectAll(ctes, lowerSelect(body))];
    case 'CreateTableAsStmt':
      return [selectAll(ctes, lowerQueryNode(body.query))];
    default:
      return [];
  }
}

function selectAll(ctes: Cte[], query: Query): Written {
  return {
    ctes,
    from: [{ kind: 'subquery', query, alias: 'sluice_written', columnAliases: undefined }],
    targets: [{ kind: 'star', qualifier: [] }],
  };
}
