/**
 * Row filters (#19): `rowFilters: [{ table: orders, where: "tenant = {claims.tenant}" }]` lets a
 * caller see, update and delete only its tenant's rows, on every channel (MCP, the Postgres
 * listener's simple and extended protocols), under every query form (aliases, joins, CTEs,
 * subqueries, views, whole-row, aggregates, TABLE, TABLESAMPLE, COPY, partitions and inheriting
 * tables), with the claim bound as a constant the parser quotes. What cannot be proven filtered
 * is refused. On MySQL targets a SELECT is rewritten by text (mysql-row-filters.test.ts has the
 * attacks); other statements naming a filtered table are refused.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import t from 'tap';
import type { Claims } from '../support/channels.js';
import { startChannels } from '../support/channels.js';
import { adminQuery, createScratchDatabase, randomSuffix } from '../support/postgres.js';

const run = promisify(execFile);
const { name: db } = await createScratchDatabase(t, 'sluice_rf');
await adminQuery(
  `CREATE TABLE orders (id int PRIMARY KEY, tenant text NOT NULL, item text, secret text, amount int);
   INSERT INTO orders VALUES
     (1, 'acme', 'acme-anvil', 'acme-s1', 10), (2, 'acme', 'acme-rope', 'acme-s2', 20),
     (3, 'globex', 'globex-laser', 'globex-s3', 300), (4, 'globex', 'globex-drill', 'globex-s4', 400);
   CREATE TABLE orders_2025 () INHERITS (orders);
   INSERT INTO orders_2025 VALUES (11, 'acme', 'acme-old', 'acme-s11', 1), (13, 'globex', 'globex-old', 'globex-s13', 3);
   CREATE TABLE customers (order_id int, name text);
   INSERT INTO customers VALUES (1, 'wile'), (3, 'hank'), (4, 'scorpio');
   CREATE TABLE events (tenant text NOT NULL, id int, what text) PARTITION BY LIST (tenant);
   CREATE TABLE events_acme PARTITION OF events FOR VALUES IN ('acme');
   CREATE TABLE events_globex PARTITION OF events FOR VALUES IN ('globex');
   INSERT INTO events VALUES ('acme', 1, 'acme-login'), ('globex', 2, 'globex-login');
   CREATE TABLE ledger (tenant text, note text);
   CREATE TABLE ledger_private () INHERITS (ledger);
   INSERT INTO ledger VALUES ('none', 'public-note');
   INSERT INTO ledger_private VALUES ('globex', 'globex-private');
   CREATE VIEW v_orders AS SELECT id, tenant, item FROM orders;
   CREATE VIEW v_big AS SELECT id AS order_no, item FROM v_orders WHERE id > 0;
   CREATE FUNCTION all_orders() RETURNS SETOF orders LANGUAGE sql AS 'SELECT * FROM orders';`,
  [],
  db,
);
const myDb = `sluice_rf_${randomSuffix()}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);
await admin.query(`CREATE TABLE ${myDb}.orders (id int, tenant varchar(20))`);
await admin.query(`CREATE TABLE ${myDb}.notes (id int, body varchar(20))`);
await admin.query(`INSERT INTO ${myDb}.orders VALUES (1, 'acme'), (3, 'globex')`);
await admin.query(`INSERT INTO ${myDb}.notes VALUES (1, 'hello')`);
await admin.query(`CREATE VIEW ${myDb}.v_orders AS SELECT id FROM ${myDb}.orders`);
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
  shop: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${db}, user: postgres, tls: disable }
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${myDb}, user: root, tls: disable }
guard:
  sideEffectFunctions: { postgres: { all_orders: [read] } }
policies:
  - name: tenants
    when: { groups: [tenants] }
    statements: { default: deny, allow: [read, write, delete] }
    rowFilters:
      - { table: orders, where: "tenant = {claims.tenant}" }
      - { table: events, where: "tenant = {claims.tenant}" }
      - { table: ledger_private, where: "tenant = {claims.tenant}" }
    masking:
      - { columns: [orders.secret], strategy: redact }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-rf-',
);
const ACME: Claims = { tenant: 'acme' };

/** Every way a statement reaches Postgres, as one function returning rows or an error text. */
type Runner = (sql: string, params?: unknown[]) => Promise<{ rows: unknown[][] } | { error: string }>;

