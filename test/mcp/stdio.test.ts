import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { pino } from 'pino';
import { loadConfigFile } from '../../src/config/load.js';
import { createAuthenticator } from '../../src/identity/index.js';

const db = `sluice_mcp_stdio_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
await admin.connect();
await admin.query(`CREATE DATABASE ${db}`);
t.teardown(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin.end();
});
const seed = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: db });
await seed.connect();
await seed.query(`CREATE TABLE items (id int PRIMARY KEY, label text, price numeric(8,2));
                  INSERT INTO items VALUES (1, 'pen', 1.50), (2, 'ink', 7.25);`);
await seed.end();

const dir = mkdtempSync(join(tmpdir(), 'sluice-mcp-stdio-'));
const configFile = join(dir, 'sluice.yaml');
writeFileSync(
  configFile,
  `
targets:
  store: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${db}, user: postgres, tls: disable }
policies:
  - name: agents
    when: { groups: [ai-agents] }
    statements: { default: deny, allow: [read] }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
);
const config = loadConfigFile(configFile, {});
const auth = await createAuthenticator(config, { logger: pino({ level: 'silent' }) });
const token = await auth.mint({ subject: 'desktop-agent', groups: ['ai-agents'] });

// The built CLI (npm test builds first), spawned as a user would run it.
const entry = join(import.meta.dirname, '..', '..', 'bin', 'sluice.js');

function spawnClient(env: Record<string, string>, args: string[]): StdioClientTransport {
  return new StdioClientTransport({
    command: process.execPath,
    args: ['--enable-source-maps', entry, 'mcp', '--config', configFile, ...args],
    env: { ...(process.env as Record<string, string>), ...env },
    stderr: 'pipe',
  });
}

t.test('sluice mcp over stdio serves the tools to the token holder', async (t) => {
  const client = new Client({ name: 'stdio-test', version: '1.0.0' });
  await client.connect(spawnClient({ SLUICE_TOKEN: token }, []));
  t.teardown(() => client.close());
  const tools = await client.listTools();
  t.same(tools.tools.map((x) => x.name).sort(), [
    'approval_status',
    'describe_table',
    'explain',
    'list_databases',
    'list_tables',
    'query',
  ]);
  const dbs = await client.callTool({ name: 'list_databases', arguments: {} });
  t.same(dbs.structuredContent, { databases: [{ name: 'store', engine: 'postgres' }] });
  const q = await client.callTool({
    name: 'query',
    arguments: {
      database: 'store',
      sql: 'SELECT id, label, price FROM items WHERE price > $1 ORDER BY id',
      params: [1],
    },
  });
  t.notOk(q.isError, JSON.stringify(q.content));
  t.same((q.structuredContent as { rows: unknown[][] }).rows, [
    [1, 'pen', '1.50'],
    [2, 'ink', '7.25'],
  ]);
  const del = await client.callTool({
    name: 'query',
    arguments: { database: 'store', sql: 'DELETE FROM items' },
  });
  t.equal(del.isError, true);
});

t.test('sluice mcp refuses to start with a bad token, without echoing it', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const result = spawnSync(
    process.execPath,
    [entry, 'mcp', '--config', configFile, '--token', 'garbage.token.value'],
    {
      encoding: 'utf8',
      input: '',
    },
  );
  t.equal(result.status, 1);
  t.match(result.stderr, /token was refused/);
  t.notMatch(result.stderr, /garbage\.token\.value/);
});
