import type { CatalogRelation } from '../../masking/catalog.js';
import { type ClaimReader, conditionFor, RowFilterRefusal } from './condition.js';
import { type FilteredRelations, type FilterClass, MAX_VIEW_DEPTH, OTHER_SESSIONS } from './relations.js';
import { checkNewRows } from './new-rows.js';
import type { RowFilterRule } from './template.js';
import { type PgNode, stringOf, walkNodes } from './tree.js';

export interface RewriteContext {
  relations: FilteredRelations;
  readClaim: ClaimReader;
  /** A view's definition as a `{ SelectStmt }` node (a fresh copy each call). */
  viewQuery(relation: CatalogRelation): PgNode | undefined;
  isUserFunction(schema: string | undefined, name: string): boolean;
}

/** The alias a filtered table gets inside the subquery that filters it. */
const FILTERED_ALIAS = 'sluice_row_filter';
const VIEW_ALIAS = 'sluice_view';

/**
 * Statements that may read a filtered table and are rewritten so that they read it filtered.
 * Every other statement that names one (DDL, TRUNCATE, LOCK, VACUUM, ...) is refused, as are
 * DO and CALL (their bodies are not SQL the guard can rewrite).
 */
const REWRITTEN = new Set([
  'SelectStmt',
  'InsertStmt',
  'UpdateStmt',
  'DeleteStmt',
  'MergeStmt',
  'CopyStmt',
  'ExplainStmt',
  'DeclareCursorStmt',
  'PrepareStmt',
  'CreateTableAsStmt',
]);
const OPAQUE_BODIES = new Set(['DoStmt', 'CallStmt']);

/**
 * Rewrites one statement of a parse in place so that every read of a filtered table goes through
 * its filter; returns whether anything changed. Throws RowFilterRefusal for what cannot be.
 *
 * - A read (FROM, JOIN, subquery, CTE, `TABLE t`, USING) of a filtered table becomes
 *   `(SELECT * FROM t AS sluice_row_filter WHERE <filter> OFFSET 0) AS t`: the OFFSET keeps the
 *   planner from applying the caller's own conditions (which may raise errors naming values)
 *   to rows the filter has not passed.
 * - A view that reads one is replaced by its definition, rewritten the same way.
 * - UPDATE and DELETE of a filtered table get `<filter> AND CASE WHEN <filter> THEN <their
 *   WHERE> ELSE false END`: their condition is evaluated only on rows the filter passed.
 *   An UPDATE may not set a column the filter reads.
 * - INSERT ... VALUES into a filtered table runs when each row sets the filter's columns to the
 *   caller's claims (new-rows.ts); other INSERTs into it are refused, as are
 * - MERGE and COPY FROM into a filtered table, a read of a table it inherits from,
 *   statistics catalogs and user-defined functions (which may read anything) are refused.
 */
export function rewriteStatement(stmt: PgNode, context: RewriteContext): boolean {
  const [type] = Object.keys(stmt);
  if (type === undefined) return false;
  if (OPAQUE_BODIES.has(type)) {
    throw new RowFilterRefusal(
      `${type === 'DoStmt' ? 'DO blocks' : 'CALL'} cannot be checked against the policy's row filters`,
    );
  }
  if (type === 'ListenStmt') {
    // Payloads come from other sessions and triggers (pg_notify of another tenant's row).
    throw new RowFilterRefusal(
      "LISTEN delivers what other sessions and triggers notify, other tenants' rows too; it cannot be checked against the policy's row filters",
    );
  }
  if (!REWRITTEN.has(type)) {
    const named = namedFiltered(stmt, context.relations);
    if (named !== undefined) {
      throw new RowFilterRefusal(`${named} has a row filter: only reads, UPDATE and DELETE may name it`);
    }
    return false;
  }
  const rewriter = new Rewriter(context);
  rewriter.visit(stmt);
  return rewriter.changed;
}

/** A relation with row filters that a statement names anywhere (as a relation or a name). */
function namedFiltered(stmt: PgNode, relations: FilteredRelations): string | undefined {
  let found: string | undefined;
  walkNodes(stmt, (type, fields) => {
    if (found !== undefined) return;
    if (type === 'RangeVar') {
      const rv = fields as { schemaname?: string; relname: string };
      if (relations.classify(rv.schemaname, rv.relname) !== undefined) found = rv.relname;
    } else if (type === 'String') {
      const name = (fields as { sval?: string }).sval ?? '';
      if (relations.classify(undefined, name) !== undefined) found = name;
    }
  });
  // Relations outside a RangeVar wrapper (an UPDATE's target inside a rule, IntoClause.rel, ...).
  if (found === undefined) {
    visitObjects(stmt, (obj) => {
      if (found === undefined && typeof obj['relname'] === 'string') {
        const schema = typeof obj['schemaname'] === 'string' ? obj['schemaname'] : undefined;
        if (relations.classify(schema, obj['relname']) !== undefined) found = obj['relname'];
      }
    });
  }
  return found;
}