async function runners(
  t: { teardown(fn: () => unknown): void },
  claims: Claims = ACME,
): Promise<Record<string, Runner>> {
  const mcp = await channels.mcp('agent-1', ['tenants'], t, claims);
  const simple = await channels.psql('agent-1', ['tenants'], 'shop', t, {}, claims);
  const extended = await channels.psql('agent-1', ['tenants'], 'shop', t, {}, claims);
  const viaPg =
    (client: typeof simple, mode: 'simple' | 'extended'): Runner =>
    async (sql, params) => {
      try {
        const result = await client.query({
          text: sql,
          rowMode: 'array',
          ...(params ? { values: params } : {}),
          ...(mode === 'extended' ? { queryMode: 'extended' } : {}),
        } as never);
        return { rows: (result as unknown as { rows: unknown[][] }).rows };
      } catch (err) {
        return { error: JSON.stringify({ message: (err as Error).message, ...(err as object) }) };
      }
    };
  return {
    mcp: async (sql, params) => {
      if (params !== undefined) return { rows: [] };
      const r = await mcp(sql, 'shop');
      return r.isError ? { error: r.text } : { rows: r.rows ?? [] };
    },
    'psql simple': viaPg(simple, 'simple'),
    'psql extended': viaPg(extended, 'extended'),
  };
}

const ORDER_TEXTS = /globex-(laser|drill|old|s3|s4|s13|login|private)/;

t.test('reads see only the caller tenant rows, in every form, on every channel', async (t) => {
  const channelsOf = await runners(t);
  const reads: [string, (rows: unknown[][]) => boolean][] = [
    ['SELECT id FROM orders ORDER BY id', (r) => ids(r) === '1,2,11'],
    ['SELECT o.id FROM orders o ORDER BY 1', (r) => ids(r) === '1,2,11'],
    ['SELECT id FROM public.orders ORDER BY id', (r) => ids(r) === '1,2,11'],
    ['SELECT id FROM ONLY orders ORDER BY id', (r) => ids(r) === '1,2'],
    ['TABLE orders', (r) => r.length === 3],
    ['SELECT * FROM orders', (r) => r.length === 3],
    [
      'SELECT count(*), sum(amount) FROM orders',
      (r) => String(r[0]?.[0]) === '3' && String(r[0]?.[1]) === '31',
    ],
    ['SELECT (SELECT count(*) FROM orders)', (r) => String(r[0]?.[0]) === '3'],
    ["SELECT EXISTS (SELECT 1 FROM orders WHERE tenant = 'globex')", (r) => r[0]?.[0] === false],
    ["SELECT id FROM orders WHERE tenant = 'globex'", (r) => r.length === 0],
    ['SELECT id FROM orders WHERE id IN (3, 4, 13)', (r) => r.length === 0],
    ['WITH x AS (SELECT * FROM orders) SELECT id FROM x ORDER BY id', (r) => ids(r) === '1,2,11'],
    ['WITH orders AS (SELECT * FROM orders) SELECT id FROM orders ORDER BY id', (r) => ids(r) === '1,2,11'],
    ['SELECT c.name FROM customers c JOIN orders o ON o.id = c.order_id', (r) => r.length === 1],
    [
      'SELECT c.name, o.id FROM customers c LEFT JOIN orders o ON o.id = c.order_id ORDER BY 1',
      (r) => r.filter((x) => x[1] !== null).length === 1,
    ],
    ['SELECT id FROM orders_2025', (r) => ids(r) === '11'],
    ['SELECT tenant FROM orders UNION SELECT tenant FROM orders_2025', (r) => r.length === 1],
    ['SELECT o FROM orders o', (r) => r.length === 3],
    ['SELECT row_to_json(o) FROM orders o', (r) => r.length === 3],
    ['SELECT id FROM v_orders ORDER BY id', (r) => ids(r) === '1,2,11'],
    ['SELECT order_no FROM v_big ORDER BY 1', (r) => ids(r) === '1,2,11'],
    ['SELECT v.item FROM v_orders AS v(i, t, item)', (r) => r.length === 3],
    ['SELECT id FROM orders TABLESAMPLE SYSTEM (100)', (r) => r.length === 3],
    ['SELECT id FROM events', (r) => ids(r) === '1'],
    ['SELECT id FROM events_globex', (r) => r.length === 0],
    ["SELECT string_agg(item, ',') FROM orders", (r) => !String(r[0]?.[0]).includes('globex')],
    ['SELECT * FROM ONLY ledger', (r) => r.length === 1],
    ['SELECT 1 FROM orders a, orders b', (r) => r.length === 9],
    ['SELECT id FROM (SELECT * FROM orders) s ORDER BY 1', (r) => ids(r) === '1,2,11'],
    ['SELECT id FROM orders WHERE id = ANY (SELECT id FROM orders_2025)', (r) => ids(r) === '11'],
    ['SELECT id FROM orders LIMIT 10 OFFSET 0', (r) => r.length === 3],
    ['SELECT secret FROM orders ORDER BY id', (r) => r.every((x) => !String(x[0]).includes('s'))],
  ];
  for (const [name, runner] of Object.entries(channelsOf)) {
    for (const [sql, check] of reads) {
      const out = await runner(sql);
      t.ok('rows' in out && check(out.rows), `${name}: ${sql}`, { out });
      t.notMatch(JSON.stringify(out), ORDER_TEXTS, `${name}: ${sql} shows no other tenant's value`);
    }
  }
});

