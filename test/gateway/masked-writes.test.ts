/**
 * Masking hides values on their way to the caller; a caller who may write must not have the
 * database store a masked value where the next read returns it in clear: a table (INSERT ...
 * SELECT, UPDATE ... SET, MERGE, ON CONFLICT / ON DUPLICATE KEY UPDATE, SELECT INTO, data-modifying
 * CTEs, PREPAREd writes) or a function that keeps its arguments (set_config, pg_notify,
 * lo_from_bytea, advisory locks). Every channel: MCP on both engines, the Postgres listener
 * (simple and extended protocol) and the MySQL listener (text and prepared). The database must
 * be as it was, and nothing the client receives may hold a masked value.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import t from 'tap';
import { startChannels } from '../support/channels.js';
import { adminQuery, createScratchDatabase } from '../support/postgres.js';

const { name: pgDb } = await createScratchDatabase(t, 'sluice_mwrite');
await adminQuery(
  `CREATE TABLE customers (id int PRIMARY KEY, name text, ssn text, email text);
   INSERT INTO customers VALUES (1, 'Ada', '123-45-6789', 'ada@example.com'), (2, 'Bob', '987-65-4321', 'bob@example.org');
   CREATE TABLE notes (id int PRIMARY KEY, body text);
   INSERT INTO notes VALUES (1, 'first'), (2, 'second');
   CREATE VIEW people AS SELECT id, name, ssn AS tax_id FROM customers;`,
  [],
  pgDb,
);
const myDb = `sluice_mwrite_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);
await admin.query(
  `CREATE TABLE ${myDb}.customers (id INT PRIMARY KEY, name VARCHAR(40), ssn VARCHAR(20), email VARCHAR(80))`,
);
await admin.query(
  `INSERT INTO ${myDb}.customers VALUES (1, 'Ada', '123-45-6789', 'ada@example.com'), (2, 'Bob', '987-65-4321', 'bob@example.org')`,
);
await admin.query(`CREATE TABLE ${myDb}.notes (id INT PRIMARY KEY, body VARCHAR(80))`);
await admin.query(`INSERT INTO ${myDb}.notes VALUES (1, 'first'), (2, 'second')`);
await admin.query(`CREATE VIEW ${myDb}.people AS SELECT id, name, ssn AS tax_id FROM ${myDb}.customers`);
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
  - name: writers
    when: { groups: [writers] }
    statements:
      default: deny
      allow: [read, write, delete, session, lock, transaction]
      deny: [{ effect: write, unbounded: true }, { effect: delete, unbounded: true }]
    masking:
      - columns: [customers.ssn]
        strategy: redact
      - columns: [customers.email]
        strategy: email
        derived: [length]
  - name: strict
    when: { groups: [strict] }
    statements: { default: deny, allow: [read, write, delete] }
    maskedFilters: refuse
    masking:
      - columns: [customers.ssn]
        strategy: redact
  - name: builders
    when: { groups: [builders] }
    statements: { default: allow }
    masking:
      - columns: [customers.ssn]
        strategy: redact
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-mwrite-',
);

const SECRETS = ['123-45-6789', '987-65-4321', 'ada@example.com', 'bob@example.org'];
const FORMS = SECRETS.flatMap((v) => [
  v,
  v.toUpperCase(),
  [...v].reverse().join(''),
  Buffer.from(v).toString('hex'),
  Buffer.from(v).toString('base64'),
]);
const leaks = (text: string) => FORMS.filter((f) => text.toLowerCase().includes(f.toLowerCase()));

const PG_REFUSED = [
  'INSERT INTO notes (id, body) SELECT 100 + id, ssn FROM customers',
  'INSERT INTO notes SELECT 100 + id, upper(email) FROM customers',
  'INSERT INTO notes VALUES (200, (SELECT ssn FROM customers WHERE id = 1))',
  'INSERT INTO notes SELECT 100 + id, tax_id FROM people',
  'INSERT INTO notes SELECT 100 + id, md5(ssn) FROM customers',
  'UPDATE notes SET body = (SELECT ssn FROM customers WHERE id = 1) WHERE id = 1',
  'UPDATE customers SET name = ssn WHERE id = 2',
  "UPDATE customers SET name = name || coalesce(email, '') WHERE id = 2",
  'UPDATE notes n SET body = c.ssn FROM customers c WHERE c.id = n.id AND n.id = 1',
  'WITH x AS (SELECT ssn FROM customers) INSERT INTO notes SELECT 300, ssn FROM x LIMIT 1',
  'WITH x AS (SELECT ssn FROM customers), i AS (INSERT INTO notes SELECT 301, ssn FROM x LIMIT 1 RETURNING id) SELECT * FROM i',
  "INSERT INTO notes VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET body = (SELECT ssn FROM customers LIMIT 1)",
  'INSERT INTO notes SELECT id, ssn FROM customers ON CONFLICT (id) DO UPDATE SET body = excluded.body',
  'MERGE INTO notes n USING customers c ON n.id = c.id WHEN MATCHED THEN UPDATE SET body = c.ssn',
  'MERGE INTO notes n USING customers c ON n.id = c.id + 10 WHEN NOT MATCHED THEN INSERT VALUES (c.id + 10, c.ssn)',
  'PREPARE w AS INSERT INTO notes SELECT 500 + id, ssn FROM customers',
  "SELECT set_config('sluice_test.v', ssn, false) FROM customers",
  "SELECT pg_notify('leak', ssn) FROM customers",
  "SELECT lo_from_bytea(0, convert_to(ssn, 'UTF8')) FROM customers",
  'SELECT pg_advisory_lock(hashtext(ssn)) FROM customers',
  "DELETE FROM notes WHERE id = 1 AND pg_notify('leak', (SELECT ssn FROM customers LIMIT 1)) IS NULL",
  "UPDATE notes SET body = 'x' WHERE id = 2 AND set_config('sluice_test.v', (SELECT ssn FROM customers LIMIT 1), false) IS NOT NULL",
];

/** Writes that store nothing masked: they run. */
const PG_ALLOWED = [
  'INSERT INTO notes (id, body) SELECT 100 + id, name FROM customers',
  'UPDATE customers SET name = upper(name) WHERE id = 2',
  "UPDATE customers SET name = 'Bobby' WHERE ssn = '987-65-4321'",
  'INSERT INTO notes SELECT 110 + id, length(email)::text FROM customers',
  "INSERT INTO notes VALUES (400, 'fine') ON CONFLICT (id) DO UPDATE SET body = excluded.body",
  "SELECT set_config('sluice_test.v', name, false) FROM customers WHERE id = 1",
];

