/**
 * What the penetration test found, end to end against MariaDB and PostgreSQL through the MySQL
 * and Postgres listeners and MCP: ON DUPLICATE KEY UPDATE copying a column of the INSERT's SELECT
 * (and ON CONFLICT DO UPDATE's EXCLUDED), `*` over RIGHT JOIN ... USING / NATURAL masking the
 * wrong column, set operations, DISTINCT and set-returning functions telling masked values by
 * comparison or row count under `maskedFilters: refuse`. The database must be as it was, and
 * nothing the client receives (rows, errors, warnings, notices) may hold a masked value; the
 * benign forms of the same queries still run, masked where they should be.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import t from 'tap';
import { startChannels } from '../support/channels.js';
import { adminQuery, createScratchDatabase } from '../support/postgres.js';

const { name: pgDb } = await createScratchDatabase(t, 'sluice_odku');
await adminQuery(
  `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, ssn text);
   INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', '123-45-6789'), (2, 'Bob', 'bob@example.org', '987-65-4321');
   CREATE TABLE notes (id int PRIMARY KEY, body text);
   INSERT INTO notes VALUES (1, 'first'), (2, 'second');`,
  [],
  pgDb,
);
const myDb = `sluice_odku_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);
await admin.query(
  `CREATE TABLE ${myDb}.customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, email VARCHAR(80), ssn VARCHAR(20))`,
);
await admin.query(
  `INSERT INTO ${myDb}.customers VALUES (1, 'Ada', 'ada@example.com', '123-45-6789'), (2, 'Bob', 'bob@example.org', '987-65-4321')`,
);
await admin.query(`CREATE TABLE ${myDb}.notes (id INT PRIMARY KEY, body VARCHAR(80))`);
await admin.query(`INSERT INTO ${myDb}.notes VALUES (1, 'first'), (2, 'second')`);
t.teardown(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${myDb}`);
  await admin.end();
});

const MASKING = `
    masking:
      - columns: [customers.email, customers.ssn]
        strategy: redact`;
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
policies:
  - name: writers
    when: { groups: [writers] }
    statements:
      default: deny
      allow: [read, write, delete, session, transaction]${MASKING}
  - name: strict
    when: { groups: [strict] }
    statements: { default: deny, allow: [read, session] }
    maskedFilters: refuse
    maskedDerivations: refuse${MASKING}
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-odku-',
);

const SECRETS = ['123-45-6789', '987-65-4321', 'ada@example.com', 'bob@example.org'];
const FORMS = SECRETS.flatMap((v) => [
  v,
  v.toUpperCase(),
  [...v].reverse().join(''),
  Buffer.from(v).toString('hex'),
  Buffer.from(v).toString('base64'),
  v.replace(/-/g, ''),
]);
const leaks = (text: string) => FORMS.filter((f) => text.toLowerCase().includes(f.toLowerCase()));

async function myState(): Promise<string> {
  const [notes] = await admin.query(`SELECT id, body FROM ${myDb}.notes ORDER BY id`);
  const [people] = await admin.query(`SELECT id, name, email, ssn FROM ${myDb}.customers ORDER BY id`);
  return JSON.stringify([notes, people]);
}

async function resetMy(): Promise<void> {
  await admin.query(`DELETE FROM ${myDb}.notes`);
  await admin.query(`INSERT INTO ${myDb}.notes VALUES (1, 'first'), (2, 'second')`);
}

async function pgState(): Promise<string> {
  const notes = await adminQuery('SELECT id, body FROM notes ORDER BY id', [], pgDb);
  const people = await adminQuery('SELECT id, name, email, ssn FROM customers ORDER BY id', [], pgDb);
  return JSON.stringify([notes.rows, people.rows]);
}

async function resetPg(): Promise<void> {
  await adminQuery("DELETE FROM notes; INSERT INTO notes VALUES (1, 'first'), (2, 'second')", [], pgDb);
}

type MyRun = { ok: true; rows: unknown } | { ok: false; errno: number | undefined; message: string };

/** Runs one statement on the listener, text or prepared, and what SHOW WARNINGS says after it. */
async function myRun(conn: mysql.Connection, sql: string, prepared: boolean): Promise<[MyRun, string]> {
  const result: MyRun = await (prepared ? conn.execute(sql) : conn.query(sql)).then(
    ([rows]): MyRun => ({ ok: true, rows }),
    (e: Error & { errno?: number }): MyRun => ({ ok: false, errno: e.errno, message: e.message }),
  );
  const [warnings] = await conn.query('SHOW WARNINGS').catch((e: Error) => [e.message]);
  return [result, JSON.stringify(warnings)];
}

