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
import { HttpServer } from '../../src/http/server.js';
import { adminQuery, createScratchDatabase } from '../support/postgres.js';

/**
 * MCP sessions share each target's pool. A statement that may change session state (a setting
 * through set_config, a user variable, a transaction) must not hand its connection, state and
 * all, to the next caller: it is closed instead. Pools of one connection make the reuse certain.
 */
const { name: pgDb } = await createScratchDatabase(t, 'sluice_reset');
await adminQuery('CREATE TABLE items (id int PRIMARY KEY)', [], pgDb);
const myDb = `sluice_reset_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);

const dir = mkdtempSync(join(tmpdir(), 'sluice-reset-'));
const config = parseConfigText(
  `
server: { http: { listen: 127.0.0.1:0 } }
targets:
  pg: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${pgDb}, user: postgres, tls: disable, pool: { max: 1 } }
  my: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${myDb}, user: root, tls: disable, pool: { max: 1 } }
policies:
  - name: tinkerers
    when: { groups: [tinkerers] }
    statements: { default: allow }
  - name: dbas
    when: { groups: [dbas] }
    statements: { default: allow }
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
  await admin.query(`DROP DATABASE IF EXISTS ${myDb}`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});

async function mcp(
  t: { teardown(fn: () => unknown): void },
  subject: string,
  group: string,
): Promise<Client> {
  const token = await parts.authenticator.mint({ subject, groups: [group] });
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${http.baseUrl}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  t.teardown(() => client.close());
  return client;
}

async function rows(client: Client, database: string, sql: string): Promise<unknown[][]> {
  const result = await client.callTool({ name: 'query', arguments: { database, sql } });
  t.notOk(result.isError, JSON.stringify(result.content));
  return (result.structuredContent as { rows: unknown[][] }).rows;
}

t.test('Postgres: set_config by one caller does not reach the next', async (t) => {
  const tinkerer = await mcp(t, 'tinkerer-1', 'tinkerers');
  const dba = await mcp(t, 'dba-1', 'dbas');
  const before = await rows(
    dba,
    'pg',
    "SELECT current_setting('search_path') AS p, current_setting('statement_timeout') AS s",
  );
  await rows(
    tinkerer,
    'pg',
    "SELECT set_config('search_path', 'nowhere', false), set_config('statement_timeout', '7ms', false)",
  );
  const after = await rows(
    dba,
    'pg',
    "SELECT current_setting('search_path') AS p, current_setting('statement_timeout') AS s",
  );
  t.same(after, before, 'the dba sees the settings it would have seen anyway');
  t.same(after, [['"$user", public', '0']]);
  t.same(await rows(dba, 'pg', 'SELECT count(*)::int AS n FROM items'), [[0]]);
  // A plain read keeps its connection: the pool still has one to reuse.
  const pid = await rows(dba, 'pg', 'SELECT pg_backend_pid() AS pid');
  t.same(await rows(dba, 'pg', 'SELECT pg_backend_pid() AS pid'), pid, 'reads reuse the pooled connection');
});

t.test('MySQL: a user variable and a session setting of one caller do not reach the next', async (t) => {
  const tinkerer = await mcp(t, 'tinkerer-2', 'tinkerers');
  const dba = await mcp(t, 'dba-2', 'dbas');
  await rows(tinkerer, 'my', "SET @secret = 'from-tinkerer'");
  await rows(tinkerer, 'my', 'SET SESSION group_concat_max_len = 777');
  const [seen] = await rows(dba, 'my', 'SELECT @secret AS v, @@SESSION.group_concat_max_len AS m');
  t.equal(seen?.[0], null, 'no variable of another caller');
  t.not(String(seen?.[1]), '777', 'no setting of another caller');
});
