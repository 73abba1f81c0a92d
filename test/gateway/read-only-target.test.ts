/**
 * Read-only at the target (#19): a policy that allows only reads runs its statements in read-only
 * transactions on the target itself, so a classification forced wrong (a function that writes,
 * declared pure in `guard.sideEffectFunctions`) is let through by the guard and still cannot
 * write, on every channel: MCP on both engines, the Postgres listener (simple and extended
 * protocol, inside an explicit transaction too) and the MySQL listener (text and prepared). A
 * policy that also allows writes runs the same function, which shows the function does write.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { readsOnly } from '../../src/guard/policy.js';
import { startChannels } from '../support/channels.js';
import { adminQuery, createScratchDatabase } from '../support/postgres.js';

const { name: pgDb } = await createScratchDatabase(t, 'sluice_ro');
await adminQuery(
  `CREATE TABLE notes (id serial PRIMARY KEY, body text);
   CREATE FUNCTION leak() RETURNS int LANGUAGE sql AS $$ INSERT INTO notes (body) VALUES ('leaked') RETURNING id $$;`,
  [],
  pgDb,
);
const myDb = `sluice_ro_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);
await admin.query(`CREATE TABLE ${myDb}.notes (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(20))`);
await admin.query(
  `CREATE FUNCTION ${myDb}.leak() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO notes (body) VALUES ('leaked'); RETURN 1; END`,
);

const channels = await startChannels(
  t,
  `
server:
  http: { listen: 127.0.0.1:0 }
  postgres: { listen: 127.0.0.1:0, allowPlaintextAuth: true }
  mysql: { listen: 127.0.0.1:0 }
targets:
  shop: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${pgDb}, user: postgres, tls: disable }
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${myDb}, user: root, tls: disable }
guard:
  # Forced wrong on purpose: both functions write.
  sideEffectFunctions: { postgres: { leak: [] }, mysql: { leak: [] } }
policies:
  - name: readers
    when: { groups: [readers] }
    statements: { default: deny, allow: [read] }
  - name: writers
    when: { groups: [writers] }
    statements: { default: deny, allow: [read, write] }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-ro-',
);
const { config } = channels;
t.teardown(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${myDb}`);
  await admin.end();
});

async function pgLeaks(): Promise<number> {
  const { rows } = await adminQuery('SELECT count(*) AS n FROM notes', [], pgDb);
  return Number((rows[0] as { n: string } | undefined)?.n);
}
async function myLeaks(): Promise<number> {
  const [rows] = await admin.query(`SELECT COUNT(*) AS n FROM ${myDb}.notes`);
  return Number((rows as { n: number }[])[0]?.n);
}

t.test('which policies are read-only', async (t) => {
  const [readers, writers] = config.policies;
  t.equal(readsOnly(readers as never), true);
  t.equal(readsOnly(writers as never), false);
});

t.test('MCP: the guard lets the mislabelled function through; the target refuses its write', async (t) => {
  const query = await channels.mcp('reader-1', ['readers'], t);
  for (const database of ['shop', 'legacy']) {
    const result = await query('SELECT leak()', database);
    t.equal(result.isError, true, database);
    t.match(result.text, /read-only transaction|READ ONLY transaction/i, database);
  }
  t.equal(await pgLeaks(), 0);
  t.equal(await myLeaks(), 0);
});

t.test('the Postgres listener: simple, extended, and inside BEGIN', async (t) => {
  const client = await channels.psql('reader-1', ['readers'], 'shop', t);
  await t.rejects(client.query('SELECT leak()'), { code: '25006' }, 'simple protocol');
  await t.rejects(client.query({ text: 'SELECT leak() WHERE $1::int = 1', values: [1] }), { code: '25006' });
  await client.query('BEGIN');
  await t.rejects(client.query('SELECT leak()'), { code: '25006' }, 'in an explicit transaction');
  await client.query('ROLLBACK');
  await t.rejects(client.query('SET default_transaction_read_only = off'), /denied/, 'the switch is refused');
  const { rows } = await client.query<{ default_transaction_read_only: string }>(
    'SHOW default_transaction_read_only',
  );
  t.equal(rows[0]?.default_transaction_read_only, 'on', 'the session is read-only at the target');
  t.equal(await pgLeaks(), 0);
});

t.test('the MySQL listener: text and prepared', async (t) => {
  const conn = await channels.mysql('reader-1', ['readers'], 'legacy', t);
  await t.rejects(conn.query('SELECT leak()'), { errno: 1792, message: /READ ONLY transaction/ });
  await t.rejects(conn.execute('SELECT leak() + ?', [1]), { errno: 1792, message: /READ ONLY transaction/ });
  await conn.query('START TRANSACTION');
  await t.rejects(conn.query('SELECT leak()'), { errno: 1792, message: /READ ONLY/ });
  await conn.query('ROLLBACK');
  await t.rejects(conn.query('SET SESSION TRANSACTION READ WRITE'), { errno: 1142, message: /denied/ });
  t.equal(await myLeaks(), 0);
});

t.test('a policy that allows writes runs the same function: it does write', async (t) => {
  const query = await channels.mcp('writer-1', ['writers'], t);
  for (const database of ['shop', 'legacy']) {
    const result = await query('SELECT leak()', database);
    t.equal(result.isError, false, database);
  }
  t.equal(await pgLeaks(), 1);
  t.equal(await myLeaks(), 1);
});