t.test(
  'cursors, PREPARE, multi-statement texts, LATERAL, CTE writes and INSERT ... SELECT stay filtered',
  async (t) => {
    const { 'psql simple': simple, 'psql extended': extended, mcp } = await runners(t);
    await simple!('BEGIN');
    t.ok('rows' in (await simple!('DECLARE c CURSOR FOR SELECT id FROM orders ORDER BY id')));
    t.same(await simple!('FETCH ALL FROM c'), { rows: [[1], [2], [11]] });
    await simple!('COMMIT');
    t.ok('rows' in (await simple!('PREPARE p AS SELECT id FROM orders WHERE id = $1')));
    t.same(await simple!('EXECUTE p(3)'), { rows: [] });
    const one = await simple!('EXECUTE p(1)');
    t.ok('rows' in one && one.rows.length === 1, 'EXECUTE of the caller row finds it');
    const both = await simple!("SELECT 1; SELECT count(*) FROM orders WHERE tenant <> 'acme'");
    t.notMatch(JSON.stringify(both), ORDER_TEXTS);
    t.notOk(
      'error' in both,
      `a text of several statements runs (printed one by one): ${JSON.stringify(both)}`,
    );
    const lateral = await extended!(
      'SELECT c.name, x.id FROM customers c, LATERAL (SELECT id FROM orders o WHERE o.id = c.order_id) x',
    );
    t.same(lateral, { rows: [['wile', 1]] });
    const aliased = await mcp!('SELECT sluice_row_filter.id FROM orders AS sluice_row_filter ORDER BY 1');
    t.same(aliased, { rows: [[1], [2], [11]] }, 'an alias of our own name changes nothing');
    const quoted = await mcp!('SELECT count(*) FROM "public"."orders", U&"orders" AS u');
    t.same(quoted, { rows: [['9']] }, 'quoted and escaped names are the same table');
    await adminQuery('CREATE TABLE copied (id int, item text)', [], db);
    t.teardown(() => adminQuery('DROP TABLE IF EXISTS copied', [], db));
    t.ok('rows' in (await mcp!('INSERT INTO copied SELECT id, item FROM orders')));
    t.ok(
      'rows' in
        (await mcp!(
          'WITH d AS (DELETE FROM orders WHERE id = 3 RETURNING *) INSERT INTO copied SELECT id, item FROM d',
        )),
    );
    const copied = (await adminQuery('SELECT id FROM copied ORDER BY id', [], db)).rows;
    t.same(copied, [{ id: 1 }, { id: 2 }, { id: 11 }], 'INSERT ... SELECT copied the caller rows only');
    const ctid = await mcp!('SELECT ctid, id FROM orders');
    t.ok('error' in ctid, 'system columns are not reachable through the filter');
    t.notMatch(JSON.stringify(ctid), ORDER_TEXTS);
    const merge = await mcp!(
      'MERGE INTO orders o USING customers c ON o.id = c.order_id WHEN MATCHED THEN UPDATE SET item = c.name',
    );
    t.match(JSON.stringify(merge), /row filter/, 'MERGE into a filtered table is refused');
    const doBlock = await simple!('DO $$ BEGIN PERFORM * FROM orders; END $$');
    t.ok('error' in doBlock, 'DO is refused');
    t.equal(
      (await adminQuery("SELECT count(*)::int AS n FROM orders WHERE tenant = 'globex'", [], db)).rows[0]?.n,
      3,
    );
  },
);

