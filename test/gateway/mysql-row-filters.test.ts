/**
 * Row filters on a MySQL target (#19): a SELECT's references to a filtered table are replaced by
 * a derived table holding only the caller's rows, on every channel (MCP, the MySQL listener's text
 * and prepared statements), under the query forms the masking tests use (aliases, backticks,
 * database-qualified names, joins of two filtered tables, subqueries, derived tables, CTEs,
 * unions, aggregates, EXISTS, `t.*`); the claim enters as a literal no sql_mode reads differently.
 * Anything else that names a filtered table (a view over one, a string, a write, PREPARE, a CTE or
 * alias of its name, forms the parser cannot locate) is refused. No other tenant's row reaches the
 * client, the database is as it was, and masking still applies.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import t from 'tap';
import { startChannels, type Claims } from '../support/channels.js';

const myDb = `sluice_myrf_${randomBytes(5).toString('hex')}`;
const otherDb = `${myDb}_other`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
for (const db of [myDb, otherDb]) await admin.query(`CREATE DATABASE ${db}`);
await admin.query(
  `CREATE TABLE ${myDb}.orders (id INT PRIMARY KEY, tenant VARCHAR(20), item VARCHAR(40), secret VARCHAR(40), amount INT)`,
);
await admin.query(
  `INSERT INTO ${myDb}.orders VALUES (1, 'acme', 'anvil', 'acme-secret', 10), (2, 'acme', 'rope', 'acme-hidden', 20), (3, 'globex', 'globex-laser', 'globex-secret', 300), (4, 'globex', 'globex-drill', 'globex-hidden', 400)`,
);
await admin.query(
  `CREATE TABLE ${myDb}.customers (id INT PRIMARY KEY, tenant VARCHAR(20), name VARCHAR(40))`,
);
await admin.query(`INSERT INTO ${myDb}.customers VALUES (1, 'acme', 'Ada'), (2, 'globex', 'globex-Gus')`);
await admin.query(`CREATE TABLE ${myDb}.notes (id INT PRIMARY KEY, body VARCHAR(40))`);
await admin.query(`INSERT INTO ${myDb}.notes VALUES (1, 'hello'), (3, 'three')`);
await admin.query(`CREATE VIEW ${myDb}.v_orders AS SELECT id, item FROM ${myDb}.orders`);
await admin.query(`CREATE VIEW ${myDb}.v_v_orders AS SELECT id FROM ${myDb}.v_orders`);
// A table of the same name in a database the rule (customers in the target's database) leaves out.
await admin.query(`CREATE TABLE ${otherDb}.customers (id INT, tenant VARCHAR(20), name VARCHAR(40))`);
await admin.query(`INSERT INTO ${otherDb}.customers VALUES (9, 'globex', 'other-db-row')`);
t.teardown(async () => {
  for (const db of [myDb, otherDb]) await admin.query(`DROP DATABASE IF EXISTS ${db}`);
  await admin.end();
});

const channels = await startChannels(
  t,
  `
server:
  http: { listen: 127.0.0.1:0 }
  mysql: { listen: 127.0.0.1:0 }
targets:
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${myDb}, user: root, tls: disable }
policies:
  - name: tenants
    when: { groups: [tenants] }
    statements: { default: deny, allow: [read, write, delete, session, transaction] }
    rowFilters:
      - { table: orders, where: "tenant = {claims.tenant}" }
      - { table: ${myDb}.customers, where: "tenant = {claims.tenant}" }
    masking:
      - { columns: [orders.secret], strategy: redact }
  - name: tenants-writer
    when: { groups: [tenants-writer] }
    statements: { default: deny, allow: [read, write, delete] }
    rowFilters:
      - { table: orders, where: "tenant = {claims.tenant}" }
  - name: tenants-unmasked
    when: { groups: [tenants-unmasked] }
    statements: { default: deny, allow: [read] }
    rowFilters:
      - { table: orders, where: "tenant = {claims.tenant}" }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-myrf-',
);
const ACME: Claims = { tenant: 'acme' };

/** Anything of another tenant's a client could receive. */
const FOREIGN = /globex|other-db-row|\b300\b|\b400\b|acme-secret|acme-hidden/;

