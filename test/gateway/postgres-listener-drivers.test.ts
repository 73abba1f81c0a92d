import t from 'tap';
import postgres from 'postgres';
import { serialize } from 'pg-protocol/dist/serializer';
import { RawClient, sqlstate } from './postgres-raw-client.js';
import { startHarness, SUBJECT } from './postgres-listener-harness.js';

const h = await startHarness(t);

t.test('node-postgres runs parameterised queries and gets masked rows', async (t) => {
  const client = await h.client();
  t.teardown(() => client.end());
  const result = await client.query(
    'SELECT id, name, email FROM customers WHERE id = $1 OR name = $2 ORDER BY id',
    [1, 'Bob'],
  );
  t.same(result.rows, [
    { id: 1, name: 'Ada', email: '****@example.com' },
    { id: 2, name: 'Bob', email: '****@example.org' },
  ]);
  const write = await client.query('INSERT INTO notes VALUES ($1, $2)', [30, 'from pg']);
  t.equal(write.rowCount, 1);
  const named = { name: 'by-id', text: 'SELECT body FROM notes WHERE id = $1', values: [30] };
  t.same((await client.query(named)).rows, [{ body: 'from pg' }]);
  named.values = [1];
  t.same((await client.query(named)).rows, [{ body: 'first' }], 'the named statement runs again');
});

t.test('node-postgres: a denied statement is an error with code 42501 and the session goes on', async (t) => {
  const client = await h.client();
  t.teardown(() => client.end());
  await t.rejects(client.query('DROP TABLE notes'), { code: '42501' });
  await t.rejects(client.query('DELETE FROM notes WHERE id > $1 OR true', [0]), { code: '42501' });
  t.same((await client.query('SELECT count(*)::int AS n FROM notes')).rows, [{ n: 3 }]);
});

t.test('postgres.js runs parameterised queries (prepared, described once) with masking', async (t) => {
  const sql = postgres({
    host: '127.0.0.1',
    port: h.port,
    user: SUBJECT,
    database: 'shop',
    password: h.token,
    max: 1,
    onnotice: () => undefined,
  });
  t.teardown(() => sql.end());
  for (const id of [1, 2, 1]) {
    const rows = await sql`SELECT id, email, ssn, balance FROM customers WHERE id = ${id}`;
    t.equal(rows.length, 1);
    t.equal(rows[0]?.id, id);
    t.match(String(rows[0]?.email), /^\*\*\*\*@example\.(com|org)$/);
    t.equal(rows[0]?.ssn, '****');
  }
  const many = await sql`SELECT id FROM customers WHERE id = ANY(${[1, 3]}) ORDER BY id`;
  t.same(
    many.map((r) => r.id),
    [1, 3],
  );
  await t.rejects(sql`DROP TABLE customers`, { code: '42501' });
  t.equal((await sql`SELECT count(*)::int AS n FROM customers`)[0]?.n, 3);
});

t.test('a denied Parse answers 42501, the messages up to Sync are dropped, then ReadyForQuery', async (t) => {
  const client = await RawClient.login(h.port, h.token);
  t.teardown(() => client.close());
  client.send(
    Buffer.concat([
      serialize.parse({ name: 'ok', text: 'SELECT 1' }),
      serialize.parse({ name: 'bad', text: 'DROP TABLE notes' }),
      serialize.bind({ statement: 'bad' }),
      serialize.execute({}),
      serialize.bind({ statement: 'ok' }),
      serialize.execute({}),
      serialize.sync(),
    ]),
  );
  const answer = await client.until('Z');
  t.same(
    answer.map(([type]) => type),
    ['1', 'E', 'Z'],
  );
  t.equal(sqlstate(answer[1]?.[1] ?? Buffer.alloc(0)), '42501');
  t.equal((await h.direct('SELECT count(*)::int AS n FROM notes')).rows[0].n, 3, 'notes is still there');
  // The session goes on: the statement prepared before the refusal runs.
  client.send(
    Buffer.concat([
      serialize.bind({ statement: 'ok' }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    ]),
  );
  t.same(
    (await client.until('Z')).map(([type]) => type),
    ['2', 'T', 'D', 'C', 'Z'],
  );
});

t.test(
  'pipelined extended-protocol messages are answered in order, rows masked without a Describe',
  async (t) => {
    const client = await RawClient.login(h.port, h.token);
    t.teardown(() => client.close());
    client.send(
      Buffer.concat([
        serialize.parse({ name: 'e', text: 'SELECT email FROM customers WHERE id = $1' }),
        serialize.bind({ statement: 'e', values: ['1'] }),
        serialize.execute({}),
        serialize.bind({ statement: 'e', values: ['2'] }),
        serialize.execute({}),
        serialize.parse({ name: 'n', text: 'SELECT body FROM notes WHERE id = 1' }),
        serialize.bind({ statement: 'n' }),
        serialize.execute({}),
        serialize.sync(),
      ]),
    );
    const answer = await client.until('Z');
    t.same(
      answer.map(([type]) => type),
      ['1', '2', 'D', 'C', '2', 'D', 'C', '1', '2', 'D', 'C', 'Z'],
      'no RowDescription reaches the client: the relay asked for it and kept the answer',
    );
    const rows = answer.filter(([type]) => type === 'D').map(([, body]) => body.toString('utf8', 6));
    t.same(rows, ['****@example.com', '****@example.org', 'first']);
  },
);

t.test('an Execute of a SQL-prepared statement is judged by its body', async (t) => {
  const client = await h.client();
  t.teardown(() => client.end());
  await client.query('PREPARE peek AS SELECT email FROM customers WHERE id = 2');
  const rows = await client.query('EXECUTE peek');
  // The lineage of EXECUTE is the prepared body's; masking cannot see through it and masks fully.
  t.equal(rows.rows.length, 1);
  t.notMatch(String(rows.rows[0]?.email), /bob/);
  await t.rejects(client.query('PREPARE wipe AS DELETE FROM notes'), { code: '42501' });
  await t.rejects(client.query('EXECUTE wipe'), { code: '42501' });
});

t.test('cursors: FETCH results are masked by the lineage of the DECLARE', async (t) => {
  const client = await h.client();
  t.teardown(() => client.end());
  await client.query('BEGIN');
  await client.query('DECLARE c CURSOR FOR SELECT id, email FROM customers ORDER BY id');
  const first = await client.query('FETCH 2 FROM c');
  t.same(first.rows, [
    { id: 1, email: '****@example.com' },
    { id: 2, email: '****@example.org' },
  ]);
  const rest = await client.query('FETCH ALL IN c');
  t.same(rest.rows, [{ id: 3, email: null }]);
  await client.query('COMMIT');
});