t.test('tables and views made after the catalog was read are filtered at once', async (t) => {
  const { mcp, 'psql simple': simple } = await runners(t);
  t.ok('rows' in (await mcp!('SELECT id FROM orders')), 'the catalog is loaded');
  await adminQuery(
    `CREATE TABLE orders_2026 () INHERITS (orders);
     INSERT INTO orders_2026 VALUES (21, 'acme', 'acme-new', 'acme-s21', 1), (23, 'globex', 'globex-new', 'globex-s23', 3);
     CREATE VIEW v_late AS SELECT id, item FROM orders_2026;
     CREATE TABLE events_other PARTITION OF events DEFAULT;
     INSERT INTO events VALUES ('initech', 5, 'initech-login');`,
    [],
    db,
  );
  t.teardown(() =>
    adminQuery('DROP VIEW IF EXISTS v_late; DROP TABLE IF EXISTS orders_2026, events_other', [], db),
  );
  for (const runner of [mcp!, simple!]) {
    t.same(await runner('SELECT id FROM orders_2026'), { rows: [[21]] });
    t.same(await runner('SELECT id FROM v_late'), { rows: [[21]] });
    t.same(await runner('SELECT id FROM events_other'), { rows: [] });
  }
});

t.test('extended protocol with parameters: the filter holds whatever they are', async (t) => {
  const { 'psql extended': extended } = await runners(t);
  const byId = await extended!('SELECT id, item FROM orders WHERE id = $1', [3]);
  t.same(byId, { rows: [] });
  const mine = await extended!('SELECT id FROM orders WHERE tenant = $1::text OR id = $2', ['globex', 1]);
  t.same(mine, { rows: [[1]] });
});

t.test('errors raised by the caller conditions never show other tenants values', async (t) => {
  for (const [name, runner] of Object.entries(await runners(t))) {
    for (const sql of [
      'SELECT id FROM orders WHERE CAST(item AS int) = 1',
      'SELECT id FROM orders o JOIN customers c ON CAST(o.item AS int) = c.order_id',
      'SELECT CAST(item AS int) FROM orders',
      'SELECT id FROM v_orders WHERE item::int = 0',
      'UPDATE orders SET amount = amount WHERE CAST(item AS int) = 1',
    ]) {
      const out = await runner(sql);
      t.ok('error' in out, `${name}: ${sql} fails`);
      t.notMatch(
        JSON.stringify(out),
        ORDER_TEXTS,
        `${name}: ${sql}: the error names no other tenant's value`,
      );
    }
  }
});

