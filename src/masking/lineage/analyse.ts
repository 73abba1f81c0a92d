import { ancestorsOf, type CatalogRelation, type CatalogSnapshot } from '../catalog.js';
import type { Cte, Expr, Filters, FromItem, Query, Statement, Target } from './ir.js';
import {
  aspectTaint,
  CLEAN,
  type SourceColumn,
  type Taint,
  sameTaint,
  sourceKey,
  tableColumnTaint,
  unionTaints,
} from './taint.js';

/** One output column of a statement and what it is computed from. */
export interface OutputLineage {
  name: string | undefined;
  taint: Taint;
}

/** The lineage of one statement, before any policy is applied. */
export interface StatementLineage {
  kind: 'rows' | 'no-data' | 'fetch';
  /** DECLARE: the cursor being declared; FETCH: the cursor read from. */
  cursor: string | undefined;
  /** Per output; undefined when the outputs cannot be told. */
  outputs: OutputLineage[] | undefined;
  /** Why parts of the statement could not be analysed (empty when all was resolved). */
  unresolved: string[];
  /** The statement may read relations the analysis cannot see (unknown table or function, ...). */
  opaque: boolean;
  /** Relations it names that the catalog does not have (lower case, unqualified). */
  unknownRelations?: readonly string[];
  /**
   * It is opaque for a reason other than naming relations the catalog does not have (an
   * untraceable function, a statistics view, a cursor it did not declare, ...). Absent: as
   * `opaque`.
   */
  opaqueBeyondUnknown?: boolean;
  /** Tables read, directly or through views. */
  tablesRead: CatalogRelation[];
  /** Source columns that WHERE / JOIN / GROUP BY / ORDER BY / HAVING depend on. */
  filtered: SourceColumn[];
  /** Calls of `LineageEnvironment.sinkFunctions` and what their arguments are computed from. */
  sinks: { name: string; taint: Taint }[];
  /**
   * Source columns the statement's own text computes on with an operator, a cast or a function
   * that may fail for some values (`1/(ascii(ssn) - 49)`, `ssn::int`): whether it fails tells the
   * value. A view's definition is not counted (the caller does not choose it).
   */
  computed?: SourceColumn[];
}

/** What the analysis needs from the dialect: the catalog, and view definitions lowered to the IR. */
export interface LineageEnvironment {
  snapshot: CatalogSnapshot;
  viewQuery(view: CatalogRelation): Query;
  /**
   * Functions whose arguments go somewhere a later statement can read (set_config, pg_notify,
   * lo_from_bytea, ...): each call is reported with its arguments' taint in `sinks`.
   */
  sinkFunctions?: ReadonlySet<string>;
}

/**
 * Set-returning builtins whose rows are computed only from their arguments. How many rows they
 * return depends on those arguments (generate_series(1, ascii(ssn)), unnest(string_to_array(ssn,
 * NULL))), so wherever one is called, in FROM or in a select list, its arguments are filter inputs.
 */
const PURE_SET_FUNCTIONS = new Set([
  'unnest',
  'generate_series',
  'generate_subscripts',
  'json_array_elements',
  'json_array_elements_text',
  'jsonb_array_elements',
  'jsonb_array_elements_text',
  'json_each',
  'json_each_text',
  'jsonb_each',
  'jsonb_each_text',
  'json_object_keys',
  'jsonb_object_keys',
  'json_to_record',
  'json_to_recordset',
  'jsonb_to_record',
  'jsonb_to_recordset',
  'json_populate_record',
  'json_populate_recordset',
  'jsonb_populate_record',
  'jsonb_populate_recordset',
  'jsonb_path_query',
  'regexp_matches',
  'regexp_split_to_table',
  'string_to_table',
  'json_table',
  'jsonb_path_query_tz',
  'pg_options_to_table',
]);

/**
 * Builtins of one argument that tell only the length of a value (Postgres and MySQL spellings;
 * pg_column_size is the stored size, which follows the length).
 */
