import t from 'tap';
import type { ResultColumn } from '../../src/gateway/types.js';
import { compiledPolicy, computed, mysqlVerdict, pgVerdict, session, stage } from './fixtures/shop.js';

/** Statements of many shapes: the analysis never throws, and masked columns never pass. */
const postgres: [string, number][] = [
  ['TABLE customers', 5],
  ['SELECT DISTINCT ON (email) email, name FROM customers ORDER BY email, name', 2],
  ['SELECT email, count(*) FROM customers GROUP BY GROUPING SETS ((email), ())', 2],
  ['SELECT x.e FROM customers c, LATERAL (SELECT c.email AS e) x', 1],
  ['SELECT * FROM customers c JOIN orders o USING (id)', 7],
  ['SELECT * FROM customers NATURAL JOIN orders', 7],
  ["SELECT jt.* FROM customers c, JSON_TABLE(c.email::jsonb, '$' COLUMNS (v text PATH '$')) jt", 1],
  ['SELECT ARRAY[email, name] FROM customers', 1],
  ["SELECT email FROM customers WHERE name ~ 'a' FOR UPDATE", 1],
  ['SELECT xmlelement(name e, email) FROM customers', 1],
  ["SELECT json_build_object('e', email) FROM customers", 1],
  ['SELECT email COLLATE "C" FROM customers', 1],
  ['SELECT ssn IS NULL, email IS DISTINCT FROM name FROM customers', 2],
  ['SELECT greatest(email, name) FROM customers', 1],
  ['SELECT * FROM ROWS FROM (generate_series(1, 2), unnest(ARRAY[1])) r', 2],
  ['SELECT 1 FROM customers WITH ORDINALITY', 1],
  [
    "MERGE INTO customers c USING orders o ON c.id = o.id WHEN MATCHED THEN UPDATE SET name = 'x' RETURNING c.email",
    1,
  ],
  ['WITH d AS (DELETE FROM customers RETURNING email) SELECT * FROM d', 1],
  ['SELECT (SELECT ssn FROM customers c2 WHERE c2.id = c.id) FROM customers c', 1],
  ['VALUES ((SELECT email FROM customers LIMIT 1))', 1],
];

t.test('Postgres: no statement shape makes the analysis throw, and no masked column passes', async (t) => {
  const s = stage(compiledPolicy());
  for (const [sql, width] of postgres) {
    let verdict;
    try {
      verdict = await pgVerdict(sql);
    } catch {
      continue; // not valid PostgreSQL 18: nothing for lineage to see
    }
    const columns: ResultColumn[] = computed(...Array.from({ length: width }, (_, i) => `c${i}`));
    const plan = await s.maskingPlan(columns, { session: session(), sql, verdict });
    t.ok(plan, sql);
    if (/email|ssn/.test(sql))
      t.ok(
        plan?.actions.some((a) => a?.kind === 'mask'),
        `${sql}: something is masked`,
      );
  }
});

const mysql: [string, number][] = [
  ['SELECT DISTINCT email FROM customers', 1],
  ['SELECT email FROM customers WHERE id IN (SELECT id FROM customers WHERE ssn > 1)', 1],
  ['SELECT * FROM customers c LEFT JOIN customers d USING (id)', 7],
  ["SELECT JSON_OBJECT('e', email) FROM customers", 1],
  ['SELECT IF(id > 1, ssn, NULL) FROM customers', 1],
  ['SELECT email FROM customers ORDER BY 1 LIMIT 1 OFFSET 1', 1],
  ['SELECT * FROM (SELECT email FROM customers UNION SELECT ssn FROM customers) u', 1],
  ['SELECT @x := email FROM customers', 1],
  ["SELECT email REGEXP 'a' FROM customers", 1],
];

t.test('MySQL: no statement shape makes the analysis throw, and no masked column passes', async (t) => {
  const s = stage(compiledPolicy(), 'mysql');
  for (const [sql, width] of mysql) {
    let verdict;
    try {
      verdict = mysqlVerdict(sql);
    } catch {
      continue;
    }
    const columns: ResultColumn[] = Array.from({ length: width }, (_, i) => ({
      name: `c${i}`,
      type: 'VAR_STRING',
    }));
    const plan = await s.maskingPlan(columns, { session: session('mysql'), sql, verdict });
    t.ok(
      plan?.actions.some((a) => a?.kind === 'mask'),
      `${sql}: something is masked`,
    );
  }
});

t.test('garbage instead of a parse tree fails closed', async (t) => {
  const s = stage(compiledPolicy());
  for (const parsed of [null, 42, 'text', { stmts: [{}] }, { stmts: [{ stmt: { Nonsense: {} } }] }]) {
    const plan = await s.maskingPlan(computed('a'), {
      session: session(),
      sql: 'SELECT 1',
      verdict: { action: 'allow', reason: '', rule: '', statements: [], parsed },
    });
    t.equal(plan?.actions[0]?.kind, 'mask', JSON.stringify(parsed));
  }
});
