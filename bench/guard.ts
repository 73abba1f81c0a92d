/**
 * Guard decision cost: analyse + decide, per statement, for a mix of Postgres and MySQL
 * statements, with the analysis cache warm (cached) and disabled (uncached). Baseline: the
 * dialect's parser alone on the same statements, measured in the same run — the part of an
 * uncached decision the guard cannot avoid.
 *
 * For both dialects also: texts with their values inline, each one new, decided by the shape cache
 * once their shape has been seen (with the parser alone on the same texts as the baseline).
 *
 *   npx tsc -p tsconfig.json --outDir dist && node dist/bench/guard.js
 */
import { loadModule, parseSync } from 'libpg-query';
import NodeSqlParser from 'node-sql-parser';
import type { Dialect } from '../src/gateway/types.js';
import { parseConfigText } from '../src/config/load.js';
import {
  compileStatementPolicy,
  createStatementAnalyzer,
  type StatementAnalyzer,
} from '../src/guard/index.js';
import { machineLine, printTable } from './machine.js';

const MIX: Record<Dialect, string[]> = {
  postgres: [
    'SELECT id, name FROM customers WHERE id = $1',
    "SELECT o.id, sum(l.amount) FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.created_at > now() - interval '7 days' GROUP BY o.id ORDER BY 2 DESC LIMIT 20",
    'WITH recent AS (SELECT * FROM orders WHERE created_at > $1) SELECT customer_id, count(*) FROM recent GROUP BY 1',
    'SELECT rank() OVER (PARTITION BY region ORDER BY amount DESC), * FROM sales',
    'SELECT data->>\'name\' FROM events WHERE data @> \'{"type":"click"}\'',
    "UPDATE orders SET status = 'shipped' WHERE id = $1",
    'INSERT INTO audit (who, what) VALUES ($1, $2)',
    'DELETE FROM sessions WHERE expires_at < now()',
    "SELECT c.relname FROM pg_catalog.pg_class c WHERE pg_catalog.pg_table_is_visible(c.oid) AND c.relkind = 'r'",
    'SELECT version()',
    'DROP TABLE orders',
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity',
  ],
  mysql: [
    'SELECT id, name FROM customers WHERE id = ?',
    'SELECT o.id, SUM(l.amount) FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.created_at > NOW() - INTERVAL 7 DAY GROUP BY o.id ORDER BY 2 DESC LIMIT 20',
    'WITH recent AS (SELECT * FROM orders WHERE created_at > ?) SELECT customer_id, COUNT(*) FROM recent GROUP BY 1',
    'SELECT RANK() OVER (PARTITION BY region ORDER BY amount DESC) AS r, region FROM sales',
    "SELECT JSON_EXTRACT(doc, '$.name') FROM events",
    "UPDATE orders SET status = 'shipped' WHERE id = ?",
    'INSERT INTO audit (who, what) VALUES (?, ?)',
    'DELETE FROM sessions WHERE expires_at < NOW()',
    'SHOW TABLES',
    'SELECT VERSION()',
    'DROP TABLE orders',
    'KILL 42',
  ],
};

/**
 * The mixes with their values inline, as agents (and pgbench) send them: each call of a function
 * with a new `n` is a text never seen before, of the same shape (src/guard/mysql/shape-cache.ts,
 * src/guard/postgres/shape-cache.ts). `n` stays at four digits so that the shape does not change.
 * Never reused: MySQL SHOW ... LIKE and KILL (not parsed by node-sql-parser, classified by their
 * keywords); Postgres statements other than SELECT, INSERT, UPDATE and DELETE, and constants in
 * ORDER BY / GROUP BY (output positions).
 */