async function pgNotes(): Promise<string> {
  const rows = await adminQuery('SELECT id, body FROM notes ORDER BY id', [], pgDb);
  const people = await adminQuery('SELECT id, name, ssn, email FROM customers ORDER BY id', [], pgDb);
  const objects = await adminQuery('SELECT count(*)::int AS n FROM pg_largeobject_metadata', [], pgDb);
  return JSON.stringify([rows.rows, people.rows, objects.rows]);
}

async function resetPg(): Promise<void> {
  await adminQuery(
    `DELETE FROM notes WHERE id > 2; UPDATE customers SET name = CASE id WHEN 1 THEN 'Ada' ELSE 'Bob' END`,
    [],
    pgDb,
  );
}

t.test('Postgres: MCP, psql simple and extended refuse storing masked values', async (t) => {
  await resetPg();
  const before = await pgNotes();
  const mcp = await channels.mcp('writer-mcp', ['writers'], t);
  const client = await channels.psql('writer-pg', ['writers'], 'shop', t);
  const notices: string[] = [];
  client.on('notice', (n) => notices.push(n.message ?? ''));
  // A masked caller may not LISTEN (payloads are values masking cannot trace): the listener is a
  // direct connection, which would hear a payload the refused statements had sent.
  const listener = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: pgDb });
  await listener.connect();
  t.teardown(() => listener.end().catch(() => undefined));
  const heard: string[] = [];
  listener.on('notification', (n) => heard.push(n.payload ?? ''));
  await listener.query('LISTEN leak');
  for (const sql of PG_REFUSED) {
    const viaMcp = await mcp(sql, 'shop');
    t.equal(viaMcp.isError, true, `MCP: ${sql}`);
    t.match(viaMcp.text, /would store|denied|not let masked data/, `MCP: ${sql}`);
    t.same(leaks(viaMcp.text), [], `MCP: ${sql}`);
    for (const extended of [false, true]) {
      const label = `${extended ? 'extended' : 'simple'}: ${sql}`;
      const err = await (extended ? client.query({ text: sql, values: [] }) : client.query(sql)).then(
        () => undefined,
        (e: Error & { code?: string }) => e,
      );
      t.equal(err?.code, '42501', label);
      t.match(err?.message, /would store (values of masked column|values whose origin)/, label);
      t.same(leaks(String(err?.message)), [], label);
    }
  }
  t.equal(await pgNotes(), before, 'the database is as it was');
  const setting = await client.query("SELECT current_setting('sluice_test.v', true) AS v");
  t.same(leaks(JSON.stringify(setting.rows)), [], 'no masked value in a setting');
  await listener.query('SELECT 1');
  t.same(heard, [], 'no notification was sent');
  t.same(leaks(notices.join('\n')), []);
  for (const sql of PG_ALLOWED) {
    const ran = await client.query(sql).then(
      () => 'ran',
      (e: Error) => `ERR ${e.message}`,
    );
    t.equal(ran, 'ran', sql);
  }
  const copied = await adminQuery('SELECT body FROM notes WHERE id > 100 ORDER BY id', [], pgDb);
  t.same(leaks(JSON.stringify(copied.rows)), [], 'what was allowed stored nothing masked');
  await resetPg();
});

