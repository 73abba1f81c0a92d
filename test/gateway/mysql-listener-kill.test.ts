/**
 * KILL through the MySQL listener (#26): a client knows its connections by the ids of the
 * listener's greeting, so `KILL n` and `KILL QUERY n` of such an id reach that listener
 * connection (its statement or itself), for the same subject only; any other id goes to the
 * target as written; an agent policy denies KILL outright. mysql2's pool-disconnect pattern
 * (`kill ?; select sleep(0.05)` as one multi-statement text) works as it does directly.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import mysqlCallback from 'mysql2';
import { pino } from 'pino';
import { assembleGateway } from '../../src/cli/assemble.js';
import { parseConfigText } from '../../src/config/load.js';
import { startMysqlListener } from '../../src/gateway/mysql/index.js';
import { killRequest } from '../../src/gateway/mysql/kill.js';

const database = `sluice_mykill_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${database}`);

const dir = mkdtempSync(join(tmpdir(), 'sluice-mysql-kill-'));
const config = parseConfigText(
  `
server: { mysql: { listen: 127.0.0.1:0, allowPlaintextAuth: true } }
targets:
  shop: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${database}, user: root, tls: disable }
policies:
  - name: dba
    when: { groups: [dba], targets: [shop] }
    statements: { default: allow }
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
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
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});

async function options(subject: string, groups: string[], extra: Record<string, unknown> = {}) {
  const token = await parts.authenticator.mint({ subject, groups });
  return {
    host: '127.0.0.1',
    port: listener.address.port,
    user: subject,
    password: token,
    database: 'shop',
    ...extra,
  };
}

async function through(subject: string, groups: string[], extra: Record<string, unknown> = {}) {
  const connection = await mysql.createConnection(await options(subject, groups, extra));
  connection.on('error', () => {});
  return connection;
}

/** The target thread serving a listener connection. */
async function targetThread(connection: mysql.Connection): Promise<number> {
  const [rows] = await connection.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id');
  return Number(rows[0]?.id);
}

async function targetThreadAlive(thread: number): Promise<boolean> {
  const [rows] = await admin.query<RowDataPacket[]>(
    'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID = ?',
    [thread],
  );
  return Number(rows[0]?.n) === 1;
}

const closed = (connection: mysql.Connection) =>
  new Promise<void>((resolve) => {
    const raw = (connection as unknown as { connection: { stream: NodeJS.EventEmitter } }).connection;
    raw.stream.once('close', () => resolve());
  });

t.test('the text forms of KILL that name one connection', async (t) => {
  t.same(killRequest('KILL 1610612737'), { query: false, id: 1610612737 });
  t.same(killRequest('kill query 5;'), { query: true, id: 5 });
  t.same(killRequest('KILL CONNECTION 5'), { query: false, id: 5 });
  t.same(killRequest('KILL HARD QUERY ID 9'), { query: true, id: 9 });
  t.same(killRequest(' KILL  SOFT 9 '), { query: false, id: 9 });
  t.equal(killRequest('KILL USER root'), undefined);
  t.equal(killRequest('KILL 5; DROP TABLE x'), undefined);
  t.equal(killRequest('KILL (SELECT 5)'), undefined);
  t.equal(killRequest('KILL 99999999999'), undefined, 'more digits than a thread id has');
});

t.test('listener ids are far from the target thread ids', async (t) => {
  const a = await through('dba-1', ['dba']);
  t.teardown(() => a.end());
  const id = a.threadId as number;
  t.ok(id >= 0x40000000 && id <= 0x7fffffff, `greeting id ${id} in [2^30, 2^31)`);
  t.not(id, await targetThread(a));
});