async function state(): Promise<string> {
  const parts = [];
  for (const table of ['orders', 'customers', 'notes']) {
    const [rows] = await admin.query(`SELECT * FROM ${myDb}.${table} ORDER BY id`);
    parts.push(rows);
  }
  const [views] = await admin.query(
    `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1`,
    [myDb],
  );
  return JSON.stringify([parts, views]);
}

type Outcome = { ok: true; rows: unknown[][] } | { ok: false; text: string };
type Run = (sql: string, params?: (string | number)[]) => Promise<Outcome>;

async function runs(
  t: { teardown(fn: () => unknown): void },
  claims: Claims = ACME,
): Promise<Record<string, Run>> {
  const conn = await channels.mysql('tenant-1', ['tenants'], 'legacy', t, claims);
  const mcp = await channels.mcp('tenant-1', ['tenants'], t, claims);
  const listener =
    (prepared: boolean): Run =>
    async (sql, params) => {
      try {
        const options = { sql, rowsAsArray: true };
        const [rows] = prepared
          ? await conn.execute(options, params ?? [])
          : await conn.query(options, params);
        return { ok: true, rows: rows as unknown[][] };
      } catch (err) {
        const [warnings] = await conn.query('SHOW WARNINGS').catch(() => [[]]);
        return { ok: false, text: `${(err as Error).message} ${JSON.stringify(warnings)}` };
      }
    };
  return {
    text: listener(false),
    prepared: listener(true),
    mcp: async (sql, params) => {
      if (params !== undefined) return { ok: true, rows: [] };
      const r = await mcp(sql, 'legacy');
      return r.isError ? { ok: false, text: r.text } : { ok: true, rows: r.rows ?? [] };
    },
  };
}

const FILTERED: [string, unknown[][]][] = [
  [
    'SELECT id, item FROM orders ORDER BY id',
    [
      [1, 'anvil'],
      [2, 'rope'],
    ],
  ],
  ['SELECT o.id FROM orders AS o ORDER BY o.id', [[1], [2]]],
  ['SELECT `o`.`id` FROM `orders` `o` ORDER BY 1', [[1], [2]]],
  [`SELECT id FROM ${myDb}.orders ORDER BY id`, [[1], [2]]],
  [`SELECT orders.id FROM \`${myDb}\`.\`orders\` ORDER BY orders.id`, [[1], [2]]],
  ['SELECT COUNT(*), SUM(amount), MAX(item) FROM orders', [[2, '30', 'rope']]],
  ['SELECT tenant, COUNT(*) FROM orders GROUP BY tenant', [['acme', 2]]],
  [
    'SELECT c.name, o.item FROM customers c JOIN orders o ON o.tenant = c.tenant ORDER BY o.id',
    [
      ['Ada', 'anvil'],
      ['Ada', 'rope'],
    ],
  ],
  [
    'SELECT n.id, o.item FROM notes n LEFT JOIN orders o ON o.id = n.id ORDER BY n.id',
    [
      [1, 'anvil'],
      [3, null],
    ],
  ],
  ['SELECT id FROM notes WHERE id IN (SELECT id FROM orders) ORDER BY id', [[1]]],
  ['SELECT id FROM notes n WHERE EXISTS (SELECT 1 FROM orders o WHERE o.id = n.id) ORDER BY id', [[1]]],
  ['SELECT (SELECT MAX(amount) FROM orders) AS top', [[20]]],
  [
    'SELECT d.item FROM (SELECT item, id FROM orders WHERE amount > 0) d ORDER BY d.id',
    [['anvil'], ['rope']],
  ],
  ['WITH w AS (SELECT id, item FROM orders) SELECT item FROM w ORDER BY id', [['anvil'], ['rope']]],
  ['SELECT item FROM orders UNION ALL SELECT name FROM customers', [['anvil'], ['rope'], ['Ada']]],
  ['SELECT orders.id, orders.item FROM orders ORDER BY 1 LIMIT 1', [[1, 'anvil']]],
  ['SELECT `where`.id FROM orders `where` ORDER BY 1', [[1], [2]]],
  ["SELECT id FROM orders WHERE tenant = 'globex' OR 1 = 1 ORDER BY id", [[1], [2]]],
  [`SELECT name FROM ${otherDb}.customers`, [['other-db-row']]],
];

