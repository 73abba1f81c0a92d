import t from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mysql from 'mysql2/promise';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import { assembleGateway } from '../../src/cli/assemble.js';
import { startListeners } from '../../src/cli/listeners.js';
import { parseConfigText } from '../../src/config/load.js';
import { HttpServer } from '../../src/http/server.js';
import { adminQuery, createRole, createScratchDatabase } from '../support/postgres.js';

// Target credentials that must never leave the gateway: not in a log line (at trace level), not
// in a recording, not in anything a caller gets back, on any channel.
const pgRole = await createRole(t, { auth: 'password', prefix: 'sluice_sec' });
const pgDb = await createScratchDatabase(t, 'sluice_sec');
await adminQuery(`GRANT ALL ON SCHEMA public TO ${pgRole.user}`, [], pgDb.name);
await adminQuery(
  `CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'hello');
                  GRANT SELECT ON notes TO ${pgRole.user}`,
  [],
  pgDb.name,
);

const myDb = `sluice_sec_${randomBytes(4).toString('hex')}`;
const myUser = `sluice_sec_${randomBytes(4).toString('hex')}`;
const myPassword = `my-${randomBytes(12).toString('base64url')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);
await admin.query(`CREATE TABLE ${myDb}.notes (id INT PRIMARY KEY, body VARCHAR(20))`);
await admin.query(`INSERT INTO ${myDb}.notes VALUES (1, 'hello')`);
await admin.query(`CREATE USER '${myUser}'@'%' IDENTIFIED BY '${myPassword}'`);
await admin.query(`GRANT SELECT ON ${myDb}.* TO '${myUser}'@'%'`);
t.teardown(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${myDb}`);
  await admin.query(`DROP USER IF EXISTS '${myUser}'@'%'`);
  await admin.end();
});
const wrongPassword = `wrong-${randomBytes(12).toString('base64url')}`;
const secrets = [pgRole.password, myPassword, wrongPassword];

const dir = mkdtempSync(join(tmpdir(), 'sluice-secrets-'));
const config = parseConfigText(
  `
server:
  http: { listen: 127.0.0.1:0 }
  postgres: { listen: 127.0.0.1:0, allowPlaintextAuth: true }
  mysql: { listen: 127.0.0.1:0, allowPlaintextAuth: true }
targets:
  pg: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${pgDb.name}, user: ${pgRole.user},
        password: env:PG_PW, tls: disable }
  my: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${myDb}, user: ${myUser},
        password: env:MY_PW, tls: disable }
  badpw: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${pgDb.name}, user: ${pgRole.user},
           password: env:BAD_PW, tls: disable }
policies:
  - name: agents
    when: { groups: [agents] }
    statements: { default: deny, allow: [read] }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
logging: { level: trace }
`,
  { baseDir: dir, env: { PG_PW: pgRole.password, MY_PW: myPassword, BAD_PW: wrongPassword } },
);

const logLines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logLines.push(chunk.toString());
    done();
  },
});
const logger = pino({ level: 'trace' }, sink);
const parts = await assembleGateway(config, logger);
const http = new HttpServer({
  gateway: parts.gateway,
  authenticator: parts.authenticator,
  recorder: parts.recorder,
  logger,
});
await http.listen('127.0.0.1', 0);
const listeners = await startListeners(parts, config, logger);
t.teardown(async () => {
  await listeners.close();
  await http.close();
  await parts.close();
});
const token = await parts.authenticator.mint({ subject: 'agent', groups: ['agents'] });
const responses: string[] = [];

t.test('a full session on every channel', async (t) => {
  const client = new Client({ name: 'secrets-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${http.baseUrl}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  for (const call of [
    { name: 'list_databases', arguments: {} },
    { name: 'query', arguments: { database: 'pg', sql: 'SELECT * FROM notes' } },
    { name: 'query', arguments: { database: 'pg', sql: 'SELECT nope FROM notes' } },
    { name: 'query', arguments: { database: 'my', sql: 'SELECT * FROM notes' } },
    { name: 'query', arguments: { database: 'my', sql: 'SELECT nope FROM notes' } },
    { name: 'query', arguments: { database: 'badpw', sql: 'SELECT 1' } },
    { name: 'describe_table', arguments: { database: 'pg', table: 'notes' } },
  ]) {
    const result = await client.callTool(call);
    responses.push(JSON.stringify(result));
  }
  await client.close();
  t.match(responses[1], /hello/, 'MCP reads through the pg target');
  t.match(responses[3], /hello/, 'MCP reads through the mysql target');
  t.match(responses[5], /"isError":true/, 'the wrong target password is an error');

  const psql = await new Promise<string>((resolve) => {
    execFile(
      'psql',
      [
        `host=127.0.0.1 port=${listeners.postgres?.port} dbname=pg user=agent sslmode=disable`,
        '-X',
        '-c',
        'SELECT * FROM notes',
        '-c',
        'SELECT nope',
      ],
      { env: { ...process.env, PGPASSWORD: token }, timeout: 20_000 },
      (_err, stdout, stderr) => resolve(stdout + stderr),
    );
  });
  responses.push(psql);
  t.match(psql, /hello/, 'psql reads through the Postgres listener');

  const my = await mysql.createConnection({
    host: '127.0.0.1',
    port: listeners.mysql?.port,
    user: 'agent',
    password: token,
    database: 'my',
    authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) },
  });
  const [rows] = await my.query('SELECT * FROM notes');
  responses.push(JSON.stringify(rows));
  await my.query('SELECT nope FROM notes').catch((err: Error) => responses.push(String(err.message)));
  await my.end();
  t.match(responses.at(-2), /hello/, 'mysql2 reads through the MySQL listener');
  await parts.recorder.flush();
});

t.test('no target password appears in any log line, recording or response', async (t) => {
  const recordings = join(dir, 'recordings');
  const recorded = readdirSync(recordings).map((f) => readFileSync(join(recordings, f), 'utf8'));
  t.ok(recorded.length > 2, 'sessions were recorded');
  t.ok(logLines.length > 10, 'the gateway logged at trace level');
  const everything = [...logLines, ...recorded, ...responses].join('\n');
  for (const secret of secrets) {
    t.notOk(everything.includes(secret), 'the password is nowhere');
  }
});
