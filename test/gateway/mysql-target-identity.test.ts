/**
 * The caller's identity inside a MySQL target (#19): with `identity.settings` each statement runs
 * on a connection whose user variables `@sluice_sub`, `@sluice_groups` and `@sluice_session` are
 * the caller's (a stored function reads them, a view filters on it), with `identity.setRole` as
 * the caller's role; on MCP's shared pool one caller's identity never reaches the next, and a
 * caller cannot change its own (`dcl`, even under a policy that allows `session`).
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { startChannels } from '../support/channels.js';

const database = `sluice_myid_${randomBytes(5).toString('hex')}`;
const role = `sluice_r_${randomBytes(3).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${database}`);
await admin.query(`USE ${database}`);
await admin.query('CREATE TABLE docs (id INT PRIMARY KEY, owner VARCHAR(40), body VARCHAR(80))');
await admin.query("INSERT INTO docs VALUES (1, 'agent-a', 'a secret'), (2, 'agent-b', 'b secret')");
// A view cannot read a user variable; a function can, and a view can call it.
await admin.query('CREATE FUNCTION sluice_caller() RETURNS VARCHAR(200) DETERMINISTIC RETURN @sluice_sub');
await admin.query('CREATE VIEW my_docs AS SELECT id, body FROM docs WHERE owner = sluice_caller()');
const [[me]] = await admin.query<RowDataPacket[]>('SELECT CURRENT_USER() AS u');
const [user, host] = String(me?.u).split('@');
await admin.query(`CREATE ROLE ${role}_agent_a`);
await admin.query(`CREATE ROLE ${role}_agent_b`);
await admin.query(`GRANT ${role}_agent_a TO '${user}'@'${host}'`);
await admin.query(`GRANT ${role}_agent_b TO '${user}'@'${host}'`);
t.teardown(async () => {
  await admin.query(`DROP ROLE IF EXISTS ${role}_agent_a`);
  await admin.query(`DROP ROLE IF EXISTS ${role}_agent_b`);
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.end();
});

const channels = await startChannels(
  t,
  `
server:
  http: { listen: 127.0.0.1:0 }
  mysql: { listen: 127.0.0.1:0 }
targets:
  docs:
    engine: mysql
    host: 127.0.0.1
    port: 3306
    database: ${database}
    user: root
    tls: disable
    identity: { settings: true, setRole: "${role}_{sub}" }
guard:
  sideEffectFunctions:
    mysql: { sluice_caller: [read] }
policies:
  - name: agents
    when: { groups: [ai-agents] }
    statements: { default: deny, allow: [read, session] }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-mysql-identity-',
);

const subjectOf = (rows: RowDataPacket[]) => rows.map((r) => ({ ...r }));

t.test('the listener: each statement runs with the caller identity and role', async (t) => {
  const a = await channels.mysql('agent_a', ['ai-agents'], 'docs', t);
  const [who] = await a.query<RowDataPacket[]>(
    'SELECT @sluice_sub AS sub, @sluice_groups AS groups_, @sluice_session IS NOT NULL AS has_session, CURRENT_ROLE() AS r',
  );
  t.same(subjectOf(who), [{ sub: 'agent_a', groups_: 'ai-agents', has_session: 1, r: `${role}_agent_a` }]);
});

t.test('the target own view filters by the caller', async (t) => {
  await admin.query("UPDATE docs SET owner = 'agent_a' WHERE id = 1");
  await admin.query("UPDATE docs SET owner = 'agent_b' WHERE id = 2");
  const a = await channels.mysql('agent_a', ['ai-agents'], 'docs', t);
  const b = await channels.mysql('agent_b', ['ai-agents'], 'docs', t);
  t.same(subjectOf((await a.query<RowDataPacket[]>('SELECT id, body FROM my_docs'))[0]), [
    { id: 1, body: 'a secret' },
  ]);
  t.same(subjectOf((await b.query<RowDataPacket[]>('SELECT id, body FROM my_docs'))[0]), [
    { id: 2, body: 'b secret' },
  ]);
});

t.test('a caller cannot change its identity, even where session state is allowed', async (t) => {
  const a = await channels.mysql('agent_a', ['ai-agents'], 'docs', t);
  for (const sql of [
    "SET @sluice_sub = 'agent_b'",
    "SET @SLUICE_SUB := 'agent_b'",
    "SET @`sluice_sub` = 'agent_b'",
    "SELECT @sluice_sub := 'agent_b'",
    "SELECT 'agent_b' INTO @sluice_sub",
    "SET @sluice_groups = 'dba'",
  ]) {
    await t.rejects(a.query(sql), { errno: 1142, message: /dcl/ }, sql);
  }
  await a.query('SET @mine = 1');
  await a.query(`SET ROLE ${role}_agent_b`);
  // The identity is set again before each statement: a role the caller switched to is gone.
  const [after] = await a.query<RowDataPacket[]>(
    'SELECT @sluice_sub AS sub, CURRENT_ROLE() AS r, @mine AS m',
  );
  t.same(subjectOf(after), [{ sub: 'agent_a', r: `${role}_agent_a`, m: 1 }]);
});

t.test('MCP: callers taking turns on the shared pool each run as themselves', async (t) => {
  const a = await channels.mcp('agent_a', ['ai-agents'], t);
  const b = await channels.mcp('agent_b', ['ai-agents'], t);
  for (let i = 0; i < 3; i++) {
    for (const [query, sub] of [
      [a, 'agent_a'],
      [b, 'agent_b'],
    ] as const) {
      const result = await query('SELECT @sluice_sub AS sub, CURRENT_ROLE() AS r', 'docs');
      t.equal(result.isError, false, result.text);
      t.same(result.rows, [[sub, `${role}_${sub}`]], `turn ${i}: ${sub}`);
      const own = await query('SELECT body FROM my_docs', 'docs');
      t.same(own.rows, [[sub === 'agent_a' ? 'a secret' : 'b secret']]);
    }
  }
});
