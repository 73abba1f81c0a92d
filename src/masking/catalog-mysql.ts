import {
  type Catalog,
  type CatalogRelation,
  createCachedCatalog,
  createCatalogSnapshot,
  type RunQuery,
} from './catalog.js';

/**
 * The information_schema views that describe the schema (what drivers, ORMs and BI tools read on
 * connect): their columns are known, so they come back in clear. The others stay unknown and so
 * masked, notably PROCESSLIST and the InnoDB transaction views, which carry other sessions' SQL.
 */
const DESCRIBING_VIEWS = [
  'SCHEMATA',
  'TABLES',
  'COLUMNS',
  'VIEWS',
  'STATISTICS',
  'KEY_COLUMN_USAGE',
  'TABLE_CONSTRAINTS',
  'REFERENTIAL_CONSTRAINTS',
  'CHECK_CONSTRAINTS',
  'ROUTINES',
  'PARAMETERS',
  'TRIGGERS',
  'PARTITIONS',
  'CHARACTER_SETS',
  'COLLATIONS',
  'COLLATION_CHARACTER_SET_APPLICABILITY',
  'ENGINES',
];

/* Every table and view outside the server's own schemas, and the describing views, loaded once until invalidate(). */
const COLUMNS_SQL = `
SELECT c.TABLE_SCHEMA AS s, c.TABLE_NAME AS t, c.COLUMN_NAME AS c, t.TABLE_TYPE AS k
  FROM information_schema.COLUMNS c
  JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
 WHERE c.TABLE_SCHEMA NOT IN ('mysql', 'performance_schema', 'sys', 'information_schema')
    OR (c.TABLE_SCHEMA = 'information_schema' AND c.TABLE_NAME IN (${DESCRIBING_VIEWS.map((v) => `'${v}'`).join(', ')}))
 ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION`;

/* VIEW_DEFINITION is empty when the user lacks SHOW VIEW: such a view stays unresolved (fail closed). */
const VIEWS_SQL = `
SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, VIEW_DEFINITION AS d
  FROM information_schema.VIEWS
 WHERE TABLE_SCHEMA NOT IN ('mysql', 'performance_schema', 'sys', 'information_schema')`;

const DATABASE_SQL = `SELECT DATABASE() AS db`;

const ROUTINES_SQL = `
SELECT ROUTINE_SCHEMA AS s, ROUTINE_NAME AS n
  FROM information_schema.ROUTINES
 WHERE ROUTINE_SCHEMA NOT IN ('mysql', 'performance_schema', 'sys', 'information_schema')`;

const text = (v: unknown): string =>
  typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);

/** A MySQL / MariaDB catalog loaded through `run` (the integrator's query function on the target). */
export function createMysqlCatalog(run: RunQuery): Catalog {
  return createCachedCatalog(async () => {
    const [rows, views, db, routines] = [
      await run(COLUMNS_SQL),
      await run(VIEWS_SQL),
      await run(DATABASE_SQL),
      await run(ROUTINES_SQL),
    ];
    const definitions = new Map(views.map((v) => [`${text(v.s)}.${text(v.t)}`, text(v.d ?? '')]));
    const relations = new Map<string, CatalogRelation & { columns: string[] }>();
    for (const row of rows) {
      const key = `${text(row.s)}.${text(row.t)}`;
      let rel = relations.get(key);
      if (!rel) {
        const isView = text(row.k).toUpperCase() === 'VIEW';
        const definition = definitions.get(key);
        rel = {
          schema: text(row.s),
          name: text(row.t),
          kind: isView ? 'view' : 'table',
          columns: [],
          ...(isView && definition ? { definition } : {}),
        };
        relations.set(key, rel);
      }
      rel.columns.push(text(row.c));
    }
    const current = db[0]?.db;
    return createCatalogSnapshot({
      dialect: 'mysql',
      relations: [...relations.values()],
      searchPath: current === null || current === undefined ? [] : [text(current)],
      userFunctions: routines.flatMap((r) => [text(r.n), `${text(r.s)}.${text(r.n)}`]),
    });
  });
}