t.test('UPDATE and DELETE touch only the caller tenant rows', async (t) => {
  const before = (await adminQuery('SELECT id, item FROM orders ORDER BY id', [], db)).rows;
  const channelsOf = await runners(t);
  for (const [name, runner] of Object.entries(channelsOf)) {
    t.ok(
      'rows' in (await runner("UPDATE orders SET item = item || '' WHERE id IN (1, 3)")),
      `${name}: update`,
    );
    t.ok(
      'rows' in (await runner('DELETE FROM orders WHERE id = 4')),
      `${name}: delete of another tenant's row`,
    );
    t.ok('rows' in (await runner('DELETE FROM orders_2025 WHERE id = 13')), `${name}: delete from the child`);
    t.ok('rows' in (await runner('UPDATE orders SET amount = amount')), `${name}: update of every row`);
    const returning = await runner('UPDATE orders SET amount = amount RETURNING id');
    t.ok(
      'rows' in returning && ids(returning.rows.sort((a, b) => Number(a[0]) - Number(b[0]))) === '1,2,11',
      `${name}: RETURNING shows the caller's rows`,
    );
  }
  const after = (await adminQuery('SELECT id, item FROM orders ORDER BY id', [], db)).rows;
  t.same(after, before, 'no other tenant row changed or went');
  const { 'psql simple': simple } = channelsOf;
  const del = await simple!("DELETE FROM orders WHERE tenant = 'globex' RETURNING id");
  t.same(del, { rows: [] });
  t.same(
    (await adminQuery("SELECT count(*)::int AS n FROM orders WHERE tenant = 'globex'", [], db)).rows[0],
    {
      n: 3,
    },
  );
});

