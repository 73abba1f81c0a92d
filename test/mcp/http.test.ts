import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import { assembleGateway } from '../../src/cli/assemble.js';
import { HttpServer } from '../../src/http/server.js';

const db = `sluice_mcp_http_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
await admin.connect();
await admin.query(`CREATE DATABASE ${db}`);
t.teardown(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin.end();
});
const seed = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: db });
await seed.connect();
await seed.query(`
  CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, joined timestamptz,
                          balance numeric(12,2), visits bigint, active boolean, tags text[], doc jsonb, photo bytea);
  INSERT INTO customers VALUES
    (1, 'Ada', 'ada@example.com', '2024-01-02T03:04:05Z', 12.50, 9007199254740993, true, '{a,b}', '{"k":1}', '\\x0102'),
    (2, 'Bob', 'bob@example.com', NULL, 0, 2, false, '{}', NULL, NULL),
    (3, 'Cy', NULL, '2024-03-01T00:00:00Z', -1.25, 3, true, NULL, '[1,2]', NULL);`);
await seed.end();

const dir = mkdtempSync(join(tmpdir(), 'sluice-mcp-http-'));
const config = parseConfigText(
  `
server: { http: { listen: 127.0.0.1:0 } }
targets:
  shop: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${db}, user: postgres, tls: disable,
          description: test shop }
policies:
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
    statements: { default: deny, allow: [read], deny: [ddl] }
    limits: { maxRows: 2 }
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
});

const token = await parts.authenticator.mint({ subject: 'agent-1', groups: ['ai-agents'] });

async function connect(bearer: string): Promise<Client> {
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${http.baseUrl}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${bearer}` } },
    }),
  );
  return client;
}

t.test('without a token /mcp answers 401 with the protected-resource challenge', async (t) => {
  const res = await fetch(`${http.baseUrl}/mcp`, { method: 'POST', body: '{}' });
  t.equal(res.status, 401);
  t.match(
    res.headers.get('www-authenticate') ?? '',
    /resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/,
  );
  const meta = (await (await fetch(`${http.baseUrl}/.well-known/oauth-protected-resource/mcp`)).json()) as {
    resource: string;
  };
  t.equal(meta.resource, `${http.baseUrl}/mcp`);
});

t.test('an MCP client lists databases and tables and describes a table', async (t) => {
  const client = await connect(token);
  t.teardown(() => client.close());
  const dbs = await client.callTool({ name: 'list_databases', arguments: {} });
  t.same(dbs.structuredContent, {
    databases: [{ name: 'shop', engine: 'postgres', description: 'test shop' }],
  });
  const tables = await client.callTool({ name: 'list_tables', arguments: { database: 'shop' } });
  t.notOk(tables.isError);
  t.same(tables.structuredContent, { tables: [{ schema: 'public', name: 'customers', type: 'BASE TABLE' }] });
  const described = await client.callTool({
    name: 'describe_table',
    arguments: { database: 'shop', table: 'customers' },
  });
  const columns = (
    described.structuredContent as { columns: { name: string; type: string; nullable: boolean }[] }
  ).columns;
  t.same(
    columns.slice(0, 3).map((c) => [c.name, c.type, c.nullable]),
    [
      ['id', 'integer', false],
      ['name', 'text', false],
      ['email', 'text', true],
    ],
  );
});

t.test('query with parameters returns typed rows', async (t) => {
  const client = await connect(token);
  t.teardown(() => client.close());
  const result = await client.callTool({
    name: 'query',
    arguments: { database: 'shop', sql: 'SELECT * FROM customers WHERE id = $1', params: [1] },
  });
  t.notOk(result.isError, JSON.stringify(result.content));
  const out = result.structuredContent as {
    columns: { name: string; type: string }[];
    rows: unknown[][];
    rowCount: number;
    truncated: boolean;
  };
  t.same(
    out.columns.map((c) => c.type),
    ['int4', 'text', 'text', 'timestamptz', 'numeric', 'int8', 'bool', '_text', 'jsonb', 'bytea'],
  );
  const row = out.rows[0] ?? [];
  t.same(row.slice(0, 3), [1, 'Ada', 'ada@example.com']);
  t.equal(new Date(String(row[3])).toISOString(), '2024-01-02T03:04:05.000Z', 'timestamps are ISO strings');
  t.same(row.slice(4), ['12.50', '9007199254740993', true, ['a', 'b'], { k: 1 }, 'AQI=']);
  t.equal(out.rowCount, 1);
  t.equal(out.truncated, false);
  const text = (result.content as { type: string; text: string }[])[0]?.text ?? '';
  t.match(text, /id \| name/);
});

t.test('maxRows is enforced with truncated: true', async (t) => {
  const client = await connect(token);
  t.teardown(() => client.close());
  const capped = await client.callTool({
    name: 'query',
    arguments: { database: 'shop', sql: 'SELECT id FROM customers ORDER BY id' },
  });
  t.same(capped.structuredContent, {
    columns: [{ name: 'id', type: 'int4', masked: false }],
    rows: [[1], [2]],
    rowCount: 2,
    truncated: true,
  });
  const one = await client.callTool({
    name: 'query',
    arguments: { database: 'shop', sql: 'SELECT id FROM customers ORDER BY id', maxRows: 1 },
  });
  t.same((one.structuredContent as { rows: unknown[] }).rows, [[1]]);
  t.equal((one.structuredContent as { truncated: boolean }).truncated, true);
});

t.test('errors are tool results that name the problem', async (t) => {
  const client = await connect(token);
  t.teardown(() => client.close());
  const denied = await client.callTool({
    name: 'query',
    arguments: { database: 'shop', sql: 'DROP TABLE customers' },
  });
  t.equal(denied.isError, true);
  t.match((denied.content as { text: string }[])[0]?.text, /denied/);
  const still = await client.callTool({
    name: 'query',
    arguments: { database: 'shop', sql: 'SELECT count(*) AS n FROM customers' },
  });
  t.same((still.structuredContent as { rows: unknown[][] }).rows, [['3']]);
  const bad = await client.callTool({
    name: 'query',
    arguments: { database: 'shop', sql: 'SELECT nope FROM customers' },
  });
  t.equal(bad.isError, true);
  t.match((bad.content as { text: string }[])[0]?.text, /column "nope" does not exist/);
  const unknown = await client.callTool({
    name: 'query',
    arguments: { database: 'nowhere', sql: 'SELECT 1' },
  });
  t.equal(unknown.isError, true);
  t.match((unknown.content as { text: string }[])[0]?.text, /unknown database "nowhere"/);
  const explain = await client.callTool({
    name: 'explain',
    arguments: { database: 'shop', sql: 'SELECT * FROM customers' },
  });
  t.notOk(explain.isError);
  t.match((explain.structuredContent as { plan: string }).plan, /Seq Scan on customers/);
});

t.test('an identity that no policy names sees no databases', async (t) => {
  const other = await parts.authenticator.mint({ subject: 'nobody', groups: ['strangers'] });
  const client = await connect(other);
  t.teardown(() => client.close());
  const dbs = await client.callTool({ name: 'list_databases', arguments: {} });
  t.same(dbs.structuredContent, { databases: [] });
  const q = await client.callTool({ name: 'query', arguments: { database: 'shop', sql: 'SELECT 1' } });
  t.equal(q.isError, true);
});
