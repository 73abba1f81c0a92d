import {
  type Catalog,
  type CatalogRelation,
  createCachedCatalog,
  createCatalogSnapshot,
  type RunQuery,
} from './catalog.js';

/*
 * One bulk load of every relation of the database (system schemas included, so queries on
 * pg_catalog views resolve too): a few thousand rows, once per target until invalidate().
 */
const RELATIONS_SQL = `
SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
       a.attnum::int4 AS attnum, a.attname AS column
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND n.nspname NOT LIKE 'pg\\_toast%'
 ORDER BY c.oid, a.attnum`;

const VIEWS_SQL = `
SELECT c.oid::int8 AS oid, pg_catalog.pg_get_viewdef(c.oid) AS definition
  FROM pg_catalog.pg_class c
 WHERE c.relkind IN ('v', 'm')`;

/** Inheritance and partitions: a row filter on a table holds for the tables under it too. */
const INHERITS_SQL = `SELECT inhrelid::int8 AS child, inhparent::int8 AS parent FROM pg_catalog.pg_inherits`;

const SEARCH_PATH_SQL = `SELECT pg_catalog.array_to_string(pg_catalog.current_schemas(true), ',') AS path`;

/** User-defined functions: they may read any table, so lineage treats a call as opaque. */
const FUNCTIONS_SQL = `
SELECT n.nspname AS schema, p.proname AS name
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')`;

const text = (v: unknown): string => (typeof v === 'string' ? v : String(v));

/** A Postgres catalog loaded through `run` (the integrator's query function on the target). */
export function createPostgresCatalog(run: RunQuery): Catalog {
  return createCachedCatalog(async () => {
    const [rows, views, path, functions, inherits] = [
      await run(RELATIONS_SQL),
      await run(VIEWS_SQL),
      await run(SEARCH_PATH_SQL),
      await run(FUNCTIONS_SQL),
      await run(INHERITS_SQL),
    ];
    const definitions = new Map(views.map((v) => [Number(v.oid), text(v.definition)]));
    const relations = new Map<
      number,
      CatalogRelation & { columns: string[]; attnums: number[]; parents?: number[] }
    >();
    for (const row of rows) {
      const oid = Number(row.oid);
      let rel = relations.get(oid);
      if (!rel) {
        const kind = text(row.kind);
        const isView = kind === 'v' || kind === 'm';
        rel = {
          oid,
          schema: text(row.schema),
          name: text(row.name),
          kind: isView ? 'view' : 'table',
          columns: [],
          attnums: [],
          ...(isView && definitions.has(oid) ? { definition: definitions.get(oid) as string } : {}),
        };
        relations.set(oid, rel);
      }
      if (row.column !== null && row.column !== undefined) {
        rel.columns.push(text(row.column));
        rel.attnums.push(Number(row.attnum));
      }
    }
    for (const row of inherits) {
      const child = relations.get(Number(row.child));
      if (child) child.parents = [...(child.parents ?? []), Number(row.parent)];
    }
    const searchPath = text(path[0]?.path ?? 'public')
      .split(',')
      .filter(Boolean);
    if (!searchPath.includes('pg_catalog')) searchPath.unshift('pg_catalog');
    return createCatalogSnapshot({
      dialect: 'postgres',
      relations: [...relations.values()],
      searchPath,
      userFunctions: functions.flatMap((f) => [text(f.name), `${text(f.schema)}.${text(f.name)}`]),
    });
  });
}
