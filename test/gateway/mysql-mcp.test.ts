import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import { assembleGateway } from '../../src/cli/assemble.js';
import { HttpServer } from '../../src/http/server.js';

// MCP tools on a MySQL (MariaDB) target, in-process: a scratch database on the shared server.
const database = `sluice_mymcp_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${database}`);
await admin.query(`CREATE TABLE ${database}.customers (
  id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, email VARCHAR(80), balance DECIMAL(10,2) DEFAULT 0,
  joined DATETIME, visits BIGINT)`);
await admin.query(`INSERT INTO ${database}.customers VALUES
  (1, 'Ada', 'ada@example.com', 12.50, '2024-01-02 03:04:05', 9007199254740993),
  (2, 'Bob', 'bob@example.org', 0, NULL, 2),
  (3, 'Cy', NULL, -1.25, '2024-03-01 00:00:00', 3)`);
await admin.query(
  `CREATE TABLE ${database}.orders (id INT PRIMARY KEY, customer_id INT, total DECIMAL(10,2))`,
);

const dir = mkdtempSync(join(tmpdir(), 'sluice-mysql-mcp-'));
const config = parseConfigText(
  `
server: { http: { listen: 127.0.0.1:0 } }
targets:
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${database}, user: root, tls: disable }
policies:
  - name: cataloguers
    when: { groups: [cataloguers], targets: [legacy] }
    statements: { default: deny, allow: [read] }
  - name: agents
    when: { groups: [ai-agents], targets: [legacy] }
    statements: { default: deny, allow: [read], deny: [ddl] }
    masking:
      - columns: [customers.email]
        strategy: redact
    limits: { maxRows: 100 }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  { baseDir: dir, env: {} },
);
const logger = pino({ level: 'silent' });
const parts = await assembleGateway(config, logger);
const http = new HttpServer({
  gateway: parts.gateway,
  authenticator: parts.authenticator,
  recorder: parts.recorder,
  logger,
});
await http.listen('127.0.0.1', 0);
t.teardown(async () => {
  await http.close();
  await parts.close();
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});
const token = await parts.authenticator.mint({ subject: 'agent-1', groups: ['ai-agents'] });
/**
 * Catalog tools run under a policy without masking rules: under a masking policy the gateway's own
 * information_schema reads are masked as untraceable today (reported to the integrator).
 */
const cataloguer = await parts.authenticator.mint({ subject: 'cat-1', groups: ['cataloguers'] });

async function mcpClient(t: { teardown(fn: () => unknown): void }, bearer = token): Promise<Client> {
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${http.baseUrl}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${bearer}` } },
    }),
  );
  t.teardown(() => client.close());
  return client;
}

const textOf = (result: unknown): string =>
  (result as { content: { type: string; text: string }[] }).content[0]?.text ?? '';

t.test('list_tables on a MySQL target lists the tables of its database', async (t) => {
  const client = await mcpClient(t, cataloguer);
  const result = await client.callTool({ name: 'list_tables', arguments: { database: 'legacy' } });
  t.notOk(result.isError, textOf(result));
  t.same(result.structuredContent, {
    tables: [
      { schema: database, name: 'customers', type: 'BASE TABLE' },
      { schema: database, name: 'orders', type: 'BASE TABLE' },
    ],
  });
});

t.test('describe_table on a MySQL target gives column types, nullability and defaults', async (t) => {
  const client = await mcpClient(t, cataloguer);
  const result = await client.callTool({
    name: 'describe_table',
    arguments: { database: 'legacy', table: 'customers' },
  });
  t.notOk(result.isError, textOf(result));
  const out = result.structuredContent as {
    schema: string;
    table: string;
    columns: { name: string; type: string; nullable: boolean; default: unknown }[];
  };
  t.equal(out.schema, database);
  t.equal(out.table, 'customers');
  t.same(
    out.columns.map((c) => [c.name, c.type, c.nullable]),
    [
      ['id', 'int(11)', false],
      ['name', 'varchar(40)', false],
      ['email', 'varchar(80)', true],
      ['balance', 'decimal(10,2)', true],
      ['joined', 'datetime', true],
      ['visits', 'bigint(20)', true],
    ],
  );
  t.equal(out.columns[3]?.default, '0.00');
  const missing = await client.callTool({
    name: 'describe_table',
    arguments: { database: 'legacy', table: 'nope' },
  });
  t.equal(missing.isError, true);
  t.match(textOf(missing), /not found/);
});

t.test('query with ? parameters returns typed rows with the masked column redacted', async (t) => {
  const client = await mcpClient(t);
  const result = await client.callTool({
    name: 'query',
    arguments: {
      database: 'legacy',
      sql: 'SELECT id, name, email, balance, joined, visits FROM customers WHERE id <= ? AND name <> ? ORDER BY id',
      params: [2, 'nobody'],
    },
  });
  t.notOk(result.isError, textOf(result));
  const out = result.structuredContent as {
    columns: { name: string; type: string; masked: boolean }[];
    rows: unknown[][];
    rowCount: number;
    truncated: boolean;
  };
  t.same(
    out.columns.map((c) => [c.name, c.type, c.masked]),
    [
      ['id', 'int', false],
      ['name', 'varchar', false],
      ['email', 'varchar', true],
      ['balance', 'decimal', false],
      ['joined', 'datetime', false],
      ['visits', 'bigint', false],
    ],
  );
  t.equal(out.rowCount, 2);
  t.same(out.rows[0]?.slice(0, 2), [1, 'Ada']);
  t.not(out.rows[0]?.[2], 'ada@example.com', 'email redacted');
  t.same(out.rows[0]?.slice(3), ['12.50', '2024-01-02T03:04:05', '9007199254740993']);
  t.notMatch(JSON.stringify(result), /ada@example\.com|bob@example\.org/, 'no email anywhere in the result');
});

t.test('query refuses DDL on a MySQL target and the table stays', async (t) => {
  const client = await mcpClient(t);
  const denied = await client.callTool({
    name: 'query',
    arguments: { database: 'legacy', sql: 'DROP TABLE orders' },
  });
  t.equal(denied.isError, true);
  t.match(textOf(denied), /denied/);
  const [rows] = await admin.query(
    'SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = ?',
    [database, 'orders'],
  );
  t.equal(Number((rows as { n: number }[])[0]?.n), 1);
});

t.test('explain on a MySQL target returns the plan without running the statement', async (t) => {
  const client = await mcpClient(t);
  const result = await client.callTool({
    name: 'explain',
    arguments: { database: 'legacy', sql: 'SELECT * FROM customers WHERE id = 1' },
  });
  t.notOk(result.isError, textOf(result));
  const plan = (result.structuredContent as { plan: string }).plan;
  t.match(plan, /customers/);
  t.match(plan, /const|PRIMARY/, 'the plan names the primary-key lookup');
});
