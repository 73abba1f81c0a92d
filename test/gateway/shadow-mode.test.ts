/**
 * Shadow mode (#19): a policy with `mode: shadow` decides as usual, records what it would have
 * denied or sent for review (decision.shadow) and lets the statement run, on every channel (MCP,
 * the Postgres listener simple and extended, the MySQL listener); masking still applies and a
 * text the guard cannot read is still refused. Then `sluice check --replay` and `sluice policy
 * diff` decide the recorded statements again under a changed policy.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { runCheck } from '../../src/cli/check.js';
import { runPolicy } from '../../src/cli/policy.js';
import { readsOnly } from '../../src/guard/policy.js';
import { createRecordingReader } from '../../src/recording/create.js';
import { startChannels } from '../support/channels.js';
import { adminQuery, createScratchDatabase } from '../support/postgres.js';

const { name: pgDb } = await createScratchDatabase(t, 'sluice_shadow');
await adminQuery(
  `CREATE TABLE notes (id int PRIMARY KEY, body text, secret text);
   INSERT INTO notes SELECT g, 'note ' || g, 'secret ' || g FROM generate_series(1, 20) g;`,
  [],
  pgDb,
);
const myDb = `sluice_shadow_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);
await admin.query(`CREATE TABLE ${myDb}.notes (id INT PRIMARY KEY, body VARCHAR(20), secret VARCHAR(20))`);
await admin.query(`INSERT INTO ${myDb}.notes VALUES (1, 'note 1', 'secret 1'), (2, 'note 2', 'secret 2')`);

const configText = (mode: string, allow: string) => `
server:
  http: { listen: 127.0.0.1:0 }
  postgres: { listen: 127.0.0.1:0, allowPlaintextAuth: true }
  mysql: { listen: 127.0.0.1:0 }
targets:
  shop: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${pgDb}, user: postgres, tls: disable }
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${myDb}, user: root, tls: disable }
policies:
  - name: trial
    mode: ${mode}
    when: { groups: [trial] }
    statements: { default: deny, allow: [${allow}], review: [write], deny: [ddl] }
    masking:
      - { columns: [notes.secret], strategy: redact }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`;
const channels = await startChannels(t, configText('shadow', 'read'), 'sluice-shadow-');
const { config, parts } = channels;
t.teardown(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${myDb}`);
  await admin.end();
});
// The same configuration as files, for the commands; and the change to roll out: enforced, and
// deletes allowed. Both read the gateway's recordings (relative to the files' folder).
const shadowFile = join(channels.dir, 'shadow.yaml');
const enforcedFile = join(channels.dir, 'enforced.yaml');
writeFileSync(shadowFile, configText('shadow', 'read'));
writeFileSync(enforcedFile, configText('enforce', 'read, delete'));

const pgCount = async (): Promise<number> =>
  Number(((await adminQuery('SELECT count(*) AS n FROM notes', [], pgDb)).rows[0] as { n: string }).n);
const pgBody = async (id: number): Promise<string | undefined> =>
  ((await adminQuery('SELECT body FROM notes WHERE id = $1', [id], pgDb)).rows[0] as { body?: string })?.body;

const events = () => channels.recorded('trial-1');

t.test('a shadow policy is never read-only at the target', async (t) => {
  t.equal(readsOnly(config.policies[0] as never), false);
});

t.test('MCP: what the policy would deny or review runs; the decision records it', async (t) => {
  const query = await channels.mcp('trial-1', ['trial'], t);
  const call = (sql: string, database = 'shop') => query(sql, database);

  const deleted = await call('DELETE FROM notes WHERE id = 1');
  t.not(deleted.isError, true, 'a delete the policy would deny runs');
  t.equal(await pgCount(), 19);
  const updated = await call("UPDATE notes SET body = 'changed' WHERE id = 2");
  t.not(updated.isError, true, 'a write the policy would send for review runs, with no approval asked');
  t.equal(await pgBody(2), 'changed');
  const read = await call('SELECT id, secret FROM notes WHERE id = 3');
  t.same(read.rows, [[3, '****']], 'masking still applies');
  const unreadable = await call('SELEC 1');
  t.equal(unreadable.isError, true, 'a text the guard cannot read is still refused');
  t.match(unreadable.text, /syntax error/);
  const onMysql = await call('DELETE FROM notes WHERE id = 1', 'legacy');
  t.not(onMysql.isError, true);
  const [left] = await admin.query(`SELECT id FROM ${myDb}.notes`);
  t.same(left, [{ id: 2 }]);

  const recorded = await events();
  const sqlOf = new Map(
    recorded.filter((e) => e.type === 'statement').map((e) => [e['statementId'], e['sql']]),
  );
  const bySql = (fragment: string) =>
    recorded.filter((e) => e.type === 'decision' && String(sqlOf.get(e['statementId'])).includes(fragment));
  const [deleteDecision] = bySql('DELETE FROM notes WHERE id = 1');
  t.match(deleteDecision, {
    action: 'allow',
    shadow: { action: 'deny', rule: 'trial: default deny' },
    reason: /^shadow mode: would deny/,
  });
  const [updateDecision] = bySql('UPDATE notes');
  t.match(updateDecision, { action: 'allow', shadow: { action: 'review', rule: 'trial: review write' } });
  const [readDecision] = bySql('SELECT id, secret');
  t.equal(readDecision?.['shadow'], undefined, 'an allowed read carries no shadow decision');
  const [unreadableDecision] = bySql('SELEC 1');
  t.equal(unreadableDecision?.['action'], 'deny');
});

t.test('the Postgres listener, simple and extended', async (t) => {
  const client = await channels.psql('trial-1', ['trial'], 'shop', t);
  const notices: string[] = [];
  client.on('notice', (n) => notices.push(n.message ?? ''));
  await client.query('DELETE FROM notes WHERE id = 4');
  await client.query({ text: 'DELETE FROM notes WHERE id = $1', values: [5] });
  t.equal(await pgCount(), 17, 'both deletes ran');
  const { rows } = await client.query('SELECT secret FROM notes WHERE id = 6');
  t.same(rows, [{ secret: '****' }]);
  await client.query('CREATE TABLE extra (id int)');
  const { rows: made } = await adminQuery("SELECT to_regclass('extra') AS t", [], pgDb);
  t.same(made, [{ t: 'extra' }], 'DDL the policy would deny runs');
  t.same(notices, [], 'no notice tells the caller about the shadow decision');
});

t.test('the MySQL listener, text and prepared', async (t) => {
  const conn = await channels.mysql('trial-1', ['trial'], 'legacy', t);
  await admin.query(`INSERT INTO ${myDb}.notes VALUES (3, 'note 3', 'secret 3'), (4, 'note 4', 'secret 4')`);
  await conn.query('DELETE FROM notes WHERE id = 3');
  await conn.execute('DELETE FROM notes WHERE id = ?', [4]);
  const [left] = await admin.query(`SELECT id FROM ${myDb}.notes ORDER BY id`);
  t.same(left, [{ id: 2 }]);
  const [masked] = await conn.query('SELECT secret FROM notes');
  t.same(masked, [{ secret: '****' }]);
});

async function cli(
  run: typeof runCheck,
  ...argv: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env: {} });
  return { code, stdout, stderr };
}

t.test('check --replay and policy diff: how the change would have decided each statement', async (t) => {
  await parts.recorder.flush();
  const reader = createRecordingReader(config);
  const sessions = await reader.listSessions({ identity: 'trial-1' });
  await reader.close();
  const mcpSession = sessions.find((s) => s.channel === 'mcp-http' && s.target === 'shop');
  t.ok(mcpSession);

  const same = await cli(runCheck, '--config', shadowFile, '--replay', mcpSession?.id ?? '');
  t.equal(same.code, 0, same.stderr);
  t.match(same.stdout, /statements in 1 sessions, 0 decided differently/);

  const changed = await cli(runCheck, '--config', enforcedFile, '--replay', mcpSession?.id ?? '');
  t.equal(changed.code, 12, changed.stderr);
  t.match(changed.stdout, /^CHANGED\s+deny \(shadow\)\s+-> allow\s+DELETE FROM notes WHERE id = 1/m);
  t.notMatch(changed.stdout, /UPDATE notes/, 'the update is sent for review by both');
  t.match(changed.stdout, /1 decided differently/);

  const all = await cli(
    runCheck,
    '--config',
    enforcedFile,
    '--replay',
    mcpSession?.id ?? '',
    '--all',
    '--json',
  );
  const lines = all.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  t.ok(lines.length >= 4, 'every statement with --all');
  t.ok(lines.some((l) => l['changed'] === false && String(l['sql']).startsWith('UPDATE')));

  const diff = await cli(runPolicy, 'diff', shadowFile, enforcedFile, '--identity', 'trial-1');
  t.equal(diff.code, 12, diff.stderr);
  // The delete on each channel that ran one: MCP on both targets, psql simple and extended, MySQL
  // text and prepared (COM_STMT_PREPARE records the statement once, as prepared).
  const deletes = diff.stdout.split('\n').filter((l) => l.startsWith('CHANGED') && l.includes('DELETE'));
  t.ok(deletes.length >= 5, `deletes decided differently on every channel:\n${diff.stdout}`);
  t.notMatch(diff.stdout, /CHANGED.*CREATE TABLE/, 'DDL is denied by both');

  const bad = await cli(runPolicy, 'diff', shadowFile);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /OLD.yaml and NEW.yaml/);
  const conflicting = await cli(runCheck, '--config', shadowFile, '--replay', 'x', '--target', 'shop');
  t.equal(conflicting.code, 2);
});
