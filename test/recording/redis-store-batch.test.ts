import t from 'tap';
import { Redis } from 'ioredis';
import { storedJson, verifyChain } from '../../src/recording/chain.js';
import { createRecordingRedis } from '../../src/recording/redis-client.js';
import { RecordingKeys } from '../../src/recording/redis-keys.js';
import { RedisEventStore } from '../../src/recording/redis-store.js';
import { ChainedSessionRecorder, DEFAULT_SESSION_LIMITS } from '../../src/recording/session-recorder.js';
import type { RecordingEvent, SealedEvent } from '../../src/recording/types.js';
import { REDIS_URL, deleteKeys, sessionContext, testPrefix } from './fixtures/helpers.js';

/**
 * A round trip runs its small commands as one script and its large row batches as XADDs of their
 * own: whatever the mix, events land in order, a retried batch is idempotent, and an error in
 * either kind of command fails the write.
 */

function sealedSession(id: string): SealedEvent[] {
  const events: SealedEvent[] = [];
  const sink = {
    accepting: () => true,
    enqueue: (e: SealedEvent) => void events.push({ ...e, body: Buffer.from(e.body) }),
    noteDropped: () => {},
  };
  const rec = new ChainedSessionRecorder(
    sessionContext({ id }),
    1_000,
    sink,
    DEFAULT_SESSION_LIMITS,
    Date.now,
    () => {},
  );
  for (let i = 0; i < 6; i++) {
    rec.onStatement({ statementId: `q${i}`, sql: `select ${i}` });
    // Every other statement has a result large enough to be sent as its own XADD.
    const rows = i % 2 === 0 ? 400 : 1;
    rec.onRows(
      `q${i}`,
      Array.from({ length: rows }, (_, r) => [r, `row ${r} ${'x'.repeat(40)}`]),
    );
    rec.onResultEnd({
      statementId: `q${i}`,
      rowCount: rows,
      truncated: false,
      command: 'SELECT',
      durationMs: 1,
    });
  }
  rec.onSessionEnd({ reason: 'done' });
  return events;
}

t.test(
  'small and large events of several sessions in one round trip land in order, retries included',
  async (t) => {
    const prefix = testPrefix();
    t.teardown(() => deleteKeys(prefix));
    const redis = createRecordingRedis(REDIS_URL);
    const store = new RedisEventStore(redis, { prefix, retentionMs: 60_000 });
    const admin = new Redis(REDIS_URL, { protocol: 2 });
    t.teardown(async () => {
      await store.close();
      admin.disconnect();
    });
    await new Promise<void>((resolve) =>
      redis.status === 'ready' ? resolve() : redis.once('ready', resolve),
    );
    const ids = ['s-1', 's-2'];
    const sessions = ids.map(sealedSession);
    t.ok(
      sessions[0]?.some((e) => e.body.length > 8 * 1024),
      'some events are large',
    );
    // Interleaved as a queue holds them.
    const all = sessions[0]?.flatMap((e, i) => [e, sessions[1]?.[i]].filter((x) => x !== undefined)) ?? [];
    await store.append(all);
    await store.append(all);
    await store.append(all.slice(3));
    const keys = new RecordingKeys(prefix);
    for (const [i, id] of ids.entries()) {
      const entries = await admin.xrange(keys.events(id), '-', '+');
      t.equal(entries.length, sessions[i]?.length, `${id}: every event once`);
      const parsed = entries.map(([, fields]) => {
        const h = fields[fields.indexOf('h') + 1] as string;
        const e = fields[fields.indexOf('e') + 1] as string;
        return JSON.parse(storedJson(Buffer.from(e), h).toString()) as RecordingEvent;
      });
      t.match(await verifyChain(id, parsed), { ok: true }, `${id} verifies`);
      t.equal(await admin.hget(keys.meta(id), 'events'), String(sessions[i]?.length));
    }
  },
);

t.test('an error in a scripted command or in a large XADD fails the write', async (t) => {
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
  const keys = new RecordingKeys(prefix);
  const events = sealedSession('s-err');
  // The session's stream key holds a string: every XADD to it is refused (WRONGTYPE).
  await admin.set(keys.events('s-err'), 'not a stream');
  await t.rejects(store.append(events.filter((e) => e.body.length <= 8 * 1024).slice(0, 3)), /WRONGTYPE/);
  await t.rejects(store.append(events.filter((e) => e.body.length > 8 * 1024).slice(0, 1)), /WRONGTYPE/);
});