t.test("a SELECT of a filtered table returns only the caller's rows, on every channel", async (t) => {
  const before = await state();
  const channels = await runs(t);
  for (const [sql, expected] of FILTERED) {
    for (const [channel, run] of Object.entries(channels)) {
      const result = await run(sql);
      const label = `${channel}: ${sql}`;
      t.equal(result.ok, true, `${label} ${result.ok ? '' : result.text}`);
      if (!result.ok) continue;
      t.same(result.rows, expected, label);
      if (!sql.includes(otherDb)) t.notMatch(JSON.stringify(result.rows), FOREIGN, label);
    }
  }
  // A placeholder keeps its place: the filter adds none.
  const prepared = await channels['prepared']?.('SELECT item FROM orders WHERE id > ? ORDER BY id', [1]);
  t.same(prepared, { ok: true, rows: [['rope']] });
  const text = await channels['text']?.('SELECT item FROM orders WHERE id > ? ORDER BY id', [0]);
  t.same(text, { ok: true, rows: [['anvil'], ['rope']] });
  t.equal(await state(), before);
});

t.test("the caller's conditions never run on other tenants' rows (no value in a warning)", async (t) => {
  // Without masking, so the target's warnings come back as they are.
  const conn = await channels.mysql('tenant-w', ['tenants-unmasked'], 'legacy', t, ACME);
  for (const sql of [
    'SELECT id FROM orders WHERE item + 0 = 1',
    'SELECT id FROM orders o WHERE CAST(o.item AS DOUBLE) > 0',
    'SELECT o.id FROM notes n JOIN orders o ON o.item + 0 = n.id',
    'SELECT id FROM notes WHERE id IN (SELECT item + 0 FROM orders)',
  ]) {
    for (const prepared of [false, true]) {
      const [rows] = prepared ? await conn.execute(sql) : await conn.query(sql);
      const [warnings] = await conn.query('SHOW WARNINGS');
      t.notMatch(JSON.stringify([rows, warnings]), FOREIGN, `${prepared ? 'prepared' : 'text'}: ${sql}`);
      const messages = (warnings as { Message: string }[]).map((w) => w.Message);
      t.ok(messages.length > 0, `warnings: ${sql}`);
      t.ok(
        messages.every((m) => /'(anvil|rope)'/.test(m)),
        `the caller's own rows only: ${sql}: ${messages.join('; ')}`,
      );
    }
  }
});

/** Orders and notes as the file made them (the write tests change them). */
async function restore(): Promise<void> {
  await admin.query(`DELETE FROM ${myDb}.orders`);
  await admin.query(
    `INSERT INTO ${myDb}.orders VALUES (1, 'acme', 'anvil', 'acme-secret', 10), (2, 'acme', 'rope', 'acme-hidden', 20), (3, 'globex', 'globex-laser', 'globex-secret', 300), (4, 'globex', 'globex-drill', 'globex-hidden', 400)`,
  );
  await admin.query(`DELETE FROM ${myDb}.notes`);
  await admin.query(`INSERT INTO ${myDb}.notes VALUES (1, 'hello'), (3, 'three')`);
}

async function table(name: string): Promise<unknown[][]> {
  const [rows] = await admin.query({ sql: `SELECT * FROM ${myDb}.${name} ORDER BY id`, rowsAsArray: true });
  return rows as unknown[][];
}

const ORDERS: unknown[][] = [
  [1, 'acme', 'anvil', 'acme-secret', 10],
  [2, 'acme', 'rope', 'acme-hidden', 20],
  [3, 'globex', 'globex-laser', 'globex-secret', 300],
  [4, 'globex', 'globex-drill', 'globex-hidden', 400],
];