/**
 * Built-ins that return a value for every input, whatever it holds (no cast, no arithmetic, no
 * parsing): computing one of them on a masked column cannot fail because of its value.
 */
const TOTAL_FUNCTIONS = new Set([
  'count',
  'min',
  'max',
  'array_agg',
  'string_agg',
  'json_agg',
  'jsonb_agg',
  'to_json',
  'to_jsonb',
  'row_to_json',
  'upper',
  'lower',
  'md5',
  'concat',
  'concat_ws',
]);

const LENGTH_FUNCTIONS = new Set([
  'length',
  'char_length',
  'character_length',
  'octet_length',
  'bit_length',
  'pg_column_size',
]);

/**
 * Builtins that run SQL given as text, or read data outside the statement: lineage cannot see
 * what they read, so a call to one is treated like a reference to an unknown table.
 */
const OPAQUE_FUNCTIONS = new Set([
  'query_to_xml',
  'query_to_xml_and_xmlschema',
  'query_to_xmlschema',
  'table_to_xml',
  'table_to_xml_and_xmlschema',
  'cursor_to_xml',
  'schema_to_xml',
  'database_to_xml',
  'database_to_xml_and_xmlschema',
  'dblink',
  'dblink_exec',
  'dblink_get_result',
  'lo_get',
  'lo_export',
  'loread',
  'pg_read_file',
  'pg_read_binary_file',
  'load_file',
  // The functions behind pg_stat_activity and pg_stat_statements (other sessions' statement text).
  'pg_stat_get_activity',
  'pg_stat_statements',
]);

/**
 * System relations that hold values copied out of user tables (planner statistics keep the most
 * common values and histograms of every column; statement statistics and activity keep query
 * text with its literals). Reading one is treated like reading an unknown table.
 */
const VALUE_BEARING_SYSTEM_RELATIONS = new Set([
  'pg_statistic',
  'pg_stats',
  'pg_statistic_ext_data',
  'pg_stats_ext',
  'pg_stats_ext_exprs',
  'pg_stat_activity',
  'pg_stat_statements',
  'column_stats',
  'column_statistics',
]);

/** Views nested deeper than this are not followed (a cycle, or a schema nobody can audit). */
const MAX_VIEW_DEPTH = 16;
/** A recursive CTE's taint grows monotonically over finitely many sources; this bounds the walk. */
const MAX_RECURSION_ROUNDS = 12;

interface BoundColumn {
  name: string;
  taint: Taint;
}

interface BoundRelation {
  /** Alias, or the relation's own name. */
  name: string | undefined;
  /** Schema of a catalog relation referenced without alias (for schema.table.column). */
  schema: string | undefined;
  columns: BoundColumn[];
  /** Any column name resolves, to this taint (set-returning functions, unknown relations). */
  open: Taint | undefined;
  /** Left out of an unqualified `*`: a USING / NATURAL join lists its columns instead. */
  starHidden?: boolean;
  /** A relation the catalog does not have (already reported as such). */
  unknown?: boolean;
}

interface Scope {
  relations: BoundRelation[];
  ctes: Map<string, BoundColumn[]>;
  parent: Scope | undefined;
}

class Analysis {
  readonly unresolved: string[] = [];
  opaque = false;
  readonly unknownRelations = new Set<string>();
  opaqueBeyondUnknown = false;
  readonly tablesRead = new Map<string, CatalogRelation>();
  readonly filtered = new Map<string, SourceColumn>();
  readonly computed = new Map<string, SourceColumn>();
  readonly sinks: { name: string; taint: Taint }[] = [];
  readonly #env: LineageEnvironment;
  readonly #viewStack: string[] = [];
  readonly #viewCache = new Map<string, BoundColumn[] | undefined>();

  constructor(env: LineageEnvironment) {
    this.#env = env;
  }

  fail(reason: string, opaque: boolean): void {
    this.unresolved.push(reason);
    if (opaque) {
      this.opaque = true;
      this.opaqueBeyondUnknown = true;
    }
  }

