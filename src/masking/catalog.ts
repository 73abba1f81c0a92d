import type { Dialect } from '../gateway/types.js';

/** A table or view of a target as the catalog knows it. Names are as the engine stores them. */
export interface CatalogRelation {
  schema: string;
  name: string;
  kind: 'table' | 'view';
  /** Column names in order (Postgres: live attributes by attnum; MySQL: ORDINAL_POSITION). */
  columns: readonly string[];
  /** Postgres: table OID. */
  oid?: number;
  /** Postgres: attnum of each entry of `columns` (attnums have gaps where columns were dropped). */
  attnums?: readonly number[];
  /** Views: the definition's SELECT text (pg_get_viewdef / information_schema.VIEWS). */
  definition?: string;
  /** Postgres: OIDs of the tables it inherits from or is a partition of (pg_inherits). */
  parents?: readonly number[];
}

/** What one load of the catalog holds; synchronous lookups so the analysis stays simple. */
export interface CatalogSnapshot {
  readonly dialect: Dialect;
  /** Every relation of the load. */
  readonly relations: readonly CatalogRelation[];
  /** A relation by schema and name; an absent schema searches the search path / current database. */
  lookup(schema: string | undefined, name: string): CatalogRelation | undefined;
  relationByOid(oid: number): CatalogRelation | undefined;
  /** Whether a function is user-defined (it may read any table, so lineage cannot see through it). */
  isUserFunction(schema: string | undefined, name: string): boolean;
}

/**
 * The relation a guard summary's object names (`orders`, `public.orders`; a function, `f()`, is
 * none), or undefined when the snapshot does not hold it.
 */
export function relationOfObject(snapshot: CatalogSnapshot, object: string): CatalogRelation | undefined {
  if (object.endsWith('()')) return undefined;
  const parts = object.split('.');
  return snapshot.lookup(
    parts.length > 1 ? parts[parts.length - 2] : undefined,
    parts[parts.length - 1] ?? '',
  );
}

/**
 * The tables a table inherits from or is a partition of, nearest first, transitively (Postgres;
 * none elsewhere). A child's inherited columns hold what the parent's rules name: masking reads
 * them as the parent's too.
 */
export function ancestorsOf(snapshot: CatalogSnapshot, rel: CatalogRelation): CatalogRelation[] {
  const out: CatalogRelation[] = [];
  const seen = new Set<number>();
  const queue = [...(rel.parents ?? [])];
  while (queue.length > 0) {
    const oid = queue.shift() as number;
    if (seen.has(oid)) continue;
    seen.add(oid);
    const parent = snapshot.relationByOid(oid);
    if (parent === undefined) continue;
    out.push(parent);
    queue.push(...(parent.parents ?? []));
  }
  return out;
}

/** Per target: loaded on first use, cached, reloaded after `invalidate()` (call it after DDL). */
export interface Catalog {
  snapshot(): Promise<CatalogSnapshot>;
  /** The snapshot `snapshot()` would give now, when it is loaded already; else undefined. */
  loaded(): CatalogSnapshot | undefined;
  invalidate(): void;
}

/** Runs one query on the target and returns its rows (supplied by the integrator). */
export type RunQuery = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

export interface SnapshotInput {
  dialect: Dialect;
  relations: readonly CatalogRelation[];
  /** Schemas searched, in order, for an unqualified name (MySQL: the current database). */
  searchPath: readonly string[];
  /** User-defined function names, bare and `schema.name`. */
  userFunctions?: readonly string[];
}

/**
 * Builds the lookup tables of a snapshot. Names are compared case-insensitively: for masking,
 * matching more relations than the engine would is the safe direction.
 */
export function createCatalogSnapshot(input: SnapshotInput): CatalogSnapshot {
  const byName = new Map<string, CatalogRelation>();
  const byOid = new Map<number, CatalogRelation>();
  for (const rel of input.relations) {
    byName.set(`${rel.schema}.${rel.name}`.toLowerCase(), rel);
    if (rel.oid !== undefined) byOid.set(rel.oid, rel);
  }
  const searchPath = input.searchPath.map((s) => s.toLowerCase());
  const userFunctions = new Set((input.userFunctions ?? []).map((f) => f.toLowerCase()));
  return {
    dialect: input.dialect,
    relations: input.relations,
    lookup(schema, name) {
      const n = name.toLowerCase();
      if (schema !== undefined) return byName.get(`${schema.toLowerCase()}.${n}`);
      for (const s of searchPath) {
        const rel = byName.get(`${s}.${n}`);
        if (rel) return rel;
      }
      return undefined;
    },
    relationByOid: (oid) => byOid.get(oid),
    isUserFunction(schema, name) {
      const n = name.toLowerCase();
      return (
        userFunctions.has(schema === undefined ? n : `${schema.toLowerCase()}.${n}`) || userFunctions.has(n)
      );
    },
  };
}

/** A catalog over a fixed snapshot (tests, and targets whose schema never changes). */
export function createStaticCatalog(input: SnapshotInput): Catalog {
  const snapshot = createCatalogSnapshot(input);
  return { snapshot: () => Promise.resolve(snapshot), loaded: () => snapshot, invalidate: () => undefined };
}

/**
 * A catalog that loads lazily through `load` and keeps the result until `invalidate()`.
 * Concurrent first uses share one load; a failed load is not cached, so the next use retries.
 */
export function createCachedCatalog(load: () => Promise<CatalogSnapshot>): Catalog {
  let current: Promise<CatalogSnapshot> | undefined;
  let settled: CatalogSnapshot | undefined;
  return {
    snapshot() {
      if (!current) {
        const loading = load();
        current = loading;
        loading.then(
          (snapshot) => {
            if (current === loading) settled = snapshot;
          },
          () => {
            if (current === loading) current = undefined;
          },
        );
      }
      return current;
    },
    loaded: () => settled,
    invalidate() {
      current = undefined;
      settled = undefined;
    },
  };
}