/** Writes a tenant may make, and the orders (or notes) they leave: only the caller's rows change. */
const WRITES: { sql: string; params?: (string | number)[]; orders?: unknown[][]; notes?: unknown[][] }[] = [
  {
    sql: 'UPDATE orders SET amount = amount + 1',
    orders: [
      [1, 'acme', 'anvil', 'acme-secret', 11],
      [2, 'acme', 'rope', 'acme-hidden', 21],
      ORDERS[2]!,
      ORDERS[3]!,
    ],
  },
  {
    sql: "UPDATE orders SET amount = 0 WHERE tenant = 'globex' OR id > 0",
    orders: [
      [1, 'acme', 'anvil', 'acme-secret', 0],
      [2, 'acme', 'rope', 'acme-hidden', 0],
      ORDERS[2]!,
      ORDERS[3]!,
    ],
  },
  { sql: "UPDATE `orders` AS o SET o.item = 'x' WHERE o.id = 3 OR o.tenant = 'globex'", orders: ORDERS },
  {
    sql: "UPDATE orders SET item = 'x' WHERE id IN (SELECT id FROM customers)",
    orders: [[1, 'acme', 'x', 'acme-secret', 10], ORDERS[1]!, ORDERS[2]!, ORDERS[3]!],
  },
  {
    sql: 'UPDATE orders SET amount = (SELECT MAX(amount) FROM orders) ORDER BY id LIMIT 1',
    orders: [[1, 'acme', 'anvil', 'acme-secret', 20], ORDERS[1]!, ORDERS[2]!, ORDERS[3]!],
  },
  { sql: 'DELETE FROM orders WHERE id = 3', orders: ORDERS },
  {
    sql: `DELETE FROM ${myDb}.orders WHERE id >= 2 /* a comment */`,
    orders: [ORDERS[0]!, ORDERS[2]!, ORDERS[3]!],
  },
  { sql: 'DELETE FROM orders ORDER BY id DESC LIMIT 1', orders: [ORDERS[0]!, ORDERS[2]!, ORDERS[3]!] },
  { sql: 'DELETE FROM orders', orders: [ORDERS[2]!, ORDERS[3]!] },
  { sql: 'DELETE FROM orders WHERE (id) = (4) -- a comment', orders: ORDERS },
  {
    sql: 'INSERT INTO notes (id, body) SELECT id + 100, item FROM orders',
    notes: [
      [1, 'hello'],
      [3, 'three'],
      [101, 'anvil'],
      [102, 'rope'],
    ],
  },
  {
    sql: "INSERT INTO orders (id, tenant, item) VALUES (5, 'acme', 'new')",
    orders: [...ORDERS, [5, 'acme', 'new', null, null]],
  },
  {
    sql: 'INSERT INTO `orders` SET id = 6, `Tenant` = "acme"',
    orders: [...ORDERS, [6, 'acme', null, null, null]],
  },
  {
    sql: "INSERT INTO orders (id, tenant) VALUES (?, 'acme')",
    params: [7],
    orders: [...ORDERS, [7, 'acme', null, null, null]],
  },
  { sql: 'UPDATE orders SET amount = ? WHERE id = ?', params: [5, 3], orders: ORDERS },
  {
    sql: 'UPDATE orders SET amount = ? WHERE id = ?',
    params: [5, 1],
    orders: [[1, 'acme', 'anvil', 'acme-secret', 5], ORDERS[1]!, ORDERS[2]!, ORDERS[3]!],
  },
];