  /** A relation the catalog does not have (a typo, or one made in this session, a temp view). */
  #unknownRelation(schema: string | undefined, name: string): void {
    this.unresolved.push(`relation ${schema ? `${schema}.` : ''}${name} is not in the catalog`);
    this.opaque = true;
    this.unknownRelations.add(name.toLowerCase());
  }

  query(q: Query, parent: Scope | undefined): BoundColumn[] | undefined {
    switch (q.kind) {
      case 'select':
        return this.#select(q, parent);
      case 'set':
        return this.#setOperation(q, parent);
      case 'values':
        return this.#values(q.rows, parent);
      case 'unresolved':
        this.fail(q.reason, true);
        return undefined;
    }
  }

  #select(q: Extract<Query, { kind: 'select' }>, parent: Scope | undefined): BoundColumn[] {
    const scope: Scope = { relations: [], ctes: new Map(), parent };
    this.#bindCtes(q.ctes, q.recursive, scope);
    for (const item of q.from) this.#bindFrom(item, scope, scope.relations);
    const outputs: BoundColumn[] = [];
    for (const target of q.targets) this.#target(target, scope, outputs);
    this.#filters(q.filters, scope, outputs);
    // SELECT DISTINCT compares rows on every output, as GROUP BY them all would.
    if (q.distinct) for (const o of outputs) this.#recordFilter(o.taint);
    return outputs;
  }

  #setOperation(q: Extract<Query, { kind: 'set' }>, parent: Scope | undefined): BoundColumn[] | undefined {
    const scope: Scope = { relations: [], ctes: new Map(), parent };
    this.#bindCtes(q.ctes, q.recursive, scope);
    const branches = q.branches.map((b) => this.query(b, scope));
    const first = branches[0];
    if (!first || branches.some((b) => b === undefined || b.length !== first.length)) {
      if (branches.every((b) => b !== undefined)) this.fail('set operation branches differ in width', false);
      return undefined;
    }
    // Output i is tainted by output i of every branch.
    const outputs = first.map((col, i) => ({
      name: col.name,
      taint: unionTaints(
        branches.map((b) => (b as BoundColumn[])[i]?.taint ?? CLEAN),
        false,
      ),
    }));
    // UNION, INTERSECT and EXCEPT compare rows on every output (which rows remain, how many).
    if (q.compares) for (const o of outputs) this.#recordFilter(o.taint);
    // ORDER BY / LIMIT of the operation: bound against its outputs, by position or by name.
    const own: BoundRelation = { name: undefined, schema: undefined, columns: outputs, open: undefined };
    this.#filters(q.filters, { relations: [own], ctes: new Map(), parent: scope }, outputs);
    return outputs;
  }

  #values(rows: Expr[][], parent: Scope | undefined): BoundColumn[] {
    const scope: Scope = { relations: [], ctes: new Map(), parent };
    const width = Math.max(0, ...rows.map((r) => r.length));
    const outputs: BoundColumn[] = [];
    for (let i = 0; i < width; i++) {
      const taints = rows.map((r) => (r[i] ? this.expr(r[i] as Expr, scope) : CLEAN));
      outputs.push({ name: `column${i + 1}`, taint: unionTaints(taints, false) });
    }
    return outputs;
  }

  #bindCtes(ctes: Cte[], recursive: boolean, scope: Scope): void {
    for (const cte of ctes) {
      const name = cte.name.toLowerCase();
      if (recursive && cte.query.kind === 'set') {
        // Seed with the non-recursive branch, then widen until the taint stops changing.
        const seed = this.query(cte.query.branches[0] ?? { kind: 'unresolved', reason: 'empty CTE' }, scope);
        if (!seed) {
          scope.ctes.set(name, []);
          continue;
        }
        let current = rename(seed, cte.columnAliases);
        let stable = false;
        for (let round = 0; round < MAX_RECURSION_ROUNDS && !stable; round++) {
          scope.ctes.set(name, current);
          const next = this.query(cte.query, scope);
          if (!next || next.length !== current.length) break;
          const widened = current.map((c, i) => ({
            name: c.name,
            taint: unionTaints([c.taint, (next[i] as BoundColumn).taint], false),
          }));
          stable = widened.every((c, i) => sameTaint(c.taint, (current[i] as BoundColumn).taint));
          current = widened;
        }
        if (!stable) this.fail(`recursive CTE ${cte.name} could not be analysed`, true);
        scope.ctes.set(name, current);
      } else {
        const cols = this.query(cte.query, scope);
        scope.ctes.set(name, cols ? rename(cols, cte.columnAliases) : []);
        if (!cols) this.fail(`CTE ${cte.name} could not be analysed`, true);
      }
    }
  }

  #bindFrom(item: FromItem, scope: Scope, into: BoundRelation[]): void {
    switch (item.kind) {
      case 'relation': {
        for (const e of item.sample ?? []) this.#filterExpr(e, scope);
        const cte = item.schema === undefined ? findCte(scope, item.name) : undefined;
        if (cte) {
          into.push(relation(item.alias ?? item.name, undefined, rename(cte, item.columnAliases)));
          return;
        }
        const rel = this.#env.snapshot.lookup(item.schema, item.name);
        if (rel && VALUE_BEARING_SYSTEM_RELATIONS.has(rel.name.toLowerCase())) {
          this.fail(`${rel.schema}.${rel.name} holds values copied from other tables`, true);
        }
        if (!rel) {
          this.#unknownRelation(item.schema, item.name);
          into.push({
            name: item.alias ?? item.name,
            schema: undefined,
            columns: [],
            open: CLEAN,
            unknown: true,
          });
          return;
        }
        const columns = this.#relationColumns(rel);
        into.push(
          relation(
            item.alias ?? rel.name,
            item.alias ? undefined : rel.schema,
            rename(columns, item.columnAliases),
          ),
        );
        return;
      }
      case 'subquery': {
        // Parent is the scope so far: CTEs are visible, and LATERAL sees the items bound before it.
        const cols = this.query(item.query, { ...scope, relations: [...into] });
        if (!cols) {
          into.push({ name: item.alias, schema: undefined, columns: [], open: CLEAN });
          return;
        }
        const names =
          item.columnAliases ??
          (item.columnsOf
            ? this.#env.snapshot.lookup(item.columnsOf.schema, item.columnsOf.name)?.columns
            : undefined);
        into.push(relation(item.alias, undefined, rename(cols, names ? [...names] : undefined)));
        return;
      }
      case 'join': {
        const joined: BoundRelation[] = [];
        this.#bindFrom(item.left, { ...scope, relations: into }, joined);
        const leftCount = joined.length;
        this.#bindFrom(item.right, { ...scope, relations: [...into, ...joined] }, joined);
        into.push(...joined);
        if (item.on) this.#filterExpr(item.on, scope);
        const merged = item.using ? mergeUsing(joined, leftCount, item.using, item.starOrder) : undefined;
        if (merged) {
          // `*` of a USING / NATURAL join: the shared columns once, then the rest of each side.
          for (const r of joined) r.starHidden = true;
          into.push({ name: item.alias, schema: undefined, columns: merged.columns, open: undefined });
          // The shared columns are the join condition.
          for (const c of merged.common) this.#recordFilter(c.taint);
        } else if (item.alias) {
          into.push(
            relation(
              item.alias,
              undefined,
              joined.flatMap((r) => r.columns),
            ),
          );
        }
        return;
      }
      case 'function': {
        const calls = [item, ...(item.more ?? [])];
        const args = calls.flatMap((c) => c.args.map((a) => this.expr(a, scope)));
        for (const c of calls) {
          if (!PURE_SET_FUNCTIONS.has(c.name) || this.#env.snapshot.isUserFunction(c.schema, c.name)) {
            this.fail(`function ${c.name} in FROM is not known to lineage`, true);
          }
        }
        const taint = unionTaints(args, true);
        // How many rows a function in FROM returns depends on its arguments: they decide rows.
        this.#recordFilter(taint);
        const names = item.columnAliases ?? [item.alias ?? item.name];
        into.push({
          name: item.alias ?? item.name,
          schema: undefined,
          columns: names.map((name) => ({ name, taint })),
          open: taint,
        });
        return;
      }
      case 'unresolved':
        this.fail(item.reason, true);
        for (const e of item.inputs ?? []) this.#filterExpr(e, scope);
        into.push({ name: undefined, schema: undefined, columns: [], open: CLEAN });
        return;
    }
  }

  #relationColumns(rel: CatalogRelation): BoundColumn[] {
    if (rel.kind === 'table') {
      this.tablesRead.set(`${rel.schema}.${rel.name}`.toLowerCase(), rel);
      // A child table or partition holds what its parents' rules name.
      const ancestors = ancestorsOf(this.#env.snapshot, rel);
      for (const a of ancestors) this.tablesRead.set(`${a.schema}.${a.name}`.toLowerCase(), a);
      return rel.columns.map((column) => ({ name: column, taint: tableColumnTaint(rel, column, ancestors) }));
    }
    return this.viewColumns(rel) ?? rel.columns.map((name) => ({ name, taint: CLEAN }));
  }

  /** A view's columns with their taint, from its definition analysed like any query. */
  viewColumns(view: CatalogRelation): BoundColumn[] | undefined {
    const key = `${view.schema}.${view.name}`.toLowerCase();
    if (this.#viewCache.has(key)) return this.#viewCache.get(key);
    if (this.#viewStack.includes(key) || this.#viewStack.length >= MAX_VIEW_DEPTH) {
      this.fail(`view ${view.schema}.${view.name} nests too deeply`, true);
      return undefined;
    }
    this.#viewStack.push(key);
    let result: BoundColumn[] | undefined;
    try {
      const cols = this.query(this.#env.viewQuery(view), undefined);
      if (!cols || cols.length !== view.columns.length) {
        if (cols) this.fail(`view ${view.schema}.${view.name}: definition does not match its columns`, true);
      } else {
        result = cols.map((c, i) => ({ name: view.columns[i] as string, taint: c.taint }));
      }
    } finally {
      this.#viewStack.pop();
    }
    if (!result) {
      this.opaque = true;
      this.opaqueBeyondUnknown = true;
    }
    this.#viewCache.set(key, result);
    return result;
  }

  #target(target: Target, scope: Scope, outputs: BoundColumn[]): void {
    if (target.kind === 'expr') {
      outputs.push({
        name: target.name ?? defaultName(target.expr) ?? '?column?',
        taint: this.expr(target.expr, scope),
      });
      return;
    }
    const rels = this.#starRelations(target.qualifier, scope);
    if (!rels) return;
    for (const rel of rels) {
      if (rel.open && rel.columns.length === 0) {
        if (rel.unknown === true) this.unresolved.push(`cannot expand ${rel.name ?? 'a relation'}.*`);
        else this.fail(`cannot expand ${rel.name ?? 'a relation'}.*`, true);
      }
      outputs.push(...rel.columns);
    }
  }

  #starRelations(qualifier: string[], scope: Scope): BoundRelation[] | undefined {
    if (qualifier.length === 0)
      return scope.relations.filter((r) => !r.starHidden && (r.name !== undefined || r.columns.length > 0));
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      const rel = s.relations.find((r) => matchesRelation(r, qualifier));
      if (rel) return [rel];
    }
    this.fail(`${qualifier.join('.')}.* does not name a relation in scope`, false);
    return undefined;
  }

  #filters(filters: Filters, scope: Scope, outputs: BoundColumn[]): void {
    for (const e of filters.input) this.#filterExpr(e, scope);
    for (const key of filters.keys) {
      let taint: Taint | undefined;
      if (key.kind === 'ordinal') taint = outputs[key.position - 1]?.taint;
      else if (key.kind === 'column' && key.path.length === 1) {
        const name = (key.path[0] as string).toLowerCase();
        const out = outputs.filter((o) => o.name?.toLowerCase() === name).map((o) => o.taint);
        const input = this.#resolve(key.path, scope, true);
        taint = out.length > 0 || input ? unionTaints([...out, ...(input ? [input] : [])], false) : undefined;
        if (!taint) this.fail(`ORDER/GROUP BY ${name} cannot be bound`, false);
      }
      this.#recordFilter(taint ?? this.expr(key, scope));
    }
  }

  #filterExpr(e: Expr, scope: Scope): void {
    this.#recordFilter(this.expr(e, scope));
  }

  #recordFilter(t: Taint): void {
    for (const [k, s] of t.sources) this.filtered.set(k, s);
  }

  /** Arguments of a computation of the caller's text (not of a view's definition). */
  #recordComputed(args: readonly Taint[]): void {
    if (this.#viewStack.length > 0) return;
    for (const t of args) for (const [k, s] of t.sources) this.computed.set(k, s);
  }

  expr(e: Expr, scope: Scope): Taint {
    switch (e.kind) {
      case 'const':
      case 'ordinal':
        return CLEAN;
      case 'column':
        return this.#resolve(e.path, scope, false) ?? CLEAN;
      case 'star': {
        const rels = this.#starRelations(e.qualifier, scope) ?? [];
        return unionTaints(
          rels.flatMap((r) => [...r.columns.map((c) => c.taint), ...(r.open ? [r.open] : [])]),
          true,
        );
      }
      case 'field': {
        if (e.base.kind === 'column' && e.base.path.length === 1) {
          const rel = findRelation(scope, e.base.path);
          const col = rel && !hasColumn(scope, e.base.path[0] as string);
          if (col) return this.#resolve([...e.base.path, e.field], scope, false) ?? CLEAN;
        }
        return unionTaints([this.expr(e.base, scope)], true);
      }
      case 'compute': {
        const args = e.args.map((a) => this.expr(a, scope));
        this.#recordComputed(args);
        return unionTaints(args, true);
      }
      case 'call': {
        const user = this.#env.snapshot.isUserFunction(e.schema, e.name);
        if (OPAQUE_FUNCTIONS.has(e.name) || user) {
          this.fail(`function ${e.name} may read data lineage cannot see`, true);
        }
        const builtin = !user && (e.schema === undefined || e.schema.toLowerCase() === 'pg_catalog');
        if (builtin && e.args.length === 1 && e.args[0] !== undefined) {
          if (LENGTH_FUNCTIONS.has(e.name)) return aspectTaint(this.expr(e.args[0], scope), 'length');
          // MySQL's ISNULL(x) (Postgres has no such function; its `x ISNULL` is a null test).
          if (e.name === 'isnull') return aspectTaint(this.expr(e.args[0], scope), 'nullness');
        }
        const args = e.args.map((a) => this.expr(a, scope));
        if (!builtin || !TOTAL_FUNCTIONS.has(e.name)) this.#recordComputed(args);
        const taint = unionTaints(args, true);
        if (this.#env.sinkFunctions?.has(e.name)) this.sinks.push({ name: e.name, taint });
        // A set-returning function in a select list: its arguments decide how many rows there are.
        if (builtin && PURE_SET_FUNCTIONS.has(e.name)) this.#recordFilter(taint);
        return taint;
      }
      case 'nullness':
        return aspectTaint(this.expr(e.arg, scope), 'nullness');
      case 'subquery': {
        const cols = this.query(e.query, scope);
        if (!cols) return CLEAN;
        const plain = e.scalar && cols.length === 1;
        return unionTaints(
          cols.map((c) => c.taint),
          !plain,
        );
      }
      case 'unresolved':
        this.fail(e.reason, true);
        return CLEAN;
    }
  }

  /** Binds a column reference, innermost scope first; `quiet` returns undefined instead of failing. */
  #resolve(path: string[], scope: Scope, quiet: boolean): Taint | undefined {
    const column = (path[path.length - 1] as string).toLowerCase();
    const qualifier = path.slice(0, -1);
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      if (qualifier.length === 0) {
        const hits: Taint[] = [];
        for (const rel of s.relations) {
          for (const c of rel.columns) if (c.name.toLowerCase() === column) hits.push(c.taint);
          if (rel.open && rel.columns.length === 0) hits.push(rel.open);
        }
        if (hits.length > 0) return unionTaints(hits, false);
        // A bare relation name is a whole-row reference (SELECT c FROM customers c).
        const whole = s.relations.find((r) => matchesRelation(r, [column]));
        if (whole) return wholeRow(whole);
      } else {
        const rel = s.relations.find((r) => matchesRelation(r, qualifier));
        if (rel) {
          const c = rel.columns.find((col) => col.name.toLowerCase() === column);
          if (c) return c.taint;
          if (rel.open) return rel.open;
          break;
        }
      }
    }
    // `col.field`: a field of a composite column.
    if (qualifier.length === 1) {
      const base = this.#resolve(qualifier, scope, true);
      if (base) return unionTaints([base], true);
    }
    if (!quiet) this.fail(`column ${path.join('.')} cannot be bound`, false);
    return undefined;
  }
}

