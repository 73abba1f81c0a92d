import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import t from 'tap';
import type { ResultColumn } from '../../src/gateway/types.js';
import { createMysqlCatalog } from '../../src/masking/catalog-mysql.js';
import { LineageMasking } from '../../src/masking/stage.js';
import { compiledPolicy, logger, mysqlVerdict, session } from './fixtures/shop.js';

const database = `sluice_mask_${randomBytes(6).toString('hex')}`;
const people = [
  { name: 'Alice', email: 'alice@example.com', ssn: '123-45-6789' },
  { name: 'Bob', email: 'bob@corp.example.org', ssn: '078-05-1120' },
];
const secrets = people.flatMap((p) => [p.email, p.ssn]);

/** mysql2 reports type codes; ResultColumn carries type names. */
const typeNames = new Map(Object.entries(mysql.Types).map(([name, code]) => [code as number, name]));

const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${database}`);
const conn = await mysql.createConnection({
  host: '127.0.0.1',
  port: 3306,
  user: 'root',
  password: '',
  database,
});
t.teardown(async () => {
  await conn.end();
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.end();
});
await conn.query(
  'CREATE TABLE customers (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(50), email VARCHAR(100), ssn VARCHAR(11))',
);
await conn.query('CREATE VIEW customer_contacts AS SELECT id, lower(email) AS contact, name FROM customers');
await conn.query('CREATE VIEW plain_contacts AS SELECT id, email, name FROM customers');
for (const p of people)
  await conn.query('INSERT INTO customers (name, email, ssn) VALUES (?, ?, ?)', [p.name, p.email, p.ssn]);

const policy = compiledPolicy(
  '',
  `      - columns: [customers.email]
        strategy: email
      - columns: ["*.ssn"]
        strategy: partial`,
);
const catalog = createMysqlCatalog(async (sql, params) => {
  const [rows] = await conn.query(sql, params);
  return rows as Record<string, unknown>[];
});
const stage = new LineageMasking({ rulesFor: () => policy, catalogFor: () => catalog, logger });

async function run(sql: string) {
  const [rows, fields] = await conn.query({ sql, rowsAsArray: true });
  const columns: ResultColumn[] = fields.map((f) => ({
    name: f.name,
    type: typeNames.get(f.columnType ?? f.type ?? 0) ?? 'VAR_STRING',
    orgSchema: f.db ?? '',
    orgTable: f.orgTable ?? '',
    orgName: f.orgName ?? '',
  }));
  const plan = await stage.maskingPlan(columns, {
    session: session('mysql'),
    sql,
    verdict: mysqlVerdict(sql),
  });
  const direct = rows as unknown as unknown[][];
  return {
    direct,
    masked: direct.map((r) => (plan ? plan.mask(r) : r)),
    kinds: plan?.actions.map((a) => a?.kind ?? null) ?? [],
  };
}

for (const sql of [
  'SELECT * FROM customers ORDER BY id',
  'SELECT c.* FROM customers c',
  'SELECT id, lower(email) AS e, name, substr(ssn, 1, 3) AS area FROM customers',
  'SELECT c.name, v.contact FROM customers c JOIN customer_contacts v ON v.id = c.id',
  'SELECT * FROM plain_contacts',
  'SELECT x.e FROM (SELECT email AS e FROM customers) x',
  'WITH x AS (SELECT ssn FROM customers) SELECT * FROM x',
  "SELECT group_concat(email SEPARATOR ',') FROM customers",
  'SELECT name FROM customers UNION ALL SELECT email FROM customers',
]) {
  t.test(`no raw sensitive value survives: ${sql}`, async (t) => {
    const out = await run(sql);
    const text = JSON.stringify(out.masked);
    for (const s of secrets) t.notOk(text.includes(s), `${s} does not appear`);
    out.kinds.forEach((kind, i) => {
      if (kind !== 'mask')
        t.same(
          out.masked.map((r) => r[i]),
          out.direct.map((r) => r[i]),
          `column ${i} identical`,
        );
    });
  });
}

t.test('plain copies keep their strategy; other columns pass unchanged', async (t) => {
  const out = await run('SELECT id, name, email, ssn FROM customers ORDER BY id');
  t.same(out.kinds, [null, null, 'mask', 'mask']);
  t.same(out.masked[0], [1, 'Alice', '****@example.com', '*******6789']);
});

t.test('a view definition read from information_schema is analysed, not just failed closed', async (t) => {
  const out = await run('SELECT * FROM plain_contacts ORDER BY id');
  t.same(out.kinds, [null, 'mask', null]);
  t.same(
    out.masked[0],
    [1, '****@example.com', 'Alice'],
    'a plain copy through the view keeps the email strategy',
  );
});
