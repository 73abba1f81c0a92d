import t from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import { assembleGateway } from '../../src/cli/assemble.js';
import { parseConfigText } from '../../src/config/load.js';
import { startMysqlListener } from '../../src/gateway/mysql/index.js';

// A scratch database on the shared MariaDB; the test fails (never skips) when it is not there.
const database = `sluice_myl_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${database}`);
await admin.query(`USE ${database}`);
await admin.query(`CREATE TABLE customers (
  id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, email VARCHAR(80), joined DATETIME, stamp TIMESTAMP NULL,
  balance DECIMAL(10,2), visits BIGINT, score DOUBLE, flag TINYINT UNSIGNED, photo BLOB, doc JSON)`);
await admin.query(`INSERT INTO customers VALUES
  (1, 'Ada', 'ada@example.com', '2024-01-02 03:04:05', '2024-05-06 07:08:09', 12.50, 9007199254740993, 1.5, 200, X'0102ff', '{"k":1}'),
  (2, 'Bob', 'bob@example.org', NULL, NULL, 0, 2, -0.25, 0, NULL, NULL),
  (3, 'Cy', NULL, '2024-03-01 00:00:00', NULL, -1.25, 3, NULL, 1, NULL, '[1,2]')`);
await admin.query('CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(40))');

const dir = mkdtempSync(join(tmpdir(), 'sluice-mysql-listener-'));
const config = parseConfigText(
  `
server: { mysql: { listen: 127.0.0.1:0 } }
targets:
  shop: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${database}, user: root, tls: disable }
policies:
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
    statements: { default: deny, allow: [read, write, session, transaction], deny: [ddl, { effect: write, unbounded: true }] }
    masking:
      - columns: [customers.email]
        strategy: email
    limits: { maxRows: 50 }
  - name: careful
    when: { groups: [careful], targets: [shop] }
    statements: { default: deny, allow: [read], review: [write] }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  { baseDir: dir, env: {} },
);
const logger = pino({ level: 'silent' });
const parts = await assembleGateway(config, logger);
const listener = await startMysqlListener(parts, config, logger);
t.teardown(async () => {
  await listener.close();
  await parts.close();
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});
const port = listener.address.port;
const token = await parts.authenticator.mint({ subject: 'agent-1', groups: ['ai-agents'] });
const carefulToken = await parts.authenticator.mint({ subject: 'careful-1', groups: ['careful'] });

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function mariadbCli(sql: string, extra: string[] = []): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      'mariadb',
      [
        '-h127.0.0.1',
        `-P${port}`,
        '-uagent-1',
        `--password=${token}`,
        // mariadb 10.11 sends clear-text passwords without --enable-cleartext-plugin (obsolete there).
        '--ssl',
        '--skip-ssl-verify-server-cert',
        '--batch',
        ...extra,
        '-e',
        sql,
        'shop',
      ],
      { timeout: 10_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function connect(options: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port,
    user: 'agent-1',
    password: token,
    database: 'shop',
    ssl: { rejectUnauthorized: false },
    enableCleartextPlugin: true,
    ...options,
  });
  return conn;
}

async function tableExists(name: string): Promise<boolean> {
  const [rows] = await admin.query(
    'SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = ?',
    [database, name],
  );
  return Number((rows as { n: number }[])[0]?.n) === 1;
}

t.test('the mariadb CLI runs a SELECT through the listener and sees the masked email column', async (t) => {
  const result = await mariadbCli('SELECT id, name, email FROM customers ORDER BY id');
  t.equal(result.stderr, '', 'no error from the CLI');
  t.equal(result.code, 0);
  const lines = result.stdout.trimEnd().split('\n');
  t.equal(lines[0], 'id\tname\temail', 'the column header');
  t.equal(lines.length, 4, 'three rows');
  t.match(lines[1], /^1\tAda\t/);
  t.notMatch(result.stdout, /ada@example\.com|bob@example\.org/, 'no email reaches the client in clear');
  t.match(lines[1], /@example\.com$/, 'the email strategy keeps the domain');
  t.match(lines[3], /^3\tCy\tNULL$/, 'NULL stays NULL');
});

t.test('the mariadb CLI gets 1142 for DROP TABLE and the table is still there', async (t) => {
  const result = await mariadbCli('DROP TABLE notes');
  t.not(result.code, 0);
  t.match(result.stderr, /ERROR 1142 \(42000\).*denied/);
  t.equal(await tableExists('notes'), true);
});

t.test(
  'mysql2 query returns typed rows decoded from text (dates, decimals, bigints, blobs, json)',
  async (t) => {
    const conn = await connect({ supportBigNumbers: true, bigNumberStrings: true, dateStrings: true });
    t.teardown(() => conn.destroy());
    const [rows, fields] = await conn.query({
      sql: 'SELECT id, name, email, joined, stamp, balance, visits, score, flag, photo, doc FROM customers ORDER BY id',
      rowsAsArray: true,
    });
    const list = rows as unknown[][];
    t.equal(list.length, 3);
    t.same(
      fields.map((f) => f.name),
      ['id', 'name', 'email', 'joined', 'stamp', 'balance', 'visits', 'score', 'flag', 'photo', 'doc'],
    );
    const ada = list[0] as unknown[];
    t.equal(ada[0], 1);
    t.equal(ada[1], 'Ada');
    t.not(ada[2], 'ada@example.com', 'email masked');
    t.equal(ada[3], '2024-01-02 03:04:05', 'DATETIME in MySQL text form');
    t.equal(ada[4], '2024-05-06 07:08:09', 'TIMESTAMP in MySQL text form (the target session is UTC)');
    t.equal(ada[5], '12.50', 'DECIMAL exact');
    t.equal(ada[6], '9007199254740993', 'BIGINT beyond 2^53 exact');
    t.equal(ada[7], 1.5);
    t.equal(ada[8], 200, 'TINYINT UNSIGNED past 127');
    t.same(ada[9], Buffer.from([1, 2, 255]), 'BLOB bytes back');
    t.same(ada[10], { k: 1 }, 'JSON parsed by the client, told by the relayed extended metadata');
    t.same(list[1]?.[3], null);
  },
);

t.test('mysql2 execute prepares with parameters and gets binary rows, masked', async (t) => {
  const conn = await connect({ dateStrings: true });
  t.teardown(() => conn.destroy());
  const [rows] = await conn.execute(
    'SELECT id, name, email, joined, balance, score, flag, photo FROM customers WHERE id >= ? AND name <> ? ORDER BY id',
    [2, 'nobody'],
  );
  const list = rows as Record<string, unknown>[];
  t.equal(list.length, 2);
  t.match(list[0], { id: 2, name: 'Bob', joined: null, balance: '0.00', score: -0.25, flag: 0, photo: null });
  t.not(list[0]?.email, 'bob@example.org', 'email masked in binary rows too');
  t.match(list[0]?.email, /@example\.org$/);
  t.match(list[1], { id: 3, name: 'Cy', email: null, joined: '2024-03-01 00:00:00', balance: '-1.25' });
  // The same prepared text runs again with other values (mysql2 caches the statement).
  const [again] = await conn.execute(
    'SELECT id, name, email, joined, balance, score, flag, photo FROM customers WHERE id >= ? AND name <> ? ORDER BY id',
    [3, 'x'],
  );
  t.equal((again as unknown[]).length, 1);
  const [written] = await conn.execute('INSERT INTO notes (id, body) VALUES (?, ?)', [7, 'seven']);
  t.equal((written as mysql.ResultSetHeader).affectedRows, 1, 'a write answers OK with affected rows');
  const [check] = await admin.query('SELECT body FROM notes WHERE id = 7');
  t.same(check, [{ body: 'seven' }]);
});

t.test('a prepared DROP TABLE is refused at prepare time with 1142', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.destroy());
  await t.rejects(conn.prepare('DROP TABLE notes'), { errno: 1142, sqlState: '42000', message: /denied/ });
  await t.rejects(conn.query('DROP TABLE notes'), { errno: 1142, sqlState: '42000', message: /denied/ });
  t.equal(await tableExists('notes'), true);
  const [rows] = await conn.query('SELECT 1 AS one');
  t.same(rows, [{ one: 1 }], 'the session goes on after a refusal');
});

t.test('a multi-statement text with one denied statement runs nothing', async (t) => {
  const conn = await connect({ multipleStatements: true });
  t.teardown(() => conn.destroy());
  await t.rejects(conn.query("INSERT INTO notes (id, body) VALUES (100, 'first'); DROP TABLE notes"), {
    errno: 1142,
    message: /denied/,
  });
  const [rows] = await admin.query('SELECT COUNT(*) AS n FROM notes WHERE id = 100');
  t.equal(Number((rows as { n: number }[])[0]?.n), 0, 'the INSERT before the denied statement did not run');
  t.equal(await tableExists('notes'), true);
});

t.test('a versioned comment hiding DROP TABLE is refused', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.destroy());
  // Refused before parsing: to the client, a syntax error (1064) that says it was denied.
  await t.rejects(conn.query('SELECT 1 /*!50000 ; DROP TABLE notes */'), { errno: 1064, message: /denied/ });
  await t.rejects(conn.query('/*!50000 DROP TABLE notes */'), { errno: 1064, message: /denied/ });
  await t.rejects(conn.prepare('/*M!100000 DROP TABLE notes */'), { errno: 1064, message: /denied/ });
  t.equal(await tableExists('notes'), true);
});

t.test('target errors keep their SQLSTATE and message; the session keeps working', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.destroy());
  await t.rejects(conn.query('SELECT * FROM no_such_table'), { sqlState: '42S02', message: /no_such_table/ });
  const [rows] = await conn.query('SELECT COUNT(*) AS n FROM customers');
  t.same(rows, [{ n: 3 }]);
});

t.test(
  'the session keeps its own target connection: SET and transactions work across statements',
  async (t) => {
    const conn = await connect();
    t.teardown(() => conn.destroy());
    // (A user variable would read back masked under this policy: its origin cannot be traced.)
    await conn.query('SET SESSION group_concat_max_len = 777');
    const [rows] = await conn.query('SELECT @@SESSION.group_concat_max_len AS m');
    t.same(rows, [{ m: 777 }]);
    await conn.query('START TRANSACTION');
    await conn.query("INSERT INTO notes (id, body) VALUES (50, 'uncommitted')");
    await conn.query('ROLLBACK');
    const [after] = await admin.query('SELECT COUNT(*) AS n FROM notes WHERE id = 50');
    t.equal(Number((after as { n: number }[])[0]?.n), 0, 'the rollback undid the insert');
  },
);

t.test('COM_INIT_DB to the same target is accepted, to another refused; ping answers', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.destroy());
  await conn.ping();
  const same = await mariadbCli('use shop; SELECT 1 AS x');
  t.equal(same.code, 0, same.stderr);
  const other = await mariadbCli('use other; SELECT 1 AS x');
  t.not(other.code, 0);
  t.match(other.stderr, /1044|Access denied to database/);
});

t.test('a result beyond the policy row limit is cut, and the client is told with a warning', async (t) => {
  const cli = await mariadbCli('SELECT seq FROM seq_1_to_200', ['-vvv']);
  t.equal(cli.code, 0, cli.stderr);
  t.match(cli.stdout, /50 rows in set, 1 warning/, 'the CLI reports the cut as a warning');
});

t.test(
  'after a cut result the session ends at its next command, since its target connection was replaced',
  async (t) => {
    const conn = await connect();
    conn.on('error', () => undefined);
    t.teardown(() => conn.destroy());
    const stream = (conn as unknown as { connection: { stream: import('node:net').Socket } }).connection
      .stream;
    const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
    await conn.query('START TRANSACTION');
    await conn.query("INSERT INTO notes (id, body) VALUES (60, 'in a transaction')");
    const [rows] = await conn.query({ sql: 'SELECT seq FROM seq_1_to_200', rowsAsArray: true });
    t.equal((rows as unknown[]).length, 50, 'maxRows of the policy');
    // The target connection was killed to stop the rows, and the transaction with it: a later
    // statement must not run (and commit on its own) on a fresh connection.
    await t.rejects(conn.query("INSERT INTO notes (id, body) VALUES (61, 'after the reset')"), {
      errno: 1927,
      sqlState: '70100',
      message: /reconnect/,
    });
    await closed;
    const [after] = await admin.query('SELECT COUNT(*) AS n FROM notes WHERE id IN (60, 61)');
    t.equal(Number((after as { n: number }[])[0]?.n), 0, 'neither write was committed');
  },
);

t.test('each statement is recorded with masked rows', async (t) => {
  const conn = await connect();
  await conn.query('SELECT email FROM customers WHERE id = 1');
  conn.destroy();
  // Recording is asynchronous: give the file store a moment.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const files = readdirSync(join(dir, 'recordings'), { recursive: true }).map(String);
  const text = files
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => readFileSync(join(dir, 'recordings', f), 'utf8'))
    .join('\n');
  t.match(text, /"channel":"mysql"/);
  t.match(text, /SELECT email FROM customers WHERE id = 1/);
  t.notMatch(text, /ada@example\.com/, 'the recording holds what the client received');
});

t.test('a statement under review that is not approved gets 1142 and does not run', async (t) => {
  // No approvers are configured, so every review ends in a refusal.
  const conn = await connect({ user: 'careful-1', password: carefulToken });
  t.teardown(() => conn.destroy());
  await t.rejects(conn.query("INSERT INTO notes (id, body) VALUES (300, 'reviewed')"), {
    errno: 1142,
    sqlState: '42000',
    message: /not approved/,
  });
  const [rows] = await admin.query('SELECT COUNT(*) AS n FROM notes WHERE id = 300');
  t.equal(Number((rows as { n: number }[])[0]?.n), 0);
  const [read] = await conn.query('SELECT COUNT(*) AS n FROM customers');
  t.same(read, [{ n: 3 }], 'reads are allowed for this identity');
});