const MY_ODKU_REFUSED = [
  'INSERT INTO notes (id, body) SELECT id, name FROM customers ON DUPLICATE KEY UPDATE body = ssn',
  "INSERT INTO notes (id, body) SELECT c.id, c.name FROM customers c ON DUPLICATE KEY UPDATE body = CONCAT(c.email, '')",
  "INSERT INTO notes (id, body) SELECT d.id, 'x' FROM (SELECT id, ssn AS s FROM customers) d ON DUPLICATE KEY UPDATE body = d.s",
  "INSERT INTO notes (id, body) WITH w AS (SELECT id, ssn FROM customers) SELECT id, 'x' FROM w ON DUPLICATE KEY UPDATE body = ssn",
  'INSERT INTO notes (id, body) SELECT id, ssn FROM customers ON DUPLICATE KEY UPDATE body = VALUES(body)',
  'INSERT INTO notes (id, body) SELECT c.id, c.name FROM customers c ON DUPLICATE KEY UPDATE body = customers.ssn',
];

t.test('MySQL: ON DUPLICATE KEY UPDATE may not copy a masked column of the SELECT', async (t) => {
  await resetMy();
  const before = await myState();
  const mcp = await channels.mcp('odku-mcp-my', ['writers'], t);
  const conn = await channels.mysql('odku-my', ['writers'], 'legacy', t);
  for (const sql of MY_ODKU_REFUSED) {
    const viaMcp = await mcp(sql, 'legacy');
    t.equal(viaMcp.isError, true, `MCP: ${sql}`);
    t.match(viaMcp.text, /would store|not let masked data/, `MCP: ${sql}`);
    t.same(leaks(viaMcp.text), [], `MCP: ${sql}`);
    for (const prepared of [false, true]) {
      const label = `${prepared ? 'prepared' : 'text'}: ${sql}`;
      const [result, warnings] = await myRun(conn, sql, prepared);
      t.equal(result.ok, false, label);
      if (!result.ok) {
        t.equal(result.errno, 1142, label);
        t.match(result.message, /would store (values of masked column|values whose origin)/, label);
        t.same(leaks(result.message), [], label);
      }
      t.same(leaks(warnings), [], `warnings: ${label}`);
    }
  }
  t.equal(await myState(), before, 'the database is as it was');
  const [read] = await conn.query('SELECT id, body FROM notes ORDER BY id');
  t.same(leaks(JSON.stringify(read)), [], 'notes hold no masked value');

  // ODKU of plain columns still runs, and stores what it should (each from the notes as they were).
  for (const [sql, bodies] of [
    [
      'INSERT INTO notes (id, body) SELECT id, name FROM customers ON DUPLICATE KEY UPDATE body = name',
      ['Ada', 'Bob'],
    ],
    [
      "INSERT INTO notes (id, body) SELECT c.id, c.name FROM customers c ON DUPLICATE KEY UPDATE body = CONCAT(VALUES(body), '!')",
      ['Ada!', 'Bob!'],
    ],
    [
      "INSERT INTO notes (id, body) SELECT d.id, d.n FROM (SELECT id, name AS n, ssn FROM customers) d ON DUPLICATE KEY UPDATE body = CONCAT(notes.body, '+', d.n)",
      ['first+Ada', 'second+Bob'],
    ],
    ["INSERT INTO notes VALUES (1, 'v') ON DUPLICATE KEY UPDATE body = VALUES(body)", ['v', 'second']],
  ] as const) {
    for (const prepared of [false, true]) {
      await resetMy();
      const [result, warnings] = await myRun(conn, sql, prepared);
      t.equal(result.ok, true, `${prepared ? 'prepared' : 'text'}: ${sql}`);
      t.same(leaks(warnings), [], sql);
      const [rows] = await admin.query(`SELECT body FROM ${myDb}.notes ORDER BY id`);
      t.same(
        (rows as { body: string }[]).map((r) => r.body),
        bodies,
        sql,
      );
    }
  }
  const viaMcp = await mcp(
    'INSERT INTO notes (id, body) SELECT id, name FROM customers ON DUPLICATE KEY UPDATE body = name',
    'legacy',
  );
  t.equal(viaMcp.isError, false, 'MCP: a plain ODKU runs');
  t.same(leaks(await myState().then((s) => s.split('],[')[0] ?? '')), [], 'nothing masked was stored');
  await resetMy();
});

