import t from 'tap';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import { HttpServer } from '../../src/http/server.js';
import { DEFAULT_POLICY, startHarness } from '../gateway/postgres-listener-harness.js';

/**
 * The target's error text is a result channel: a failed cast of a masked column quotes its value,
 * a constraint error quotes the failing row. For statements that involve masked data, the
 * Postgres listener (simple and extended protocol) and MCP withhold that text and keep the SQLSTATE.
 */
const SEED = `
  CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text UNIQUE, ssn text, balance numeric(12,2));
  INSERT INTO customers VALUES
    (1, 'Ada', 'ada@example.com', '123-45-6789', 12.50),
    (2, 'Bob', 'bob@example.org', '987-65-4321', 0);
  CREATE VIEW people AS SELECT id, email AS contact FROM customers;
  CREATE TABLE notes (id int PRIMARY KEY, body text);
  INSERT INTO notes VALUES (1, 'first'), (2, 'second');
`;
const h = await startHarness(t, { seed: SEED, policy: DEFAULT_POLICY });

const RAW = ['ada@example.com', '123-45-6789', 'bob@example.org', '987-65-4321'];
/** Every form of a raw value an attacker could decode: as is, case-changed, reversed, hex, base64. */
const FORMS = RAW.flatMap((v) => [
  v,
  v.toUpperCase(),
  [...v].reverse().join(''),
  Buffer.from(v).toString('hex'),
  Buffer.from(v).toString('base64'),
  v.split('@')[0] as string,
]).filter((f) => f.length >= 5);

function leaks(text: string): string[] {
  const lower = text.toLowerCase();
  return FORMS.filter((f) => lower.includes(f.toLowerCase()));
}

/** Statements whose target error quotes a masked value (or a row holding one) when passed through. */
const ATTACKS: { sql: string; code: string }[] = [
  { sql: 'SELECT ssn::int FROM customers ORDER BY id', code: '22P02' },
  { sql: 'SELECT email::uuid FROM customers', code: '22P02' },
  { sql: 'SELECT ssn::date FROM customers', code: '22008' },
  { sql: 'SELECT email::json FROM customers', code: '22P02' },
  { sql: 'SELECT email::jsonb -> 0 FROM customers', code: '22P02' },
  { sql: "SELECT ('{' || ssn || '}')::int[] FROM customers", code: '22P02' },
  { sql: 'SELECT email::regclass FROM customers', code: '3F000' },
  { sql: 'SELECT ssn::regproc FROM customers', code: '42883' },
  { sql: "SELECT jsonb_path_query('{}', email::jsonpath) FROM customers", code: '42601' },
  { sql: 'SELECT contact::numeric FROM people', code: '22P02' },
  { sql: 'SELECT n FROM (SELECT upper(email)::int AS n FROM customers) s', code: '22P02' },
  { sql: 'SELECT 1 FROM customers WHERE ssn::int > 0', code: '22P02' },
  { sql: 'UPDATE customers SET name = NULL WHERE id = 1', code: '23502' },
  // Copies of masked values are refused before they run (test/gateway/masked-writes.test.ts);
  // these violate the same constraints without one.
  {
    sql: "INSERT INTO customers (id, name, email) SELECT 9, name, 'dup' FROM customers WHERE id = 1 UNION ALL SELECT 10, name, 'dup' FROM customers WHERE id = 2",
    code: '23505',
  },
  { sql: 'INSERT INTO notes SELECT 1, name FROM customers WHERE id = 1', code: '23505' },
];