function visitObjects(value: unknown, visit: (obj: Record<string, unknown>) => void): void {
  if (Array.isArray(value)) return value.forEach((v) => visitObjects(v, visit));
  if (value === null || typeof value !== 'object') return;
  visit(value as Record<string, unknown>);
  for (const v of Object.values(value)) visitObjects(v, visit);
}

interface RangeVarFields {
  schemaname?: string;
  relname: string;
  inh?: boolean;
  alias?: { aliasname: string; colnames?: PgNode[] };
  location?: number;
  [key: string]: unknown;
}

class Rewriter {
  readonly #context: RewriteContext;
  #depth = 0;
  changed = false;

  constructor(context: RewriteContext) {
    this.#context = context;
  }

  /** Rewrites `value` in place; returns what takes its place in its parent. */
  visit(value: unknown): unknown {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) value[i] = this.visit(value[i]);
      return value;
    }
    if (value === null || typeof value !== 'object') return value;
    const node = value as PgNode;
    const keys = Object.keys(node);
    if (keys.length === 1) {
      const fields = node[keys[0] as string] as PgNode;
      switch (keys[0]) {
        case 'RangeVar':
          return this.#read(fields as RangeVarFields, undefined);
        case 'RangeTableSample': {
          const sampled = (fields['relation'] as { RangeVar?: RangeVarFields } | undefined)?.RangeVar;
          if (sampled !== undefined) return this.#read(sampled, fields);
          break;
        }
        case 'UpdateStmt':
        case 'DeleteStmt':
          this.#visitExcept(fields, 'relation');
          this.#filterWrite(keys[0], fields);
          return node;
        case 'InsertStmt':
          this.#checkInsert(fields);
          this.#visitExcept(fields, 'relation');
          return node;
        case 'MergeStmt':
          this.#refuseTarget(fields, 'MERGE into');
          this.#visitExcept(fields, 'relation');
          return node;
        case 'CopyStmt':
          return this.#copy(node, fields);
        case 'LockingClause':
          // FOR UPDATE OF names the query's own aliases, not tables.
          return node;
        case 'FuncCall':
          this.#checkFunction(fields);
          break;
      }
    }
    for (const key of keys) node[key] = this.visit(node[key]);
    return node;
  }

  #visitExcept(fields: PgNode, skipped: string): void {
    for (const key of Object.keys(fields)) if (key !== skipped) fields[key] = this.visit(fields[key]);
  }

  #classify(rv: RangeVarFields): FilterClass | undefined {
    return this.#context.relations.classify(rv.schemaname, rv.relname);
  }

  /** A read of a relation (with its TABLESAMPLE clause, when it has one). */
  #read(rv: RangeVarFields, sample: PgNode | undefined): PgNode {
    const cls = this.#classify(rv);
    const keep = (): PgNode =>
      sample === undefined
        ? { RangeVar: rv }
        : { RangeTableSample: { ...sample, relation: { RangeVar: rv } } };
    if (cls === undefined) {
      if (sample !== undefined) sample['args'] = this.visit(sample['args']);
      return keep();
    }
    switch (cls.kind) {
      case 'statistics':
        throw new RowFilterRefusal(
          `${rv.relname} holds samples of every table's values, row-filtered ones too; it cannot be read under row filters`,
        );
      case 'other-sessions':
        throw new RowFilterRefusal(otherSessions(rv.relname));
      case 'includes':
        if (rv.inh !== true) return keep();
        throw new RowFilterRefusal(
          `${rv.relname} includes the rows of ${cls.filtered}, which has a row filter: read ${cls.filtered} itself, or ONLY ${rv.relname}`,
        );
      case 'view':
        if (sample !== undefined)
          throw new RowFilterRefusal(`TABLESAMPLE of ${rv.relname} cannot be row-filtered`);
        return this.#inlineView(rv, cls.relation);
      case 'filtered':
        return this.#filteredRead(rv, cls.rule, sample);
    }
  }

  #filteredRead(rv: RangeVarFields, rule: RowFilterRule, sample: PgNode | undefined): PgNode {
    this.changed = true;
    const { alias, location: _location, ...table } = rv;
    const inner: PgNode = { RangeVar: { ...table, alias: { aliasname: FILTERED_ALIAS } } };
    const from =
      sample === undefined
        ? inner
        : { RangeTableSample: { ...sample, relation: inner, args: this.visit(sample['args']) } };
    const subquery = fencedSelect(from, conditionFor(rule, this.#context.readClaim, FILTERED_ALIAS));
    return { RangeSubselect: { subquery, alias: alias ?? { aliasname: rv.relname } } };
  }

  #inlineView(rv: RangeVarFields, view: CatalogRelation): PgNode {
    if (this.#depth >= MAX_VIEW_DEPTH) {
      throw new RowFilterRefusal(`${rv.relname}: views nest too deep to be seen through`);
    }
    const definition = this.#context.viewQuery(view);
    if (definition === undefined) {
      throw new RowFilterRefusal(
        `${rv.relname} reads a row-filtered table, and its definition cannot be read`,
      );
    }
    this.#depth++;
    try {
      this.visit(definition);
    } finally {
      this.#depth--;
    }
    this.changed = true;
    const colnames = view.columns.map((c) => ({ String: { sval: c } }));
    const alias = rv.alias
      ? { ...rv.alias, colnames: rv.alias.colnames ?? colnames }
      : { aliasname: rv.relname, colnames };
    // The view's own conditions stay ahead of the caller's, as a security_barrier view keeps them.
    const subquery = fencedSelect(
      { RangeSubselect: { subquery: definition, alias: { aliasname: VIEW_ALIAS } } },
      undefined,
    );
    return { RangeSubselect: { subquery, alias } };
  }

  #filterWrite(type: 'UpdateStmt' | 'DeleteStmt', fields: PgNode): void {
    const rv = fields['relation'] as RangeVarFields;
    const cls = this.#classify(rv);
    if (cls === undefined) return;
    const verb = type === 'UpdateStmt' ? 'UPDATE' : 'DELETE';
    if (cls.kind === 'includes' && rv.inh !== true) return;
    if (cls.kind !== 'filtered') {
      throw new RowFilterRefusal(
        cls.kind === 'includes'
          ? `${verb} of ${rv.relname} reaches the rows of ${cls.filtered}, which has a row filter: use ONLY ${rv.relname}, or ${verb} ${cls.filtered} itself`
          : `${verb} of ${rv.relname} reaches a row-filtered table through it: ${verb} the table itself`,
      );
    }
    const rule = cls.rule;
    if (type === 'UpdateStmt') {
      for (const target of (fields['targetList'] as PgNode[] | undefined) ?? []) {
        const name = ((target['ResTarget'] as { name?: string } | undefined)?.name ?? '').toLowerCase();
        if (rule.columns.has(name)) {
          throw new RowFilterRefusal(
            `UPDATE may not set ${name} of ${rv.relname}: the row filter (${rule.where}) reads it`,
          );
        }
      }
    }
    const where = fields['whereClause'] as PgNode | undefined;
    if (where !== undefined && 'CurrentOfExpr' in where) {
      throw new RowFilterRefusal(`${verb} ... WHERE CURRENT OF cannot be row-filtered`);
    }
    const qualifier = rv.alias?.aliasname ?? rv.relname;
    const filter = () => conditionFor(rule, this.#context.readClaim, qualifier);
    this.changed = true;
    fields['whereClause'] =
      where === undefined
        ? filter()
        : and(filter(), {
            CaseExpr: {
              args: [{ CaseWhen: { expr: filter(), result: where } }],
              defresult: { A_Const: { boolval: {} } },
            },
          });
  }

  /** An INSERT into a filtered table runs as written when each new row provably matches it. */
  #checkInsert(fields: PgNode): void {
    const rv = fields['relation'] as RangeVarFields | undefined;
    const cls = rv === undefined ? undefined : this.#classify(rv);
    if (rv === undefined || cls === undefined) return;
    if (cls.kind !== 'filtered') return this.#refuseTarget(fields, 'INSERT into');
    const conflict = fields['onConflictClause'] as { action?: string } | undefined;
    if (conflict?.action === 'ONCONFLICT_UPDATE') {
      throw new RowFilterRefusal(
        `INSERT into ${rv.relname} ... ON CONFLICT DO UPDATE is refused: the row it updates may be another's`,
      );
    }
    const select = (fields['selectStmt'] as PgNode | undefined)?.['SelectStmt'] as PgNode | undefined;
    const lists = select?.['valuesLists'] as PgNode[] | undefined;
    if (select === undefined || lists === undefined || Object.keys(select).some((k) => !VALUES_ONLY.has(k))) {
      throw new RowFilterRefusal(
        `INSERT into ${rv.relname} is refused unless its rows are a VALUES list (INSERT ... SELECT and DEFAULT VALUES cannot be checked against the row filter)`,
      );
    }
    const targets = fields['cols'] as { ResTarget?: { name?: string; indirection?: unknown } }[] | undefined;
    const columns = targets?.map(
      (c) => (c.ResTarget?.indirection === undefined ? c.ResTarget?.name : undefined) ?? '',
    );
    const rows = lists.map((list) =>
      (((list['List'] as { items?: PgNode[] } | undefined)?.items ?? []) as PgNode[]).map(constantText),
    );
    checkNewRows(cls.rule, this.#context.readClaim, columns, rows, false);
  }

  #refuseTarget(fields: PgNode, verb: string): void {
    const rv = fields['relation'] as RangeVarFields | undefined;
    if (rv === undefined) return;
    const cls = this.#classify(rv);
    if (cls === undefined) return;
    throw new RowFilterRefusal(
      `${verb} ${rv.relname} is refused: it ${cls.kind === 'filtered' ? 'has a row filter' : 'reaches a row-filtered table'}, and new rows cannot be proven to match it`,
    );
  }

  /** COPY t TO becomes COPY (SELECT ... FROM the filtered t) TO; COPY FROM into t is refused. */
  #copy(node: PgNode, fields: PgNode): PgNode {
    if (fields['query'] !== undefined) {
      fields['query'] = this.visit(fields['query']);
      return node;
    }
    const rv = fields['relation'] as RangeVarFields | undefined;
    const cls = rv ? this.#classify(rv) : undefined;
    if (rv === undefined || cls === undefined) return node;
    if (fields['is_from'] === true) this.#refuseTarget(fields, 'COPY into');
    if (cls.kind !== 'filtered') {
      throw new RowFilterRefusal(
        `COPY of ${rv.relname} reaches a row-filtered table: COPY (SELECT ...) instead`,
      );
    }
    const columns = (fields['attlist'] as PgNode[] | undefined)?.map(stringOf) ?? [];
    const targetList =
      columns.length === 0
        ? [starTarget()]
        : columns.map((c) => ({ ResTarget: { val: { ColumnRef: { fields: [{ String: { sval: c } }] } } } }));
    delete fields['relation'];
    delete fields['attlist'];
    fields['query'] = {
      SelectStmt: {
        targetList,
        fromClause: [this.#filteredRead(rv, cls.rule, undefined)],
        limitOption: 'LIMIT_OPTION_DEFAULT',
        op: 'SETOP_NONE',
      },
    };
    return node;
  }

  #checkFunction(fields: PgNode): void {
    const names = ((fields['funcname'] as PgNode[] | undefined) ?? []).map(stringOf);
    const name = names[names.length - 1];
    const schema = names.length > 1 ? names[names.length - 2] : undefined;
    if (name !== undefined && this.#context.isUserFunction(schema, name)) {
      throw new RowFilterRefusal(
        `${names.join('.')} is a user-defined function: it may read row-filtered tables unfiltered`,
      );
    }
    if (name !== undefined && OTHER_SESSIONS.has(name.toLowerCase())) {
      throw new RowFilterRefusal(otherSessions(names.join('.')));
    }
  }
}