t.test('Postgres: ON CONFLICT DO UPDATE stores nothing masked through EXCLUDED', async (t) => {
  await resetPg();
  const before = await pgState();
  const mcp = await channels.mcp('odku-mcp-pg', ['writers'], t);
  const client = await channels.psql('odku-pg', ['writers'], 'shop', t);
  const notices: string[] = [];
  client.on('notice', (n) => notices.push(`${n.message ?? ''} ${n.detail ?? ''}`));
  for (const sql of [
    'INSERT INTO notes SELECT id, ssn FROM customers ON CONFLICT (id) DO UPDATE SET body = excluded.body',
    'INSERT INTO notes (id, body) SELECT id, email FROM customers ON CONFLICT (id) DO UPDATE SET body = excluded.body',
    "INSERT INTO notes SELECT id, 'x' FROM customers ON CONFLICT (id) DO UPDATE SET body = (SELECT ssn FROM customers LIMIT 1)",
    'INSERT INTO notes SELECT id, name FROM customers ON CONFLICT (id) DO UPDATE SET body = customers.ssn',
  ]) {
    const viaMcp = await mcp(sql, 'shop');
    t.equal(viaMcp.isError, true, `MCP: ${sql}`);
    t.same(leaks(viaMcp.text), [], `MCP: ${sql}`);
    for (const extended of [false, true]) {
      const label = `${extended ? 'extended' : 'simple'}: ${sql}`;
      const err = await (extended ? client.query({ text: sql, values: [] }) : client.query(sql)).then(
        () => undefined,
        (e: Error & { code?: string; detail?: string }) => e,
      );
      t.equal(err?.code, '42501', label);
      t.same(leaks(`${err?.message} ${err?.detail ?? ''}`), [], label);
    }
  }
  t.equal(await pgState(), before, 'the database is as it was');
  // EXCLUDED of plain columns runs (named after the target's columns without a column list).
  for (const sql of [
    'INSERT INTO notes SELECT id, name FROM customers ON CONFLICT (id) DO UPDATE SET body = excluded.body',
    "INSERT INTO notes AS n (id, body) SELECT id, name FROM customers ON CONFLICT (id) DO UPDATE SET body = n.body || '+' || excluded.body",
  ]) {
    const ran = await client.query(sql).then(
      () => 'ran',
      (e: Error) => `ERR ${e.message}`,
    );
    t.equal(ran, 'ran', sql);
  }
  const notes = await adminQuery('SELECT body FROM notes ORDER BY id', [], pgDb);
  t.same(
    notes.rows.map((r: { body: string }) => r.body),
    ['Ada+Ada', 'Bob+Bob'],
  );
  t.same(leaks(notices.join('\n')), []);
  await resetPg();
});

/** The values of one column of rows (objects by name), as text. */
const column = (rows: unknown, name: string): string[] =>
  (rows as Record<string, unknown>[]).map((r) => String(r[name]));

t.test('MySQL: `*` over RIGHT JOIN USING / NATURAL masks the right columns', async (t) => {
  await resetMy();
  const mcp = await channels.mcp('star-mcp-my', ['writers'], t);
  const conn = await channels.mysql('star-my', ['writers'], 'legacy', t);
  const a = "(SELECT id, CONCAT(ssn, '') AS x FROM customers) a";
  for (const sql of [
    `SELECT * FROM ${a} RIGHT JOIN notes USING (id)`,
    `SELECT * FROM ${a} RIGHT OUTER JOIN notes USING (id)`,
    `SELECT * FROM ${a} NATURAL RIGHT JOIN notes`,
    `SELECT * FROM (SELECT * FROM ${a} RIGHT JOIN notes USING (id)) t`,
    `SELECT * FROM ${a} LEFT JOIN notes USING (id)`,
    `SELECT * FROM notes NATURAL LEFT JOIN ${a}`,
  ]) {
    for (const prepared of [false, true]) {
      const label = `${prepared ? 'prepared' : 'text'}: ${sql}`;
      const [result, warnings] = await myRun(conn, sql, prepared);
      t.equal(result.ok, true, label);
      if (result.ok) {
        t.same(leaks(JSON.stringify(result.rows)), [], label);
        t.same(column(result.rows, 'body'), ['first', 'second'], `body is not masked: ${label}`);
      }
      t.same(leaks(warnings), [], label);
    }
    const viaMcp = await mcp(sql, 'legacy');
    t.equal(viaMcp.isError, false, `MCP: ${sql}`);
    t.same(leaks(viaMcp.text), [], `MCP: ${sql}`);
    t.match(viaMcp.text, /first/, `MCP: body is not masked: ${sql}`);
  }
  // Plain columns: the wire names them too; ssn and email masked, body and name in clear.
  const [rows] = await conn.query('SELECT * FROM customers RIGHT JOIN notes USING (id) ORDER BY id');
  t.same(leaks(JSON.stringify(rows)), []);
  t.same(column(rows, 'body'), ['first', 'second']);
  t.same(column(rows, 'name'), ['Ada', 'Bob']);
  t.same(
    Object.keys((rows as object[])[0] ?? {}),
    ['id', 'body', 'name', 'email', 'ssn'],
    "MariaDB's order for RIGHT JOIN USING",
  );
});

