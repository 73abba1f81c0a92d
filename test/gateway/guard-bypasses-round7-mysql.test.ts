/**
 * What the seventh attack round found on the MySQL side, end to end against MariaDB through the
 * MySQL listener (text and prepared) and MCP: a SET that moves the target connection's
 * `character_set_client` off UTF-8 (`SET character_set_client = sjis, autocommit = 1`, a SET NAMES
 * the listener does not answer itself) made the driver encode `¥` as a backslash (sjis, cp932) and
 * `ħ` as a quote (latin1), so that a string the guard read as one literal ended early at the
 * server and the rest ran: masked columns in clear, LOAD_FILE. On MCP's shared pool, SHOW WARNINGS
 * and SHOW ERRORS of a caller without column masking returned what another caller's statement left
 * on the connection (another tenant's values, quoted in a warning), and FOUND_ROWS() its row count. `SET tx_isolation = 3` (or a
 * CONCAT, a variable, or a literal after the shape cache had seen another level in that place)
 * passed as `routine`: every read then locks what it reads, and other sessions' writes wait. Under
 * `maskedFilters: refuse`, a window over a masked column (`RANK() OVER (ORDER BY ssn)`, a named
 * `WINDOW w AS (ORDER BY ssn)` used as `FIRST_VALUE(id) OVER w` or not at all) returned the rows in
 * the masked column's order, and FIRST_VALUE the id of the smallest value, in clear. A carriage
 * return inside a `#` or `-- ` comment ended the comment for node-sql-parser but not for the
 * server (which reads it to the line feed): `SELECT 1 #\r, 'x\n, (SELECT GROUP_CONCAT(ssn) ...)
 * -- '` was a string literal to the guard and a subquery to MariaDB (masked values in clear,
 * LOAD_FILE, an unbounded DELETE read as bounded). Statements the parser cannot read are
 * classified by their leading keywords, and a comment between two of them (`SET /**\/ STATEMENT
 * ... FOR DROP TABLE`, `SHOW /**\/ ENGINE INNODB STATUS`, `SHOW/**\/EXPLAIN FOR n`, `XA /**\/
 * RECOVER`, `SET /**\/ DEFAULT ROLE`) made the rule that names them miss: the statement passed
 * as a plain SET (`session`), SHOW (`read`) or XA (`transaction`). SHOW BINLOG EVENTS, RELAYLOG
 * EVENTS, SLAVE STATUS and the userstat lists (other sessions' statements and activity) were
 * `read`. node-sql-parser binds XOR tighter than `=` (`id = 1 XOR 1` read as `id = (1 XOR 1)`, a
 * bounded DELETE) where the server reads `(id = 1) XOR 1`: every row but one. Under
 * `maskedFilters: refuse` with `session` allowed, `HANDLER customers READ ssn = ('123-45-6789')`
 * answered whether a value exists, and READ ssn FIRST / NEXT walked the rows in its order. Each is refused or
 * withheld,
 * the database is as it was, and nothing masked, no file and no other tenant's row reaches the
 * client.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import t, { type Test } from 'tap';
import { startChannels } from '../support/channels.js';

const myDb = `sluice_round7_${randomBytes(5).toString('hex')}`;
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
await admin.query(`CREATE TABLE ${myDb}.orders (id INT PRIMARY KEY, tenant VARCHAR(20), item VARCHAR(40))`);
await admin.query(
  `INSERT INTO ${myDb}.orders VALUES (1, 'acme', 'anvil'), (2, 'acme', 'rope'), (3, 'globex', 'globex-laser')`,
);
t.teardown(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${myDb}`);
  await admin.end();
});

const GUARDED = `
    masking:
      - columns: [customers.ssn, customers.email]
        strategy: redact
    rowFilters:
      - { table: orders, where: "tenant = {claims.tenant}" }`;
const channels = await startChannels(
  t,
  `
server:
  http: { listen: 127.0.0.1:0 }
  mysql: { listen: 127.0.0.1:0 }
targets:
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${myDb}, user: root, tls: disable }
  # One pooled connection: every MCP call of every caller runs on it, one after the other.
  single: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${myDb}, user: root, tls: disable, pool: { max: 1 } }
policies:
  - name: readers
    when: { groups: [readers] }
    statements: { default: deny, allow: [read] }${GUARDED}
  - name: sessioners
    when: { groups: [sessioners] }
    statements: { default: deny, allow: [read, session] }${GUARDED}
  - name: writers
    when: { groups: [writers] }
    statements: { default: deny, allow: [read, write, delete, session, transaction] }${GUARDED}
  - name: bounded
    when: { groups: [bounded] }
    statements:
      default: deny
      allow: [read, transaction, { effect: write, unbounded: false }, { effect: delete, unbounded: false }]
      deny: [{ effect: write, unbounded: true }, { effect: delete, unbounded: true }]
  - name: tenants
    when: { groups: [tenants] }
    statements: { default: deny, allow: [read] }
    rowFilters:
      - { table: orders, where: "tenant = {claims.tenant}" }
  - name: strictsession
    when: { groups: [strictsession] }
    statements: { default: deny, allow: [read, session] }
    maskedFilters: refuse${GUARDED}
  - name: strict
    when: { groups: [strict] }
    statements: { default: deny, allow: [read] }
    maskedFilters: refuse${GUARDED}
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-round7-',
);
const ACME = { tenant: 'acme' };

/** A masked value in any form a client could read it in, a file's content, another tenant's row. */
const SECRETS = ['123-45-6789', '987-65-4321', 'ada@example.com', 'bob@example.org', 'globex'];
const leaks = (text: string) =>
  SECRETS.filter((s) => text.toLowerCase().includes(s) || text.includes(s.replace(/-/g, '')));