t.test(
  "an UPDATE, DELETE or INSERT ... SELECT touches only the caller's rows, on every channel",
  async (t) => {
    t.teardown(restore);
    const channels = await runs(t);
    for (const write of WRITES) {
      for (const [channel, run] of Object.entries(channels)) {
        if (write.params !== undefined && channel === 'mcp') continue;
        await restore();
        const result = await run(write.sql, write.params);
        const label = `${channel}: ${write.sql} ${JSON.stringify(write.params ?? [])}`;
        t.equal(result.ok, true, `${label} ${result.ok ? '' : result.text}`);
        t.notMatch(JSON.stringify(result), FOREIGN, label);
        t.same(await table('orders'), write.orders ?? ORDERS, `orders after ${label}`);
        if (write.notes !== undefined) t.same(await table('notes'), write.notes, `notes after ${label}`);
      }
    }
  },
);

t.test(
  "a write's own condition never runs on other tenants' rows (no value in an error or warning)",
  async (t) => {
    t.teardown(restore);
    // Without masking, so the target's errors and warnings come back as they are; the conditions
    // would fail (strict mode) or warn on the other tenant's rows only (ids 3 and 4).
    const conn = await channels.mysql('tenant-w', ['tenants-writer'], 'legacy', t, ACME);
    for (const sql of [
      'UPDATE orders SET amount = amount WHERE IF(id > 2, item + 0, 1) = 0',
      'DELETE FROM orders WHERE CASE WHEN id > 2 THEN CAST(item AS DOUBLE) ELSE 1 END = 0',
      'UPDATE orders SET amount = amount WHERE id IN (SELECT IF(o.id > 2, o.item + 0, 0) FROM orders o)',
      'DELETE FROM orders WHERE IF(id > 2, item + 0, 1) = 0 ORDER BY id LIMIT 10',
    ]) {
      for (const prepared of [false, true]) {
        await restore();
        const label = `${prepared ? 'prepared' : 'text'}: ${sql}`;
        const result = await (prepared ? conn.execute(sql) : conn.query(sql)).then(
          ([r]) => r,
          (err: Error) => err.message,
        );
        const [warnings] = await conn.query('SHOW WARNINGS');
        t.notMatch(JSON.stringify([result, warnings]), FOREIGN, label);
        t.equal(typeof result, 'object', `it ran: ${label} ${JSON.stringify(result)}`);
        t.same(await table('orders'), ORDERS, label);
      }
    }
  },
);

t.test('masking still applies to a filtered table', async (t) => {
  const { text, prepared, mcp } = await runs(t);
  for (const run of [text, prepared, mcp]) {
    const result = await run!('SELECT id, secret, CONCAT(secret, item) AS x FROM orders ORDER BY id');
    t.equal(result.ok, true);
    if (result.ok) t.notMatch(JSON.stringify(result.rows), FOREIGN);
  }
});