t.test('Postgres: `*` over RIGHT / FULL JOIN USING masks the right columns', async (t) => {
  await resetPg();
  const mcp = await channels.mcp('star-mcp-pg', ['writers'], t);
  const client = await channels.psql('star-pg', ['writers'], 'shop', t);
  const a = "(SELECT id, ssn || '' AS x FROM customers) a";
  for (const sql of [
    `SELECT * FROM ${a} RIGHT JOIN notes USING (id) ORDER BY id`,
    `SELECT * FROM ${a} FULL JOIN notes USING (id) ORDER BY id`,
    `SELECT * FROM ${a} NATURAL RIGHT JOIN notes ORDER BY id`,
    `SELECT * FROM (SELECT * FROM ${a} RIGHT JOIN notes USING (id)) t ORDER BY id`,
  ]) {
    for (const extended of [false, true]) {
      const label = `${extended ? 'extended' : 'simple'}: ${sql}`;
      const r = await (extended ? client.query({ text: sql, values: [] }) : client.query(sql));
      t.same(leaks(JSON.stringify(r.rows)), [], label);
      t.same(column(r.rows, 'body'), ['first', 'second'], `body is not masked: ${label}`);
      t.same(
        r.fields.map((f) => f.name),
        ['id', 'x', 'body'],
      );
    }
    const viaMcp = await mcp(sql, 'shop');
    t.equal(viaMcp.isError, false, `MCP: ${sql}`);
    t.same(leaks(viaMcp.text), [], `MCP: ${sql}`);
    t.match(viaMcp.text, /first/, `MCP: ${sql}`);
  }
});

const STRICT_REFUSED_BOTH = [
  "(SELECT id, ssn FROM customers) UNION ALL (SELECT 0, '5') ORDER BY 2",
  "SELECT id, ssn FROM customers UNION ALL SELECT 0, '5' ORDER BY 2",
  "SELECT COUNT(*) AS n FROM ((SELECT ssn FROM customers) INTERSECT (SELECT '123-45-6789')) u",
  "SELECT COUNT(*) AS n FROM ((SELECT ssn FROM customers) UNION (SELECT '123-45-6789')) u",
  "SELECT COUNT(*) AS n FROM ((SELECT ssn FROM customers) EXCEPT (SELECT '123-45-6789')) u",
  "SELECT COUNT(*) AS n FROM (SELECT DISTINCT x FROM (SELECT ssn AS x FROM customers UNION ALL SELECT '123-45-6789') a) b",
];

const STRICT_ALLOWED_BOTH: [string, string][] = [
  ['SELECT id, name FROM customers UNION ALL SELECT id, body FROM notes ORDER BY 2', 'Ada'],
  ['SELECT name FROM customers UNION SELECT body FROM notes ORDER BY name', 'second'],
  ['SELECT id, email FROM customers WHERE id = 1 ORDER BY name', '1'],
  ['SELECT * FROM customers RIGHT JOIN notes USING (id) ORDER BY id', 'first'],
  ['SELECT DISTINCT name FROM customers ORDER BY name', 'Bob'],
];

