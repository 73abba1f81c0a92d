import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import { assembleGateway } from '../../src/cli/assemble.js';
import { parseConfigText } from '../../src/config/load.js';
import { startMysqlListener } from '../../src/gateway/mysql/index.js';
import { HttpServer } from '../../src/http/server.js';

/**
 * MySQL's error text quotes values too: the duplicate-entry error of a GROUP BY over a
 * non-deterministic key, XPath errors of ExtractValue/UpdateXML, a unique key hit by
 * INSERT ... SELECT. For statements that involve masked data the MySQL listener (text and
 * prepared) and MCP withhold that text and keep the errno and SQLSTATE.
 */
const database = `sluice_mytt_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${database}`);
await admin.query(`USE ${database}`);
await admin.query(
  'CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, email VARCHAR(80) UNIQUE, ssn VARCHAR(20))',
);
await admin.query(`INSERT INTO customers VALUES
  (1, 'Ada', 'ada@example.com', '123-45-6789'), (2, 'Bob', 'bob@example.org', '987-65-4321'),
  (3, 'Cy', 'cy@example.net', '555-12-3456')`);
await admin.query('CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(80) UNIQUE)');
await admin.query("INSERT INTO notes VALUES (1, 'first')");

const dir = mkdtempSync(join(tmpdir(), 'sluice-mysql-text-'));
const config = parseConfigText(
  `
server: { mysql: { listen: 127.0.0.1:0 }, http: { listen: 127.0.0.1:0 } }
targets:
  shop: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${database}, user: root, tls: disable }
policies:
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
    statements: { default: deny, allow: [read, write, session, transaction], deny: [ddl, { effect: write, unbounded: true }] }
    masking:
      - columns: [customers.email, customers.ssn]
        strategy: redact
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  { baseDir: dir, env: {} },
);
const logger = pino({ level: process.env.SLUICE_TEST_LOG ?? 'silent' });
const parts = await assembleGateway(config, logger);
const listener = await startMysqlListener(parts, config, logger);
const http = new HttpServer({
  gateway: parts.gateway,
  authenticator: parts.authenticator,
  recorder: parts.recorder,
  logger,
});
await http.listen('127.0.0.1', 0);
t.teardown(async () => {
  await http.close();
  await listener.close();
  await parts.close();
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});
const token = await parts.authenticator.mint({ subject: 'agent-1', groups: ['ai-agents'] });

const RAW = [
  'ada@example.com',
  '123-45-6789',
  'bob@example.org',
  '987-65-4321',
  'cy@example.net',
  '555-12-3456',
];
const FORMS = RAW.flatMap((v) => [
  v,
  [...v].reverse().join(''),
  Buffer.from(v).toString('hex'),
  Buffer.from(v).toString('base64'),
  v.split('@')[0] as string,
  v.slice(1),
]).filter((f) => f.length >= 5);
const leaks = (text: string): string[] => FORMS.filter((f) => text.toLowerCase().includes(f.toLowerCase()));

/** `midResult`: the target's error arrives after the result's column definitions. */
const ATTACKS: { sql: string; errno: number; midResult?: boolean }[] = [
  {
    sql: 'SELECT COUNT(*), CONCAT((SELECT email FROM customers WHERE id = 1), FLOOR(RAND(0) * 2)) AS k FROM customers a, customers b GROUP BY k',
    errno: 1062,
    midResult: true,
  },
  { sql: "SELECT ExtractValue('<a/>', CONCAT('~', email)) FROM customers", errno: 1105 },
  { sql: "SELECT UpdateXML('<a/>', CONCAT('~', ssn), 'x') FROM customers", errno: 1105 },
  // A copy of a masked value is refused before it runs; this breaks the same key without one.
  { sql: 'INSERT INTO notes (id, body) SELECT 10 + id, name FROM customers WHERE id = 1', errno: 1062 },
  { sql: 'UPDATE customers SET email = (SELECT body FROM notes WHERE id = 1) WHERE id = 1', errno: 1062 },
];

async function connect(): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: '127.0.0.1',
    port: listener.address.port,
    user: 'agent-1',
    password: token,
    database: 'shop',
    ssl: { rejectUnauthorized: false },
    enableCleartextPlugin: true,
  });
}

t.test('the setup: INSERT ... SELECT of a masked value collides with a unique key', async (t) => {
  // Makes the write attacks fail on the target: notes.body gets a masked value, then a copy of it.
  await admin.query(`INSERT INTO notes VALUES (11, 'ada@example.com')`);
  await admin.query(`INSERT INTO notes VALUES (12, 'unused')`);
  await admin.query(`UPDATE notes SET body = 'bob@example.org' WHERE id = 1`);
  t.pass();
});

t.test('MySQL listener, text and prepared: errno kept, no masked value in the error', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.end());
  for (const { sql, errno, midResult } of ATTACKS) {
    for (const prepared of [false, true]) {
      const err = (await (prepared ? conn.execute(sql) : conn.query(sql)).catch((e: unknown) => e)) as Record<
        string,
        unknown
      >;
      t.ok(err instanceof Error, sql);
      t.same(leaks(String(err.message) + String(err.sqlMessage)), [], sql);
      // An error after the column definitions (midResult) ends that result with the ERR, screened
      // like any other; the connection goes on.
      t.equal(err.errno, errno, `${sql}${midResult ? ' (after the columns)' : ''}`);
      t.match(String(err.message), /its text is withheld because the statement involves masked data/, sql);
    }
  }
  const missing = (await conn.query('SELECT * FROM no_such_table').catch((e: unknown) => e)) as Error;
  t.match(missing.message, /no_such_table' doesn't exist/, 'an agent can correct its guess');
  const [rows] = await conn.query('SELECT id FROM customers ORDER BY id');
  t.same(rows, [{ id: 1 }, { id: 2 }, { id: 3 }], 'the session goes on');
  const [direct] = await admin.query('SELECT id, email FROM customers ORDER BY id');
  t.same(
    (direct as { email: string }[]).map((r) => r.email),
    ['ada@example.com', 'bob@example.org', 'cy@example.net'],
  );
  const [notes] = await admin.query('SELECT COUNT(*) AS n FROM notes');
  t.equal(Number((notes as { n: number }[])[0]?.n), 3, 'no write got through');
  const plain = (await conn.query("INSERT INTO notes VALUES (1, 'x')").catch((e: unknown) => e)) as Error;
  t.match(
    plain.message,
    /Duplicate entry '1' for key 'PRIMARY'/,
    'errors of unmasked tables keep their text',
  );
});

t.test('MCP query on MySQL: the same', async (t) => {
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${http.baseUrl}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  t.teardown(() => client.close());
  for (const { sql } of ATTACKS) {
    const result = await client.callTool({ name: 'query', arguments: { database: 'shop', sql } });
    t.equal(result.isError, true, sql);
    const text = JSON.stringify(result);
    t.match(text, /its text is withheld/, sql);
    t.same(leaks(text), [], sql);
  }
});
