/**
 * What the seventh attack round found on the Postgres side, end to end against PostgreSQL through
 * the Postgres listener (simple Query, the extended protocol, a raw pipeline) and MCP:
 *
 * - `SET standard_conforming_strings = off` (a `session` setting) made the server read a backslash
 *   in '...' as an escape while the guard still parsed standard strings, so a later text hid any
 *   statement inside what the guard read as a string literal:
 *   `SELECT 'p\' || ' ; DROP TABLE notes ; -- '` dropped a table through a policy without ddl.
 *   The same through set_config (of a literal or a computed name), a non-UTF-8 client_encoding,
 *   and `UPDATE pg_settings` (whose rule runs set_config for any setting). Each is refused; the
 *   gateway asks every target connection for standard strings at startup (a database or role
 *   default of off does not reach it) and ends a session whose server reports them off.
 *
 * - Under `maskedFilters: refuse`, a window written in place (`row_number() OVER (ORDER BY ssn)`,
 *   `count(*) OVER (PARTITION BY ssn)`) sorted the rows by a masked column and returned them in
 *   that order: the ids came back in ssn order, which an ORDER BY ssn or a named WINDOW was refused
 *   for. Its keys are now filters like theirs.
 *
 * - Under `maskedFilters: refuse`, an error was an oracle: `SELECT 1/(ascii(ssn) - 49) ... WHERE
 *   id = 1` failed with SQLSTATE 22012 exactly when the ssn began with 1 (`ssn::int`, a CASE over
 *   it, a materialized CTE column nobody reads). A computation the caller writes on a masked column
 *   with an operator, cast or function that may fail for some values is now refused under that
 *   policy, before it runs; plain reads, views and total functions (upper, count, max) still run,
 *   masked.
 *
 * - A write into a system catalog passed as a plain (bounded) write: `UPDATE pg_attribute SET
 *   attname = 'ssn_x' WHERE attrelid = 'customers'::regclass AND attname = 'ssn'` renamed the masked
 *   column out from under its rule through a policy without ddl (pg_class's relrowsecurity,
 *   pg_proc's bodies likewise). INSERT, UPDATE, DELETE, MERGE and COPY FROM into pg_catalog (or an
 *   unqualified pg_* relation) are now `admin`.
 *
 * - LISTEN through a masked or row-filtered policy that allows `session` delivered other sessions'
 *   and triggers' payloads as they were (`pg_notify('ch', row_to_json(NEW)::text)` of another
 *   tenant's row, a masked value): refused under column masking and under row filters.
 *
 * - A window frame's offset (`count(*) OVER (ORDER BY n ROWS BETWEEN (SELECT ascii(ssn) ...)
 *   PRECEDING AND CURRENT ROW)`) decided the count, which came back in clear: the first character
 *   of the ssn, for any masked caller. Offsets (and those of a named window an OVER refers to)
 *   are now inputs of the window's value, and filters under `maskedFilters: refuse`.
 * - TABLESAMPLE's arguments and REPEATABLE seed, and XMLTABLE / JSON_TABLE documents, were not
 *   read by lineage: under `maskedFilters: refuse` a sample percentage or a document computed
 *   from a masked column decided the rows (or failed). They are filter inputs now, and a sampled
 *   table's columns are traced as the table's.
 *
 * Each attack leaves the database as it was, and nothing a client receives holds a masked value.
 */
import t, { type Test } from 'tap';
import pg from 'pg';
import { serialize } from 'pg-protocol/dist/serializer';
import { startChannels } from '../support/channels.js';
import { adminQuery, createScratchDatabase } from '../support/postgres.js';
import { field, RawClient } from './postgres-raw-client.js';
import { SUBJECT } from './postgres-listener-harness.js';

