/**
 * limits.readCost (#19): a read the policy allows is denied (or sent for review) when the target's
 * own EXPLAIN puts its cost above the ceiling, on every channel. A statement with parameters is
 * planned generically, so no value (NULL above all) makes a full scan look cheap; a read that
 * cannot be estimated counts as above (fail closed); the shared pool is left as it was.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { readRows } from '../../src/gateway/row-estimates.js';
import { startChannels } from '../support/channels.js';
import { adminQuery, createScratchDatabase } from '../support/postgres.js';

const { name: pgDb } = await createScratchDatabase(t, 'sluice_cost');
await adminQuery(
  `CREATE TABLE big (id int PRIMARY KEY, body text);
   INSERT INTO big SELECT g, 'row ' || g FROM generate_series(1, 20000) g;
   ANALYZE big;
   CREATE TABLE tenanted (id int PRIMARY KEY, tenant text, body text);
   CREATE INDEX ON tenanted (tenant);
   INSERT INTO tenanted SELECT g, CASE WHEN g <= 5 THEN 'acme' ELSE 'globex' END, 'row ' || g
     FROM generate_series(1, 20000) g;
   ANALYZE tenanted;`,
  [],
  pgDb,
);
const myDb = `sluice_cost_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);
await admin.query(`CREATE TABLE ${myDb}.big (id INT PRIMARY KEY, body VARCHAR(20))`);
await admin.query(`INSERT INTO ${myDb}.big SELECT seq, CONCAT('row ', seq) FROM ${myDb}.seq_1_to_2000`);
await admin.query(`ANALYZE TABLE ${myDb}.big`);
await admin.query(
  `CREATE TABLE ${myDb}.tenanted (id INT PRIMARY KEY, tenant VARCHAR(20), body VARCHAR(20), KEY (tenant))`,
);
await admin.query(
  `INSERT INTO ${myDb}.tenanted SELECT seq, IF(seq <= 5, 'acme', 'globex'), CONCAT('row ', seq) FROM ${myDb}.seq_1_to_2000`,
);
await admin.query(`ANALYZE TABLE ${myDb}.tenanted`);
t.teardown(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${myDb}`);
  await admin.end();
});

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
  - name: capped
    when: { groups: [capped] }
    statements: { default: deny, allow: [read] }
    limits: { readCost: { max: 100 } }
  - name: capped-tenant
    when: { groups: [capped-tenant] }
    statements: { default: deny, allow: [read] }
    limits: { readCost: { max: 100 } }
    rowFilters:
      - { table: tenanted, where: "tenant = {claims.tenant}" }
  - name: reviewed
    when: { groups: [reviewed] }
    statements: { default: deny, allow: [read] }
    limits: { readCost: { max: 100, over: review } }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-cost-',
);

t.test('MCP: a full scan is above the ceiling, a key lookup is not', async (t) => {
  const query = await channels.mcp('c-1', ['capped'], t);
  const scan = await query('SELECT * FROM big', 'shop');
  t.equal(scan.isError, true);
  t.match(scan.text, /the database estimates the read costs \d+, above limits.readCost 100: narrow it/);
  const lookup = await query('SELECT body FROM big WHERE id = 5', 'shop');
  t.same(lookup.rows, [['row 5']]);
  const myScan = await query('SELECT * FROM big', 'legacy');
  t.equal(myScan.isError, true, 'MariaDB: the row estimates multiply past the ceiling');
  t.match(myScan.text, /above limits.readCost 100/);
  const myLookup = await query('SELECT body FROM big WHERE id = 7', 'legacy');
  t.same(myLookup.rows, [['row 7']]);
  const both = await query('SELECT 1 FROM big a JOIN big b ON b.id = a.id WHERE a.id = 3', 'shop');
  t.equal(both.isError, false, 'a join of lookups');
});

t.test('the Postgres listener: simple, several, and parameters planned generically', async (t) => {
  const client = await channels.psql('c-2', ['capped'], 'shop', t);
  await t.rejects(client.query('SELECT count(*) FROM big'), { code: '42501', message: /limits.readCost/ });
  const several = (await client.query(
    'SELECT body FROM big WHERE id = 1; SELECT body FROM big WHERE id = 2',
  )) as unknown as { rows: unknown[] }[];
  t.same(
    several.map((r) => r.rows),
    [[{ body: 'row 1' }], [{ body: 'row 2' }]],
  );
  await t.rejects(
    client.query('SELECT body FROM big WHERE id = 1; SELECT count(*) FROM big'),
    { code: '42501' },
    'the costs of a text add up',
  );
  const { rows } = await client.query({ text: 'SELECT body FROM big WHERE id = $1', values: [9] });
  t.same(rows, [{ body: 'row 9' }], 'a parameterised lookup');
  // With NULL this plan would be empty; its generic plan scans the table.
  await t.rejects(client.query({ text: 'SELECT count(*) FROM big WHERE $1::int IS NOT NULL', values: [1] }), {
    code: '42501',
    message: /above limits.readCost/,
  });
  // The estimates leave the shared pool as it was.
  const engine = channels.parts.gateway.engineFor('shop');
  t.same(await readRows(engine, 'SHOW plan_cache_mode'), [{ plan_cache_mode: 'auto' }]);
  t.same(await readRows(engine, 'SELECT count(*)::int AS n FROM pg_prepared_statements'), [{ n: 0 }]);
});

t.test('the MySQL listener: text reads; a prepared read cannot be estimated', async (t) => {
  const conn = await channels.mysql('c-3', ['capped'], 'legacy', t);
  await t.rejects(conn.query('SELECT * FROM big'), { errno: 1142, message: /above limits.readCost 100/ });
  const [rows] = await conn.query('SELECT body FROM big WHERE id = 11');
  t.same(rows, [{ body: 'row 11' }]);
  await t.rejects(conn.execute('SELECT body FROM big WHERE id = ?', [11]), {
    errno: 1142,
    message: /cannot estimate what the read costs/,
  });
});

t.test('over: review sends the read to an approver instead', async (t) => {
  const query = await channels.mcp('r-1', ['reviewed'], t);
  const scan = await query('SELECT * FROM big', 'shop');
  t.equal(scan.isError, true, 'no approvals are configured here: the review cannot be granted');
  const decisions = (await channels.recorded('r-1')).filter((e) => e.type === 'decision');
  t.match(decisions.at(-1), { action: 'review', rule: 'reviewed: limits.readCost' });
});

t.test('under row filters the estimate is of the filtered read, the one that runs', async (t) => {
  // Unfiltered, each of these scans every tenant's rows, far above the ceiling; filtered on an
  // indexed column, the caller's five rows are cheap.
  const claims = { tenant: 'acme' };
  const query = await channels.mcp('f-1', ['capped-tenant'], t, claims);
  for (const target of ['shop', 'legacy']) {
    const filtered = await query('SELECT id FROM tenanted ORDER BY id', target);
    t.same(filtered.rows, [[1], [2], [3], [4], [5]], `${target}: ${filtered.text}`);
    const big = await query('SELECT count(*) FROM big', target);
    t.match(
      big.text,
      /above limits.readCost 100/,
      `${target}: an unfiltered table is still estimated as it is`,
    );
  }
  const client = await channels.psql('f-2', ['capped-tenant'], 'shop', t, {}, claims);
  const several = (await client.query(
    'SELECT count(*)::int AS n FROM tenanted; SELECT body FROM tenanted WHERE id = 2',
  )) as unknown as { rows: unknown[] }[];
  t.same(
    several.map((r) => r.rows),
    [[{ n: 5 }], [{ body: 'row 2' }]],
  );
  await t.rejects(client.query('SELECT count(*) FROM tenanted; SELECT count(*) FROM big'), { code: '42501' });
  const conn = await channels.mysql('f-3', ['capped-tenant'], 'legacy', t, claims);
  const [rows] = await conn.query('SELECT COUNT(*) AS n FROM tenanted');
  t.same(rows, [{ n: 5 }]);
});
