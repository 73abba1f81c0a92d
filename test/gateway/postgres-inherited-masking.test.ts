/**
 * A column rule names a table; the rows of its child tables (INHERITS) and of its partitions hold
 * the same columns, and reading those directly must mask them as the parent's rules say: through
 * the listener (simple and extended protocol) and MCP, in plain reads, derived values, writes
 * that would copy them, error texts, and under `maskedFilters: refuse`.
 */
import t from 'tap';
import { startChannels } from '../support/channels.js';
import { adminQuery, createScratchDatabase } from '../support/postgres.js';

const { name: db } = await createScratchDatabase(t, 'sluice_inherit');
await adminQuery(
  `CREATE TABLE customers (id int PRIMARY KEY, name text, ssn text);
   INSERT INTO customers VALUES (1, 'Ada', '123-45-6789');
   CREATE TABLE customers_child (extra text) INHERITS (customers);
   INSERT INTO customers_child VALUES (3, 'Cy', '555-12-3456', 'x');
   CREATE TABLE customers_grandchild () INHERITS (customers_child);
   INSERT INTO customers_grandchild VALUES (4, 'Di', '444-98-7654', 'y');
   CREATE TABLE events (id int, at date, ssn text) PARTITION BY RANGE (at);
   CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
   INSERT INTO events VALUES (1, '2026-03-01', '777-66-5555');
   CREATE TABLE notes (id int PRIMARY KEY, body text);`,
  [],
  db,
);
const masking = `
    masking:
      - columns: [customers.ssn, events.ssn]
        strategy: redact`;
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
    statements: { default: deny, allow: [read, write, transaction] }${masking}
  - name: strict
    when: { groups: [strict] }
    statements: { default: deny, allow: [read] }
    maskedFilters: refuse
    maskedDerivations: refuse${masking}
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-inherit-',
);

const SECRETS = ['555-12-3456', '444-98-7654', '777-66-5555', '123-45-6789'];
const FORMS = SECRETS.flatMap((v) => [v, v.replace(/-/g, ''), [...v].reverse().join('')]);
const leaks = (text: string) => FORMS.filter((f) => text.includes(f));

const READS = [
  'SELECT id, name, ssn FROM customers_child',
  'SELECT ssn FROM customers_grandchild',
  'SELECT * FROM ONLY customers_child',
  "SELECT upper(ssn) || '' AS s FROM customers_child",
  'SELECT c FROM customers_child c',
  'SELECT ssn FROM events_2026',
  "SELECT ssn || '' AS s FROM events_2026",
  'SELECT ssn FROM events',
  'SELECT ssn FROM customers ORDER BY id',
];

t.test('children and partitions are masked by their parent rules', async (t) => {
  const client = await ch.psql('w-1', ['writer'], 'shop', t);
  const query = await ch.mcp('w-2', ['writer'], t);
  let i = 0;
  for (const sql of READS) {
    for (const extended of [false, true]) {
      const out = await client.query(extended ? { name: `r${i++}`, text: sql } : sql).then(
        (r) => JSON.stringify(r.rows),
        (e: Error) => `ERR ${e.message}`,
      );
      t.same(leaks(out), [], `${extended ? 'extended' : 'simple'}: ${sql}`);
      t.notMatch(out, /^ERR/, sql);
    }
    const mcp = await query(sql, 'shop');
    t.same(leaks(mcp.text), [], `mcp: ${sql}`);
  }
  const { rows } = await client.query('SELECT id, name FROM customers_child ORDER BY id');
  t.same(rows, [
    { id: 3, name: 'Cy' },
    { id: 4, name: 'Di' },
  ]);
});

t.test('copies, errors and filters of a child are those of the parent', async (t) => {
  const writer = await ch.psql('w-3', ['writer'], 'shop', t);
  for (const sql of [
    'INSERT INTO notes SELECT id, ssn FROM customers_child',
    'INSERT INTO notes SELECT id, ssn FROM events_2026',
  ]) {
    await t.rejects(writer.query(sql), { code: '42501', message: /masked/ }, sql);
  }
  const cast = await writer.query('SELECT ssn::int FROM customers_child').catch((e: Error) => e.message);
  t.match(cast, /withheld/);
  t.same(leaks(String(cast)), []);
  const strict = await ch.psql('s-1', ['strict'], 'shop', t);
  for (const sql of [
    "SELECT id FROM customers_child WHERE ssn LIKE '5%'",
    "SELECT id FROM events_2026 WHERE ssn = '777-66-5555'",
  ]) {
    await t.rejects(strict.query(sql), { code: '42501', message: /masked column/ }, sql);
  }
  const { rows } = await adminQuery('SELECT count(*)::int AS n FROM notes', [], db);
  t.same(rows, [{ n: 0 }]);
});
