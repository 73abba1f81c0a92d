import t from 'tap';
import {
  dataRowFields,
  PgClientError,
  PgConnection,
  PgServerError,
} from '../../../protocols/postgres/client/index.js';
import { PG_HOST, PG_PORT, PG_SUPERUSER } from '../../support/postgres.js';

function connect(): Promise<PgConnection> {
  return PgConnection.connect({
    host: PG_HOST,
    port: PG_PORT,
    user: PG_SUPERUSER,
    database: 'postgres',
    tls: 'disable',
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('200k rows through a slow sink all arrive, in order, with memory staying flat', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  const total = 200_000;
  let received = 0;
  let next = 1;
  let inOrder = true;
  let peakHeap = 0;
  global.gc?.();
  const used = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  const baseHeap = used();
  const result = await conn.query(`SELECT g, repeat('x', 500) AS pad FROM generate_series(1, ${total}) g`, {
    row: (values): Promise<void> | undefined => {
      if (Number(values[0]) !== next) inOrder = false;
      next++;
      received++;
      // Every 500th row the sink is slow: the socket must pause, not buffer the rest of the result.
      if (received % 500 === 0) {
        peakHeap = Math.max(peakHeap, used());
        return sleep(1).then(() => undefined);
      }
      return undefined;
    },
  });
  t.equal(received, total);
  t.ok(inOrder, 'rows arrive in order');
  t.equal(result.rowCount, total);
  // The result is ~100 MB on the wire; buffering it (heap or Buffers) would show as about that much growth.
  const growth = (peakHeap - baseHeap) / 2 ** 20;
  t.ok(growth < 40, `heap growth ${growth.toFixed(1)} MiB stays well below the result size`);
});

t.test('a sink that awaits stops the socket: the server is blocked until the sink resumes', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let rows = 0;
  const running = conn.query(`SELECT g, repeat('y', 1000) FROM generate_series(1, 100000) g`, {
    row: () => {
      rows++;
      return rows === 1 ? gate : undefined;
    },
  });
  await sleep(300);
  t.equal(rows, 1, 'no row is delivered while the sink holds the first');
  release();
  const result = await running;
  t.equal(rows, 100000);
  t.equal(result.rowCount, 100000);
});

t.test('raw mode hands whole DataRow messages, undecoded, that stay valid after the call', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  const frames: Buffer[] = [];
  let description: Buffer | undefined;
  const result = await conn.query(
    "SELECT g, 'v' || g AS s, NULL::text AS n FROM generate_series(1, 3000) g",
    { columns: (_fields, frame) => void (description = frame), rawRow: (frame) => void frames.push(frame) },
    { mode: 'raw' },
  );
  t.equal(result.rowCount, 3000);
  t.equal(frames.length, 3000);
  t.equal(frames[0]?.[0], 0x44, 'starts with the D type byte');
  t.equal(description?.[0], 0x54, 'the RowDescription comes as received too (T)');
  const first = dataRowFields(frames[0] as Buffer);
  t.same(
    first.map((f) => (f === null ? null : f.toString())),
    ['1', 'v1', null],
  );
  const last = dataRowFields(frames[2999] as Buffer);
  t.same(last[1]?.toString(), 'v3000');
});

t.test('a value larger than one socket chunk arrives whole', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  let value: string | null | undefined;
  await conn.query("SELECT repeat('abc', 2000000)", { row: (v) => void (value = v[0]) });
  t.equal(value?.length, 6_000_000);
  t.ok(value?.startsWith('abcabc') && value.endsWith('abc'));
});

t.test('cancel() stops a running query with 57014 and the connection stays usable', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  const running = conn.query('SELECT pg_sleep(10)', {}).catch((e: unknown) => e);
  await sleep(100);
  const started = Date.now();
  await conn.cancel();
  const err = (await running) as PgServerError;
  t.equal(err.code, '57014');
  t.ok(Date.now() - started < 2000);
  t.equal(conn.state, 'idle');
  t.equal(conn.reusable, false, 'a connection that had a cancel is not pooled again');
  let one: string | null | undefined;
  await conn.query('SELECT 1', { row: (v) => void (one = v[0]) });
  t.equal(one, '1');
});

t.test('the statement timer cancels a slow query and fails it with ERR_PG_STATEMENT_TIMEOUT', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  const started = Date.now();
  const err = (await conn
    .query('SELECT pg_sleep(10)', {}, { timeoutMs: 200 })
    .catch((e: unknown) => e)) as PgClientError;
  const took = Date.now() - started;
  t.ok(err instanceof PgClientError);
  t.equal(err.code, 'ERR_PG_STATEMENT_TIMEOUT');
  t.match(err.message, /200 ms/);
  t.equal((err.cause as PgServerError).code, '57014', 'the server error is the cause');
  t.ok(took >= 190 && took < 3000, `took ${took} ms`);
  t.equal(conn.state, 'idle');
});

t.test('a fast query under a statement timer completes normally', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  const result = await conn.query('SELECT 1', {}, { timeoutMs: 5000 });
  t.equal(result.command, 'SELECT 1');
  t.equal(conn.reusable, true);
});

t.test('aborting the signal cancels the query with ERR_PG_QUERY_CANCELLED', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  const controller = new AbortController();
  const running = conn
    .query('SELECT pg_sleep(10)', {}, { signal: controller.signal })
    .catch((e: unknown) => e);
  setTimeout(() => controller.abort(), 100);
  const err = (await running) as PgClientError;
  t.equal(err.code, 'ERR_PG_QUERY_CANCELLED');
  t.equal(conn.state, 'idle');
});

t.test('an already aborted signal never sends the query', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  const err = (await conn
    .query('SELECT 1', {}, { signal: AbortSignal.abort() })
    .catch((e: unknown) => e)) as PgClientError;
  t.equal(err.code, 'ERR_PG_QUERY_CANCELLED');
  t.equal(conn.reusable, true);
});

t.test('a sink that throws fails the query with its error and cancels the rest of the result', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  let rows = 0;
  const boom = new Error('sink broke');
  const started = Date.now();
  const err = await conn
    .query('SELECT 1 FROM pg_attribute a, pg_attribute b', {
      row: () => {
        rows++;
        if (rows === 10) throw boom;
      },
    })
    .catch((e: unknown) => e);
  t.equal(err, boom);
  t.equal(rows, 10, 'no row reaches the sink after it failed');
  t.ok(Date.now() - started < 5000, 'the server stopped instead of sending millions of rows');
  t.equal(conn.state, 'idle');
});

t.test('a sink whose promise rejects fails the query with that error', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  const err = await conn
    .query('SELECT 1', { columns: () => Promise.reject(new Error('no columns for you')) })
    .catch((e: unknown) => e);
  t.match(err, { message: 'no columns for you' });
});

t.test('a server that does not answer the cancel loses the connection after the grace time', async (t) => {
  const conn = await PgConnection.connect({
    host: PG_HOST,
    port: PG_PORT,
    user: PG_SUPERUSER,
    database: 'postgres',
    tls: 'disable',
    cancelGraceMs: 200,
  });
  // pg_sleep in a loop that ignores interrupts cannot be built in SQL; instead hold the sink, so
  // ReadyForQuery cannot be read within the grace time.
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const err = (await conn
    .query('SELECT g FROM generate_series(1, 100000) g', { row: () => gate }, { timeoutMs: 100 })
    .catch((e: unknown) => e)) as PgClientError;
  release();
  t.equal(err.code, 'ERR_PG_STATEMENT_TIMEOUT');
  t.equal(conn.state, 'closed');
});
