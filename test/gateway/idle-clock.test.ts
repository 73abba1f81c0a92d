import t from 'tap';
import mysql from 'mysql2/promise';
import { serialize } from 'pg-protocol/dist/serializer';
import { startHarness } from './postgres-listener-harness.js';
import { RawClient } from './postgres-raw-client.js';

/**
 * The idle clock of the Postgres listener starts when the client could send again: a statement
 * that runs longer than idleTimeout, or waits that long for an approver, is not idleness, and the
 * connection is not cut the moment it ends. A connection that is then left idle is closed, and
 * its recording ends with "idle timeout", not "client disconnected".
 */
const h = await startHarness(t, {
  idleTimeout: '1s',
  policy: `
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
    statements: { default: deny, allow: [read], review: [write] }
    limits: { statementTimeout: 30s }
`,
  extra: `approvals: { keyPrefix: "sluice:{approvals-${process.pid}}:", approvers: { groups: [dba] }, timeout: 20s, wireWait: 2s }
guard: { sideEffectFunctions: { postgres: { pg_sleep: [] } } }`,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a statement longer than idleTimeout runs to its end, and the session goes on', async (t) => {
  const client = await h.client();
  t.teardown(() => client.end().catch(() => {}));
  t.same((await client.query('SELECT 1 AS done FROM pg_sleep(2.2)')).rows, [{ done: 1 }]);
  await sleep(400);
  t.same((await client.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'usable right after');
});

t.test('a wait for approval longer than idleTimeout is not idle time', async (t) => {
  const client = await h.client();
  t.teardown(() => client.end().catch(() => {}));
  await t.rejects(client.query("UPDATE notes SET body = 'x' WHERE id = 1"), {
    code: '42501',
    message: /not approved in time/,
  });
  await sleep(400);
  t.same((await client.query('SELECT 2 AS two')).rows, [{ two: 2 }], 'usable right after the wait');
});

t.test('a Parse left without a Sync does not keep a connection from being idle', async (t) => {
  const raw = await RawClient.login(h.port, h.token);
  raw.send(serialize.parse({ name: '', text: 'SELECT 1', types: [] }));
  // No Sync: the target owes nothing, the client is idle; the gateway ends it with 57P05.
  const messages = await raw.until('E');
  const error = messages.at(-1)?.[1].toString('latin1') ?? '';
  t.match(error, /57P05/, 'closed with idle_session_timeout');
  t.match(error, /idle-session timeout/);
});

t.test('an idle connection is closed and its recording says idle timeout', async (t) => {
  const subject = 'idle-agent';
  const token = await h.mint(subject);
  const client = await h.client({ user: subject, password: token });
  const ended = new Promise<string>((resolve) => client.on('error', (e) => resolve(e.message)));
  t.same((await client.query('SELECT 3 AS three')).rows, [{ three: 3 }]);
  t.match(await ended, /idle-session timeout/, 'the client hears why');
  const sessions = await h.recordings(subject);
  const ends = sessions.flat().filter((e) => e.type === 'session.end');
  t.same(
    ends.map((e) => e.reason),
    ['idle timeout'],
    'recorded as an idle timeout',
  );
});

t.test('MySQL listener: an idle client is recorded as an idle timeout', async (t) => {
  // The MySQL listener's clock already runs between commands only; its end reason is checked here.
  const { randomBytes } = await import('node:crypto');
  const { mkdtempSync, rmSync, readdirSync, readFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { pino } = await import('pino');
  const { assembleGateway } = await import('../../src/cli/assemble.js');
  const { parseConfigText } = await import('../../src/config/load.js');
  const { startMysqlListener } = await import('../../src/gateway/mysql/index.js');
  const db = `sluice_idle_${randomBytes(5).toString('hex')}`;
  const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
  await admin.query(`CREATE DATABASE ${db}`);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-idle-'));
  const config = parseConfigText(
    `
server: { mysql: { listen: 127.0.0.1:0, idleTimeout: 1s } }
targets:
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${db}, user: root, tls: disable }
policies:
  - name: agents
    when: { groups: [ai-agents] }
    statements: { default: deny, allow: [read] }
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
    await admin.query(`DROP DATABASE IF EXISTS ${db}`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  });
  const token = await parts.authenticator.mint({ subject: 'my-idle', groups: ['ai-agents'] });
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: listener.address.port,
    user: 'my-idle',
    password: token,
    database: 'legacy',
    ssl: { rejectUnauthorized: false },
    enableCleartextPlugin: true,
  });
  conn.on('error', () => {});
  await conn.query('SELECT 1');
  await sleep(1_800);
  await parts.recorder.flush?.();
  const text = readdirSync(join(dir, 'recordings'), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.jsonl') || f.endsWith('.ndjson') || f.endsWith('.json'))
    .map((f) => readFileSync(join(dir, 'recordings', f), 'utf8'))
    .join('\n');
  t.match(
    text,
    /"type":"session\.end"[^\n]*"reason":"idle timeout"|"reason":"idle timeout"[^\n]*"type":"session\.end"/,
  );
});
