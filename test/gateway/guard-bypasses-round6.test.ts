/**
 * What the sixth attack round found, end to end against MariaDB and PostgreSQL through the MySQL
 * listener (text and prepared), the Postgres listener and MCP: a CTE column list renaming a masked
 * column; `SET STATEMENT ... FOR <statement>` and `SET @a = 1, GLOBAL x = ...` passing as `session`;
 * grammar-changing sql_mode values (ANSI_QUOTES, NO_BACKSLASH_ESCAPES) making later texts mean
 * something else to the server; schema changes the parser cannot read run by a masked caller;
 * `USE information_schema` / `mysql.user` reading other sessions and password hashes; a subquery in
 * SHOW ... WHERE as an oracle; Postgres system views over left-out functions (pg_stat_activity,
 * pg_config, pg_hba_file_rules, pg_authid). Each is refused, the databases are as they were, and no
 * masked value, other session's statement or file reaches the client.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import t, { type Test } from 'tap';
import { startChannels } from '../support/channels.js';
import { adminQuery, createScratchDatabase } from '../support/postgres.js';

const { name: pgDb } = await createScratchDatabase(t, 'sluice_round6');
await adminQuery(
  `CREATE TABLE customers (id int PRIMARY KEY, name text, ssn text);
   INSERT INTO customers VALUES (1, 'Ada', '123-45-6789'), (2, 'Bob', '987-65-4321');`,
  [],
  pgDb,
);
const myDb = `sluice_round6_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);
await admin.query(
  `CREATE TABLE ${myDb}.customers (id INT PRIMARY KEY, name VARCHAR(40), ssn VARCHAR(20), email VARCHAR(80))`,
);
await admin.query(
  `INSERT INTO ${myDb}.customers VALUES (1, 'Ada', '123-45-6789', 'ada@example.com'), (2, 'Bob', '987-65-4321', 'bob@example.org')`,
);
await admin.query(`CREATE TABLE ${myDb}.notes (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(80))`);
await admin.query(`INSERT INTO ${myDb}.notes (body) VALUES ('first'), ('second')`);
await admin.query(`CREATE TABLE ${myDb}.victim (id INT)`);
t.teardown(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${myDb}`);
  await admin.end();
});

const MASKING = `
    masking:
      - columns: [customers.ssn, customers.email]
        strategy: redact`;
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
  - name: readers
    when: { groups: [readers] }
    statements: { default: deny, allow: [read] }${MASKING}
  - name: writers
    when: { groups: [writers] }
    statements: { default: deny, allow: [read, write, delete, session, transaction] }${MASKING}
  - name: builders
    when: { groups: [builders] }
    statements: { default: allow }${MASKING}
  - name: sessioners
    when: { groups: [sessioners] }
    statements: { default: deny, allow: [read, session] }
  - name: strict
    when: { groups: [strict] }
    statements: { default: deny, allow: [read] }
    maskedFilters: refuse${MASKING}
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-round6-',
);

const SECRETS = ['123-45-6789', '987-65-4321', 'ada@example.com', 'bob@example.org'];
const leaks = (text: string) =>
  SECRETS.filter((s) => text.toLowerCase().includes(s) || text.includes(s.replace(/-/g, '')));

async function myState(): Promise<string> {
  const [tables] = await admin.query(
    `SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY 1, 2`,
    [myDb],
  );
  const [notes] = await admin.query(`SELECT * FROM ${myDb}.notes ORDER BY id`);
  const [people] = await admin.query(`SELECT * FROM ${myDb}.customers ORDER BY id`);
  const [mode] = await admin.query('SELECT @@GLOBAL.net_buffer_length AS n');
  return JSON.stringify([tables, notes, people, mode]);
}

/** Runs each statement on every MySQL channel of a group; each must fail or come back masked. */
async function refusedOnMysql(
  t: Test,
  group: string,
  attacks: readonly (string | string[])[],
  expectRefusal = true,
): Promise<void> {
  const before = await myState();
  const mcp = await channels.mcp(`${group}-mcp`, [group], t);
  for (const attack of attacks) {
    const steps = Array.isArray(attack) ? attack : [attack];
    for (const prepared of [false, true]) {
      // A fresh connection per sequence: a mode or USE must not carry over from the last one.
      const conn = await channels.mysql(`${group}-${prepared ? 'p' : 't'}`, [group], 'legacy', t);
      const received: string[] = [];
      let refused = false;
      for (const sql of steps) {
        const run = prepared && !/^(SET|USE)\b/i.test(sql) ? conn.execute(sql) : conn.query(sql);
        await run.then(
          ([rows]) => received.push(JSON.stringify(rows)),
          (e: Error) => {
            refused = true;
            received.push(e.message);
          },
        );
        const [warnings] = await conn.query('SHOW WARNINGS').catch(() => [[]]);
        received.push(JSON.stringify(warnings));
      }
      const label = `${prepared ? 'prepared' : 'text'}: ${steps.join(' / ')}`;
      if (expectRefusal) t.ok(refused, `refused: ${label}`);
      t.same(leaks(received.join(' ')), [], label);
      t.notMatch(received.join(' '), /SHOW WARNINGS|net_buffer_length|root\b.*localhost/, label);
      await conn.end();
    }
    const viaMcp = await mcp(steps.join('; '), 'legacy');
    t.same(leaks(viaMcp.text), [], `MCP: ${steps.join(' / ')}`);
    t.equal(await myState(), before, `database unchanged: ${steps.join(' / ')}`);
  }
}