const MY_REFUSED = [
  'INSERT INTO notes (id, body) SELECT 100 + id, ssn FROM customers',
  'INSERT INTO notes SELECT 100 + id, UPPER(email) FROM customers',
  'INSERT INTO notes VALUES (200, (SELECT ssn FROM customers WHERE id = 1))',
  'INSERT INTO notes SELECT 100 + id, tax_id FROM people',
  'INSERT INTO notes SET id = 201, body = (SELECT ssn FROM customers WHERE id = 2)',
  'REPLACE INTO notes SELECT 100 + id, ssn FROM customers',
  'INSERT INTO notes VALUES (1, 2) ON DUPLICATE KEY UPDATE body = (SELECT ssn FROM customers WHERE id = 1)',
  'UPDATE notes SET body = (SELECT ssn FROM customers WHERE id = 1) WHERE id = 1',
  'UPDATE customers SET name = ssn WHERE id = 2',
  'UPDATE notes n JOIN customers c ON c.id = n.id SET n.body = c.ssn WHERE n.id = 1',
  'SELECT ssn INTO @v FROM customers WHERE id = 1; INSERT INTO notes VALUES (202, @v)',
];

const MY_ALLOWED = [
  'INSERT INTO notes (id, body) SELECT 100 + id, name FROM customers',
  'UPDATE customers SET name = UPPER(name) WHERE id = 2',
  "UPDATE customers SET name = 'Bobby' WHERE ssn = '987-65-4321'",
];

async function myState(): Promise<string> {
  const [notes] = await admin.query(`SELECT id, body FROM ${myDb}.notes ORDER BY id`);
  const [people] = await admin.query(`SELECT id, name, ssn, email FROM ${myDb}.customers ORDER BY id`);
  return JSON.stringify([notes, people]);
}

t.test('MySQL: MCP, the listener text and prepared refuse storing masked values', async (t) => {
  const before = await myState();
  const mcp = await channels.mcp('writer-mcp-my', ['writers'], t);
  const conn = await channels.mysql('writer-my', ['writers'], 'legacy', t);
  for (const sql of MY_REFUSED) {
    const viaMcp = await mcp(sql, 'legacy');
    t.equal(viaMcp.isError, true, `MCP: ${sql}`);
    t.same(leaks(viaMcp.text), [], `MCP: ${sql}`);
    for (const prepared of [false, true]) {
      if (prepared && sql.includes(';')) continue;
      const label = `${prepared ? 'prepared' : 'text'}: ${sql}`;
      const err = await (prepared ? conn.execute(sql) : conn.query(sql)).then(
        () => undefined,
        (e: Error & { errno?: number }) => e,
      );
      t.ok(err instanceof Error, label);
      t.equal(err?.errno, 1142, label);
      t.same(leaks(String(err?.message)), [], label);
    }
  }
  t.equal(await myState(), before, 'the database is as it was');
  for (const sql of MY_ALLOWED) {
    const ran = await conn.query(sql).then(
      () => 'ran',
      (e: Error) => `ERR ${e.message}`,
    );
    t.equal(ran, 'ran', sql);
  }
  const [copied] = await admin.query(`SELECT body FROM ${myDb}.notes WHERE id > 100`);
  t.same(leaks(JSON.stringify(copied)), [], 'what was allowed stored nothing masked');
});