/** Columns of the star-visible relations of one side of a join, in order. */
function visibleColumns(rels: BoundRelation[]): BoundColumn[] {
  return rels.filter((r) => !r.starHidden).flatMap((r) => r.columns);
}

/**
 * The columns `*` yields for a USING / NATURAL join: each shared column once (its taint is
 * both sides'), then the other columns of one side, then of the other, in the order the engine
 * uses (see the join's `starOrder`). Undefined when a side's columns are unknown (the plain
 * expansion is then used, and a width mismatch fails closed).
 */
function mergeUsing(
  joined: BoundRelation[],
  leftCount: number,
  using: string[] | 'natural',
  order: 'mysql-left' | 'mysql-right' | undefined,
): { columns: BoundColumn[]; common: BoundColumn[] } | undefined {
  const leftRels = joined.slice(0, leftCount);
  const rightRels = joined.slice(leftCount);
  if ([...leftRels, ...rightRels].some((r) => r.open)) return undefined;
  const left = visibleColumns(leftRels);
  const right = visibleColumns(rightRels);
  // MySQL's first table: the right one of a RIGHT JOIN. Postgres always starts from the left.
  const [first, second] = order === 'mysql-right' ? [right, left] : [left, right];
  const lower = (c: BoundColumn) => c.name.toLowerCase();
  const named = using === 'natural' ? undefined : using.map((u) => u.toLowerCase());
  const inBoth = (n: string) => second.some((c) => lower(c) === n);
  const shared = [
    ...new Set(
      named === undefined
        ? first.map(lower).filter(inBoth)
        : order === undefined
          ? named
          : // MySQL lists USING columns in the first table's order, not the list's.
            first.map(lower).filter((n) => named.includes(n)),
    ),
  ];
  if (named !== undefined && (shared.length !== new Set(named).size || !named.every(inBoth)))
    return undefined;
  const common: BoundColumn[] = [];
  for (const name of shared) {
    const f = first.find((c) => lower(c) === name);
    const s = second.find((c) => lower(c) === name);
    if (!f || !s) return undefined;
    common.push({ name: f.name, taint: unionTaints([f.taint, s.taint], false) });
  }
  const isShared = (c: BoundColumn) => shared.includes(lower(c));
  return {
    columns: [...common, ...first.filter((c) => !isShared(c)), ...second.filter((c) => !isShared(c))],
    common,
  };
}

