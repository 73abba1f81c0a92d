import t from 'tap';
import { connect } from 'node:net';
import postgres from 'postgres';
import { serialize } from 'pg-protocol/dist/serializer';
import { DEFAULT_POLICY, startHarness, SUBJECT } from './postgres-listener-harness.js';

const h = await startHarness(t, {
  policy: DEFAULT_POLICY.replace('statementTimeout: 30s', 'statementTimeout: 1s'),
  // pg_sleep is refused by default (it holds a backend); these tests use it as a slow statement.
  extra: 'guard: { sideEffectFunctions: { postgres: { pg_sleep: [] } } }',
});
const strict = await startHarness(t, { allowPlaintextAuth: false, idleTimeout: '1s' });

/** Sends raw bytes after a login and resolves with what came back when the server closed. */
async function rawSession(port: number, token: string, bytes: Buffer): Promise<Buffer> {
  const socket = connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await new Promise((r) => socket.once('connect', r));
  socket.write(serialize.startup({ user: SUBJECT, database: 'shop' }));
  await new Promise((r) => setTimeout(r, 50));
  socket.write(serialize.password(token));
  await new Promise((r) => setTimeout(r, 100));
  socket.write(bytes);
  await new Promise((r) => socket.once('close', r));
  return Buffer.concat(chunks);
}

t.test('a wrong token is refused with 28P01, saying only what kind of problem the token has', async (t) => {
  const out = await h.psql(['-c', 'SELECT 1'], { PGPASSWORD: 'not-a-token' });
  t.not(out.code, 0);
  // The safe part of why (#18): the kind of token problem, never the token or verification detail.
  t.match(out.stderr, /password authentication failed for user "agent-1": the token is malformed/);
  t.notMatch(out.stderr, /not-a-token|signature|kid/);
});

t.test('a user name other than the token subject is refused with 28000', async (t) => {
  const out = await h.psql(['-U', 'someone-else', '-c', 'SELECT 1']);
  t.not(out.code, 0);
  t.match(out.stderr, /user "someone-else" may not connect to database "shop"/);
});

t.test(
  'a database the identity may not reach is refused like an unknown one, naming those it may use',
  async (t) => {
    const out = await h.psql(['-d', 'nosuchdb', '-c', 'SELECT 1']);
    t.not(out.code, 0);
    t.match(out.stderr, /unknown database "nosuchdb" .*; databases you may use: shop/);
    // What psql users type first (#25 item 5): a server's own databases are not targets.
    const template = await h.psql(['-d', 'template1', '-c', 'SELECT 1']);
    t.not(template.code, 0);
    t.match(template.stderr, /unknown database "template1" .*; databases you may use: shop/);
    const outsider = await h.mint(SUBJECT, ['other-group']);
    const refused = await h.psql(['-c', 'SELECT 1'], { PGPASSWORD: outsider });
    t.match(refused.stderr, /unknown database "shop" .*; no database is open to you here/);
    // The SQLSTATE is PostgreSQL's own for a database it does not have.
    const sql = postgres({
      host: '127.0.0.1',
      port: h.port,
      user: SUBJECT,
      pass: h.token,
      database: 'template1',
      ssl: false,
      max: 1,
      onnotice: () => {},
    });
    const failure = await sql`SELECT 1`.then(
      () => undefined,
      (err: { code?: string }) => err,
    );
    t.equal(failure?.code, '3D000');
    await sql.end();
  },
);

t.test('without allowPlaintextAuth a plaintext login is refused before the password is asked', async (t) => {
  const out = await strict.psql(['-c', 'SELECT 1'], { PGSSLMODE: 'disable' });
  t.not(out.code, 0);
  t.match(out.stderr, /password authentication requires an encrypted connection/);
});

t.test('psql with sslmode=require logs in over TLS and queries', async (t) => {
  const out = await strict.psql(
    ['-A', '-t', '-c', 'SELECT email FROM customers WHERE id = 1', '-c', '\\conninfo'],
    { PGSSLMODE: 'require', PGPASSWORD: strict.token },
  );
  t.equal(out.code, 0, out.stderr);
  t.match(out.stdout, /^\*\*\*\*@example\.com\n/);
  t.match(out.stdout, /SSL connection \(protocol: TLSv1\.[23]/);
});

t.test('a session idle longer than idleTimeout is closed', async (t) => {
  const sql = postgres({
    host: '127.0.0.1',
    port: strict.port,
    user: SUBJECT,
    database: 'shop',
    password: strict.token,
    ssl: { rejectUnauthorized: false },
    max: 1,
    onnotice: () => undefined,
  });
  t.teardown(() => sql.end({ timeout: 1 }));
  t.equal((await sql`SELECT 1 AS one`)[0]?.one, 1);
  const before = strict.parts.gateway.openSessions;
  t.ok(before >= 1);
  await new Promise((r) => setTimeout(r, 1800));
  t.equal(strict.parts.gateway.openSessions, before - 1, 'the wire session was closed');
});

t.test('garbage bytes end that client only; another session goes on', async (t) => {
  const other = await h.client();
  t.teardown(() => other.end());
  t.same((await other.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
  const answer = await rawSession(h.port, h.token, Buffer.from([0x01, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x00]));
  t.match(answer.toString('latin1'), /08P01/);
  t.same((await other.query('SELECT 2 AS two')).rows, [{ two: 2 }]);
});

t.test('an oversized message ends that client with 54000; another session goes on', async (t) => {
  const other = await h.client();
  t.teardown(() => other.end());
  const header = Buffer.alloc(5);
  header[0] = 0x51; // Q
  header.writeInt32BE(8 * 1024 * 1024, 1);
  const answer = await rawSession(h.port, h.token, Buffer.concat([header, Buffer.alloc(1024, 0x20)]));
  t.match(answer.toString('latin1'), /54000/);
  t.same((await other.query('SELECT 3 AS three')).rows, [{ three: 3 }]);
});

t.test('a statement past the policy statementTimeout is cancelled on the target', async (t) => {
  const client = await h.client();
  t.teardown(() => client.end());
  const started = Date.now();
  await t.rejects(client.query('SELECT pg_sleep(5)'), { code: '57014' });
  t.ok(Date.now() - started < 4000, 'cancelled well before the sleep ended');
  t.same((await client.query('SELECT 4 AS four')).rows, [{ four: 4 }]);
});

t.test('a CancelRequest with the key Sluice issued cancels the running query', async (t) => {
  const sql = postgres({
    host: '127.0.0.1',
    port: h.port,
    user: SUBJECT,
    database: 'shop',
    password: h.token,
    max: 1,
    onnotice: () => undefined,
  });
  t.teardown(() => sql.end({ timeout: 1 }));
  await sql`SELECT 1`;
  const query = sql`SELECT pg_sleep(0.8)`;
  const pending = query.execute();
  await new Promise((r) => setTimeout(r, 150));
  const started = Date.now();
  await query.cancel();
  await t.rejects(pending, { code: '57014' });
  t.ok(Date.now() - started < 600, 'the query ended before its sleep');
});

t.test('a CancelRequest with an unknown key is ignored', async (t) => {
  const client = await h.client();
  t.teardown(() => client.end());
  const running = client.query('SELECT pg_sleep(0.3) AS slept');
  const socket = connect({ host: '127.0.0.1', port: h.port });
  await new Promise((r) => socket.once('connect', r));
  socket.end(serialize.cancel(12345, 67890));
  const result = await running;
  t.same(result.rows, [{ slept: '' }]);
});
