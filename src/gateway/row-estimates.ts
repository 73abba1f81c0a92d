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
    const plan = planOf(rows);
    // UPDATE / DELETE / INSERT / MERGE plan a ModifyTable that returns no rows (without
    // RETURNING): the rows it touches are those of the scan beneath it.
    const touched = plan?.['Node Type'] === 'ModifyTable' ? plan.Plans?.[0] : plan;
    return touched?.['Plan Rows'];
  }
  const rows = await readRows(engine, `EXPLAIN ${body}`);
  const counts = rows.map((r) => Number(r.rows)).filter((n) => Number.isFinite(n));
  return counts.length > 0 ? Math.max(...counts) : undefined;
}

/**
 * What the target's planner expects a statement to cost (EXPLAIN, never run), for
 * limits.readCost; undefined when it cannot say. Postgres: the plan's total cost; a statement with
 * parameters is planned generically (PREPARE under plan_cache_mode = force_generic_plan, then
 * EXPLAIN EXECUTE), so no parameter value can make it look cheaper than it may run. MySQL:
 * query_cost; MariaDB, which reports none, the product of the plan's row estimates.
 */
export async function statementCost(
  engine: TargetEngine,
  dialect: Dialect,
  sql: string,
): Promise<number | undefined> {
  const body = sql.trim().replace(/;\s*$/, '');
  if (dialect === 'postgres') {
    const params = highestParameter(body);
    if (params === 0) {
      const rows = await readRows(engine, `EXPLAIN (FORMAT JSON) ${body}`);
      return planOf(rows)?.['Total Cost'];
    }
    const nulls = Array.from({ length: params }, () => 'NULL').join(', ');
    // One text on one connection; it leaves a setting and a prepared statement behind when a step
    // fails, so the connection is closed after it (changesSession).
    const text = [
      'SET plan_cache_mode = force_generic_plan',
      `PREPARE sluice_cost AS ${body}\n`,
      `EXPLAIN (FORMAT JSON) EXECUTE sluice_cost(${nulls})`,
      'DEALLOCATE sluice_cost',
      'RESET plan_cache_mode',
    ].join(';\n');
    const rows = await readRows(engine, text, undefined, { changesSession: true });
    return planOf(rows)?.['Total Cost'];
  }
  const rows = await readRows(engine, `EXPLAIN FORMAT=JSON ${body}`);
  const json = Object.values(rows[0] ?? {})[0];
  if (typeof json !== 'string') return undefined;
  const plan = JSON.parse(json) as { query_block?: { cost_info?: { query_cost?: string } } };
  const cost = Number(plan.query_block?.cost_info?.query_cost);
  if (Number.isFinite(cost)) return cost;
  const estimates: number[] = [];
  collectRows(plan, estimates);
  return estimates.length > 0 ? estimates.reduce((a, b) => a * b, 1) : undefined;
}

/** The `rows` estimate of every table a MariaDB JSON plan reads. */
function collectRows(node: unknown, out: number[]): void {
  if (Array.isArray(node)) {
    for (const item of node) collectRows(item, out);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'table' && value !== null && typeof value === 'object') {
      const rows = Number((value as { rows?: unknown }).rows);
      if (Number.isFinite(rows)) out.push(Math.max(rows, 1));
    }
    collectRows(value, out);
  }
}

/** The highest `$n` outside quoted strings and names; a miscount only makes EXPLAIN fail. */
function highestParameter(sql: string): number {
  let highest = 0;
  for (const m of sql.matchAll(/'(?:[^']|'')*'|"(?:[^"]|"")*"|\$(\d+)/g)) {
    if (m[1] !== undefined) highest = Math.max(highest, Number(m[1]));
  }
  return highest;
}

function planOf(rows: Record<string, unknown>[]): PgPlan | undefined {
  return (Object.values(rows[0] ?? {})[0] as { Plan?: PgPlan }[] | undefined)?.[0]?.Plan;
}

/** Rows the target's planner believes a table holds (Postgres). */
export async function tableRows(engine: TargetEngine, table: string): Promise<number | undefined> {
  const quoted = table
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
  const rows = await readRows(engine, `EXPLAIN (FORMAT JSON) SELECT 1 FROM ${quoted}`);
  return planOf(rows)?.['Plan Rows'];
}

interface PgPlan {
  'Node Type'?: string;
  'Plan Rows'?: number;
  'Total Cost'?: number;
  Plans?: PgPlan[];
}

/** Runs a gateway-internal read and returns its rows as objects keyed by column name. */
export async function readRows(
  engine: TargetEngine,
  sql: string,
  params?: unknown[],
  options: { changesSession?: boolean } = {},
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
    { ...(params ? { params } : {}), ...(options.changesSession ? { changesSession: true } : {}) },
  );
  return rows;
}