t.test('psql (simple query): the error keeps its SQLSTATE, and no masked value in any form', async (t) => {
  for (const { sql, code } of ATTACKS) {
    const out = await h.psql(['-v', 'VERBOSITY=verbose', '-c', sql]);
    t.not(out.code, 0, sql);
    t.match(
      out.stderr,
      new RegExp(
        `ERROR:  ${code}: the database reported an error \\(SQLSTATE ${code}\\); its text is withheld`,
      ),
      sql,
    );
    t.same(leaks(out.stdout + out.stderr), [], sql);
  }
  const { rows } = await h.direct('SELECT id, name, email FROM customers ORDER BY id');
  t.same(
    rows,
    [
      { id: 1, name: 'Ada', email: 'ada@example.com' },
      { id: 2, name: 'Bob', email: 'bob@example.org' },
    ],
    'the refused writes changed nothing',
  );
  const notes = await h.direct('SELECT count(*)::int AS n FROM notes');
  t.equal(notes.rows[0].n, 2);
});

t.test('extended protocol, cursors and a transaction: the same', async (t) => {
  const client = await h.client();
  t.teardown(() => client.end());
  for (const { sql, code } of ATTACKS) {
    const err = (await client.query({ text: sql, values: [] }).catch((e: unknown) => e)) as Record<
      string,
      unknown
    >;
    t.equal(err.code, code, sql);
    t.match(String(err.message), /its text is withheld because the statement involves masked data/, sql);
    t.same(leaks(JSON.stringify(err) + String(err.message)), [], sql);
    t.notOk(err.detail, 'no DETAIL');
    t.notOk(err.where, 'no CONTEXT');
  }
  const withParam = (await client
    .query('SELECT ssn::int FROM customers WHERE id = $1', [1])
    .catch((e: unknown) => e)) as Record<string, unknown>;
  t.equal(withParam.code, '22P02');
  t.same(leaks(String(withParam.message)), []);
  await client.query('BEGIN');
  await client.query('DECLARE c CURSOR FOR SELECT ssn::int AS n FROM customers');
  const fetched = (await client.query('FETCH 1 FROM c').catch((e: unknown) => e)) as Record<string, unknown>;
  t.equal(fetched.code, '22P02', 'the FETCH fails as on Postgres');
  t.same(leaks(String(fetched.message)), []);
  await client.query('ROLLBACK');
  t.same(
    (await client.query('SELECT id FROM customers ORDER BY id')).rows,
    [{ id: 1 }, { id: 2 }],
    'the session goes on',
  );
});

t.test('statements that involve no masked data keep the target text whole', async (t) => {
  const client = await h.client();
  t.teardown(() => client.end());
  const err = (await client.query('SELECT body::int FROM notes').catch((e: unknown) => e)) as Record<
    string,
    unknown
  >;
  t.equal(err.code, '22P02');
  t.match(String(err.message), /invalid input syntax for type integer: "first"/);
  const dup = (await client.query("INSERT INTO notes VALUES (1, 'x')").catch((e: unknown) => e)) as Record<
    string,
    unknown
  >;
  t.equal(dup.code, '23505');
  t.match(String(dup.detail), /Key \(id\)=\(1\) already exists/);
  const name = (await client.query('SELECT name::int FROM customers').catch((e: unknown) => e)) as Record<
    string,
    unknown
  >;
  t.equal(name.code, '22P02', 'a table with a masked column withholds even an unmasked column');
  t.same(leaks(String(name.message)), []);
});