function wholeRow(rel: BoundRelation): Taint {
  return unionTaints([...rel.columns.map((c) => c.taint), ...(rel.open ? [rel.open] : [])], true);
}

function relation(
  name: string | undefined,
  schema: string | undefined,
  columns: BoundColumn[],
): BoundRelation {
  return { name, schema, columns, open: undefined };
}

function matchesRelation(rel: BoundRelation, qualifier: string[]): boolean {
  if (rel.name === undefined) return false;
  const name = qualifier[qualifier.length - 1]?.toLowerCase();
  if (name !== rel.name.toLowerCase()) return false;
  if (qualifier.length === 1) return true;
  const schema = qualifier[qualifier.length - 2]?.toLowerCase();
  return rel.schema !== undefined && schema === rel.schema.toLowerCase();
}

function findRelation(scope: Scope, qualifier: string[]): BoundRelation | undefined {
  for (let s: Scope | undefined = scope; s; s = s.parent) {
    const rel = s.relations.find((r) => matchesRelation(r, qualifier));
    if (rel) return rel;
  }
  return undefined;
}

function hasColumn(scope: Scope, name: string): boolean {
  const n = name.toLowerCase();
  for (let s: Scope | undefined = scope; s; s = s.parent) {
    if (s.relations.some((r) => r.columns.some((c) => c.name.toLowerCase() === n))) return true;
  }
  return false;
}

