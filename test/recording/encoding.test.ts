import t from 'tap';
import { Redis } from 'ioredis';
import { canonicalJson } from '../../src/recording/canonical.js';
import { GENESIS_HASH, storedJson, verifyChain } from '../../src/recording/chain.js';
import { EVENT_LAYOUTS } from '../../src/recording/event-layout.js';
import { DEFAULT_QUEUE_OPTIONS, RecordingQueue } from '../../src/recording/queue.js';
import { RedisEventStore } from '../../src/recording/redis-store.js';
import { createRecordingRedis } from '../../src/recording/redis-client.js';
import { RecordingKeys } from '../../src/recording/redis-keys.js';
import { BatchBufferPool, RowBatch } from '../../src/recording/row-batch.js';
import { ChainedSessionRecorder, DEFAULT_SESSION_LIMITS } from '../../src/recording/session-recorder.js';
import type { EventType, RecordingEvent, SealedEvent } from '../../src/recording/types.js';
import {
  MemoryEventStore,
  REDIS_URL,
  capturingLogger,
  deleteKeys,
  sessionContext,
  testPrefix,
} from './fixtures/helpers.js';

const envelope = (type: EventType) => ({
  prevHash: 'ab'.repeat(32),
  seq: 7,
  session: 'sé-1',
  ts: 1_700_000_000_123,
  type,
});

t.test('each event layout encodes exactly what canonicalJson writes for the merged event', async (t) => {
  const payloads: [EventType, Record<string, unknown>][] = [
    [
      'session.start',
      {
        subject: 'ann',
        groups: ['b', 'a'],
        issuer: 'https://idp',
        via: 'oidc',
        target: 'orders',
        dialect: 'postgres',
        channel: 'postgres',
        remote: undefined,
        startedAt: 1,
      },
    ],
    ['statement', { statementId: 'q1', sql: 'select "ü"\n', params: [1n, null, 'x'] }],
    ['statement', { statementId: 'q1', sql: 'select 1', params: undefined }],
    [
      'decision',
      { statementId: 'q1', action: 'allow', reason: 'r', rule: 'x', effects: ['read'], objects: [] },
    ],
    ['approval', { statementId: 'q1', requestId: 'r1', state: 'approved', by: 'dba', reason: undefined }],
    ['result.columns', { statementId: 'q1', columns: [{ name: 'a', type: 'int4', masked: true }] }],
    [
      'result.end',
      { statementId: 'q1', rowCount: 3, truncated: false, command: 'SELECT 3', durationMs: 1.5 },
    ],
    ['error', { statementId: undefined, code: 'RECORDING_GAP', message: 'm', dropped: 3 }],
    ['session.end', { reason: 'bye', events: 9 }],
  ];
  for (const [type, payload] of payloads) {
    const env = envelope(type);
    t.equal(EVENT_LAYOUTS[type].encode(payload, env), canonicalJson({ ...payload, ...env }), type);
  }
});

t.test('a sealed row batch is the canonical event, whatever the rows and however it grew', async (t) => {
  const pool = new BatchBufferPool(BatchBufferPool.sizeFor(4096), 2);
  const cases: unknown[][][] = [
    [[1, 'a', null, true, 2.5]],
    [['ünïcödé ✓', '"quoted"\\', '\u0000']],
    [[1n, Buffer.from('hi'), new Date(0), NaN, { b: 1, a: 2 }]],
    Array.from({ length: 500 }, (_, i) => [i, `row ${i}`, 'x'.repeat(i % 50)]),
  ];
  for (const rows of cases) {
    const batch = new RowBatch('q1', 40, pool);
    for (let i = 0; i < rows.length; i += 7) batch.append(rows, i, Math.min(rows.length, i + 7));
    const env = { prevHash: GENESIS_HASH, seq: 3, session: 's', ts: 9 };
    const body = batch.seal(env).toString('utf8');
    const expected = canonicalJson({ statementId: 'q1', offset: 40, rows, ...env, type: 'result.rows' });
    t.equal(body, expected, `${rows.length} rows`);
    t.equal(batch.count, rows.length);
    batch.release();
  }
});

t.test('a pooled buffer is reused only after its event was released', async (t) => {
  const pool = new BatchBufferPool(BatchBufferPool.sizeFor(16 * 1024), 4);
  // More than a small buffer holds, so the batches move to pooled buffers.
  const rows = Array.from({ length: 200 }, (_, i) => [i, 'y'.repeat(20)]);
  const env = { prevHash: GENESIS_HASH, seq: 1, session: 's', ts: 1 };
  const fill = (batch: RowBatch) => {
    for (let i = 0; i < rows.length; i += 10) batch.append(rows, i, i + 10);
  };
  const first = new RowBatch('q1', 0, pool);
  fill(first);
  const body = first.seal(env);
  const kept = body.toString();
  const second = new RowBatch('q1', 200, pool);
  fill(second);
  second.seal(env);
  t.equal(body.toString(), kept, 'an unreleased body is never written over');
  first.release();
  const third = new RowBatch('q2', 0, pool);
  fill(third);
  t.equal(third.seal(env).buffer, body.buffer, 'the released buffer is taken again');
});