const HOSTNAME = /root:x:0:0/;

async function myState(): Promise<string> {
  const out: unknown[] = [];
  for (const table of ['customers', 'notes', 'orders', 'victim']) {
    const [rows] = await admin.query(`SELECT * FROM ${myDb}.${table} ORDER BY id`);
    out.push(rows);
  }
  const [tables] = await admin.query(
    `SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY 1, 2`,
    [myDb],
  );
  out.push(tables);
  return JSON.stringify(out);
}

/**
 * Runs each sequence on a fresh listener connection (text, then prepared) and over MCP; the
 * sequence must be refused somewhere, and nothing it returns (rows, errors, SHOW WARNINGS) may
 * hold a secret. The database must be as it was.
 */
async function refusedOnMysql(
  t: Test,
  group: string,
  attacks: readonly (string | string[])[],
  expectRefusal = true,
): Promise<void> {
  const before = await myState();
  const mcp = await channels.mcp(`${group}-mcp`, [group], t, ACME);
  for (const attack of attacks) {
    const steps = Array.isArray(attack) ? attack : [attack];
    for (const prepared of [false, true]) {
      const conn = await channels.mysql(`${group}-${prepared ? 'p' : 't'}`, [group], 'legacy', t, ACME);
      const received: string[] = [];
      let refused = false;
      for (const sql of steps) {
        const run = prepared ? conn.execute(sql) : conn.query(sql);
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
      t.notMatch(received.join(' '), HOSTNAME, label);
      await conn.end();
    }
    const viaMcp: string[] = [];
    let mcpRefused = false;
    for (const sql of [...steps, steps.join(';\n')]) {
      const result = await mcp(sql, 'legacy');
      if (result.isError) mcpRefused = true;
      viaMcp.push(result.text);
    }
    if (expectRefusal) t.ok(mcpRefused, `MCP refused: ${steps.join(' / ')}`);
    t.same(leaks(viaMcp.join(' ')), [], `MCP: ${steps.join(' / ')}`);
    t.notMatch(viaMcp.join(' '), HOSTNAME, `MCP: ${steps.join(' / ')}`);
    t.equal(await myState(), before, `database unchanged: ${steps.join(' / ')}`);
  }
}

t.test('MySQL: the target connection never reads statements in a set other than UTF-8', async (t) => {
  // sjis and cp932: the driver encodes ¥ as 0x5c, a backslash that escapes the closing quote.
  const YEN_UNION = "SELECT '¥' AS '\nUNION ALL SELECT ssn FROM customers -- '";
  const YEN_FILE = "SELECT '¥' AS '\nUNION ALL SELECT LOAD_FILE(0x2f6574632f706173737764) -- '";
  // latin1: ħ (U+0127) goes out as its low byte, 0x27, a quote.
  const QUOTE_UNION = "SELECT 'ħ AS a FROM customers UNION ALL SELECT email FROM customers -- ' AS x";
  await refusedOnMysql(t, 'sessioners', [
    ['SET character_set_client = sjis, autocommit = 1', YEN_UNION],
    ['SET autocommit = 1, character_set_client = cp932', YEN_FILE],
    ['SET @@session.character_set_client = latin1, @a = 1', QUOTE_UNION],
    ["SET @@session.`character_set_client` := 'sjis', wait_timeout = 100", YEN_UNION],
    ['SET NAMES sjis, autocommit = 1', YEN_UNION],
    ['SET CHARACTER SET cp932, autocommit = 1', YEN_UNION],
    ['SET NAMES DEFAULT, autocommit = 1', QUOTE_UNION],
    ['SET character_set_client = @@character_set_server', QUOTE_UNION],
    [`SET NAMES sjis;\n${YEN_UNION}`],
    [`SET character_set_client = latin1;\n${QUOTE_UNION}`],
    ["PREPARE s FROM 'SET NAMES sjis'", 'EXECUTE s', YEN_UNION],
  ]);
  await refusedOnMysql(t, 'writers', [
    [
      'SET character_set_client = sjis, autocommit = 1',
      "INSERT INTO notes (body) VALUES ('¥'), ((SELECT ssn FROM customers WHERE id = 1)) -- ')",
    ],
  ]);
  // Under a read-only policy such a SET was always refused; the literals read as written.
  await refusedOnMysql(t, 'readers', [['SET character_set_client = sjis', YEN_UNION]], false);

  // The listener still answers a client's own SET NAMES (the target connection stays UTF-8):
  // allowed as a session setting, and the strings that follow are read as the guard reads them.
  const conn = await channels.mysql('names', ['sessioners'], 'legacy', t, ACME);
  await conn.query('SET NAMES cp932');
  const [rows] = await conn.query(YEN_UNION);
  t.same(leaks(JSON.stringify(rows)), [], 'the listener transcodes: one literal, as the guard read it');
  await conn.query('SET NAMES utf8mb4');
  const [names] = await conn.query('SELECT name FROM customers ORDER BY id');
  t.same(names, [{ name: 'Ada' }, { name: 'Bob' }]);
  const agent = await channels.mysql('names-agent', ['readers'], 'legacy', t, ACME);
  await t.rejects(agent.query('SET NAMES sjis'), { errno: 1142, message: /statement denied/ });
  await agent.query('SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci');
  await t.rejects(agent.execute('SET NAMES sjis'), { message: /statement denied/ });
});

t.test("MCP: a shared connection's warnings and errors are not handed to the next caller", async (t) => {
  const globex = await channels.mcp('tenant-globex', ['tenants'], t, { tenant: 'globex' });
  const acme = await channels.mcp('tenant-acme', ['tenants'], t, ACME);
  // Globex's own statements quote its rows in their warnings and errors.
  const own = await globex('SELECT id, CAST(item AS SIGNED) AS n FROM orders', 'single');
  t.notOk(own.isError);
  for (const read of [
    'SHOW WARNINGS',
    'SHOW/**/WARNINGS',
    'show -- next\nwarnings limit 5;',
    'SHOW ERRORS',
  ]) {
    const seen = await acme(read, 'single');
    t.notOk(seen.isError, read);
    t.notMatch(seen.text, /globex/, `${read}: nothing of another tenant's`);
  }
  const failed = await globex(
    "SELECT id FROM orders WHERE EXTRACTVALUE(1, CONCAT(0x7e, item)) = 'x'",
    'single',
  );
  t.ok(failed.isError);
  for (const read of ['SHOW ERRORS', 'SHOW WARNINGS', 'SHOW\tERRORS LIMIT 1']) {
    const seen = await acme(read, 'single');
    t.notMatch(seen.text, /globex/, `${read} after another tenant's error`);
  }
  // The Level and Code are still there; the message is withheld.
  await globex('SELECT CAST(item AS SIGNED) FROM orders', 'single');
  const counted = await acme('SHOW WARNINGS', 'single');
  t.ok((counted.rows ?? []).length > 0, 'the warnings are listed');
  for (const row of counted.rows ?? []) t.same(row, ['Warning', 1292, '****']);
  // FOUND_ROWS() and ROW_COUNT() count the rows of the connection's previous statement.
  await globex('SELECT SQL_CALC_FOUND_ROWS id FROM orders LIMIT 0', 'single');
  for (const read of ['SELECT FOUND_ROWS() AS n', 'SELECT ROW_COUNT() AS n', 'SELECT found_rows()']) {
    const seen = await acme(read, 'single');
    t.ok(seen.isError, read);
    t.match(seen.text, /previous statement, which on a shared pool is another caller's/);
  }
  // On the listener the connection is the caller's own: its own warnings come back as they are.
  const conn = await channels.mysql('tenant-listener', ['tenants'], 'legacy', t, ACME);
  await conn.query('SELECT CAST(item AS SIGNED) FROM orders');
  const [warnings] = await conn.query('SHOW/**/WARNINGS');
  t.match(JSON.stringify(warnings), /Truncated incorrect INTEGER value: 'anvil'/);
  t.notMatch(JSON.stringify(warnings), /globex/);
  await conn.query('SELECT SQL_CALC_FOUND_ROWS id FROM orders LIMIT 1');
  const [found] = await conn.query('SELECT FOUND_ROWS() AS n');
  t.same(found, [{ n: 2 }], "the listener's own count");
});

t.test('MySQL: SERIALIZABLE is `lock` however the level is written', async (t) => {
  const conn = await channels.mysql('iso', ['readers'], 'legacy', t, ACME);
  // The shape cache sees a lock-free level in this place first, twice (candidate, then verified).
  await conn.query("SET tx_isolation = 'READ-COMMITTED'");
  await conn.query("SET tx_isolation = 'REPEATABLE-READ'");
  const mcp = await channels.mcp('iso-mcp', ['readers'], t, ACME);
  for (const sql of [
    "SET tx_isolation = 'SERIALIZABLE'",
    'SET tx_isolation = 3',
    "SET tx_isolation = CONCAT('SERIAL', 'IZABLE')",
    "SET @@session.tx_isolation = REPLACE('SERIALIZABLX', 'X', 'E')",
    'SET SESSION tx_isolation = @level',
    'SET tx_isolation = SERIALIZABLE',
  ]) {
    await t.rejects(conn.query(sql), { errno: 1142, message: /effect lock/ }, `text: ${sql}`);
    await t.rejects(conn.execute(sql), { message: /effect lock|statement denied/ }, `prepared: ${sql}`);
    t.ok((await mcp(sql, 'legacy')).isError, `MCP: ${sql}`);
  }
  const [level] = await conn.query('SELECT @@tx_isolation AS level');
  t.same(level, [{ level: 'REPEATABLE-READ' }], 'the level is as it was');
  // So a read in a transaction takes no lock another session's write waits for.
  await conn.query('BEGIN');
  await conn.query('SELECT * FROM notes');
  const writer = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
  t.teardown(() => writer.end());
  await writer.query('SET SESSION innodb_lock_wait_timeout = 1');
  await writer.query(`UPDATE ${myDb}.notes SET body = body WHERE id = 1`);
  await conn.query('ROLLBACK');
});

t.test('MySQL: under maskedFilters: refuse, a window over a masked column is a filter', async (t) => {
  await admin.query(`INSERT INTO ${myDb}.customers VALUES (3, 'Cy', '000-11-2222', 'cy@example.net')`);
  t.teardown(() => admin.query(`DELETE FROM ${myDb}.customers WHERE id = 3`));
  const conn = await channels.mysql('windows', ['strict'], 'legacy', t, ACME);
  const mcp = await channels.mcp('windows-mcp', ['strict'], t, ACME);
  for (const sql of [
    'SELECT id, RANK() OVER (ORDER BY ssn) AS r FROM customers',
    'SELECT id, ROW_NUMBER() OVER (PARTITION BY ssn ORDER BY id) AS r FROM customers',
    'SELECT id, COUNT(*) OVER (ORDER BY email) AS r FROM customers',
    'SELECT id FROM customers WINDOW w AS (ORDER BY ssn)',
    'SELECT id, FIRST_VALUE(id) OVER w AS f FROM customers WINDOW w AS (ORDER BY ssn)',
    'SELECT id, LAG(id) OVER w AS f FROM customers WINDOW w AS (PARTITION BY LEFT(ssn, 1) ORDER BY id)',
    'SELECT d.id FROM (SELECT id, RANK() OVER (ORDER BY ssn) AS r FROM customers) d',
    'SELECT id, (SELECT MAX(x.id) OVER (ORDER BY x.ssn) FROM customers x LIMIT 1) AS f FROM customers',
  ]) {
    await t.rejects(conn.query(sql), { errno: 1142, message: /orders on masked column/ }, `text: ${sql}`);
    await t.rejects(conn.execute(sql), { message: /orders on masked column/ }, `prepared: ${sql}`);
    const viaMcp = await mcp(sql, 'legacy');
    t.ok(viaMcp.isError, `MCP: ${sql}`);
    t.match(viaMcp.text, /orders on masked column/);
  }
  // A window over plain columns still runs, and a masked column read through one stays masked.
  const [rows] = await conn.query(
    'SELECT id, RANK() OVER (ORDER BY name) AS r, ssn FROM customers ORDER BY id',
  );
  t.same(rows, [
    { id: 1, r: 1, ssn: '****' },
    { id: 2, r: 2, ssn: '****' },
    { id: 3, r: 3, ssn: '****' },
  ]);
});

t.test('MySQL: a carriage return inside a line comment is refused', async (t) => {
  const CR = '\r';
  await refusedOnMysql(t, 'readers', [
    `SELECT 1 AS a #${CR}, 'x\n, (SELECT GROUP_CONCAT(ssn) FROM customers) AS f -- '`,
    `SELECT 1 AS a -- ${CR}, 'x\n, (SELECT GROUP_CONCAT(email) FROM customers) AS f -- '`,
    `SELECT 1 AS a --${CR}, 'x\n, LOAD_FILE(0x2f6574632f706173737764) AS f -- '`,
    `SELECT 1 AS a # ${CR}${CR}, 'x\n, (SELECT GROUP_CONCAT(item) FROM orders) AS f -- '`,
    `SELECT name FROM customers WHERE id = 1 #${CR} AND 'x\n UNION SELECT ssn FROM customers -- '`,
  ]);
  await refusedOnMysql(t, 'writers', [
    `DELETE FROM notes WHERE id = 1 #${CR} AND 'x\n OR 1 = 1 -- '`,
    `INSERT INTO notes (body) SELECT 'a' #${CR} FROM dual WHERE 'x\n ssn FROM customers -- '`,
  ]);
  // CRLF line ends (and a CR at the very end) read the same to both: still allowed.
  const conn = await channels.mysql('crlf', ['readers'], 'legacy', t, ACME);
  const [rows] = await conn.query(`SELECT 1 AS a -- one\r\n, 2 AS b # two\r\r\n FROM dual #${CR}`);
  t.same(rows, [{ a: 1, b: 2 }]);
  const [inString] = await conn.query(`SELECT '#${CR}x' AS s`);
  t.same(inString, [{ s: '#\rx' }]);
});

t.test('MySQL: keyword rules read the statement with its comments taken out', async (t) => {
  await refusedOnMysql(t, 'sessioners', [
    'SET /**/ STATEMENT max_statement_time=100 FOR DROP TABLE victim',
    'SET -- x\nSTATEMENT max_statement_time=100 FOR DELETE FROM notes',
    'SET # x\n STATEMENT max_statement_time=100 FOR INSERT INTO notes (body) SELECT ssn FROM customers',
    'SHOW /**/ ENGINE INNODB STATUS',
    'SHOW/**/EXPLAIN FOR 1',
    'SHOW # x\nANALYZE FOR 1',
    'SHOW/**/PROFILES',
    "SET /**/ PASSWORD FOR 'nobody'@'nowhere' = PASSWORD('x')",
    "SET /**/ DEFAULT ROLE NONE FOR 'nobody'@'nowhere'",
    'SHOW BINLOG EVENTS',
    "SHOW /**/ BINLOG EVENTS IN 'x'",
    'SHOW RELAYLOG EVENTS',
    'SHOW /**/ SLAVE STATUS',
    'SHOW ALL SLAVES STATUS',
    'SHOW SLAVE HOSTS',
    'SHOW USER_STATISTICS',
    'SHOW /**/ CLIENT_STATISTICS',
    'SHOW OPEN TABLES',
  ]);
  await refusedOnMysql(t, 'writers', ['XA /**/ RECOVER', 'XA -- x\nCOMMIT 0x01']);
  // The plain forms of what agents list still pass.
  const conn = await channels.mysql('keywords', ['readers'], 'legacy', t, ACME);
  const [tables] = await conn.query('SHOW /* mine */ TABLES');
  t.ok((tables as unknown[]).length >= 3);
  const [status] = await conn.query("SHOW /**/ TABLE STATUS LIKE 'notes'");
  t.equal((status as unknown[]).length, 1);
  await conn.query('SET NAMES /**/ utf8mb4');
});

t.test('MySQL: a WHERE with XOR proves no bound', async (t) => {
  await refusedOnMysql(t, 'bounded', [
    'DELETE FROM notes WHERE id = 1 XOR 1',
    'DELETE FROM notes WHERE id = 1 xor TRUE',
    "UPDATE notes SET body = 'gone' WHERE id = 2 XOR 1",
    'DELETE FROM notes WHERE id IN (1, 2) XOR id = 1',
  ]);
  // A plain bounded write still runs.
  const conn = await channels.mysql('bounded-ok', ['bounded'], 'legacy', t, ACME);
  await conn.query("UPDATE notes SET body = 'first' WHERE id = 1");
  const [rows] = await admin.query(`SELECT body FROM ${myDb}.notes ORDER BY id`);
  t.same(rows, [{ body: 'first' }, { body: 'second' }]);
});

t.test('MySQL: under maskedFilters: refuse, HANDLER is refused to a masked caller', async (t) => {
  await admin.query(`CREATE INDEX ssn_idx ON ${myDb}.customers (ssn)`);
  t.teardown(() => admin.query(`DROP INDEX ssn_idx ON ${myDb}.customers`));
  await refusedOnMysql(t, 'strictsession', [
    ['HANDLER customers OPEN', "HANDLER customers READ ssn_idx = ('123-45-6789')"],
    ['HANDLER customers OPEN AS h', "HANDLER h READ FIRST WHERE ssn LIKE '1%'"],
    ['HANDLER customers OPEN', 'HANDLER customers READ ssn_idx FIRST', 'HANDLER customers READ ssn_idx NEXT'],
  ]);
  // A plain SELECT of the same table still runs, masked.
  const conn = await channels.mysql('handler-ok', ['strictsession'], 'legacy', t, ACME);
  const [rows] = await conn.query('SELECT id, ssn FROM customers ORDER BY id');
  t.same(rows, [
    { id: 1, ssn: '****' },
    { id: 2, ssn: '****' },
  ]);
});