const POSTGRES_INLINE: ((n: number) => string)[] = [
  (n) => `SELECT id, name FROM customers WHERE id = ${n}`,
  (n) =>
    `SELECT o.id, sum(l.amount) FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.created_at > now() - interval '${n % 9} days' GROUP BY o.id ORDER BY 2 DESC LIMIT 20`,
  (n) =>
    `WITH recent AS (SELECT * FROM orders WHERE created_at > '2026-11-${n % 28}') SELECT customer_id, count(*) FROM recent GROUP BY customer_id`,
  (n) => `SELECT rank() OVER (PARTITION BY region ORDER BY amount DESC), * FROM sales WHERE region = 'r${n}'`,
  (n) => `SELECT data->>'k${n}' FROM events WHERE data @> '{"type":"click"}'`,
  (n) => `UPDATE orders SET status = 'shipped' WHERE id = ${n}`,
  (n) => `INSERT INTO audit (who, what) VALUES ('agent-${n}', 'read ${n}')`,
  (n) => `DELETE FROM sessions WHERE expires_at < '2026-11-24' AND user_id = ${n}`,
  (n) =>
    `SELECT c.relname FROM pg_catalog.pg_class c WHERE pg_catalog.pg_table_is_visible(c.oid) AND c.relname = 't${n}'`,
  (n) => `SELECT abalance FROM pgbench_accounts WHERE aid = ${n}`,
  (n) => `SET statement_timeout = ${n}`,
  (n) => `SELECT pg_terminate_backend(${n})`,
];

const MYSQL_INLINE: ((n: number) => string)[] = [
  (n) => `SELECT id, name FROM customers WHERE id = ${n}`,
  (n) =>
    `SELECT o.id, SUM(l.amount) FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.created_at > NOW() - INTERVAL ${n % 9} DAY GROUP BY o.id ORDER BY 2 DESC LIMIT 20`,
  (n) =>
    `WITH recent AS (SELECT * FROM orders WHERE created_at > '2026-11-${n % 28}') SELECT customer_id, COUNT(*) FROM recent GROUP BY 1`,
  (n) =>
    `SELECT RANK() OVER (PARTITION BY region ORDER BY amount DESC) AS r, region FROM sales WHERE region = 'r${n}'`,
  (n) => `SELECT JSON_EXTRACT(doc, '$.k${n}') FROM events`,
  (n) => `UPDATE orders SET status = 'shipped' WHERE id = ${n}`,
  (n) => `INSERT INTO audit (who, what) VALUES ('agent-${n}', 'read ${n}')`,
  (n) => `DELETE FROM sessions WHERE expires_at < '2026-11-24' AND user_id = ${n}`,
  (n) => `SHOW TABLES LIKE 'o${n}%'`,
  (n) => `SELECT VERSION(), ${n}`,
  (n) => `ALTER TABLE orders AUTO_INCREMENT = ${n}`,
  (n) => `KILL ${n}`,
];

const policy = compileStatementPolicy(
  parseConfigText(`
targets: { t: { engine: postgres, host: h, port: 1, database: d, user: u } }
policies:
  - name: bench
    when: { groups: [g] }
    statements:
      allow: [read, { effect: write, unbounded: false }, { effect: delete, unbounded: false }]
      review: [{ effect: write, unbounded: true }]
      deny: [ddl, dcl, admin, file, program]
`).policies[0]!,
);

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function p95(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length * 0.95)] ?? NaN;
}

async function timeDecisions(
  analyzer: StatementAnalyzer,
  dialect: Dialect,
  rounds: number,
): Promise<number[]> {
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const sql of MIX[dialect]) {
      const start = process.hrtime.bigint();
      policy.decide(await analyzer.analyze(sql, dialect));
      samples.push(Number(process.hrtime.bigint() - start) / 1000);
    }
  }
  return samples;
}

const INLINE: Record<Dialect, ((n: number) => string)[]> = { postgres: POSTGRES_INLINE, mysql: MYSQL_INLINE };

/** Each text is new (text cache miss); from the third round on, its shape is known. */
async function timeInline(
  analyzer: StatementAnalyzer,
  dialect: Dialect,
  from: number,
  rounds: number,
): Promise<number[]> {
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const text of INLINE[dialect]) {
      const sql = text(from + r);
      const start = process.hrtime.bigint();
      policy.decide(await analyzer.analyze(sql, dialect));
      samples.push(Number(process.hrtime.bigint() - start) / 1000);
    }
  }
  return samples;
}

function timeInlineParser(dialect: Dialect, from: number, rounds: number): number[] {
  const mysql = new NodeSqlParser.Parser();
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const text of INLINE[dialect]) {
      const sql = text(from + r);
      const start = process.hrtime.bigint();
      try {
        if (dialect === 'postgres') parseSync(sql);
        else mysql.astify(sql, { database: 'MySQL' });
      } catch {
        // SHOW ... LIKE and KILL are not in node-sql-parser's grammar.
      }
      samples.push(Number(process.hrtime.bigint() - start) / 1000);
    }
  }
  return samples;
}