const PG_DDL_REFUSED = [
  'ALTER TABLE customers RENAME COLUMN ssn TO tax',
  'ALTER TABLE customers ADD COLUMN copy text GENERATED ALWAYS AS (ssn) STORED',
  'ALTER TABLE customers RENAME TO clients',
  'CREATE TABLE stash AS SELECT ssn FROM customers',
  'SELECT ssn INTO TEMP stash2 FROM customers',
  'CREATE MATERIALIZED VIEW stash3 AS SELECT upper(ssn) AS s FROM customers',
  'EXPLAIN ANALYZE INSERT INTO notes SELECT 600 + id, ssn FROM customers',
  'PREPARE pick AS SELECT ssn FROM customers',
  'CREATE TABLE stash4 AS EXECUTE pick',
];

async function pgShape(): Promise<string> {
  const columns = await adminQuery(
    "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2",
    [],
    pgDb,
  );
  const notes = await adminQuery('SELECT id, body FROM notes ORDER BY id', [], pgDb);
  return JSON.stringify([columns.rows, notes.rows]);
}

t.test('Postgres: DDL that would take masked values out of their rules is refused', async (t) => {
  await resetPg();
  const before = await pgShape();
  const client = await channels.psql('builder-pg', ['builders'], 'shop', t);
  for (const sql of PG_DDL_REFUSED) {
    const err = await client.query(sql).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    if (sql.startsWith('PREPARE')) {
      t.equal(err, undefined, `${sql}: a read, masked when executed`);
      continue;
    }
    t.equal(err?.code, '42501', sql);
    t.same(leaks(String(err?.message)), [], sql);
  }
  t.equal(await pgShape(), before, 'no table, column or row changed');
  // DDL that leaves masked values where the rules see them still runs.
  await client.query('CREATE VIEW tax_ids AS SELECT id, ssn AS tax FROM customers');
  t.teardown(() => adminQuery('DROP VIEW IF EXISTS tax_ids; DROP TABLE IF EXISTS plain', [], pgDb));
  await client.query('CREATE TABLE plain (id int)');
  const viaView = await client.query('SELECT tax FROM tax_ids ORDER BY id');
  t.same(leaks(JSON.stringify(viaView.rows)), [], 'a view made over a masked column reads masked');
});

const MY_DDL_REFUSED = [
  'ALTER TABLE customers RENAME COLUMN ssn TO tax',
  'RENAME TABLE customers TO clients',
  'CREATE TABLE stash AS SELECT ssn FROM customers',
  'SET @@session.sql_mode = (SELECT ssn FROM customers LIMIT 1)',
  // `routine` for an agent (time_zone is a setting drivers send), still not given a masked value.
  'SET time_zone = (SELECT ssn FROM customers LIMIT 1)',
];

t.test('MySQL: DDL and system variables that would take masked values out of their rules', async (t) => {
  const [before] = await admin.query(
    `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = ? ORDER BY 1, 2`,
    [myDb],
  );
  const conn = await channels.mysql('builder-my', ['builders'], 'legacy', t);
  for (const sql of MY_DDL_REFUSED) {
    const err = await conn.query(sql).then(
      () => undefined,
      (e: Error & { errno?: number }) => e,
    );
    t.ok(err instanceof Error, sql);
    t.same(leaks(String(err?.message)), [], sql);
  }
  const [after] = await admin.query(
    `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = ? ORDER BY 1, 2`,
    [myDb],
  );
  t.same(after, before, 'no table or column changed');
  const [mode] = await conn.query('SELECT @@session.sql_mode AS m');
  t.same(leaks(JSON.stringify(mode)), []);
});

