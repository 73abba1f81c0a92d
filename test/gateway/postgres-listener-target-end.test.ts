/**
 * When the target ends a backend (terminated, timed out, shut down), the client hears the
 * database's own FATAL and nothing after it; before startup, what PostgreSQL answers silently gets
 * no answer here either (#25 items 1-3).
 */
import t from 'tap';
import { connect } from 'node:net';
import pg from 'pg';
import { serialize } from 'pg-protocol/dist/serializer';
import { startHarness, SUBJECT } from './postgres-listener-harness.js';
import { adminQuery } from '../support/postgres.js';

const h = await startHarness(t, {
  extra: 'guard: { sideEffectFunctions: { postgres: { pg_sleep: [] } } }',
});

interface Message {
  type: string;
  fields: Map<string, string>;
}

/** Splits backend bytes into messages; ErrorResponse / NoticeResponse fields are decoded. */
function messages(bytes: Buffer): Message[] {
  const out: Message[] = [];
  let pos = 0;
  while (pos + 5 <= bytes.length) {
    const type = String.fromCharCode(bytes[pos] as number);
    const size = bytes.readInt32BE(pos + 1);
    const body = bytes.subarray(pos + 5, pos + 1 + size);
    const fields = new Map<string, string>();
    if (type === 'E' || type === 'N') {
      let at = 0;
      while (at < body.length && body[at] !== 0) {
        const end = body.indexOf(0, at + 1);
        fields.set(String.fromCharCode(body[at] as number), body.toString('utf8', at + 1, end));
        at = end + 1;
      }
    }
    out.push({ type, fields });
    pos += 1 + size;
  }
  return out;
}

/** A raw session logged in through the listener; `bytes()` is all it received, `closed` settles at close. */
async function rawLogin(): Promise<{ write(b: Buffer): void; bytes(): Buffer; closed: Promise<void> }> {
  const socket = connect({ host: '127.0.0.1', port: h.port });
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise((r) => socket.once('connect', r));
  socket.write(serialize.startup({ user: SUBJECT, database: 'shop' }));
  await new Promise((r) => setTimeout(r, 50));
  socket.write(serialize.password(h.token));
  // Logged in once ReadyForQuery has come.
  for (let i = 0; i < 100 && !messages(Buffer.concat(chunks)).some((m) => m.type === 'Z'); i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return { write: (b) => socket.write(b), bytes: () => Buffer.concat(chunks), closed };
}

async function terminateBackends(): Promise<void> {
  await adminQuery(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [h.db],
  );
}

function errorsOf(list: Message[]): { severity: string | undefined; code: string | undefined }[] {
  return list
    .filter((m) => m.type === 'E')
    .map((m) => ({ severity: m.fields.get('V') ?? m.fields.get('S'), code: m.fields.get('C') }));
}

t.test('a backend terminated while the session is idle: its FATAL 57P01 alone, then close', async (t) => {
  const session = await rawLogin();
  const before = messages(session.bytes()).length;
  await terminateBackends();
  await session.closed;
  const after = messages(session.bytes()).slice(before);
  t.same(errorsOf(after), [{ severity: 'FATAL', code: '57P01' }], 'one error, the database own');
  t.match(
    after.find((m) => m.type === 'E')?.fields.get('M'),
    /terminating connection due to administrator command/,
  );
});

t.test('a backend terminated mid-query: the FATAL ends the statement, nothing follows it', async (t) => {
  const session = await rawLogin();
  const before = messages(session.bytes()).length;
  session.write(serialize.query('SELECT pg_sleep(10)'));
  await new Promise((r) => setTimeout(r, 300));
  await terminateBackends();
  await session.closed;
  const after = messages(session.bytes()).slice(before);
  t.same(errorsOf(after), [{ severity: 'FATAL', code: '57P01' }]);
  t.notOk(
    after.some((m) => m.type === 'Z'),
    'no ReadyForQuery after a FATAL',
  );
  const events = (await h.recordings(SUBJECT)).flat();
  const ends = events.filter((e) => e.type === 'session.end').map((e) => String(e.reason));
  t.ok(
    ends.some((r) =>
      /target ended the connection: terminating connection due to administrator command \(57P01\)/.test(r),
    ),
    `the recording says why: ${ends.join(' | ')}`,
  );
  const errors = events.filter((e) => e.type === 'error').map((e) => e.code);
  t.ok(errors.includes('57P01'), 'the running statement records the error');
});

/** The errors a node-postgres client emits when its session times out idle (`viaSluice` or directly). */
async function idleTimeoutErrors(viaSluice: boolean): Promise<(string | undefined)[]> {
  const client = viaSluice
    ? await h.client()
    : new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: h.db });
  if (!viaSluice) await client.connect();
  const errors: (string | undefined)[] = [];
  client.on('error', (err: Error & { code?: string }) => errors.push(err.code));
  const ended = new Promise((r) => client.once('end', r));
  await client.query('SELECT 1');
  await ended;
  return errors;
}

t.test('node-postgres sees the server-side timeout as it sees it directly', async (t) => {
  await adminQuery(`ALTER DATABASE ${h.db} SET idle_session_timeout = '400ms'`);
  t.teardown(() => adminQuery(`ALTER DATABASE ${h.db} RESET idle_session_timeout`));
  const direct = await idleTimeoutErrors(false);
  const through = await idleTimeoutErrors(true);
  t.equal(through[0], '57P05', 'the first error is idle_session_timeout own');
  // node-postgres adds its own "Connection terminated unexpectedly" (no code) after it, directly too.
  t.same(through, direct);
});

t.test('idle_in_transaction_session_timeout ends a session left in a transaction with 25P03', async (t) => {
  await adminQuery(`ALTER DATABASE ${h.db} SET idle_in_transaction_session_timeout = '400ms'`);
  t.teardown(() => adminQuery(`ALTER DATABASE ${h.db} RESET idle_in_transaction_session_timeout`));
  const session = await rawLogin();
  const before = messages(session.bytes()).length;
  session.write(serialize.query('BEGIN'));
  await session.closed;
  const after = messages(session.bytes()).slice(before);
  t.same(errorsOf(after), [{ severity: 'FATAL', code: '25P03' }]);
});

/** What a raw client receives for `bytes` sent first, before any startup message. */
async function beforeStartup(bytes: Buffer): Promise<Buffer> {
  const socket = connect({ host: '127.0.0.1', port: h.port });
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {});
  await new Promise((r) => socket.once('connect', r));
  socket.write(bytes);
  await new Promise((r) => socket.once('close', r));
  return Buffer.concat(chunks);
}

t.test('before startup, what PostgreSQL closes without a word gets no answer', async (t) => {
  const terminate = Buffer.from([0x58, 0, 0, 0, 4]);
  t.equal((await beforeStartup(terminate)).length, 0, 'Terminate before the startup message');
  const tooShort = Buffer.from([0, 0, 0, 4, 0, 3, 0, 0]);
  t.equal((await beforeStartup(tooShort)).length, 0, 'a startup length below 8');
  const query = serialize.query('SELECT 1');
  t.equal((await beforeStartup(query)).length, 0, 'a Query in place of the startup message');
  // An unsupported protocol version is answered, as PostgreSQL answers it.
  const v2 = Buffer.from([0, 0, 0, 8, 0, 2, 0, 0]);
  const answer = messages(await beforeStartup(v2));
  t.same(errorsOf(answer), [{ severity: 'FATAL', code: '0A000' }]);
  // The listener carries on.
  const out = await h.psql(['-A', '-t', '-c', 'SELECT 1']);
  t.equal(out.stdout.trim(), '1');
});
