import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import { assembleGateway } from '../../src/cli/assemble.js';
import { parseConfigText } from '../../src/config/load.js';
import { startMysqlListener } from '../../src/gateway/mysql/index.js';
import { startPostgresListener } from '../../src/gateway/postgres/listener.js';
import { HttpServer } from '../../src/http/server.js';
import { ATTACK_POLICY, ATTACKS } from '../guard/fixtures/adversarial-corpus.js';
import { adminQuery, createScratchDatabase } from '../support/postgres.js';

/**
 * The adversarial corpus through every channel, against real servers: each statement the corpus
 * says is denied is sent over the Postgres listener (simple Query, the message psql sends, and the
 * extended protocol), MCP `query` and `explain` on Postgres, the MySQL listener (text and
 * prepared) and MCP on MySQL. Every one must be refused as denied; afterwards both databases are
 * as they were, another session's backend is alive, and nothing any client received holds a
 * masked value. The corpus's benign reads go through the same channels and are not refused.
 */
const { name: pgDb } = await createScratchDatabase(t, 'sluice_adv');
await adminQuery(
  `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, ssn text, balance numeric(12,2));
   INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', '123-45-6789', 12.50),
     (2, 'Bob', 'bob@example.org', '987-65-4321', 0);
   CREATE TABLE notes (id int PRIMARY KEY, body text);
   INSERT INTO notes VALUES (1, 'first'), (2, 'second');
   CREATE TABLE orders (id serial PRIMARY KEY, customer_id int, total numeric(10,2));
   INSERT INTO orders (customer_id, total) VALUES (1, 10), (2, 20);`,
  [],
  pgDb,
);
const myDb = `sluice_adv_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);
await admin.query(`USE ${myDb}`);
await admin.query(
  'CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, email VARCHAR(80), ssn VARCHAR(20), balance DECIMAL(12,2))',
);
await admin.query(`INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', '123-45-6789', 12.50),
  (2, 'Bob', 'bob@example.org', '987-65-4321', 0)`);
await admin.query('CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(80))');
await admin.query("INSERT INTO notes VALUES (1, 'first'), (2, 'second')");
await admin.query(
  'CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, customer_id INT, total DECIMAL(10,2))',
);
await admin.query('INSERT INTO orders (customer_id, total) VALUES (1, 10), (2, 20)');

const dir = mkdtempSync(join(tmpdir(), 'sluice-adv-'));
const config = parseConfigText(
  `
server:
  http: { listen: 127.0.0.1:0 }
  postgres: { listen: 127.0.0.1:0, allowPlaintextAuth: true }
  mysql: { listen: 127.0.0.1:0 }