function timeParser(dialect: Dialect, rounds: number): number[] {
  const mysql = new NodeSqlParser.Parser();
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const sql of MIX[dialect]) {
      const start = process.hrtime.bigint();
      try {
        if (dialect === 'postgres') parseSync(sql);
        else mysql.astify(sql, { database: 'MySQL' });
      } catch {
        // KILL is not in node-sql-parser's grammar; the time to find that out counts.
      }
      samples.push(Number(process.hrtime.bigint() - start) / 1000);
    }
  }
  return samples;
}

async function main(): Promise<void> {
  await loadModule();
  console.log(machineLine());
  // Every statement of the mix must be understood, or the numbers measure the error path.
  const check = createStatementAnalyzer();
  for (const dialect of ['postgres', 'mysql'] as const) {
    for (const sql of MIX[dialect]) {
      const analysis = await check.analyze(sql, dialect);
      if (!analysis.ok)
        throw new Error(`${dialect} bench statement does not analyse: ${sql}: ${analysis.error}`);
    }
  }
  // The inline mixes too; and say how many of their statements the shape cache serves (MySQL:
  // no parse handed out; Postgres: the shape's one frozen parse, the same object each time).
  const servedByShape: Record<Dialect, number> = { postgres: 0, mysql: 0 };
  for (const dialect of ['postgres', 'mysql'] as const) {
    for (const text of INLINE[dialect]) {
      let previous: unknown;
      for (let n = 1000; n < 1004; n++) {
        const analysis = await check.analyze(text(n), dialect);
        if (!analysis.ok)
          throw new Error(`${dialect} bench statement does not analyse: ${text(n)}: ${analysis.error}`);
        const byShape =
          dialect === 'mysql' ? analysis.parsed === undefined : n > 1002 && analysis.parsed === previous;
        if (n === 1003 && byShape) servedByShape[dialect]++;
        previous = analysis.parsed;
      }
    }
  }
  const rows: (string | number)[][] = [];
  for (const dialect of ['postgres', 'mysql'] as const) {
    const rounds = dialect === 'postgres' ? 2000 : 400;
    timeParser(dialect, rounds / 4); // warm-up
    const baseline = timeParser(dialect, rounds);
    const uncached = createStatementAnalyzer({ cacheSize: 0, shapeCacheSize: 0 });
    await timeDecisions(uncached, dialect, rounds / 4);
    const cold = await timeDecisions(uncached, dialect, rounds);
    const cached = createStatementAnalyzer();
    await timeDecisions(cached, dialect, rounds / 4);
    const warm = await timeDecisions(cached, dialect, rounds * 5);
    const fmt = (n: number) => n.toFixed(2);
    rows.push([dialect, 'baseline: parser alone', fmt(median(baseline)), fmt(p95(baseline)), '']);
    rows.push([dialect, 'guard, uncached', fmt(median(cold)), fmt(p95(cold)), '30']);
    rows.push([dialect, 'guard, cached', fmt(median(warm)), fmt(p95(warm)), '5']);
    {
      // Texts never seen before: the parser alone on them, then the guard with its caches on.
      timeInlineParser(dialect, 1000, rounds / 4);
      const inlineBaseline = timeInlineParser(dialect, 2000, rounds);
      const shaped = createStatementAnalyzer();
      await timeInline(shaped, dialect, 3000, rounds / 4); // first and second text of each shape
      const byShape = await timeInline(shaped, dialect, 4000, rounds);
      rows.push([
        dialect,
        'baseline: parser alone, values inline',
        fmt(median(inlineBaseline)),
        fmt(p95(inlineBaseline)),
        '',
      ]);
      rows.push([dialect, 'guard, new text of a known shape', fmt(median(byShape)), fmt(p95(byShape)), '30']);
    }
  }
  printTable(['dialect', 'decision', 'median µs', 'p95 µs', 'goal (median µs)'], rows);
  console.log(
    `mix: ${MIX.postgres.length} Postgres and ${MIX.mysql.length} MySQL statements (reads, writes, catalog, ddl, admin);`,
  );
  console.log(
    `uncached: no text or shape cache, every text parsed; values inline: ${POSTGRES_INLINE.length} Postgres and ${MYSQL_INLINE.length} MySQL statements, ` +
      `a new text each time, ${servedByShape.postgres} and ${servedByShape.mysql} of them decided by shape`,
  );
}

await main();