t.test('MySQL: a CTE column list does not rename a masked column into the clear', async (t) => {
  const conn = await channels.mysql('cte-1', ['readers'], 'legacy', t);
  const mcp = await channels.mcp('cte-mcp', ['readers'], t);
  for (const sql of [
    'WITH c (name, ssn) AS (SELECT ssn, name FROM customers) SELECT CONCAT(name) AS leaked FROM c',
    'WITH c (a, b) AS (SELECT email, id FROM customers) SELECT UPPER(a), b FROM c',
    'WITH RECURSIVE c (x) AS (SELECT ssn FROM customers) SELECT x FROM c',
  ]) {
    for (const prepared of [false, true]) {
      const [rows] = prepared ? await conn.execute(sql) : await conn.query(sql);
      t.same(leaks(JSON.stringify(rows)), [], `${prepared ? 'prepared' : 'text'}: ${sql}`);
    }
    const viaMcp = await mcp(sql, 'legacy');
    t.same(leaks(viaMcp.text), [], `MCP: ${sql}`);
  }
  // The plain column of the list stays in clear.
  const [rows] = await conn.query(
    'WITH c (a, b) AS (SELECT name, ssn FROM customers) SELECT a FROM c ORDER BY a',
  );
  t.same(rows, [{ a: 'Ada' }, { a: 'Bob' }]);
});

t.test('MySQL: a CTE column list cannot copy a masked column into a table', async (t) => {
  await refusedOnMysql(t, 'writers', [
    'INSERT INTO notes (body) WITH c (name, ssn) AS (SELECT ssn, name FROM customers) SELECT name FROM c',
    'UPDATE notes SET body = (WITH c (name, e) AS (SELECT email, name FROM customers WHERE id = 1) SELECT name FROM c) WHERE id = 1',
  ]);
});

t.test('MySQL: SET STATEMENT ... FOR and a GLOBAL in a SET list are not `session`', async (t) => {
  await refusedOnMysql(t, 'sessioners', [
    'SET STATEMENT max_statement_time=100 FOR DELETE FROM notes WHERE id = 2',
    'SET STATEMENT max_statement_time=100 FOR DROP TABLE victim',
    'SET STATEMENT max_statement_time=100 FOR SELECT id, info FROM information_schema.processlist',
    'SET STATEMENT max_statement_time=100 FOR SHOW GRANTS',
    'SET @a = 1, GLOBAL net_buffer_length = 8192',
    'SET SESSION wait_timeout = 100, GLOBAL net_buffer_length = 8192',
    'SET @@global.net_buffer_length = 8192',
  ]);
  await refusedOnMysql(t, 'writers', [
    'SET STATEMENT max_statement_time=100 FOR INSERT INTO notes SELECT id + 100, ssn FROM customers',
    'SET STATEMENT max_statement_time=100 FOR UPDATE notes, customers SET notes.body = customers.email WHERE notes.id = customers.id',
  ]);
});

t.test('MySQL: an sql_mode that changes the grammar is never set', async (t) => {
  await refusedOnMysql(t, 'writers', [
    [
      "SET SESSION sql_mode = 'ANSI_QUOTES'",
      'SELECT CONCAT("ssn") AS a, CONCAT("email") AS b FROM customers',
    ],
    [
      "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'",
      "SELECT 'x\\' AS a FROM customers UNION ALL SELECT ssn FROM customers -- '\n",
    ],
    ["SET @@sql_mode = 'ANSI'", 'SELECT "ssn" FROM customers'],
    ["SET sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')"],
    ['SET sql_mode = @m'],
  ]);
  await refusedOnMysql(t, 'sessioners', [
    [
      "SET SESSION sql_mode='NO_BACKSLASH_ESCAPES'",
      "SELECT 'x\\' AS a, LOAD_FILE('/etc/hostname') AS f -- '",
    ],
    [
      "SET SESSION sql_mode='NO_BACKSLASH_ESCAPES'",
      "SELECT 'x\\' AS a, (SELECT GROUP_CONCAT(info) FROM information_schema.processlist) AS p -- '",
    ],
  ]);
  // The modes drivers set on connect still pass.
  const conn = await channels.mysql('mode-ok', ['sessioners'], 'legacy', t);
  await conn.query("SET sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'");
  await conn.query("SET SESSION sql_mode = CONCAT(@@sql_mode, ',STRICT_TRANS_TABLES')");
});