function sealedFor(sessionId: string, statements: number): SealedEvent[] {
  const events: SealedEvent[] = [];
  const sink = { accepting: () => true, enqueue: (e: SealedEvent) => events.push(e), noteDropped: () => {} };
  const rec = new ChainedSessionRecorder(
    sessionContext({ id: sessionId }),
    1000,
    sink,
    DEFAULT_SESSION_LIMITS,
    () => 2000,
    () => {},
  );
  for (let i = 0; i < statements; i++) {
    rec.onStatement({ statementId: `q${i}`, sql: 'select 1' });
    rec.onRows(`q${i}`, [[1]]);
    rec.onResultEnd({
      statementId: `q${i}`,
      rowCount: 1,
      truncated: false,
      command: 'SELECT 1',
      durationMs: 0,
    });
  }
  return events;
}

t.test('events of many sessions enqueued over several turns leave in one store round trip', async (t) => {
  const store = new MemoryEventStore();
  const { logger } = capturingLogger();
  const queue = new RecordingQueue(
    store,
    { ...DEFAULT_QUEUE_OPTIONS, policy: 'refuse', lingerMs: 20 },
    logger,
  );
  const sessions = ['a', 'b', 'c'].map((id) => sealedFor(id, 2));
  for (const events of sessions) {
    for (const e of events) queue.enqueue(e);
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.equal(store.appendCalls, 0, 'nothing is written while the queue gathers');
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.equal(store.appendCalls, 1, 'one round trip for all three sessions');
  t.equal(store.events.length, sessions.flat().length);
  for (const [i, events] of sessions.entries()) {
    const id = ['a', 'b', 'c'][i] as string;
    const mine = store.events.filter((e) => e.session === id);
    t.same(
      mine.map((e) => e.seq),
      events.map((e) => e.seq),
      `session ${id} in order`,
    );
  }
});

t.test('flush() writes at once instead of waiting for the gathering delay', async (t) => {
  const store = new MemoryEventStore();
  const { logger } = capturingLogger();
  const queue = new RecordingQueue(
    store,
    { ...DEFAULT_QUEUE_OPTIONS, policy: 'refuse', lingerMs: 60_000 },
    logger,
  );
  for (const e of sealedFor('s', 3)) queue.enqueue(e);
  const started = Date.now();
  await queue.flush();
  t.ok(Date.now() - started < 1_000);
  t.equal(store.events.length, 10);
  await queue.close(100);
});

t.test(
  'a full batch (events or bytes) is written without waiting; batches stay under batchBytes',
  async (t) => {
    const store = new MemoryEventStore();
    const { logger } = capturingLogger();
    const events = sealedFor('s', 20);
    const queue = new RecordingQueue(
      store,
      { ...DEFAULT_QUEUE_OPTIONS, policy: 'refuse', lingerMs: 60_000, batchEvents: 1_000, batchBytes: 2_000 },
      logger,
    );
    const sizes: number[] = [];
    const append = store.append.bind(store);
    store.append = async (batch) => {
      sizes.push(batch.reduce((n, e) => n + e.body.length, 0));
      return append(batch);
    };
    for (const e of events) queue.enqueue(e);
    await new Promise((resolve) => setTimeout(resolve, 50));
    t.equal(store.events.length, events.length, 'written although the delay is a minute');
    t.ok(sizes.length > 1 && sizes.every((n) => n <= 2_000), `batches of ${sizes.join(', ')} bytes`);
    await queue.close(100);
  },
);

t.test('the Redis store sends one round trip as one socket write, for any number of sessions', async (t) => {
  const prefix = testPrefix();
  t.teardown(() => deleteKeys(prefix));
  const redis = createRecordingRedis(REDIS_URL);
  const store = new RedisEventStore(redis, { prefix, retentionMs: 60_000 });
  const admin = new Redis(REDIS_URL, { protocol: 2 });
  t.teardown(async () => {
    await store.close();
    admin.disconnect();
  });
  await new Promise<void>((resolve) => (redis.status === 'ready' ? resolve() : redis.once('ready', resolve)));
  const ids = ['s-1', 's-2', 's-3'];
  const events = ids.map((id) => sealedFor(id, 3));
  const socket = redis.stream;
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let writes = 0;
  socket.write = ((...args: unknown[]) => {
    writes++;
    return write(...args);
  }) as typeof socket.write;
  await store.append(events.flat());
  t.equal(writes, 1, 'one write');
  // A retried batch (the same events again) is idempotent.
  await store.append(events.flat());
  const keys = new RecordingKeys(prefix);
  for (const [i, id] of ids.entries()) {
    const entries = await admin.xrange(keys.events(id), '-', '+');
    t.equal(entries.length, events[i]?.length);
    const parsed = entries.map(([, fields]) => {
      const h = fields[fields.indexOf('h') + 1] as string;
      const e = fields[fields.indexOf('e') + 1] as string;
      return JSON.parse(storedJson(Buffer.from(e), h).toString()) as RecordingEvent;
    });
    const verdict = await verifyChain(id, parsed);
    t.ok(verdict.ok, `session ${id} verifies`);
    t.equal(await admin.hget(keys.meta(id), 'events'), String(events[i]?.length));
    t.ok((await admin.pttl(keys.events(id))) > 0, 'retention set');
  }
});