t.test('MySQL strict: set operations, DISTINCT and JSON_TABLE over masked values are refused', async (t) => {
  const mcp = await channels.mcp('strict-mcp-my', ['strict'], t);
  const conn = await channels.mysql('strict-my', ['strict'], 'legacy', t);
  const refused = [
    ...STRICT_REFUSED_BOTH,
    "SELECT COUNT(*) AS n FROM customers c, JSON_TABLE(CONCAT('[', REPEAT('1,', ASCII(SUBSTR(c.ssn, 2, 1))), '1]'), '$[*]' COLUMNS (v INT PATH '$')) AS jt WHERE c.id = 1",
  ];
  for (const sql of refused) {
    for (const prepared of [false, true]) {
      const label = `${prepared ? 'prepared' : 'text'}: ${sql}`;
      const [result, warnings] = await myRun(conn, sql, prepared);
      t.equal(result.ok, false, label);
      if (!result.ok) {
        t.equal(result.errno, 1142, label);
        t.match(result.message, /masked column/, label);
        t.same(leaks(result.message), [], label);
      }
      t.same(leaks(warnings), [], label);
    }
    const viaMcp = await mcp(sql, 'legacy');
    t.equal(viaMcp.isError, true, `MCP: ${sql}`);
    t.same(leaks(viaMcp.text), [], `MCP: ${sql}`);
  }
  for (const [sql, expect] of [
    ...STRICT_ALLOWED_BOTH,
    [
      "SELECT COUNT(*) AS n FROM customers c, JSON_TABLE(JSON_ARRAY(c.name), '$[*]' COLUMNS (v VARCHAR(40) PATH '$')) AS jt",
      '2',
    ],
  ] as [string, string][]) {
    for (const prepared of [false, true]) {
      const label = `${prepared ? 'prepared' : 'text'}: ${sql}`;
      const [result] = await myRun(conn, sql, prepared);
      t.equal(result.ok, true, `${label}: ${result.ok ? '' : result.message}`);
      if (result.ok) {
        t.same(leaks(JSON.stringify(result.rows)), [], label);
        t.match(JSON.stringify(result.rows), expect, label);
      }
    }
    const viaMcp = await mcp(sql, 'legacy');
    t.equal(viaMcp.isError, false, `MCP: ${sql}: ${viaMcp.text}`);
    t.same(leaks(viaMcp.text), [], `MCP: ${sql}`);
  }
});

t.test(
  'Postgres strict: set operations, DISTINCT and set-returning functions over masked values',
  async (t) => {
    const mcp = await channels.mcp('strict-mcp-pg', ['strict'], t);
    const client = await channels.psql('strict-pg', ['strict'], 'shop', t);
    const notices: string[] = [];
    client.on('notice', (n) => notices.push(`${n.message ?? ''} ${n.detail ?? ''}`));
    const refused = [
      ...STRICT_REFUSED_BOTH,
      "SELECT count(*) FROM (SELECT ssn FROM customers INTERSECT ALL SELECT '123-45-6789') u",
      'SELECT count(*) FROM customers c, generate_series(1, ascii(substr(c.ssn, 2, 1))) WHERE c.id = 1',
      'SELECT count(*) FROM (SELECT unnest(string_to_array(ssn, NULL)) FROM customers WHERE id = 1) q',
      'SELECT count(*) FROM customers c CROSS JOIN LATERAL unnest(string_to_array(c.email, NULL)) u WHERE c.id = 1',
      "SELECT count(*) FROM (SELECT regexp_split_to_table(ssn, '') FROM customers WHERE id = 1) q",
      'SELECT count(*) FROM customers c, ROWS FROM (generate_series(1, 2), generate_series(1, ascii(c.ssn))) r',
    ];
    for (const sql of refused) {
      for (const extended of [false, true]) {
        const label = `${extended ? 'extended' : 'simple'}: ${sql}`;
        const err = await (extended ? client.query({ text: sql, values: [] }) : client.query(sql)).then(
          (r) => new Error(`ran: ${JSON.stringify(r.rows)}`) as Error & { code?: string },
          (e: Error & { code?: string }) => e,
        );
        t.equal(err.code, '42501', `${label}: ${err.message}`);
        t.match(err.message, /masked column/, label);
        t.same(leaks(err.message), [], label);
      }
      const viaMcp = await mcp(sql, 'shop');
      t.equal(viaMcp.isError, true, `MCP: ${sql}`);
      t.same(leaks(viaMcp.text), [], `MCP: ${sql}`);
    }
    for (const [sql, expect] of [
      ...STRICT_ALLOWED_BOTH,
      ['SELECT count(*) AS n FROM customers c, generate_series(1, c.id)', '3'],
      ["SELECT id, unnest(ARRAY[name, 'x']) AS u FROM customers ORDER BY 1, 2", 'Ada'],
    ] as [string, string][]) {
      for (const extended of [false, true]) {
        const label = `${extended ? 'extended' : 'simple'}: ${sql}`;
        const r = await (extended ? client.query({ text: sql, values: [] }) : client.query(sql)).then(
          (r) => JSON.stringify(r.rows),
          (e: Error) => `ERR ${e.message}`,
        );
        t.notMatch(r, /^ERR/, label);
        t.match(r, expect, label);
        t.same(leaks(r), [], label);
      }
      const viaMcp = await mcp(sql, 'shop');
      t.equal(viaMcp.isError, false, `MCP: ${sql}: ${viaMcp.text}`);
      t.same(leaks(viaMcp.text), [], `MCP: ${sql}`);
    }
    t.same(leaks(notices.join('\n')), []);
  },
);