t.test('names the caller spelled out pass; names taken from data do not', async (t) => {
  const client = await h.client();
  t.teardown(() => client.end());
  const missing = (await client.query('SELECT * FROM no_such_table').catch((e: unknown) => e)) as Record<
    string,
    unknown
  >;
  t.equal(missing.code, '42P01');
  t.match(
    String(missing.message),
    /relation "no_such_table" does not exist/,
    'an agent can correct its guess',
  );
  await h.direct('ANALYZE customers');
  for (const sql of [
    "SELECT most_common_vals::text::regclass FROM pg_stats WHERE tablename = 'customers'",
    "SELECT histogram_bounds::text::regclass FROM pg_stats WHERE tablename = 'customers'",
    "SELECT most_common_vals FROM pg_stats WHERE tablename = 'customers'",
    "SELECT histogram_bounds::text FROM pg_stats WHERE tablename = 'customers'",
    // The echo is of relations the statement named and the catalog lacks, not of any word in it:
    // a computed name with a suffix the caller spelled, or each character guessed in a comment.
    "SELECT current_setting(x || '.b') FROM pg_stats, unnest(histogram_bounds::text::text[]) x WHERE tablename = 'customers' AND attname = 'ssn' -- b",
    "SELECT current_setting(x || '.b') FROM pg_stats, unnest(histogram_bounds::text::text[]) x WHERE tablename = 'customers' AND attname = 'email' -- b",
    "SELECT current_setting(s.stavalues1::text || '.b') FROM pg_statistic s WHERE s.staattnum = 4 -- b",
    "SELECT current_setting('b.' || x) FROM pg_stats, unnest(histogram_bounds::text::text[]) x WHERE tablename = 'customers' AND attname = 'ssn' -- b",
    "SELECT current_setting(substr(x, 1, 1)) FROM pg_stats, unnest(histogram_bounds::text::text[]) x WHERE attname = 'ssn' -- 0 1 2 3 4 5 6 7 8 9",
    "SELECT x::regclass FROM pg_stats, unnest(histogram_bounds::text::text[]) x WHERE attname = 'email' -- ada@example.com bob@example.org",
  ]) {
    const out = await client.query(sql).then(
      (r) => JSON.stringify(r.rows),
      (e: unknown) => JSON.stringify(e) + String((e as Error).message),
    );
    t.same(leaks(out), [], sql);
  }
  const digit = await client
    .query(
      "SELECT current_setting(substr(x, 1, 1)) FROM pg_stats, unnest(histogram_bounds::text::text[]) x WHERE attname = 'ssn' -- 0 1 2 3 4 5 6 7 8 9",
    )
    .catch((e: Error) => e.message);
  t.match(digit, /withheld/, 'a character guessed among words of the statement is withheld');
  // A typo beside a real table keeps its text; a name in an unknown relation's error that is not
  // that relation's is withheld.
  const typo = await client
    .query('SELECT n.body FROM notes n JOIN no_such_thing x ON true')
    .catch((e: Error) => e);
  t.match(String((typo as Error).message), /relation "no_such_thing" does not exist/);
});

t.test('the recording holds the withheld text, not the value', async (t) => {
  const events = (await h.recordings('agent-1')).flat();
  const errors = events.filter((e) => e.type === 'error');
  t.ok(errors.length >= ATTACKS.length);
  t.same(leaks(JSON.stringify(errors)), []);
});

t.test('MCP query and explain: the same', async (t) => {
  const logger = pino({ level: 'silent' });
  const http = new HttpServer({
    gateway: h.parts.gateway,
    authenticator: h.parts.authenticator,
    recorder: h.parts.recorder,
    logger,
  });
  await http.listen('127.0.0.1', 0);
  t.teardown(() => http.close());
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${http.baseUrl}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${h.token}` } },
    }),
  );
  t.teardown(() => client.close());
  for (const { sql, code } of ATTACKS) {
    const result = await client.callTool({ name: 'query', arguments: { database: 'shop', sql } });
    t.equal(result.isError, true, sql);
    const text = JSON.stringify(result);
    t.match(text, new RegExp(`SQLSTATE ${code}`), sql);
    t.same(leaks(text), [], sql);
    const explained = await client.callTool({ name: 'explain', arguments: { database: 'shop', sql } });
    t.same(leaks(JSON.stringify(explained)), [], `explain ${sql}`);
  }
  const plain = await client.callTool({
    name: 'query',
    arguments: { database: 'shop', sql: 'SELECT body::int FROM notes' },
  });
  t.match(JSON.stringify(plain), /invalid input syntax for type integer/);
  const { rows } = await h.direct('SELECT id, name, email FROM customers ORDER BY id');
  t.equal(rows[0].name, 'Ada');
});