t.test('MySQL: a schema change the parser cannot read is refused to a masked caller', async (t) => {
  await refusedOnMysql(t, 'builders', [
    ['ALTER ONLINE TABLE customers RENAME COLUMN ssn TO ssn2', 'SELECT id, ssn2 FROM customers'],
    [
      'ALTER TABLE IF EXISTS customers ADD COLUMN leak VARCHAR(80) AS (email) VIRTUAL',
      'SELECT leak FROM customers',
    ],
    'ALTER IGNORE TABLE customers RENAME COLUMN ssn TO ssn3',
    'ALTER TABLE customers NOWAIT RENAME COLUMN email TO e2',
  ]);
});

t.test('MySQL: system schemas through USE, mysql.user, and SHOW ... WHERE subqueries', async (t) => {
  await refusedOnMysql(t, 'sessioners', [
    ['USE information_schema', 'SELECT id, info FROM processlist'],
    ['USE performance_schema', 'SELECT sql_text FROM events_statements_history'],
    ['USE mysql', 'SELECT user, authentication_string FROM user'],
    'SELECT user, host, authentication_string FROM mysql.user',
    'SELECT * FROM mysql.global_priv',
  ]);
  await refusedOnMysql(t, 'strict', [
    "SHOW DATABASES WHERE (SELECT ssn FROM customers WHERE id = 1) LIKE '1%'",
    "SHOW TABLES WHERE (SELECT COUNT(*) FROM customers WHERE ssn LIKE '9%') > 0",
    'SHOW TABLES WHERE LENGTH(Tables_in_x) > 0',
  ]);
  // Plain SHOW ... LIKE / WHERE on the listing itself still runs.
  const conn = await channels.mysql('show-ok', ['strict'], 'legacy', t);
  const [tables] = await conn.query("SHOW TABLES LIKE 'cust%'");
  t.equal((tables as unknown[]).length, 1);
});

t.test('Postgres: system views over left-out functions are admin', async (t) => {
  const before = JSON.stringify((await adminQuery('SELECT * FROM customers ORDER BY id', [], pgDb)).rows);
  // Another session's statement, which a reader must not see.
  const victim = await channels.psql('victim', ['readers'], 'shop', t);
  await victim.query("SELECT 'victim-secret-7781' AS marker");
  const mcp = await channels.mcp('pg-views-mcp', ['sessioners'], t);
  const client = await channels.psql('pg-views', ['sessioners'], 'shop', t);
  for (const sql of [
    "SELECT pid, query FROM pg_stat_activity WHERE query LIKE '%victim%'",
    'SELECT query FROM pg_catalog.pg_stat_activity',
    'SELECT * FROM pg_locks',
    'SELECT * FROM pg_config',
    'SELECT * FROM pg_file_settings',
    'SELECT * FROM pg_hba_file_rules',
    'SELECT rolname, rolpassword FROM pg_authid',
    'SELECT * FROM pg_shmem_allocations',
    'SELECT * FROM pg_backend_memory_contexts',
    'SELECT a.query FROM (SELECT query FROM pg_stat_activity) a',
  ]) {
    const viaPsql = await client.query(sql).then(
      (r) => JSON.stringify(r.rows),
      (e: Error) => `ERR ${e.message}`,
    );
    t.match(viaPsql, /^ERR statement denied: .*admin/, `psql: ${sql}`);
    t.notMatch(viaPsql, /victim-secret/);
    const viaMcp = await mcp(sql, 'shop');
    t.equal(viaMcp.isError, true, `MCP: ${sql}`);
    t.notMatch(viaMcp.text, /victim-secret/);
  }
  // Catalog reads drivers make still run.
  const tables = await client.query("SELECT relname FROM pg_class WHERE relname = 'customers'");
  t.equal(tables.rows.length, 1);
  t.equal(JSON.stringify((await adminQuery('SELECT * FROM customers ORDER BY id', [], pgDb)).rows), before);
});