const REFUSED = [
  'SELECT * FROM v_orders',
  'SELECT * FROM v_v_orders',
  'SELECT * FROM notes n JOIN v_orders v ON v.id = n.id',
  "SELECT 'orders'",
  'SELECT * FROM (orders)',
  'SELECT * FROM orders FORCE INDEX (PRIMARY)',
  'SELECT * FROM orders FOR SYSTEM_TIME ALL',
  'SELECT * FROM orders PARTITION (p0)',
  'WITH orders AS (SELECT 1 AS id) SELECT * FROM orders',
  'SELECT orders.id FROM notes AS orders',
  'SELECT * FROM notes WHERE body = "orders"',
  'TABLE orders',
  "PREPARE s FROM 'SELECT * FROM orders'",
  "SET @q = 'SELECT * FROM orders'",
  "INSERT INTO orders VALUES (9, 'acme', 'new', 'x', 1)",
  "REPLACE INTO orders (id, tenant) VALUES (3, 'acme')",
  "INSERT INTO orders (id, tenant) VALUES (8, 'globex')",
  "INSERT INTO orders (id, tenant) VALUES (8, 'acme'), (9, 'globex')",
  "INSERT INTO orders (id, tenant) VALUES (1, 'acme') ON DUPLICATE KEY UPDATE item = 'x'",
  "INSERT INTO orders (id, tenant) SELECT 8, 'acme'",
  "INSERT INTO orders (id, item) VALUES (8, 'x')",
  "INSERT INTO orders (id, tenant) VALUES (8, CONCAT('ac', 'me'))",
  "INSERT INTO orders (id, tenant) VALUES (8, 'ACME')",
  "INSERT INTO orders (id, tenant) VALUES (8, 'acm\\e')",
  "INSERT INTO orders SET id = 8, tenant = 'globex'",
  "INSERT INTO orders (id, tenant, tenant) VALUES (8, 'acme', 'globex')",
  'INSERT INTO v_orders (id) VALUES (8)',
  "INSERT INTO notes (id, body) VALUES (5, 'x') ON DUPLICATE KEY UPDATE body = (SELECT item FROM v_orders LIMIT 1)",
  "UPDATE orders SET tenant = 'acme' WHERE id = 3",
  "UPDATE orders SET `TENANT` = 'globex' WHERE id = 1",
  "UPDATE orders o JOIN notes n ON n.id = o.id SET o.item = 'x'",
  'UPDATE notes n JOIN orders o ON n.id = o.id SET n.body = o.item',
  'UPDATE notes, orders SET notes.body = orders.item WHERE notes.id = orders.id',
  'DELETE o FROM orders o WHERE o.id = 3',
  'DELETE orders, notes FROM orders JOIN notes ON notes.id = orders.id',
  'DELETE FROM orders USING orders JOIN notes ON notes.id = orders.id',
  "UPDATE v_orders SET item = 'x'",
  'DELETE FROM v_orders',
  'SELECT id FROM orders; SELECT id FROM notes',
  'HANDLER orders OPEN',
  'DESCRIBE orders',
  'SHOW CREATE TABLE orders',
  `SELECT * FROM ${myDb}.v_orders`,
];

t.test("what names a filtered table outside a SELECT's FROM is refused, and nothing changes", async (t) => {
  const before = await state();
  const channels = await runs(t);
  for (const sql of REFUSED) {
    for (const [channel, run] of Object.entries(channels)) {
      const result = await run(sql);
      const label = `${channel}: ${sql}`;
      t.equal(result.ok, false, label);
      t.notMatch(JSON.stringify(result), FOREIGN, label);
    }
    t.equal(await state(), before, `database unchanged: ${sql}`);
  }
  // The sessions go on.
  for (const run of Object.values(channels))
    t.same(await run('SELECT id FROM orders ORDER BY id'), { ok: true, rows: [[1], [2]] });
});

t.test('a claim is a literal, whatever it holds; a missing claim refuses', async (t) => {
  const hostile = await runs(t, { tenant: "acme' OR '1'='1" });
  for (const run of Object.values(hostile)) {
    t.same(await run('SELECT id FROM orders'), { ok: true, rows: [] });
  }
  const escaping = await runs(t, { tenant: 'acme\\' });
  for (const run of Object.values(escaping))
    t.same(await run('SELECT id FROM orders'), { ok: true, rows: [] });
  // A number claim is text, as on Postgres: `'acme' = 0` would hold in MySQL.
  const numeric = await runs(t, { tenant: 0 });
  for (const run of Object.values(numeric))
    t.same(await run('SELECT id FROM orders'), { ok: true, rows: [] });
  const missing = await runs(t, {});
  for (const run of Object.values(missing)) {
    const result = await run('SELECT id FROM orders');
    t.equal(result.ok, false);
    if (!result.ok) t.match(result.text, /claim tenant/);
  }
});

t.test('a view made after the catalog was read is seen', async (t) => {
  const channels = await runs(t);
  t.same(await channels['text']?.('SELECT id FROM orders ORDER BY id'), { ok: true, rows: [[1], [2]] });
  await admin.query(`CREATE VIEW ${myDb}.late_view AS SELECT id, item FROM ${myDb}.orders`);
  t.teardown(() => admin.query(`DROP VIEW IF EXISTS ${myDb}.late_view`));
  for (const run of Object.values(channels)) {
    const result = await run('SELECT o.id FROM orders o JOIN late_view l ON l.id = o.id');
    t.equal(result.ok, false);
    t.notMatch(JSON.stringify(result), FOREIGN);
  }
});