const otherSessions = (name: string): string =>
  `${name} shows other sessions' statements, other callers' row-filtered ones among them; it cannot be read under row filters`;

/** The keys of a SelectStmt that is a VALUES list and nothing else. */
const VALUES_ONLY = new Set(['valuesLists', 'limitOption', 'op']);

/** A constant's text as the parser holds it (`5`, `acme`), or undefined for NULL and anything else. */
function constantText(node: PgNode): string | undefined {
  const constant = node['A_Const'] as
    | { sval?: { sval?: string }; ival?: { ival?: number }; fval?: { fval?: string }; isnull?: boolean }
    | undefined;
  if (constant === undefined || constant.isnull === true) return undefined;
  if (constant.sval !== undefined) return constant.sval.sval ?? '';
  if (constant.ival !== undefined) return String(constant.ival.ival ?? 0);
  if (constant.fval !== undefined) return constant.fval.fval;
  return undefined;
}

function starTarget(): PgNode {
  return { ResTarget: { val: { ColumnRef: { fields: [{ A_Star: {} }] } } } };
}

/** `SELECT * FROM <from> [WHERE <where>] OFFSET 0`, as the parser makes it. */
function fencedSelect(from: PgNode, where: PgNode | undefined): PgNode {
  return {
    SelectStmt: {
      targetList: [starTarget()],
      fromClause: [from],
      ...(where === undefined ? {} : { whereClause: where }),
      limitOffset: { A_Const: { ival: {} } },
      limitOption: 'LIMIT_OPTION_COUNT',
      op: 'SETOP_NONE',
    },
  };
}

/** `a AND b` as the parser builds it: a left operand that is an AND already takes b in. */
function and(left: PgNode, right: PgNode): PgNode {
  const bool = left['BoolExpr'] as { boolop?: string; args?: PgNode[] } | undefined;
  if (bool?.boolop === 'AND_EXPR' && bool.args !== undefined) {
    return { BoolExpr: { ...bool, args: [...bool.args, right] } };
  }
  return { BoolExpr: { boolop: 'AND_EXPR', args: [left, right] } };
}
