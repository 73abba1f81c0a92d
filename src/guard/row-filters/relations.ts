import type { CatalogRelation, CatalogSnapshot } from '../../masking/catalog.js';
import type { RowFilterRule } from './template.js';
import { walkNodes, type PgNode } from './tree.js';

/** What a relation named in a statement is to a policy's row filters. */
export type FilterClass =
  /** A filtered table (or one under it by inheritance or partitioning): read through its filter. */
  | { kind: 'filtered'; rule: RowFilterRule; relation: CatalogRelation | undefined }
  /** A view whose definition reads a filtered table: read through its definition. */
  | { kind: 'view'; relation: CatalogRelation }
  /** A table a filtered one inherits from: reading it reads the filtered rows too. */
  | { kind: 'includes'; filtered: string }
  /** Statistics that hold the values of every table's rows. */
  | { kind: 'statistics' }
  /** Other sessions' statement texts. */
  | { kind: 'other-sessions' };

/** Catalogs whose rows are samples of other tables' values (most common values, histograms). */
const STATISTICS = new Set([
  'pg_statistic',
  'pg_stats',
  'pg_stats_ext',
  'pg_stats_ext_exprs',
  'pg_statistic_ext_data',
]);

/**
 * Views and functions that show other sessions' statement texts. Every session reaches the target
 * as the same role, so they show other callers' statements, row-filtered texts with their claims
 * and the literals they typed among them.
 */
export const OTHER_SESSIONS = new Set([
  'pg_stat_activity',
  'pg_stat_get_activity',
  'pg_stat_statements',
  'pg_stat_progress_copy',
  'pg_stat_progress_create_index',
]);

/** Views over views over a filtered table are seen through this deep at most. */
export const MAX_VIEW_DEPTH = 16;

const qualified = (r: CatalogRelation) => `${r.schema}.${r.name}`.toLowerCase();

/**
 * A policy's row filters against one catalog snapshot: every relation that is, holds, or shows
 * filtered rows. Names compare case-insensitively, and a bare name that is filtered in any schema
 * counts as filtered (a session's search_path may differ from the gateway's): the safe direction.
 */
export class FilteredRelations {
  readonly #byName = new Map<string, FilterClass>();
  readonly #bareNames = new Map<string, FilterClass[]>();
  readonly #snapshot: CatalogSnapshot;

  constructor(
    snapshot: CatalogSnapshot,
    rules: readonly RowFilterRule[],
    parseView: (relation: CatalogRelation) => PgNode | undefined,
  ) {
    this.#snapshot = snapshot;
    const children = new Map<number, CatalogRelation[]>();
    for (const rel of snapshot.relations) {
      for (const parent of rel.parents ?? []) {
        const list = children.get(parent) ?? [];
        list.push(rel);
        children.set(parent, list);
      }
    }
    for (const rule of rules) {
      // Named whether or not the table exists yet: a table made later is filtered at once.
      const cls: FilterClass = { kind: 'filtered', rule, relation: undefined };
      if (rule.schema !== undefined) this.#set(`${rule.schema}.${rule.name}`, cls, rule.name);
      else this.#addBare(rule.name, cls);
      const bases = snapshot.relations.filter(
        (r) =>
          r.kind === 'table' &&
          r.name.toLowerCase() === rule.name &&
          (rule.schema === undefined || r.schema.toLowerCase() === rule.schema),
      );
      for (const base of bases) {
        this.#mark(base, { kind: 'filtered', rule, relation: base });
        // Partitions and inheriting tables hold the same rows' kind: the same filter.
        const stack = [...(children.get(base.oid ?? -1) ?? [])];
        const seen = new Set<number>();
        while (stack.length > 0) {
          const child = stack.pop() as CatalogRelation;
          if (child.oid === undefined || seen.has(child.oid)) continue;
          seen.add(child.oid);
          this.#mark(child, { kind: 'filtered', rule, relation: child });
          stack.push(...(children.get(child.oid) ?? []));
        }
        // Parents read their children's rows.
        const up = [...(base.parents ?? [])];
        while (up.length > 0) {
          const parent = snapshot.relationByOid(up.pop() as number);
          if (parent === undefined || this.#byName.has(qualified(parent))) continue;
          this.#mark(parent, { kind: 'includes', filtered: rule.table });
          up.push(...(parent.parents ?? []));
        }
      }
    }
    this.#markViews(parseView);
  }

  /** The class of a relation a statement names, or undefined when row filters do not touch it. */
  classify(schema: string | undefined, name: string): FilterClass | undefined {
    const n = name.toLowerCase();
    if (schema !== undefined) {
      const s = schema.toLowerCase();
      if (s === 'pg_catalog' && STATISTICS.has(n)) return { kind: 'statistics' };
      if (OTHER_SESSIONS.has(n)) return { kind: 'other-sessions' };
      return this.#byName.get(`${s}.${n}`) ?? this.#bareRule(n);
    }
    if (STATISTICS.has(n)) return { kind: 'statistics' };
    if (OTHER_SESSIONS.has(n)) return { kind: 'other-sessions' };
    const candidates = this.#bareNames.get(n);
    if (candidates === undefined) return undefined;
    const resolved = this.#snapshot.lookup(undefined, n);
    const own = resolved ? this.#byName.get(qualified(resolved)) : undefined;
    return own ?? candidates[0];
  }

  /** A rule naming a bare table filters that name in every schema. */
  #bareRule(name: string): FilterClass | undefined {
    return this.#bareNames.get(name)?.find((c) => c.kind === 'filtered' && c.rule.schema === undefined);
  }

  #mark(relation: CatalogRelation, cls: FilterClass): void {
    this.#set(qualified(relation), cls, relation.name.toLowerCase());
  }

  #set(key: string, cls: FilterClass, bare: string): void {
    const existing = this.#byName.get(key);
    // A table both filtered and holding another filtered table is filtered (and read as such).
    if (existing?.kind === 'filtered') return;
    this.#byName.set(key, cls);
    this.#addBare(bare, cls);
  }

  #addBare(name: string, cls: FilterClass): void {
    const list = this.#bareNames.get(name) ?? [];
    list.push(cls);
    this.#bareNames.set(name, list);
  }

  /**
   * Views whose definitions name a relation row filters touch, to a fixed point (views over
   * views). A definition that cannot be parsed counts as reading a filtered table.
   */
  #markViews(parseView: (relation: CatalogRelation) => PgNode | undefined): void {
    const views = this.#snapshot.relations.filter((r) => r.kind === 'view' && r.definition !== undefined);
    const names = new Map<CatalogRelation, { schema: string | undefined; name: string }[] | null>();
    for (const view of views) {
      const tree = parseView(view);
      if (tree === undefined) {
        names.set(view, null);
        continue;
      }
      const refs: { schema: string | undefined; name: string }[] = [];
      walkNodes(tree, (type, fields) => {
        if (type !== 'RangeVar') return;
        const rv = fields as { schemaname?: string; relname: string };
        refs.push({ schema: rv.schemaname, name: rv.relname });
      });
      names.set(view, refs);
    }
    for (let pass = 0; pass <= MAX_VIEW_DEPTH; pass++) {
      let changed = false;
      for (const view of views) {
        if (this.#byName.has(qualified(view))) continue;
        const refs = names.get(view);
        if (refs === null || refs?.some((r) => this.classify(r.schema, r.name) !== undefined)) {
          this.#mark(view, { kind: 'view', relation: view });
          changed = true;
        }
      }
      if (!changed) return;
    }
  }
}
