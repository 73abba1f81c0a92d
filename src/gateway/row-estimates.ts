import type { Dialect, TargetEngine } from './types.js';

/**
 * The target's own row estimates (EXPLAIN without ANALYZE: planned, never run), read through
 * the gateway's engine for a target: for a statement under review (shown to approvers) and for
 * a write the text calls bounded (checked against the table's size).
 */

/** Rows the target expects one statement to touch; undefined when it cannot say. */
export async function statementRows(
  engine: TargetEngine,
  dialect: Dialect,
  sql: string,
): Promise<number | undefined> {
  const body = sql.trim().replace(/;\s*$/, '');
  if (dialect === 'postgres') {
    const rows = await readRows(engine, `EXPLAIN (FORMAT JSON) ${body}`);
    const plan = (Object.values(rows[0] ?? {})[0] as { Plan?: PgPlan }[] | undefined)?.[0]?.Plan;
    // UPDATE / DELETE / INSERT / MERGE plan a ModifyTable that returns no rows (without
    // RETURNING): the rows it touches are those of the scan beneath it.
    const touched = plan?.['Node Type'] === 'ModifyTable' ? plan.Plans?.[0] : plan;
    return touched?.['Plan Rows'];
  }
  const rows = await readRows(engine, `EXPLAIN ${body}`);
  const counts = rows.map((r) => Number(r.rows)).filter((n) => Number.isFinite(n));
  return counts.length > 0 ? Math.max(...counts) : undefined;
}

/** Rows the target's planner believes a table holds (Postgres). */
export async function tableRows(engine: TargetEngine, table: string): Promise<number | undefined> {
  const quoted = table
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
  const rows = await readRows(engine, `EXPLAIN (FORMAT JSON) SELECT 1 FROM ${quoted}`);
  return (Object.values(rows[0] ?? {})[0] as { Plan?: PgPlan }[] | undefined)?.[0]?.Plan?.['Plan Rows'];
}

interface PgPlan {
  'Node Type'?: string;
  'Plan Rows'?: number;
  Plans?: PgPlan[];
}

/** Runs a gateway-internal read and returns its rows as objects keyed by column name. */
export async function readRows(
  engine: TargetEngine,
  sql: string,
  params?: unknown[],
): Promise<Record<string, unknown>[]> {
  let names: string[] = [];
  const rows: Record<string, unknown>[] = [];
  await engine.query(
    sql,
    {
      columns: (columns) => {
        names = columns.map((c) => c.name);
      },
      row: (values) => {
        const row: Record<string, unknown> = {};
        names.forEach((name, i) => (row[name] = values[i]));
        rows.push(row);
      },
    },
    params ? { params } : {},
  );
  return rows;
}