t.test('with maskedFilters: refuse, a write filtering on a masked column is refused too', async (t) => {
  await resetPg();
  const before = await pgNotes();
  const pgClient = await channels.psql('strict-pg', ['strict'], 'shop', t);
  const myConn = await channels.mysql('strict-my', ['strict'], 'legacy', t);
  const myBefore = await myState();
  for (const sql of [
    "UPDATE customers SET name = 'x' WHERE ssn LIKE '1%'",
    "DELETE FROM notes WHERE id = 1 AND EXISTS (SELECT 1 FROM customers WHERE ssn LIKE '1%')",
  ]) {
    const pgErr = await pgClient.query(sql).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    t.equal(pgErr?.code, '42501', `postgres: ${sql}`);
    t.match(pgErr?.message, /filters on masked column/, `postgres: ${sql}`);
    const myErr = await myConn.query(sql).then(
      () => undefined,
      (e: Error & { errno?: number }) => e,
    );
    t.equal(myErr?.errno, 1142, `mysql: ${sql}`);
    t.match(myErr?.message, /filters on masked column/, `mysql: ${sql}`);
  }
  t.equal(await pgNotes(), before);
  t.equal(await myState(), myBefore);
  await pgClient.query("UPDATE customers SET name = 'Ada' WHERE id = 1");
  await myConn.query("UPDATE customers SET name = 'Ada' WHERE id = 1");
  t.pass('a write filtering on plain columns runs');
});

t.test('with maskedFilters: refuse, a MySQL EXPLAIN is refused as the statement it plans', async (t) => {
  // MariaDB reads const tables while planning: the plan of a filter on a masked column of the
  // row by primary key says whether it matched ("Impossible WHERE noticed after reading const
  // tables").
  const myConn = await channels.mysql('strict-explain', ['strict'], 'legacy', t);
  for (const sql of [
    "EXPLAIN SELECT 1 FROM customers WHERE id = 1 AND ssn LIKE '1%'",
    "EXPLAIN SELECT 1 FROM customers WHERE id = 1 AND ssn LIKE '9%'",
    "EXPLAIN FORMAT=JSON SELECT id FROM customers WHERE id = 1 AND ssn = '123-45-6789'",
    "/* plan */ DESCRIBE SELECT id FROM customers WHERE id = 1 AND ssn LIKE '1%'",
    "EXPLAIN UPDATE customers SET name = 'x' WHERE id = 1 AND ssn LIKE '1%'",
  ]) {
    for (const prepared of [false, true]) {
      const err = await (prepared ? myConn.execute(sql) : myConn.query(sql)).then(
        () => undefined,
        (e: Error & { errno?: number }) => e,
      );
      t.equal(err?.errno, 1142, `${prepared ? 'prepared' : 'text'}: ${sql}`);
      t.match(err?.message, /filters on masked column|masked/, sql);
    }
  }
  const [plan] = await myConn.query("EXPLAIN SELECT id FROM customers WHERE id = 1 AND name LIKE 'A%'");
  t.ok(Array.isArray(plan) && plan.length > 0, 'the plan of a filter on plain columns is shown');
});

t.test('files and routines cannot carry masked values out, even under default: allow', async (t) => {
  const my = await channels.mysql('builder-files', ['builders'], 'legacy', t);
  const pgc = await channels.psql('builder-routines', ['builders'], 'shop', t);
  const myBefore = await myState();
  const pgBefore = await pgNotes();
  const file = `/tmp/sluice_outfile_${randomBytes(4).toString('hex')}`;
  for (const sql of [
    // A file on the server, which LOAD DATA INFILE reads back in clear.
    `SELECT id + 100, ssn FROM customers INTO OUTFILE '${file}'`,
    `SELECT ssn FROM customers WHERE id = 1 INTO DUMPFILE '${file}'`,
    `SELECT id, name FROM customers UNION SELECT id, ssn FROM customers INTO OUTFILE '${file}'`,
    // A routine's body is not traced.
    'CREATE PROCEDURE cp() INSERT INTO notes SELECT id + 200, ssn FROM customers',
    'CALL cp()',
    'CREATE EVENT ce ON SCHEDULE AT CURRENT_TIMESTAMP DO INSERT INTO notes SELECT id + 300, ssn FROM customers',
  ]) {
    const err = await my.query(sql).then(
      () => undefined,
      (e: Error & { errno?: number }) => e,
    );
    t.equal(err?.errno, 1142, sql);
    t.match(err?.message, /masked|masking/, sql);
    t.same(leaks(String(err?.message)), [], sql);
  }
  t.equal(await myState(), myBefore, 'nothing stored, no routine made');
  for (const sql of [
    'DO $$ BEGIN INSERT INTO notes SELECT id + 300, ssn FROM customers; END $$',
    'CREATE PROCEDURE cp() LANGUAGE sql AS $$ INSERT INTO notes SELECT id + 300, ssn FROM customers $$',
    'CALL cp()',
  ]) {
    const err = await pgc.query(sql).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    t.equal(err?.code, '42501', sql);
    // A procedure Sluice does not know is unknown before masking decides.
    t.match(err?.message, /masked|masking|unknown/, sql);
  }
  t.equal(await pgNotes(), pgBefore);
  const { rows } = await adminQuery("SELECT count(*)::int AS n FROM pg_proc WHERE proname = 'cp'", [], pgDb);
  t.same(rows, [{ n: 0 }], 'no procedure was made');
});