t.test('KILL QUERY of an own connection stops its statement there', async (t) => {
  const victim = await through('dba-1', ['dba']);
  const killer = await through('dba-1', ['dba']);
  t.teardown(async () => {
    victim.destroy();
    await killer.end();
  });
  const started = Date.now();
  const sleeping = victim.query('SELECT SLEEP(20) AS s').then(
    () => undefined,
    (err: unknown) => err as Error & { errno?: number; sqlState?: string },
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  await killer.query(`KILL QUERY ${victim.threadId}`);
  const err = await sleeping;
  t.equal(err?.errno, 1317, 'the statement was interrupted');
  t.equal(err?.sqlState, '70100');
  t.ok(Date.now() - started < 10_000, 'well before the SLEEP ended');
  t.same((await killer.query<RowDataPacket[]>('SELECT 1 AS one'))[0], [{ one: 1 }], 'the killer goes on');
});

t.test('KILL of an own connection ends it and its target thread', async (t) => {
  const victim = await through('dba-1', ['dba']);
  const killer = await through('dba-1', ['dba']);
  t.teardown(() => killer.end());
  const thread = await targetThread(victim);
  t.ok(await targetThreadAlive(thread));
  const gone = closed(victim);
  await killer.query(`KILL ${victim.threadId}`);
  await gone;
  const deadline = Date.now() + 5000;
  while ((await targetThreadAlive(thread)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.notOk(await targetThreadAlive(thread), "the victim's target connection is closed");
  await t.rejects(victim.query('SELECT 1'), 'the victim cannot go on');
  t.same((await killer.query<RowDataPacket[]>('SELECT 1 AS one'))[0], [{ one: 1 }]);
});

t.test("another subject's connection is not the caller's to kill", async (t) => {
  const victim = await through('dba-2', ['dba']);
  const killer = await through('dba-1', ['dba']);
  t.teardown(async () => {
    await victim.end();
    await killer.end();
  });
  for (const sql of [`KILL ${victim.threadId}`, `KILL QUERY ${victim.threadId}`]) {
    await t.rejects(killer.query(sql), {
      errno: 1095,
      message: `You are not owner of thread ${victim.threadId}`,
    });
  }
  t.same((await victim.query<RowDataPacket[]>('SELECT 1 AS one'))[0], [{ one: 1 }], 'the victim is alive');
});

t.test('an agent policy denies KILL of any connection, its own included', async (t) => {
  const victim = await through('agent-1', ['ai-agents']);
  const killer = await through('agent-1', ['ai-agents']);
  t.teardown(async () => {
    await victim.end();
    await killer.end();
  });
  const thread = await targetThread(victim);
  for (const sql of [
    `KILL ${victim.threadId}`,
    `KILL QUERY ${victim.threadId}`,
    `KILL ${thread}`,
    'KILL 1',
  ]) {
    await t.rejects(killer.query(sql), { errno: 1142, message: /denied/ }, sql);
  }
  t.same((await victim.query<RowDataPacket[]>('SELECT 1 AS one'))[0], [{ one: 1 }], 'the victim is alive');
  t.ok(await targetThreadAlive(thread));
});

t.test('an id that is not a listener connection goes to the target as written', async (t) => {
  const dba = await through('dba-1', ['dba']);
  t.teardown(() => dba.end());
  await t.rejects(dba.query('KILL 2147483000'), { errno: 1094, message: /Unknown thread id/ });
  const other = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', database });
  other.on('error', () => {});
  const [rows] = await other.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id');
  await dba.query(`KILL ${Number(rows[0]?.id)}`);
  await t.rejects(other.query('SELECT 1'), "the target's own thread was killed");
  other.destroy();
});

t.test('KILL of the own connection answers "killed" and closes it', async (t) => {
  const self = await through('dba-1', ['dba']);
  const gone = closed(self);
  await t.rejects(self.query(`KILL ${self.threadId}`), { errno: 1927, message: /killed/ });
  await gone;
  t.pass('closed');
});

t.test("mysql2's pool-disconnect pattern: kill ?; select sleep(0.05)", async (t) => {
  const pool = mysqlCallback.createPool({ ...(await options('dba-1', ['dba'])), connectionLimit: 3 });
  const killer = await through('dba-1', ['dba'], { multipleStatements: true });
  t.teardown(async () => {
    await killer.end();
    await pool.promise().end();
  });
  const errors: string[] = [];
  const ids: number[] = [];
  pool.on('connection', (connection) => {
    ids.push(connection.threadId);
    connection.on('error', (err: NodeJS.ErrnoException) => errors.push(String(err.code)));
  });
  const promised = pool.promise();
  await Promise.all([1, 2, 3].map(() => promised.query('SELECT SLEEP(0.1) AS v')));
  t.equal(ids.length, 3);
  for (const id of ids) await killer.query('kill ?; select sleep(0.05)', [id]);
  const deadline = Date.now() + 5000;
  while (errors.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.same(errors, ['PROTOCOL_CONNECTION_LOST', 'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_CONNECTION_LOST']);
  const [rows] = await promised.query<RowDataPacket[]>('SELECT 1 AS value');
  t.same(rows, [{ value: 1 }], 'the pool serves a new connection');
});