targets:
  shop: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${pgDb}, user: postgres, tls: disable }
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${myDb}, user: root, tls: disable }
policies:
  - name: agents
    when: { groups: [ai-agents] }
    statements:${ATTACK_POLICY}
    masking:
      - columns: [customers.email, customers.ssn]
        strategy: redact
    limits: { maxRows: 1000, statementTimeout: 10s }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  { baseDir: dir, env: {} },
);
const logger = pino({ level: 'silent' });
const parts = await assembleGateway(config, logger);
const pgListener = await startPostgresListener(parts, config, logger);
const myListener = await startMysqlListener(parts, config, logger);
const http = new HttpServer({
  gateway: parts.gateway,
  authenticator: parts.authenticator,
  recorder: parts.recorder,
  logger,
});
await http.listen('127.0.0.1', 0);
// Another session's backend, which attacks on "other sessions" must not reach.
const victim = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: pgDb });
await victim.connect();
victim.on('error', () => {});
t.teardown(async () => {
  await victim.end().catch(() => {});
  await http.close();
  await myListener.close();
  await pgListener.close();
  await parts.close();
  await admin.query(`DROP DATABASE IF EXISTS ${myDb}`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});
const token = await parts.authenticator.mint({ subject: 'agent-1', groups: ['ai-agents'] });

const RAW = ['ada@example.com', '123-45-6789', 'bob@example.org', '987-65-4321'];
const FORMS = RAW.flatMap((v) => [
  v,
  v.toUpperCase(),
  [...v].reverse().join(''),
  Buffer.from(v).toString('hex'),
  Buffer.from(v).toString('base64'),
]);
const leaks = (text: string): string[] => FORMS.filter((f) => text.toLowerCase().includes(f.toLowerCase()));

const denied = (dialect: 'postgres' | 'mysql') =>
  ATTACKS.filter((a) => a.dialect === dialect && a.expect === 'deny' && !a.gap);
const benign = (dialect: 'postgres' | 'mysql') =>
  ATTACKS.filter((a) => a.dialect === dialect && a.category === 'benign reads' && !a.gap);

async function pgState(): Promise<string> {
  const { rows } = await adminQuery(
    `SELECT (SELECT string_agg(c::text, ';' ORDER BY id) FROM customers c) AS customers,
            (SELECT string_agg(n::text, ';' ORDER BY id) FROM notes n) AS notes,
            (SELECT string_agg(o::text, ';' ORDER BY id) FROM orders o) AS orders,
            (SELECT last_value FROM orders_id_seq) AS seq,
            (SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class c JOIN pg_namespace s ON s.oid = relnamespace
              WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND relkind IN ('r', 'v', 'm', 'S', 'f', 'p')) AS relations,
            (SELECT string_agg(proname, ',' ORDER BY proname) FROM pg_proc p JOIN pg_namespace s ON s.oid = pronamespace
              WHERE nspname = 'public') AS functions,
            (SELECT count(*) FROM pg_roles) AS roles`,
    [],
    pgDb,
  );
  return JSON.stringify(rows[0]);
}

async function myState(): Promise<string> {
  const [rows] = await admin.query(
    `SELECT (SELECT GROUP_CONCAT(CONCAT_WS(',', id, name, email, ssn, balance) ORDER BY id SEPARATOR ';') FROM customers) AS customers,
            (SELECT GROUP_CONCAT(CONCAT_WS(',', id, body) ORDER BY id SEPARATOR ';') FROM notes) AS notes,
            (SELECT GROUP_CONCAT(CONCAT_WS(',', id, customer_id, total) ORDER BY id SEPARATOR ';') FROM orders) AS orders,
            (SELECT GROUP_CONCAT(table_name ORDER BY table_name) FROM information_schema.tables WHERE table_schema = ?) AS tables,
            (SELECT COUNT(*) FROM mysql.user) AS users`,
    [myDb],
  );
  return JSON.stringify(rows);
}

async function mcpClient(t: { teardown(fn: () => unknown): void }): Promise<Client> {
  const client = new Client({ name: 'adversary', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${http.baseUrl}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  t.teardown(() => client.close());
  return client;
}

/** A node-postgres client for the Postgres listener (connect it yourself). */
function listenerClient(): pg.Client {
  return new pg.Client({
    host: '127.0.0.1',
    port: pgListener.address.port,
    user: 'agent-1',
    password: token,
    database: 'shop',
  });
}

const pgBefore = await pgState();
const myBefore = await myState();

t.test('Postgres listener, simple and extended protocol: every denied statement is refused', async (t) => {
  const client = listenerClient();
  const notices: string[] = [];
  client.on('notice', (n) => notices.push(JSON.stringify(n)));
  await client.connect();
  t.teardown(() => client.end());
  let i = 0;
  for (const attack of denied('postgres')) {
    for (const extended of [false, true]) {
      const err = (await client
        .query(extended ? { name: `attack_${i++}`, text: attack.sql } : attack.sql)
        .then(
          () => undefined,
          (e: unknown) => e,
        )) as (Error & { code?: string }) | undefined;
      const label = `${extended ? 'extended' : 'simple'} [${attack.category}] ${attack.sql}`;
      t.equal(err?.code, '42501', label);
      t.match(String(err?.message), /denied|refused/, label);
      t.same(leaks(JSON.stringify(err) + String(err?.message)), [], label);
    }
  }
  t.same(leaks(notices.join('\n')), [], 'no notice holds a masked value');
  t.equal(await pgState(), pgBefore, 'the database is as it was');
  t.same(
    (await victim.query('SELECT 1 AS alive')).rows,
    [{ alive: 1 }],
    "another session's backend is alive",
  );
});

t.test('Postgres listener: benign reads are allowed and come back masked', async (t) => {
  const client = listenerClient();
  await client.connect();
  t.teardown(() => client.end());
  for (const attack of benign('postgres')) {
    const out = await client.query(attack.sql).then(
      (r) => JSON.stringify(Array.isArray(r) ? r.map((x) => x.rows) : r.rows),
      (e: Error & { code?: string }) => `ERR ${e.code} ${e.message}`,
    );
    t.notMatch(out, /^ERR 42501/, attack.sql);
    t.same(leaks(out), [], attack.sql);
  }
});

t.test('MCP query and explain on Postgres: every denied statement is refused', async (t) => {
  const client = await mcpClient(t);
  for (const attack of denied('postgres')) {
    const result = await client.callTool({ name: 'query', arguments: { database: 'shop', sql: attack.sql } });
    const text = JSON.stringify(result);
    t.equal(result.isError, true, attack.sql);
    t.match(text, /ERR_STATEMENT_DENIED|denied/, attack.sql);
    t.same(leaks(text), [], attack.sql);
    const explained = await client.callTool({
      name: 'explain',
      arguments: { database: 'shop', sql: attack.sql },
    });
    t.same(leaks(JSON.stringify(explained)), [], `explain ${attack.sql}`);
  }
  t.equal(await pgState(), pgBefore, 'the database is as it was');
  t.same(
    (await victim.query('SELECT 1 AS alive')).rows,
    [{ alive: 1 }],
    "another session's backend is alive",
  );
});

t.test('MySQL listener, text and prepared: every denied statement is refused', async (t) => {
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: myListener.address.port,
    user: 'agent-1',
    password: token,
    database: 'legacy',
    ssl: { rejectUnauthorized: false },
    enableCleartextPlugin: true,
    multipleStatements: true,
  });
  t.teardown(() => conn.end());
  for (const attack of denied('mysql')) {
    for (const prepared of [false, true]) {
      const err = (await (prepared ? conn.execute(attack.sql) : conn.query(attack.sql)).then(
        () => undefined,
        (e: unknown) => e,
      )) as (Error & { errno?: number }) | undefined;
      const label = `${prepared ? 'prepared' : 'text'} [${attack.category}] ${attack.sql}`;
      t.ok(err instanceof Error, label);
      // 1142 for what the policy refuses; 1064 (a syntax error) for a text the guard cannot read,
      // in the target's words when the target cannot read it either.
      const unreadable = /could not read it|You have an error in your SQL syntax/.test(String(err?.message));
      t.equal(err?.errno, unreadable ? 1064 : 1142, label);
      t.same(leaks(String(err?.message)), [], label);
    }
  }
  for (const attack of benign('mysql')) {
    const out = await conn.query(attack.sql).then(
      (r) => JSON.stringify(r[0]),
      (e: Error & { errno?: number }) => `ERR ${e.errno} ${e.message}`,
    );
    t.notMatch(out, /^ERR 1142/, attack.sql);
    t.same(leaks(out), [], attack.sql);
  }
  t.equal(await myState(), myBefore, 'the database is as it was');
});

t.test('MCP query on MySQL: every denied statement is refused', async (t) => {
  const client = await mcpClient(t);
  for (const attack of denied('mysql')) {
    const result = await client.callTool({
      name: 'query',
      arguments: { database: 'legacy', sql: attack.sql },
    });
    const text = JSON.stringify(result);
    t.equal(result.isError, true, attack.sql);
    t.same(leaks(text), [], attack.sql);
  }
  t.equal(await myState(), myBefore, 'the database is as it was');
});

/**
 * SQL PREPARE then EXECUTE in later statements: the result is the prepared text's, so masking
 * traces its columns through that text (a plain column stays clear), and wherever the text is
 * not one the guard read (prepared twice, from a variable), every column is masked.
 */
const PREPARED_SEQUENCES: { steps: string[]; clear?: string }[] = [
  { steps: ["PREPARE p1 FROM 'SELECT name, email FROM customers ORDER BY id'", 'EXECUTE p1'], clear: 'Ada' },
  { steps: ["PREPARE p2 FROM 'SELECT email AS name, ssn AS id FROM customers'", 'EXECUTE p2'] },
  { steps: ["PREPARE p3 FROM 'SELECT CONCAT(name, email) AS x, REVERSE(ssn) FROM customers'", 'EXECUTE p3'] },
  { steps: ["PREPARE p4 FROM 'SELECT e\\mail, `ss``n` FROM customers'", 'EXECUTE p4'] },
  {
    steps: [
      "PREPARE p5 FROM 'SELECT name FROM customers'",
      "PREPARE p5 FROM 'SELECT email AS name FROM customers'",
      'EXECUTE p5',
    ],
  },
  { steps: ["PREPARE p6 FROM 'SELECT name FROM customers'", 'PREPARE p6 FROM @q', 'EXECUTE p6'] },
  {
    steps: [
      "PREPARE p7 FROM 'SELECT name FROM customers WHERE email LIKE ? OR ssn = ?'",
      'EXECUTE p7 USING @nothing, @nothing',
    ],
  },
  {
    steps: [
      "PREPARE p8 FROM 'SELECT * FROM customers c JOIN orders o ON o.customer_id = c.id'",
      'EXECUTE p8',
    ],
  },
  { steps: ["PREPARE p9 FROM 'WITH x AS (SELECT email AS e FROM customers) SELECT e FROM x'", 'EXECUTE p9'] },
  // The text fails at its first statement, so its PREPARE never runs: the target still runs the
  // first body (DEALLOCATE is `session`, denied here: test/gateway/prepared-settle.test.ts).
  {
    steps: [
      "PREPARE p11 FROM 'SELECT CONCAT(email, ssn) AS name FROM customers'",
      "SELECT 1 FROM missing; PREPARE p11 FROM 'SELECT name FROM customers'",
      'EXECUTE p11',
    ],
  },
];

t.test('MySQL listener: SQL PREPARE/EXECUTE results are masked by the prepared text', async (t) => {
  for (const { steps, clear } of PREPARED_SEQUENCES) {
    const conn = await mysql.createConnection({
      host: '127.0.0.1',
      port: myListener.address.port,
      user: 'agent-1',
      password: token,
      database: 'legacy',
      ssl: { rejectUnauthorized: false },
      multipleStatements: true,
    });
    const received: string[] = [];
    for (const step of steps) {
      received.push(
        await conn.query(step).then(
          (r) => JSON.stringify(r[0]),
          (e: Error & { errno?: number }) => `ERR ${e.errno} ${e.message}`,
        ),
      );
    }
    await conn.end();
    const label = steps.join(' / ');
    t.same(leaks(received.join('\n')), [], label);
    if (clear !== undefined) t.match(received.at(-1), clear, `${label}: the plain column is clear`);
  }
  t.equal(await myState(), myBefore, 'the database is as it was');
});

t.test('Postgres listener: SQL PREPARE/EXECUTE results are masked', async (t) => {
  const client = listenerClient();
  await client.connect();
  t.teardown(() => client.end());
  const received: string[] = [];
  for (const sql of [
    'PREPARE p1 AS SELECT name, email FROM customers ORDER BY id',
    'EXECUTE p1',
    'PREPARE p2 AS SELECT email AS name, ssn || name AS id FROM customers',
    'EXECUTE p2',
    'PREPARE p3(text) AS SELECT name FROM customers WHERE email LIKE $1',
    "EXECUTE p3('%')",
    // The text fails before its PREPARE runs: p5 is still the first body.
    'PREPARE p5 AS SELECT reverse(email) AS name FROM customers',
    'SELECT * FROM missing; PREPARE p5 AS SELECT name FROM customers',
    'EXECUTE p5',
  ]) {
    received.push(
      await client.query(sql).then(
        (r) => JSON.stringify(r.rows),
        (e: Error) => `ERR ${e.message}`,
      ),
    );
  }
  t.same(leaks(received.join('\n')), [], received.join('\n'));
  t.equal(await pgState(), pgBefore, 'the database is as it was');
});