function findCte(scope: Scope, name: string): BoundColumn[] | undefined {
  const n = name.toLowerCase();
  for (let s: Scope | undefined = scope; s; s = s.parent) {
    const cte = s.ctes.get(n);
    if (cte) return cte;
  }
  return undefined;
}

function rename(columns: BoundColumn[], aliases: string[] | undefined): BoundColumn[] {
  if (!aliases || aliases.length === 0) return columns;
  return columns.map((c, i) => ({ name: aliases[i] ?? c.name, taint: c.taint }));
}

/** The name an engine gives an unnamed output: the column name for a plain reference. */
function defaultName(e: Expr): string | undefined {
  if (e.kind === 'column') return e.path[e.path.length - 1];
  if (e.kind === 'call') return e.name;
  if (e.kind === 'field') return e.field;
  return undefined;
}

/** Analyses one lowered statement against a catalog snapshot. */
export function analyseStatement(statement: Statement, env: LineageEnvironment): StatementLineage {
  const analysis = new Analysis(env);
  let outputs: OutputLineage[] | undefined;
  let kind: StatementLineage['kind'] = 'rows';
  let cursor: string | undefined;
  switch (statement.kind) {
    case 'query': {
      cursor = statement.cursor;
      const cols = analysis.query(statement.query, undefined);
      outputs = cols?.map((c) => ({ name: c.name, taint: c.taint }));
      break;
    }
    case 'no-data':
      kind = 'no-data';
      break;
    case 'fetch':
      kind = 'fetch';
      cursor = statement.cursor;
      break;
    case 'unresolved':
      analysis.fail(statement.reason, true);
      break;
  }
  return {
    kind,
    cursor,
    outputs,
    unresolved: analysis.unresolved,
    opaque: analysis.opaque,
    unknownRelations: [...analysis.unknownRelations],
    opaqueBeyondUnknown: analysis.opaqueBeyondUnknown,
    tablesRead: [...analysis.tablesRead.values()],
    filtered: [...analysis.filtered.values()],
    computed: [...analysis.computed.values()],
    sinks: analysis.sinks,
  };
}

/** The lineage of a view's columns, by position (for a wire origin that names a view). */
export function analyseView(view: CatalogRelation, env: LineageEnvironment): StatementLineage {
  const analysis = new Analysis(env);
  const cols = analysis.viewColumns(view);
  return {
    kind: 'rows',
    cursor: undefined,
    outputs: cols?.map((c) => ({ name: c.name, taint: c.taint })),
    unresolved: analysis.unresolved,
    opaque: analysis.opaque,
    tablesRead: [...analysis.tablesRead.values()],
    filtered: [],
    sinks: analysis.sinks,
  };
}

export type { SourceColumn, Taint };
export { sourceKey };
