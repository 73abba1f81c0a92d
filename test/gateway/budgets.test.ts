/**
 * Budgets (#19): `limits.statementsPerMinute` and `limits.concurrentStatements` per caller
 * (subject) under a policy, across its sessions and channels: MCP, the Postgres listener (simple
 * Query and each extended-protocol Execute, so a statement prepared once is counted at every run)
 * and the MySQL listener. Each refusal says which budget and what to do, and is recorded; a
 * statement that ends, or a session that goes away, gives its slot back.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { PolicyConfig } from '../../src/config/schema.js';
import { StatementBudgets } from '../../src/gateway/budgets.js';
import { startChannels } from '../support/channels.js';
import { createScratchDatabase } from '../support/postgres.js';

t.test('the budget arithmetic: a bucket that refills, slots given back once', async (t) => {
  let now = 0;
  const budgets = new StatementBudgets(() => now);
  const policy = { name: 'p', limits: { statementsPerMinute: 3, concurrentStatements: 2 } } as PolicyConfig;
  const a = budgets.admit(policy, 'alice');
  const b = budgets.admit(policy, 'alice');
  t.throws(() => budgets.admit(policy, 'alice'), {
    code: 'ERR_BUDGET',
    sqlstate: '53400',
    message: /at most 2 statements at once for alice under policy p \(limits.concurrentStatements\)/,
  });
  a.release();
  a.release();
  const c = budgets.admit(policy, 'alice');
  t.doesNotThrow(() => budgets.admit(policy, 'bob').release(), 'bob has his own budget');
  b.release();
  c.release();
  t.throws(() => budgets.admit(policy, 'alice'), {
    message:
      /at most 3 statements a minute for alice under policy p \(limits.statementsPerMinute\): retry in 20 s/,
  });
  now += 20_000;
  budgets.admit(policy, 'alice').release();
  t.throws(() => budgets.admit(policy, 'alice'), { code: 'ERR_BUDGET' });
  const free = { name: 'free', limits: {} } as PolicyConfig;
  for (let i = 0; i < 100; i++) budgets.admit(free, 'alice').release();
});

const { name: pgDb } = await createScratchDatabase(t, 'sluice_budget');
const myDb = `sluice_budget_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);

const channels = await startChannels(
  t,
  `
server:
  http: { listen: 127.0.0.1:0 }
  postgres: { listen: 127.0.0.1:0, allowPlaintextAuth: true }
  mysql: { listen: 127.0.0.1:0 }
targets:
  shop: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${pgDb}, user: postgres, tls: disable }
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${myDb}, user: root, tls: disable }
policies:
  - name: metered
    when: { groups: [metered] }
    statements: { default: deny, allow: [read] }
    limits: { statementsPerMinute: 5 }
  - name: single
    when: { groups: [single] }
    statements: { default: deny, allow: [read, admin] }
    limits: { concurrentStatements: 1 }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-budget-',
);
t.teardown(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${myDb}`);
  await admin.end();
});
const mcp = async (subject: string, group: string, t: { teardown(fn: () => unknown): void }) => {
  const query = await channels.mcp(subject, [group], t);
  return (sql: string) => query(sql, 'shop');
};
const psql = (subject: string, group: string, t: { teardown(fn: () => unknown): void }) =>
  channels.psql(subject, [group], 'shop', t);

t.test('statements a minute: MCP, then the other channels share the same caller budget', async (t) => {
  const call = await mcp('m-1', 'metered', t);
  for (let i = 0; i < 5; i++) t.equal((await call(`SELECT ${i}`)).isError, false, `statement ${i + 1}`);
  const refused = await call('SELECT 6');
  t.equal(refused.isError, true);
  t.match(refused.text, /budget: at most 5 statements a minute for m-1 under policy metered/);
  t.match(refused.text, /retry in \d+ s/);
  const other = await mcp('m-2', 'metered', t);
  t.equal((await other('SELECT 1')).isError, false, 'another caller has a budget of its own');
  // The same caller through psql: the budget is the caller's, not the session's.
  const client = await psql('m-1', 'metered', t);
  await t.rejects(client.query('SELECT 1'), { code: '53400', message: /statements a minute/ });

  const errors = (await channels.recorded('m-1')).filter((e) => e.type === 'error').map((e) => e['code']);
  t.ok(errors.includes('53400'), 'the refusal is recorded');
});

t.test('the Postgres listener counts every Execute of a prepared statement', async (t) => {
  const client = await psql('m-3', 'metered', t);
  for (let i = 0; i < 5; i++) {
    const { rows } = await client.query({ name: 'again', text: 'SELECT $1::int AS n', values: [i] });
    t.same(rows, [{ n: i }]);
  }
  await t.rejects(client.query({ name: 'again', text: 'SELECT $1::int AS n', values: [6] }), {
    code: '53400',
  });
  const packed = await psql('m-4', 'metered', t);
  await packed.query('SELECT 1; SELECT 2; SELECT 3');
  await t.rejects(
    packed.query('SELECT 4; SELECT 5; SELECT 6'),
    { code: '53400' },
    'a Query counts its statements',
  );
  const results = (await packed.query('SELECT 1 AS one; SELECT 2 AS two')) as unknown as pg.QueryResult[];
  t.same(
    results.map((r) => r.rows),
    [[{ one: 1 }], [{ two: 2 }]],
    'what is left of the budget still serves',
  );
  await t.rejects(client.query('SELECT 1'), { code: '53400' }, 'the connection carries on, refused');
});

t.test('the MySQL listener: 1226 once the budget is spent', async (t) => {
  const conn = await channels.mysql('m-5', ['metered'], 'legacy', t);
  for (let i = 0; i < 5; i++) await conn.query(`SELECT ${i}`);
  await t.rejects(conn.query('SELECT 6'), { errno: 1226, message: /statements a minute for m-5/ });
  await t.rejects(conn.execute('SELECT ?', [7]), { errno: 1226, message: /statements a minute/ });
});

t.test('statements at once: a second is refused while the first runs, then admitted', async (t) => {
  const call = await mcp('s-1', 'single', t);
  const slow = call('SELECT pg_sleep(0.6)');
  await new Promise((resolve) => setTimeout(resolve, 200));
  const second = await call('SELECT 1');
  t.equal(second.isError, true);
  t.match(second.text, /at most 1 statements at once for s-1 under policy single/);
  t.equal((await slow).isError, false);
  t.equal((await call('SELECT 1')).isError, false, 'the slot is given back when the statement ends');

  // Two psql connections of one caller.
  const a = await psql('s-2', 'single', t);
  const b = await psql('s-2', 'single', t);
  const running = a.query('SELECT pg_sleep(0.6)');
  await new Promise((resolve) => setTimeout(resolve, 200));
  await t.rejects(b.query('SELECT 1'), { code: '53400', message: /statements at once/ });
  await running;
  const { rows } = await b.query('SELECT 1 AS one');
  t.same(rows, [{ one: 1 }]);

  // A connection that goes away mid-statement gives its slot back with the session.
  const c = await psql('s-3', 'single', t);
  void c.query('SELECT pg_sleep(5)').catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 200));
  (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const d = await psql('s-3', 'single', t);
  const { rows: after } = await d.query('SELECT 2 AS two');
  t.same(after, [{ two: 2 }]);
});
