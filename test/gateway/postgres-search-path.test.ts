/**
 * Masking reads a statement's unqualified names by the catalog's search path. A caller that
 * changed the session's search path would make the server read `notes` as a view of the masked
 * column in a schema of its own, which lineage reads as the plain table: under column masking a
 * change of the search path is refused, by SET, SET SCHEMA, set_config (of a literal or a
 * computed name) and startup options alike, on the listener (simple and extended) and MCP.
 */
import t from 'tap';
import { startChannels } from '../support/channels.js';
import { adminQuery, createScratchDatabase } from '../support/postgres.js';

const { name: db } = await createScratchDatabase(t, 'sluice_spath');
await adminQuery(
  `CREATE TABLE customers (id int PRIMARY KEY, name text, ssn text);
   INSERT INTO customers VALUES (1, 'Ada', '123-45-6789'), (2, 'Bob', '987-65-4321');
   CREATE TABLE notes (id int PRIMARY KEY, body text);
   INSERT INTO notes VALUES (1, 'first'), (2, 'second');
   CREATE SCHEMA s2;
   CREATE VIEW s2.notes AS SELECT id, ssn AS body FROM customers;`,
  [],
  db,
);
const ch = await startChannels(
  t,
  `
server:
  http: { listen: 127.0.0.1:0 }
  postgres: { listen: 127.0.0.1:0, allowPlaintextAuth: true }
targets:
  shop: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${db}, user: postgres, tls: disable }
policies:
  - name: writer
    when: { groups: [writer] }
    statements: { default: deny, allow: [read, write, session, transaction] }
    masking:
      - columns: [customers.ssn]
        strategy: redact
  - name: plain
    when: { groups: [plain] }
    statements: { default: deny, allow: [read, session] }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-spath-',
);

const SECRETS = ['123-45-6789', '987-65-4321', '123456789', '987654321'];
const leaks = (text: string) => SECRETS.filter((s) => text.toUpperCase().includes(s));

const CHANGES = [
  'SET search_path = s2, public',
  'SET search_path TO s2',
  "SET SCHEMA 's2'",
  "SELECT set_config('search_path', 's2, public', false)",
  "SELECT pg_catalog.set_config('search_path'::text, 's2', true)",
  "SELECT set_config(lower('SEARCH_PATH'), 's2', false)",
  'RESET search_path',
];
/** What each change is refused with: a setting named by a computed value is refused by the guard
 * itself (it may name standard_conforming_strings), before masking reads it. */
const REFUSAL = (sql: string) => (sql.includes('lower(') ? /statement denied/ : /search path/);

t.test('the listener refuses a change of the search path under masking', async (t) => {
  const client = await ch.psql('w-1', ['writer'], 'shop', t);
  for (const extended of [false, true]) {
    let i = 0;
    for (const sql of CHANGES) {
      const err = await client.query(extended ? { name: `c${i++}`, text: sql } : sql).then(
        () => undefined,
        (e: Error & { code?: string }) => e,
      );
      t.equal(err?.code, '42501', sql);
      t.match(err?.message, REFUSAL(sql), sql);
    }
    await client.query('BEGIN');
    await t.rejects(client.query('SET LOCAL search_path = s2'), { code: '42501' });
    await client.query('ROLLBACK');
  }
  const { rows } = await client.query('SELECT upper(body) AS b FROM notes ORDER BY id');
  t.same(rows, [{ b: 'FIRST' }, { b: 'SECOND' }], 'notes is still the table');
  const view = await client.query('SELECT upper(body) AS b FROM s2.notes ORDER BY id');
  t.same(leaks(JSON.stringify(view.rows)), [], 'the view, named with its schema, is masked');
  await client.query("SET application_name = 'x'");
  await client.query("SELECT set_config('application_name', 'y', false)");
  t.pass('other settings change as before');
});

t.test('a startup search_path is refused under masking, allowed without', async (t) => {
  await t.rejects(ch.psql('w-2', ['writer'], 'shop', t, { options: '-c search_path=s2,public' }), {
    message: /search_path.*search path/,
  });
  const plain = await ch.psql('p-1', ['plain'], 'shop', t, { options: '-c search_path=s2,public' });
  const { rows } = await plain.query('SHOW search_path');
  t.match(rows[0]?.search_path, /^s2, ?public$/, 'a caller without masking may set it');
});

t.test('MCP refuses it too', async (t) => {
  const query = await ch.mcp('w-3', ['writer'], t);
  for (const sql of CHANGES) {
    const r = await query(sql, 'shop');
    t.equal(r.isError, true, sql);
    t.match(r.text, REFUSAL(sql), sql);
  }
  const r = await query('SET search_path = s2, public; SELECT upper(body) AS b FROM notes', 'shop');
  t.equal(r.isError, true);
  t.same(leaks(r.text), []);
});
