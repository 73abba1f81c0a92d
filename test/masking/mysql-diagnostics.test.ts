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
 * MySQL's diagnostics through the listener and MCP, against MariaDB: SHOW WARNINGS is screened as
 * the errors of the statements it reports on (those since the last statement that used a table),
 * so a warning that quotes a masked value is withheld and any other comes back as the server
 * wrote it; DESCRIBE returns the table's metadata unmasked.
 */
const database = `sluice_mydiag_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${database}`);
await admin.query(`USE ${database}`);
await admin.query('CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40), ssn VARCHAR(20))');
await admin.query("INSERT INTO customers VALUES (1, 'Ada', '123-45-6789'), (2, 'Bob', '987-65-4321')");
await admin.query('CREATE TABLE notes (id INT PRIMARY KEY)');
await admin.query('INSERT INTO notes VALUES (1)');
const dir = mkdtempSync(join(tmpdir(), 'sluice-mydiag-'));
const config = parseConfigText(
  `
server: { http: { listen: 127.0.0.1:0 }, mysql: { listen: 127.0.0.1:0 } }
targets:
  shop: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${database}, user: root, tls: disable }
policies:
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
    statements: { default: deny, allow: [read, session, transaction] }
    masking:
      - columns: [customers.ssn]
        strategy: redact
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  { baseDir: dir, env: {} },
);
const logger = pino({ level: 'silent' });
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

const RAW = ['123-45-6789', '987-65-4321'];
const leaks = (text: string): string[] =>
  RAW.flatMap((v) => [v, v.replace(/-/g, ''), v.slice(0, 3), Buffer.from(v).toString('hex')]).filter((f) =>
    text.includes(f),
  );

async function listenerConnection(t: { teardown(fn: () => unknown): void }) {
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: listener.address.port,
    user: 'agent-1',
    password: token,
    database: 'shop',
    ssl: { rejectUnauthorized: false },
    enableCleartextPlugin: true,
  });
  t.teardown(() => conn.end());
  return async (sql: string, prepared = false): Promise<unknown[]> => {
    const [rows] = await (prepared ? conn.execute(sql) : conn.query(sql));
    return rows as unknown[];
  };
}

t.test('MySQL listener: SHOW WARNINGS passes what no masked value is in, withholds the rest', async (t) => {
  const run = await listenerConnection(t);
  const seen: string[] = [];
  const show = async (prepared = false) => {
    const rows = await run('SHOW WARNINGS', prepared);
    seen.push(JSON.stringify(rows));
    return rows as { Level: string; Code: number; Message: string }[];
  };

  await run("SELECT CAST('abc' AS UNSIGNED) AS n");
  t.same(
    await show(),
    [{ Level: 'Warning', Code: 1292, Message: "Truncated incorrect INTEGER value: 'abc'" }],
    'a warning about a constant comes back as the server wrote it',
  );
  t.same(await show(), await show(), 'SHOW WARNINGS does not clear the area, and reads the same again');
  t.same(
    ((await run('SHOW WARNINGS;')) as { Message: string }[]).map((w) => w.Message),
    ["Truncated incorrect INTEGER value: 'abc'"],
    'SHOW WARNINGS; (with its semicolon) passes a clean warning too',
  );

  await run('SELECT CAST(ssn AS UNSIGNED) AS n FROM customers');
  const masked = await show();
  t.equal(masked.length, 2, 'both warnings are there');
  for (const w of masked) {
    t.equal(w.Level, 'Warning', 'the level is kept');
    t.equal(w.Code, 1292, 'the code is kept');
    t.equal(w.Message, '****', 'the message quoting a masked value is withheld');
  }
  // A statement that uses no table leaves the area as it was: the masked warnings stay withheld.
  await run('SELECT 1');
  await run('SET @a = 1');
  t.same(
    (await show()).map((w) => w.Message),
    ['****', '****'],
    'still withheld after statements without a table',
  );
  t.same(
    (await show(true)).map((w) => w.Message),
    ['****', '****'],
    'and through a prepared SHOW WARNINGS',
  );
  t.same(
    ((await run('SHOW WARNINGS;')) as { Message: string }[]).map((w) => w.Message),
    ['****', '****'],
    'with a trailing semicolon too',
  );
  // A statement on a table clears it; its own warnings are screened on their own (notes has no
  // masked column; a statement on customers would have its warnings withheld).
  await run("SELECT id FROM notes WHERE id = CAST('1x' AS UNSIGNED)");
  t.match(
    (await show()).map((w) => w.Message).join('\n'),
    /Truncated incorrect INTEGER value: '1x'/,
    'cleared by a statement on a table',
  );
  t.same(leaks(seen.join('\n')), [], 'no masked value in anything received');
});

t.test('MySQL listener: DESCRIBE and SHOW COLUMNS return the metadata unmasked', async (t) => {
  const run = await listenerConnection(t);
  for (const sql of ['DESCRIBE customers', 'DESC customers', 'SHOW COLUMNS FROM customers']) {
    const rows = (await run(sql)) as { Field: string; Type: string }[];
    t.same(
      rows.map((r) => `${r.Field} ${r.Type}`),
      ['id int(11)', 'name varchar(40)', 'ssn varchar(20)'],
      sql,
    );
  }
  const plan = (await run('EXPLAIN SELECT ssn FROM customers')) as { table: string }[];
  t.equal(plan[0]?.table, 'customers', 'EXPLAIN returns its plan');
});

t.test('MCP on MySQL: SHOW WARNINGS is screened the same way', async (t) => {
  const client = new Client({ name: 'diagnostics', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${http.baseUrl}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  t.teardown(() => client.close());
  const query = async (sql: string) =>
    JSON.stringify(await client.callTool({ name: 'query', arguments: { database: 'shop', sql } }));
  await query('SELECT CAST(ssn AS UNSIGNED) AS n FROM customers');
  const shown = await query('SHOW WARNINGS');
  t.match(shown, /1292/, 'the warnings come back');
  t.same(leaks(shown), [], 'without the masked values they quote');
  const described = await query('DESCRIBE customers');
  t.match(described, /varchar\(20\)/, 'DESCRIBE is not masked');
});