t.test('with maskedFilters: refuse, a MySQL write assigning a masked column is refused', async (t) => {
  // MySQL reports the rows a write changed: `Changed: 0` says the value written was the one
  // stored, and an upsert's affected rows (1, 2, or 0 when unchanged) the same.
  const my = await channels.mysql('strict-changed', ['strict'], 'legacy', t);
  const before = await myState();
  for (const sql of [
    "UPDATE customers SET ssn = '123-45-6789' WHERE id = 1",
    "UPDATE customers c SET c.ssn = '123-45-6789', c.name = 'Ada' WHERE c.id = 1",
    "UPDATE customers c JOIN notes n ON n.id = c.id SET c.ssn = 'x' WHERE c.id = 1",
    "INSERT INTO customers (id, name, ssn) VALUES (1, 'Ada', '123-45-6789') ON DUPLICATE KEY UPDATE ssn = VALUES(ssn)",
    "INSERT INTO customers (id, name, ssn) VALUES (1, 'Ada', 'x') ON DUPLICATE KEY UPDATE customers.ssn = 'x'",
  ]) {
    for (const prepared of [false, true]) {
      const err = await (prepared ? my.execute(sql) : my.query(sql)).then(
        () => undefined,
        (e: Error & { errno?: number }) => e,
      );
      t.equal(err?.errno, 1142, `${prepared ? 'prepared' : 'text'}: ${sql}`);
      t.match(err?.message, /masked column/, sql);
    }
  }
  t.equal(await myState(), before);
  await my.query("UPDATE customers SET name = 'Ada' WHERE id = 1");
  await my.query(
    "INSERT INTO customers (id, name) VALUES (1, 'Ada') ON DUPLICATE KEY UPDATE name = VALUES(name)",
  );
  t.pass('writes assigning plain columns run');
});

t.test('with maskedFilters: refuse, Postgres EXPLAIN and MERGE conditions are filters', async (t) => {
  await resetPg();
  const before = await pgNotes();
  const pgClient = await channels.psql('strict-merge', ['strict'], 'shop', t);
  for (const sql of [
    // EXPLAIN ANALYZE runs the plan and reports the rows a filter kept; a plain EXPLAIN estimates
    // them from the column's statistics.
    "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id FROM customers WHERE ssn LIKE '1%'",
    "EXPLAIN SELECT id FROM customers WHERE ssn < '5'",
    "EXPLAIN (ANALYZE) UPDATE notes SET body = body WHERE id IN (SELECT id FROM customers WHERE ssn LIKE '1%')",
    // MERGE's join condition and its WHEN ... AND conditions decide which rows it changes.
    "MERGE INTO notes n USING customers c ON c.ssn LIKE '1%' AND n.id = c.id WHEN MATCHED THEN UPDATE SET body = n.body",
    "MERGE INTO notes n USING customers c ON n.id = c.id WHEN MATCHED AND c.ssn LIKE '5%' THEN UPDATE SET body = n.body",
    "MERGE INTO notes n USING customers c ON n.id = c.id WHEN NOT MATCHED AND c.ssn LIKE '5%' THEN INSERT VALUES (c.id + 100, 'x')",
  ]) {
    for (const extended of [false, true]) {
      const err = await pgClient
        .query(extended ? { name: `m${sql.length}${extended}`, text: sql } : sql)
        .then(
          () => undefined,
          (e: Error & { code?: string }) => e,
        );
      t.equal(err?.code, '42501', `${extended ? 'extended' : 'simple'}: ${sql}`);
      t.match(err?.message, /masked column/, sql);
    }
  }
  t.equal(await pgNotes(), before);
  await pgClient.query("EXPLAIN SELECT id FROM customers WHERE name = 'Ada'");
  await pgClient.query(
    'MERGE INTO notes n USING customers c ON n.id = c.id WHEN MATCHED THEN UPDATE SET body = n.body',
  );
  t.pass('plans and merges on plain columns run');
});