const { name: pgDb } = await createScratchDatabase(t, 'sluice_round7');
await adminQuery(
  `CREATE TABLE customers (id int PRIMARY KEY, name text, ssn text, email text);
   INSERT INTO customers VALUES (1, 'Ada', '123-45-6789', 'ada@example.com'), (2, 'Bob', '987-65-4321', 'bob@example.org');
   CREATE TABLE notes (id int PRIMARY KEY, body text);
   INSERT INTO notes VALUES (1, 'first'), (2, 'second');
   CREATE TABLE nums AS SELECT g AS n FROM generate_series(1, 100) g;
   CREATE TABLE orders (id int PRIMARY KEY, tenant_id text, item text);
   INSERT INTO orders VALUES (1, 'acme', 'widget'), (2, 'other', 'other-tenant-item');`,
  [],
  pgDb,
);

const MASKING = `
    masking:
      - columns: [customers.ssn, customers.email]
        strategy: redact`;
const channels = await startChannels(
  t,
  `
server:
  http: { listen: 127.0.0.1:0 }
  postgres: { listen: 127.0.0.1:0, allowPlaintextAuth: true }
targets:
  shop: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${pgDb}, user: postgres, tls: disable }
policies:
  - name: readers
    when: { groups: [readers] }
    statements: { default: deny, allow: [read] }${MASKING}
  - name: writers
    when: { groups: [writers] }
    statements: { default: deny, allow: [read, write, session, transaction] }${MASKING}
  - name: strict
    when: { groups: [strict] }
    statements: { default: deny, allow: [read] }
    maskedFilters: refuse${MASKING}
  - name: tenants
    when: { groups: [tenants] }
    statements: { default: deny, allow: [read, session, transaction] }
    rowFilters:
      - { table: orders, where: "tenant_id = {claims.tenant}" }
  - name: plain-writers
    when: { groups: [plain-writers] }
    statements: { default: deny, allow: [read, write, session, transaction] }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-round7-',
);

const SECRETS = [
  '123-45-6789',
  '987-65-4321',
  '123456789',
  '987654321',
  'ada@example.com',
  'bob@example.org',
];
const leaks = (text: string) => SECRETS.filter((s) => text.toLowerCase().includes(s));

async function dbState(): Promise<string> {
  const tables = await adminQuery(
    "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1",
    [],
    pgDb,
  );
  const notes = await adminQuery('SELECT * FROM notes ORDER BY id', [], pgDb).catch((e: Error) => e.message);
  const people = await adminQuery('SELECT * FROM customers ORDER BY id', [], pgDb);
  return JSON.stringify([tables.rows, typeof notes === 'string' ? notes : notes.rows, people.rows]);
}

/** Everything a node-postgres client hears: rows, errors (every field) and notices. */
async function run(client: pg.Client, sql: string, extended: boolean, name: string): Promise<string> {
  return client.query(extended ? { text: sql, name } : sql).then(
    (r) => `OK ${JSON.stringify(Array.isArray(r) ? r.map((x: pg.QueryResult) => x.rows) : r.rows)}`,
    (e: pg.DatabaseError) => `ERR ${e.code} ${e.message} ${e.detail ?? ''} ${e.hint ?? ''} ${e.where ?? ''}`,
  );
}

let counter = 0;
/**
 * Runs each sequence of texts, one message each, over psql simple Query and the extended protocol
 * on a fresh connection, and the first text over MCP. The first text of each sequence must be
 * refused everywhere; the database must be as it was and no masked value may reach the client.
 */
async function refusedEverywhere(t: Test, group: string, sequences: readonly string[][]): Promise<void> {
  const mcp = await channels.mcp(`${group}-mcp-${counter++}`, [group], t);
  for (const steps of sequences) {
    const before = await dbState();
    for (const extended of [false, true]) {
      const label = `${extended ? 'extended' : 'simple'}: ${steps.join(' / ')}`;
      const client = await channels.psql(`${group}-${counter++}`, [group], 'shop', t);
      const heard: string[] = [];
      client.on('notice', (n: { message?: string; detail?: string }) =>
        heard.push(`NOTICE ${n.message} ${n.detail ?? ''}`),
      );
      for (const sql of steps) heard.push(await run(client, sql, extended, `s${counter++}`));
      t.match(heard[0], /^ERR 42501 statement denied/, label);
      t.same(leaks(heard.join(' ')), [], label);
      await client.end();
    }
    const viaMcp = await mcp(steps[0] as string, 'shop');
    t.equal(viaMcp.isError, true, `MCP: ${steps[0]}`);
    t.same(leaks(viaMcp.text), [], `MCP: ${steps[0]}`);
    t.equal(await dbState(), before, `database unchanged: ${steps.join(' / ')}`);
  }
}

const SMUGGLE_DROP = "SELECT 'p\\' || ' ; DROP TABLE notes ; -- '";
const SMUGGLE_READ = "SELECT 'p\\' || ' , ssn, email FROM customers -- '";

t.test('standard_conforming_strings cannot be turned off', async (t) => {
  await refusedEverywhere(t, 'writers', [
    ['SET standard_conforming_strings = off', SMUGGLE_DROP],
    ['SET standard_conforming_strings TO false', SMUGGLE_READ],
    ['SET SESSION standard_conforming_strings = 0', SMUGGLE_DROP],
    ["SELECT set_config('standard_conforming_strings', 'off', false)", SMUGGLE_DROP],
    ["SELECT pg_catalog.set_config('Standard_Conforming_Strings'::text, 'off', false)", SMUGGLE_READ],
    ["SELECT set_config(lower('STANDARD_CONFORMING_STRINGS'), 'off', false)", SMUGGLE_DROP],
    [
      "SELECT set_config(setting_name => 'standard_conforming_strings', new_value => 'off', is_local => false)",
    ],
    ["SET client_encoding = 'SJIS'"],
    ["SET NAMES 'GBK'"],
    ["SELECT set_config('client_encoding', 'SJIS', false)"],
  ]);
  await refusedEverywhere(t, 'plain-writers', [
    ["UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'", SMUGGLE_DROP],
    ["UPDATE pg_catalog.pg_settings SET setting = 'nowhere' WHERE name = 'search_path'"],
    [
      "WITH u AS (UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings' RETURNING 1) SELECT 1",
    ],
    ['SET standard_conforming_strings = off', SMUGGLE_DROP],
  ]);
  // The read-only policy never had `session`; it is refused as before.
  await refusedEverywhere(t, 'readers', [['SET standard_conforming_strings = off', SMUGGLE_READ]]);

  // A refusal is not undone by a text of the same shape analysed first (the shape cache).
  await refusedEverywhere(t, 'writers', [
    ["SELECT set_config('standard_conforming_strings', 'no', false)", SMUGGLE_DROP],
  ]);
  for (const [first, second] of [
    ['SET standard_conforming_strings = yes', 'SET standard_conforming_strings = off'],
    [
      "SELECT set_config('application_name', 'on', false)",
      "SELECT set_config('standard_conforming_strings', 'off', false)",
    ],
    ["SET client_encoding = 'UTF8'", "SET client_encoding = 'SJIS'"],
  ] as const) {
    const client = await channels.psql(`shape-${counter++}`, ['writers'], 'shop', t);
    await client.query(first);
    await t.rejects(client.query(second), { code: '42501', message: /statement denied/ }, second);
    await client.end();
  }

  // Standard strings, the default client encoding and other settings are still set as before.
  const client = await channels.psql('scs-ok', ['writers'], 'shop', t);
  await client.query('SET standard_conforming_strings = on');
  await client.query('RESET standard_conforming_strings');
  await client.query("SET client_encoding = 'UTF8'");
  const set = await client.query("SELECT set_config('application_name', 'round7', false) AS v");
  t.same(set.rows, [{ v: 'round7' }]);
  const literal = await client.query(SMUGGLE_DROP);
  t.same(literal.rows, [{ '?column?': 'p\\ ; DROP TABLE notes ; -- ' }], 'read as the guard reads it');
});

t.test('a pipelined SET and smuggled text: the SET is refused, the text stays a string', async (t) => {
  const before = await dbState();
  const raw = await RawClient.login(
    channels.postgresPort as number,
    await channels.token(SUBJECT, ['writers']),
  );
  t.teardown(() => raw.close());
  raw.send(
    Buffer.concat([
      serialize.parse({ text: 'SET standard_conforming_strings = off' }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.sync(),
      serialize.parse({ text: "SELECT 'p\\' || ' , pg_catalog.pg_sleep(0), ssn FROM customers -- '" }),
      serialize.bind({}),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    ]),
  );
  const first = await raw.until('Z');
  const error = first.find(([type]) => type === 'E');
  t.ok(error, 'the SET fails');
  t.match(field(error?.[1] as Buffer, 'M'), /statement denied/);
  const second = await raw.until('Z');
  const text = second.map(([type, body]) => `${type}:${body.toString('latin1')}`).join(' ');
  t.notMatch(text, /E:/, 'the smuggled text runs as a plain string');
  t.match(text, /p\\ , pg_catalog/, 'its value is the whole literal');
  t.same(leaks(text), []);
  t.equal(await dbState(), before);
});

t.test(
  'a database or role default of standard_conforming_strings off does not reach the gateway',
  async (t) => {
    await adminQuery(`ALTER DATABASE ${pgDb} SET standard_conforming_strings = off`);
    t.teardown(() => adminQuery(`ALTER DATABASE ${pgDb} RESET standard_conforming_strings`));
    const before = await dbState();
    for (const extended of [false, true]) {
      const client = await channels.psql(`db-default-${extended}`, ['writers'], 'shop', t);
      const shown = await client.query('SHOW standard_conforming_strings');
      t.same(shown.rows, [{ standard_conforming_strings: 'on' }]);
      const heard = await run(client, SMUGGLE_DROP, extended, `d${counter++}`);
      t.equal(heard, `OK ${JSON.stringify([{ '?column?': 'p\\ ; DROP TABLE notes ; -- ' }])}`);
      await client.end();
    }
    const mcp = await channels.mcp('db-default-mcp', ['writers'], t);
    const shown = await mcp('SHOW standard_conforming_strings', 'shop');
    t.same(shown.rows, [['on']]);
    const viaMcp = await mcp(SMUGGLE_READ, 'shop');
    t.same(leaks(viaMcp.text), []);
    t.equal(await dbState(), before);
  },
);

/** Each text is refused with the inference message on every channel, and nothing leaks. */
async function refusedAsInference(t: Test, group: string, texts: readonly string[]): Promise<void> {
  const mcp = await channels.mcp(`${group}-mcp-${counter++}`, [group], t);
  const client = await channels.psql(`${group}-${counter++}`, [group], 'shop', t);
  for (const sql of texts) {
    for (const extended of [false, true]) {
      const heard = await run(client, sql, extended, `i${counter++}`);
      t.match(heard, /^ERR 42501 .*masked column public\.customers\.(ssn|email).*inference/, sql);
      t.same(leaks(heard), [], sql);
    }
    const viaMcp = await mcp(sql, 'shop');
    t.equal(viaMcp.isError, true, `MCP: ${sql}`);
    t.match(viaMcp.text, /inference/, `MCP: ${sql}`);
  }
}

t.test('maskedFilters: refuse: a window in place orders and partitions like ORDER BY', async (t) => {
  await refusedAsInference(t, 'strict', [
    'SELECT id, row_number() OVER (ORDER BY ssn DESC) FROM customers',
    'SELECT id, count(*) OVER (PARTITION BY substr(ssn, 1, 1)) FROM customers',
    'SELECT id, coalesce(rank() OVER (ORDER BY email), 0) AS r FROM customers',
    'SELECT id, first_value(name) OVER (PARTITION BY id ORDER BY ssn) FROM customers',
    'SELECT x.id FROM (SELECT id, lag(id) OVER (ORDER BY ssn) AS l FROM customers) x',
    // Refused before: a named window and ORDER BY.
    'SELECT id FROM customers WINDOW w AS (ORDER BY ssn) ORDER BY id',
    'SELECT id FROM customers ORDER BY ssn',
  ]);
  // The order a reader may see without the policy, and windows over clear columns, still run.
  const client = await channels.psql('strict-ok', ['strict'], 'shop', t);
  const ok = await client.query(
    'SELECT id, row_number() OVER (ORDER BY id DESC) AS r FROM customers ORDER BY id',
  );
  t.same(ok.rows, [
    { id: 1, r: '2' },
    { id: 2, r: '1' },
  ]);
  const masked = await client.query(
    'SELECT id, ssn, count(*) OVER (PARTITION BY name) AS n FROM customers ORDER BY id',
  );
  t.same(leaks(JSON.stringify(masked.rows)), []);
  t.equal(masked.rows.length, 2);
});

t.test(
  'maskedFilters: refuse: whether a computation on a masked column fails is not an oracle',
  async (t) => {
    await refusedAsInference(t, 'strict', [
      'SELECT 1/(ascii(ssn) - 49) FROM customers WHERE id = 1',
      'SELECT ssn::int FROM customers WHERE id = 1',
      "SELECT CASE WHEN ssn LIKE '1%' THEN 1/0 ELSE 1 END FROM customers",
      'SELECT 1/coalesce(length(nullif(email, $$ada@example.com$$)), 0) FROM customers',
      'WITH c AS MATERIALIZED (SELECT id, 1/(ascii(ssn) - 49) AS x FROM customers) SELECT id FROM c',
      'SELECT id FROM (SELECT id, to_date(ssn, $$YYYY$$) AS d FROM customers OFFSET 0) s',
    ]);
    const client = await channels.psql('strict-cursor', ['strict'], 'shop', t);
    await client.query('BEGIN');
    await t.rejects(client.query('DECLARE c CURSOR FOR SELECT ssn::int FROM customers'), {
      code: '42501',
      message: /computes on masked column public\.customers\.ssn/,
    });
    await client.query('ROLLBACK');
    // The plain column, total functions over it and computations on clear columns still run, masked.
    const ok = await client.query(
      "SELECT id, ssn, upper(email) AS e, count(ssn) OVER () AS n, name || '!' AS greeting FROM customers ORDER BY id",
    );
    t.equal(ok.rows.length, 2);
    t.same(leaks(JSON.stringify(ok.rows)), []);
    t.equal(ok.rows[0].greeting, 'Ada!');
    // A policy that allows inference still runs the computation (its text withheld on failure).
    const reader = await channels.psql('reader-cast', ['readers'], 'shop', t);
    const err = await reader
      .query('SELECT ssn::int FROM customers WHERE id = 1')
      .catch((e: pg.DatabaseError) => e);
    t.equal((err as pg.DatabaseError).code, '22P02');
    t.same(leaks(String((err as Error).message)), []);
  },
);

t.test('a write into a system catalog is admin, not a write', async (t) => {
  const catalog = async () =>
    JSON.stringify(
      (
        await adminQuery(
          `SELECT attname FROM pg_attribute WHERE attrelid = 'customers'::regclass AND attnum > 0 ORDER BY attnum`,
          [],
          pgDb,
        )
      ).rows,
    );
  const before = await catalog();
  for (const group of ['writers', 'plain-writers']) {
    await refusedEverywhere(t, group, [
      [
        "UPDATE pg_catalog.pg_attribute SET attname = 'ssn_x' WHERE attrelid = 'public.customers'::regclass AND attname = 'ssn'",
        'SELECT ssn_x FROM customers',
      ],
      [
        "UPDATE pg_attribute SET attname = 'e' WHERE attrelid = 'public.customers'::regclass AND attname = 'email'",
      ],
      [
        "WITH u AS (UPDATE pg_class SET relrowsecurity = false WHERE oid = 'public.customers'::regclass RETURNING 1) SELECT 1",
      ],
      ['INSERT INTO pg_catalog.pg_largeobject_metadata VALUES (424243, 10, NULL)'],
      ['DELETE FROM pg_catalog.pg_description WHERE objoid = 1'],
      ['MERGE INTO pg_description d USING (SELECT 1 AS x) s ON false WHEN NOT MATCHED THEN DO NOTHING'],
      ['COPY pg_catalog.pg_description FROM STDIN'],
    ]);
  }
  t.equal(await catalog(), before, 'the masked column keeps its name');
  const reader = await channels.psql('after-catalog', ['writers'], 'shop', t);
  const rows = await reader.query('SELECT ssn, email FROM customers ORDER BY id');
  t.same(leaks(JSON.stringify(rows.rows)), []);
  // Writes to the caller's own tables still run.
  await reader.query("UPDATE notes SET body = 'edited' WHERE id = 2");
  const notes = await adminQuery('SELECT body FROM notes WHERE id = 2', [], pgDb);
  t.same(notes.rows, [{ body: 'edited' }]);
  await adminQuery("UPDATE notes SET body = 'second' WHERE id = 2", [], pgDb);
});

t.test('LISTEN is refused under column masking and under row filters', async (t) => {
  for (const group of ['writers', 'tenants']) {
    const claims = { tenant: 'acme' };
    const mcp = await channels.mcp(`${group}-listen-mcp`, [group], t, claims);
    const viaMcp = await mcp('LISTEN feed', 'shop');
    t.equal(viaMcp.isError, true, `MCP: ${group}`);
    t.match(viaMcp.text, /LISTEN delivers/);
    for (const extended of [false, true]) {
      const client = await channels.psql(`${group}-listen-${extended}`, [group], 'shop', t, {}, claims);
      const heard: string[] = [];
      client.on('notification', (n) => heard.push(n.payload ?? ''));
      const err = await run(client, 'LISTEN feed', extended, `l${counter++}`);
      t.match(err, /^ERR 42501 .*LISTEN delivers/, `${group} ${extended ? 'extended' : 'simple'}`);
      await adminQuery(`SELECT pg_notify('feed', '123-45-6789 other-tenant-item')`, [], pgDb);
      await new Promise((r) => setTimeout(r, 100));
      await client.query('SELECT 1');
      t.same(heard, [], 'no payload reaches the caller');
      await client.end();
    }
  }
  // A policy with neither may still listen.
  const plain = await channels.psql('plain-listen', ['plain-writers'], 'shop', t);
  const heard: string[] = [];
  plain.on('notification', (n) => heard.push(n.payload ?? ''));
  await plain.query('LISTEN feed');
  await adminQuery(`SELECT pg_notify('feed', 'hello')`, [], pgDb);
  await new Promise((r) => setTimeout(r, 100));
  await plain.query('SELECT 1');
  t.same(heard, ['hello']);
});

t.test("a window frame's offset and a sample's arguments are inputs like any other", async (t) => {
  const LEAKY_FRAMES = [
    'SELECT max(c) AS c FROM (SELECT count(*) OVER (ORDER BY n ROWS BETWEEN (SELECT ascii(ssn) FROM customers WHERE id = 1) PRECEDING AND CURRENT ROW) AS c FROM nums) x',
    'SELECT count(*) OVER w AS c FROM nums WINDOW w AS (ORDER BY n ROWS BETWEEN (SELECT ascii(ssn) FROM customers WHERE id = 1) PRECEDING AND CURRENT ROW) ORDER BY 1 DESC LIMIT 1',
    'SELECT count(*) OVER (w ROWS BETWEEN (SELECT ascii(email) FROM customers WHERE id = 1) PRECEDING AND CURRENT ROW) AS c FROM nums WINDOW w AS (ORDER BY n) ORDER BY 1 DESC LIMIT 1',
  ];
  const mcp = await channels.mcp('frames-mcp', ['readers'], t);
  const client = await channels.psql('frames', ['readers'], 'shop', t);
  for (const sql of LEAKY_FRAMES) {
    for (const extended of [false, true]) {
      const r = await client.query(extended ? { text: sql, name: `f${counter++}` } : sql);
      // ascii('1') + 1 rows, ascii('a') + 1 rows: the count would spell the first character.
      t.same(r.rows, [{ c: null }], `masked: ${sql}`);
    }
    const viaMcp = await mcp(sql, 'shop');
    t.same(viaMcp.rows, [['****']], `MCP: ${sql}`);
  }
  const plain = await client.query(
    'SELECT n, count(*) OVER (ORDER BY n ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS c FROM nums WHERE n < 4 ORDER BY n',
  );
  t.same(plain.rows, [
    { n: 1, c: '1' },
    { n: 2, c: '2' },
    { n: 3, c: '3' },
  ]);
  await refusedAsInference(t, 'strict', [
    LEAKY_FRAMES[0] as string,
    'SELECT * FROM notes TABLESAMPLE bernoulli((SELECT 1/(ascii(ssn) - 49) FROM customers WHERE id = 1))',
    "SELECT count(*) FROM notes TABLESAMPLE bernoulli((SELECT CASE WHEN ssn LIKE '1%' THEN 100 ELSE 0 END FROM customers WHERE id = 1))",
    'SELECT * FROM notes TABLESAMPLE bernoulli(100) REPEATABLE ((SELECT ascii(ssn) FROM customers WHERE id = 1))',
    "SELECT 1 FROM customers TABLESAMPLE bernoulli(100) WHERE ssn LIKE '1%'",
    "SELECT count(*) FROM customers c, XMLTABLE('/r' PASSING xmlelement(name r, c.ssn) COLUMNS s text PATH '.') x",
  ]);
  // A sample of a masked table is traced as the table: clear columns stay clear, masked ones masked.
  const strict = await channels.psql('sample-ok', ['strict'], 'shop', t);
  const sample = await strict.query(
    'SELECT id, name, ssn FROM customers TABLESAMPLE bernoulli(100) ORDER BY id',
  );
  t.same(
    sample.rows.map((r: { id: number; name: string }) => [r.id, r.name]),
    [
      [1, 'Ada'],
      [2, 'Bob'],
    ],
  );
  t.same(leaks(JSON.stringify(sample.rows)), []);
});

t.test('already refused: they stay refused (regression guards from this round)', async (t) => {
  await refusedEverywhere(t, 'readers', [
    [
      "SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, quote_literal(ssn)::tsquery FROM customers')::text",
    ],
    ["SELECT query_to_xml('select ssn from customers', true, true, '')"],
    ['SELECT pg_stat_get_backend_activity(s) FROM pg_stat_get_backend_idset() s'],
    ["SELECT * FROM notes TABLESAMPLE system (nextval('s1'))"],
    ["SELECT JSON_VALUE('1', '$' DEFAULT pg_advisory_lock(1) ON ERROR)"],
    ['SELECT id FROM customers FOR UPDATE'],
    ['COPY (WITH d AS (DELETE FROM notes RETURNING *) SELECT * FROM d) TO STDOUT'],
    ['SELECT * FROM (WITH d AS (DELETE FROM notes RETURNING *) SELECT * FROM d) x'],
    ["EXPLAIN ANALYZE WITH d AS (INSERT INTO notes VALUES (5, 'x') RETURNING *) SELECT * FROM d"],
    ["SELECT set_config('search_path', 'pg_temp', false)"],
    ["SELECT lo_import('/etc/passwd')"],
    ['SELECT 1; DELETE FROM notes'],
  ]);
  // COPY of a masked column is refused before it runs, on every channel.
  const client = await channels.psql('copy-refused', ['readers'], 'shop', t);
  for (const sql of ['COPY customers (id, ssn) TO STDOUT', 'COPY (SELECT c FROM customers c) TO STDOUT']) {
    const heard = await run(client, sql, false, '');
    t.match(heard, /^ERR 42501 COPY \.\.\. TO STDOUT would send masked columns/, sql);
  }
});
