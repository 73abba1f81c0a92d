import { randomBytes } from 'node:crypto';
import pg from 'pg';
import t, { type Test } from 'tap';
import type { ResultColumn } from '../../src/gateway/types.js';
import { createPostgresCatalog } from '../../src/masking/catalog-postgres.js';
import { LineageMasking } from '../../src/masking/stage.js';
import { compiledPolicy, logger, pgVerdict, session } from './fixtures/shop.js';

const ADMIN = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' };
const database = `sluice_mask_${randomBytes(6).toString('hex')}`;

const people = [
  {
    name: 'Alice',
    email: 'alice@example.com',
    ssn: '123-45-6789',
    phone: '+1 415-555-2671',
    note: 'card 4111 1111 1111 1111',
  },
  {
    name: 'Bob',
    email: 'bob@corp.example.org',
    ssn: '078-05-1120',
    phone: '(212) 555-0199',
    note: 'nothing',
  },
];
const secrets = people.flatMap((p) => [p.email, p.ssn, p.phone, '4111 1111 1111 1111']);

const admin = new pg.Client(ADMIN);
await admin.connect();
await admin.query(`CREATE DATABASE ${database}`);
const client = new pg.Client({ ...ADMIN, database });
await client.connect();
t.teardown(async () => {
  await client.end();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
});

await client.query(`
  CREATE TABLE customers (id serial PRIMARY KEY, name text, email text, ssn varchar(11), phone text, note text);
  CREATE VIEW customer_contacts AS SELECT id, lower(email) AS contact, name FROM customers;
  CREATE VIEW plain_contacts AS SELECT id, email, name FROM customers;
`);
for (const p of people) {
  await client.query('INSERT INTO customers (name, email, ssn, phone, note) VALUES ($1, $2, $3, $4, $5)', [
    p.name,
    p.email,
    p.ssn,
    p.phone,
    p.note,
  ]);
}

const policy = compiledPolicy(
  '',
  `      - columns: [customers.email]
        strategy: email
      - columns: ["*.ssn"]
        strategy: partial
      - columns: [customers.phone]
        strategy: hash
      - detect: [credit-card]
        strategy: redact`,
);
const catalog = createPostgresCatalog(async (sql, params) => (await client.query(sql, params)).rows);
const stage = new LineageMasking({ rulesFor: () => policy, catalogFor: () => catalog, logger });

/** Runs a query directly and through the stage; returns both, and the plan's masked flags. */
async function run(sql: string) {
  const result = await client.query({ text: sql, rowMode: 'array' });
  const columns: ResultColumn[] = result.fields.map((f) => ({
    name: f.name,
    type: String(f.dataTypeID),
    typeOid: f.dataTypeID,
    tableOid: f.tableID,
    columnAttr: f.columnID,
  }));
  const plan = await stage.maskingPlan(columns, { session: session(), sql, verdict: await pgVerdict(sql) });
  const direct = result.rows as unknown[][];
  const masked = direct.map((row) => (plan ? plan.mask(row) : row));
  return {
    direct,
    masked,
    flags: plan?.masked ?? [],
    kinds: plan?.actions.map((a) => a?.kind ?? null) ?? [],
  };
}

function assertSafe(t: Test, out: Awaited<ReturnType<typeof run>>, sql: string) {
  const text = JSON.stringify(out.masked);
  for (const s of secrets) t.notOk(text.includes(s), `${sql}: ${s} does not appear`);
  out.kinds.forEach((kind, i) => {
    if (kind === 'mask') return;
    // Columns not masked by a rule are identical, except where a detector found something.
    const direct = out.direct.map((r) => r[i]).filter((v) => !String(v).includes('4111'));
    const masked = out.masked.filter((_, n) => !String(out.direct[n]?.[i]).includes('4111')).map((r) => r[i]);
    t.same(masked, direct, `${sql}: column ${i} without a rule is identical`);
  });
}

for (const sql of [
  'SELECT * FROM customers ORDER BY id',
  'SELECT c.* FROM customers c ORDER BY id',
  'SELECT id, lower(email) AS e, name, substr(ssn, 1, 3) AS area FROM customers',
  'SELECT c.name, v.contact FROM customers c JOIN customer_contacts v ON v.id = c.id',
  'SELECT * FROM plain_contacts',
  'SELECT row_to_json(c) FROM customers c',
  'SELECT c FROM customers c',
  'WITH x AS (SELECT ssn, phone FROM customers) SELECT * FROM x',
  "SELECT string_agg(email, ',') FROM customers",
  'SELECT name FROM customers UNION ALL SELECT email FROM customers',
  'SELECT (SELECT max(ssn) FROM customers) AS s, count(*) FROM customers',
  'SELECT * FROM (SELECT email, ssn FROM customers) q',
]) {
  t.test(`no raw sensitive value survives: ${sql}`, async (t) => {
    assertSafe(t, await run(sql), sql);
  });
}

t.test('plain copies keep their strategy; names and ids pass unchanged', async (t) => {
  const out = await run('SELECT id, name, email, ssn, phone, note FROM customers ORDER BY id');
  t.same(out.kinds, [null, 'detect', 'mask', 'mask', 'mask', 'detect']);
  t.same(
    out.flags,
    [false, false, true, true, true, false],
    'only rule-masked columns are reported masked; detector-scanned ones are rewritten where a value matches',
  );
  const first = out.masked[0] as unknown[];
  t.equal(first[2], '****@example.com');
  t.equal(first[3], '*******6789');
  t.match(first[4], /^[0-9a-f]{16}$/);
  t.equal(first[5], '****', 'the detector caught the card number in a free-text column');
  t.equal((out.masked[1] as unknown[])[5], 'nothing');
  const again = await run('SELECT phone FROM customers ORDER BY id');
  t.equal((again.masked[0] as unknown[])[0], first[4], 'hashes are stable across statements');
});

t.test('a table created after the catalog loaded is still masked (reload on an unknown OID)', async (t) => {
  await run('SELECT id FROM customers');
  await client.query("CREATE TABLE staff (id int, ssn text); INSERT INTO staff VALUES (1, '123-45-6789')");
  const out = await run('SELECT ssn FROM staff');
  t.same(out.masked, [['*******6789']]);
});

t.test('a view definition read with pg_get_viewdef is analysed, not just failed closed', async (t) => {
  const out = await run('SELECT * FROM plain_contacts ORDER BY id');
  t.same(out.kinds, [null, 'mask', 'detect']);
  t.same(
    out.masked[0],
    [1, '****@example.com', 'Alice'],
    'a plain copy through the view keeps the email strategy',
  );
});