t.test("INSERT ... VALUES of the caller's own rows runs; any other new row is refused", async (t) => {
  t.teardown(() =>
    adminQuery('DELETE FROM orders WHERE id >= 30; DELETE FROM events WHERE id >= 30', [], db),
  );
  const allowed: [string, string, unknown[]?][] = [
    ['mcp', "INSERT INTO orders (id, tenant, item) VALUES (31, 'acme', 'new')"],
    ['psql simple', "INSERT INTO orders (tenant, id) VALUES ('acme', 32), ('acme', 33) RETURNING id"],
    ['psql extended', "INSERT INTO events (tenant, id, what) VALUES ('acme', 34, 'x')"],
    ['psql simple', "INSERT INTO orders (id, tenant) VALUES (35, 'acme') ON CONFLICT DO NOTHING"],
    ['psql extended', "INSERT INTO orders (id, tenant) VALUES ($1, 'acme')", [36]],
    [
      'mcp',
      'WITH x AS (INSERT INTO orders (id, "tenant") VALUES (37, \'acme\') RETURNING id) SELECT id FROM x',
    ],
  ];
  const refused = [
    "INSERT INTO orders (id, tenant) VALUES (40, 'globex')",
    "INSERT INTO orders (id, tenant) VALUES (41, 'acme'), (42, 'globex')",
    "INSERT INTO orders (id, item) VALUES (43, 'x')",
    "INSERT INTO orders (id, tenant) VALUES (45, 'ACME')",
    "INSERT INTO orders (id, tenant) VALUES (46, 'acme' || '')",
    "INSERT INTO orders (id, tenant) VALUES (46, 'acme'::text)",
    "INSERT INTO orders (id, tenant) SELECT 47, 'acme'",
    'INSERT INTO orders (id, tenant) SELECT 47, tenant FROM orders LIMIT 1',
    "INSERT INTO orders (id, tenant) VALUES (48, 'acme') ON CONFLICT (id) DO UPDATE SET item = 'x'",
    "INSERT INTO orders (id, tenant) VALUES (1, 'acme') ON CONFLICT (id) DO UPDATE SET item = 'x' WHERE orders.tenant = 'globex'",
    'INSERT INTO orders DEFAULT VALUES',
    "INSERT INTO orders VALUES (44, 'acme')",
    'INSERT INTO orders (id, tenant) VALUES (49, NULL)',
    'INSERT INTO orders (id, tenant) VALUES (50, DEFAULT)',
    "INSERT INTO orders_2025 (id, tenant) VALUES (51, 'globex')",
    "WITH x AS (INSERT INTO orders (id, tenant) VALUES (52, 'globex') RETURNING id) SELECT * FROM x",
    "INSERT INTO v_orders (id, tenant) VALUES (53, 'acme')",
    "INSERT INTO events (tenant, id) VALUES ('globex', 54)",
    "INSERT INTO orders (id, tenant) VALUES (55, (SELECT 'acme'))",
    'INSERT INTO orders (id, "TENANT") VALUES (56, \'acme\')',
  ];
  const channelsOf = await runners(t);
  for (const [name, sql, params] of allowed) {
    const out = await channelsOf[name]!(sql, params);
    t.ok('rows' in out, `${name}: ${sql} ${JSON.stringify(out)}`);
  }
  const inserted = (await adminQuery('SELECT id, tenant FROM orders WHERE id >= 30 ORDER BY id', [], db))
    .rows;
  t.same(
    inserted.map((r) => `${r.id}:${r.tenant}`),
    ['31:acme', '32:acme', '33:acme', '35:acme', '36:acme', '37:acme'],
  );
  for (const [name, runner] of Object.entries(channelsOf)) {
    for (const sql of refused) {
      const out = await runner(sql);
      t.ok('error' in out, `${name}: ${sql} refused`);
      t.notMatch(JSON.stringify(out), ORDER_TEXTS, `${name}: ${sql}`);
    }
  }
  t.same((await adminQuery('SELECT count(*)::int AS n FROM orders WHERE id >= 38', [], db)).rows, [{ n: 0 }]);
  t.same((await adminQuery("SELECT count(*)::int AS n FROM events WHERE tenant = 'globex'", [], db)).rows, [
    { n: 1 },
  ]);
  t.same((await adminQuery('SELECT item FROM orders WHERE id = 1', [], db)).rows, [{ item: 'acme-anvil' }]);
  const why = await channelsOf['mcp']!("INSERT INTO orders (id, tenant) VALUES (40, 'globex')");
  t.match(JSON.stringify(why), /row 1 must set tenant to the caller's own tenant/);
});

t.test('what cannot be proven filtered is refused, on every channel', async (t) => {
  const refused = [
    "INSERT INTO orders VALUES (9, 'globex', 'x', 'y', 1)",
    "INSERT INTO events VALUES ('globex', 9, 'x')",
    "UPDATE orders SET tenant = 'globex' WHERE id = 1",
    'UPDATE orders SET (tenant, item) = (SELECT tenant, item FROM orders WHERE id = 2) WHERE id = 1',
    'SELECT * FROM ledger',
    'UPDATE ledger SET note = note',
    'SELECT * FROM pg_stats',
    'SELECT most_common_vals FROM pg_catalog.pg_stats',
    // Other sessions' statements: other tenants' rewritten texts, with their claims.
    'SELECT query FROM pg_stat_activity',
    'SELECT query FROM pg_catalog.pg_stat_activity WHERE pid <> pg_backend_pid()',
    'SELECT * FROM pg_stat_get_activity(NULL)',
    'SELECT (pg_stat_get_activity(NULL)).query',
    'SELECT * FROM all_orders()',
    'COPY orders FROM STDIN',
    'UPDATE v_orders SET item = item',
    'TRUNCATE orders',
  ];
  for (const [name, runner] of Object.entries(await runners(t))) {
    for (const sql of refused) {
      const out = await runner(sql);
      t.ok('error' in out, `${name}: ${sql} refused`);
      t.notMatch(JSON.stringify(out), ORDER_TEXTS, `${name}: ${sql}`);
    }
  }
  const counts = (
    await adminQuery('SELECT tenant, count(*)::int AS n FROM ONLY orders GROUP BY 1 ORDER BY 1', [], db)
  ).rows;
  t.same(counts, [
    { tenant: 'acme', n: 2 },
    { tenant: 'globex', n: 2 },
  ]);
  const { mcp } = await runners(t);
  const insert = await mcp!("INSERT INTO orders VALUES (9, 'acme', 'x', 'y', 1)");
  t.match(JSON.stringify(insert), /orders.*row filter/, 'the refusal says why');
});

t.test('a token without the claim is refused; a claim with quotes stays a value', async (t) => {
  const missing = await runners(t, {});
  for (const [name, runner] of Object.entries(missing)) {
    const out = await runner('SELECT id FROM orders');
    t.match(JSON.stringify(out), /claim tenant/, `${name}: the refusal names the claim`);
    t.ok('rows' in (await runner('SELECT name FROM customers')), `${name}: unfiltered tables still read`);
  }
  const quoted = await runners(t, { tenant: "acme' OR '1'='1" });
  for (const [name, runner] of Object.entries(quoted)) {
    t.same(await runner('SELECT id FROM orders'), { rows: [] }, `${name}: no rows for a tenant of that name`);
  }
  const globex = await runners(t, { tenant: 'globex' });
  const mine = await globex.mcp!('SELECT id FROM orders ORDER BY id');
  t.same(mine, { rows: [[3], [4], [13]] }, 'another tenant sees its own rows');
});

t.test('COPY TO of a filtered table copies the caller rows (psql)', async (t) => {
  const token = await channels.token('agent-1', ['tenants'], ACME);
  const psql = (sql: string) =>
    run(
      'psql',
      [
        '-X',
        '-h',
        '127.0.0.1',
        '-p',
        String(channels.postgresPort),
        '-U',
        'agent-1',
        '-d',
        'shop',
        '-c',
        sql,
      ],
      {
        env: { ...process.env, PGPASSWORD: token, PGSSLMODE: 'disable' },
      },
    ).catch((err: { stdout?: string; stderr?: string }) => ({
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    }));
  const out = await psql('COPY orders (id, tenant) TO STDOUT');
  t.same(out.stdout.split('\n').sort(), ['', '1\tacme', '11\tacme', '2\tacme']);
  const sub = await psql('COPY (SELECT id FROM orders) TO STDOUT');
  t.equal(sub.stdout.split('\n').sort().join('\n'), '\n1\n11\n2');
});

t.test('the decision records the text that ran', async (t) => {
  const { mcp } = await runners(t);
  await mcp!('SELECT id FROM orders WHERE id > 0');
  const events = await channels.recorded('agent-1');
  const decision = events.find(
    (e) => e.type === 'decision' && typeof (e as { rewritten?: unknown }).rewritten === 'string',
  ) as { rewritten: string } | undefined;
  t.ok(decision, 'a decision carries rewritten');
  t.match(decision?.rewritten, /sluice_row_filter/);
  t.match(decision?.rewritten, /'acme'/);
});

t.test(
  'MySQL: a SELECT of a filtered table is filtered; a view over one and other sessions refused',
  async (t) => {
    const conn = await channels.mysql('agent-1', ['tenants'], 'legacy', t, ACME);
    for (const sql of ['SELECT * FROM orders', 'SELECT * FROM `orders`', `SELECT * FROM ${myDb}.orders`]) {
      const [rows] = await conn.query(sql);
      t.same(rows, [{ id: 1, tenant: 'acme' }], sql);
    }
    for (const sql of [
      'SELECT * FROM v_orders',
      // Other sessions' statement texts.
      'SHOW FULL PROCESSLIST',
      'SELECT info FROM information_schema.PROCESSLIST',
      'SELECT sql_text FROM performance_schema.events_statements_history',
      'SELECT * FROM sys.processlist',
      'SELECT trx_query FROM information_schema.INNODB_TRX',
    ]) {
      const err = await conn.query(sql).then(
        () => undefined,
        (e: Error) => e,
      );
      // The guard may refuse first (SHOW PROCESSLIST is `admin`); either way nothing is read.
      t.match(err?.message, /row filter|statement denied/, `refused: ${sql}`);
    }
    const [rows] = await conn.query('SELECT body FROM notes');
    t.same(rows, [{ body: 'hello' }]);
    const mcp = await channels.mcp('agent-1', ['tenants'], t, ACME);
    t.same((await mcp('SELECT * FROM orders', 'legacy')).rows, [[1, 'acme']]);
    t.match((await mcp('SELECT * FROM v_orders', 'legacy')).text, /row filter/);
  },
);

function ids(rows: unknown[][]): string {
  return rows.map((r) => String(r[0])).join(',');
}
