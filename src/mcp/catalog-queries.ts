import type { Dialect } from '../gateway/types.js';

/**
 * The SQL behind list_tables and describe_table. They go through the same pipeline as an agent's
 * own statements (guarded, recorded), so they are plain catalog reads with parameters.
 */
export function listTablesQuery(
  dialect: Dialect,
  schema: string | undefined,
): { sql: string; params: unknown[] } {
  if (dialect === 'postgres') {
    return {
      sql:
        'SELECT table_schema AS schema, table_name AS name, table_type AS type FROM information_schema.tables ' +
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg_toast%' " +
        'AND ($1::text IS NULL OR table_schema = $1::text) ORDER BY 1, 2',
      params: [schema ?? null],
    };
  }
  return {
    sql:
      'SELECT table_schema AS `schema`, table_name AS name, table_type AS type FROM information_schema.tables ' +
      'WHERE table_schema = COALESCE(?, DATABASE()) ORDER BY 1, 2',
    params: [schema ?? null],
  };
}

export function describeTableQuery(
  dialect: Dialect,
  table: string,
): { sql: string; params: unknown[]; schema: string | undefined; table: string } {
  const dot = table.indexOf('.');
  const schema = dot > 0 ? table.slice(0, dot) : undefined;
  const name = dot > 0 ? table.slice(dot + 1) : table;
  if (dialect === 'postgres') {
    return {
      sql:
        'SELECT table_schema AS schema, column_name AS name, data_type AS type, is_nullable AS nullable, ' +
        'column_default AS "default" FROM information_schema.columns ' +
        'WHERE table_name = $2::text AND table_schema = COALESCE($1::text, current_schema()) ORDER BY ordinal_position',
      params: [schema ?? null, name],
      schema,
      table: name,
    };
  }
  return {
    sql:
      'SELECT table_schema AS `schema`, column_name AS name, column_type AS type, is_nullable AS nullable, ' +
      'column_default AS `default` FROM information_schema.columns ' +
      'WHERE table_name = ? AND table_schema = COALESCE(?, DATABASE()) ORDER BY ordinal_position',
    params: [name, schema ?? null],
    schema,
    table: name,
  };
}

export function explainStatement(dialect: Dialect, sql: string): string {
  const body = sql.trim().replace(/;\s*$/, '');
  return dialect === 'postgres' ? `EXPLAIN ${body}` : `EXPLAIN ${body}`;
}
