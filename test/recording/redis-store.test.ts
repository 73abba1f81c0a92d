import t from 'tap';
import { Redis } from 'ioredis';
import { parseConfigText } from '../../src/config/load.js';
import { verifyChain } from '../../src/recording/chain.js';
import { createRecorder, createRecordingReader } from '../../src/recording/create.js';
import { RecordingKeys } from '../../src/recording/redis-keys.js';
import type { RecordingEvent } from '../../src/recording/types.js';
import {
  REDIS_URL,
  capturingLogger,
  deleteKeys,
  recordingConfigText,
  sessionContext,
  testPrefix,
} from './fixtures/helpers.js';

const config = parseConfigText(
  recordingConfigText(`
store: redis
redis: { url: "${REDIS_URL}" }
retention: 1h
`),
);

async function collect(iter: AsyncIterable<RecordingEvent>): Promise<RecordingEvent[]> {
  const out: RecordingEvent[] = [];
  for await (const e of iter) out.push(e);
  return out;
}

t.test(
  'a session is written to its own stream, indexed by time, identity and target, with metadata and retention',
  async (t) => {
    const prefix = testPrefix();
    t.teardown(() => deleteKeys(prefix));
    const { logger } = capturingLogger();
    const recorder = createRecorder(config, logger, { prefix, session: { batchRows: 2 } });
    const reader = createRecordingReader(config, { prefix });
    const admin = new Redis(REDIS_URL, { protocol: 2 });
    t.teardown(async () => {
      await recorder.close();
      await reader.close();
      admin.disconnect();
    });

    const session = sessionContext({
      identity: { subject: 'carol', groups: ['dba'], issuer: 'https://idp', via: 'oidc' },
      target: 'legacy',
    });
    const rec = recorder.startSession({ session, startedAt: Date.now() });
    rec.onStatement({ statementId: 'q1', sql: 'select 1' });
    rec.onColumns({ statementId: 'q1', columns: [{ name: 'one', type: 'int4', masked: false }] });
    rec.onRows('q1', [[1], [2], [3]]);
    rec.onResultEnd({ statementId: 'q1', rowCount: 3, truncated: false, command: 'SELECT 3', durationMs: 1 });
    rec.onSessionEnd({ reason: 'bye' });
    await recorder.flush();
    t.same(recorder.ready(), { ok: true });

    const keys = new RecordingKeys(prefix);
    const entries = await admin.xrange(keys.events(session.id), '-', '+');
    t.same(
      entries.map(([id]) => id),
      ['1-0', '2-0', '3-0', '4-0', '5-0', '6-0', '7-0'],
      'stream ids carry the seq',
    );
    const ttl = await admin.pttl(keys.events(session.id));
    t.ok(ttl > 3_500_000 && ttl <= 3_600_000, 'the stream expires after the retention');
    t.ok((await admin.pttl(keys.meta(session.id))) > 3_500_000, 'so does its metadata');
    t.ok((await admin.pttl(keys.byTime())) > 3_500_000, 'and an index nobody writes to');

    const [listed] = await reader.listSessions({ identity: 'carol' });
    t.match(listed, {
      id: session.id,
      subject: 'carol',
      groups: ['dba'],
      target: 'legacy',
      channel: 'mcp-http',
      events: 7,
    });
    t.ok(listed?.endedAt !== undefined);
    t.equal((await reader.listSessions({ target: 'legacy' })).length, 1);
    t.equal((await reader.listSessions({ target: 'orders' })).length, 0);
    t.equal((await reader.listSessions({})).length, 1);
    t.equal((await reader.listSessions({ since: Date.now() + 60_000 })).length, 0);
    t.equal((await reader.listSessions({ session: session.id, identity: 'someone-else' })).length, 0);
    t.equal((await reader.listSessions({ session: 'no-such-session' })).length, 0);

    const events = await collect(reader.readEvents(session.id));
    t.equal(events.length, 7);
    t.match(await verifyChain(session.id, events, { events: listed?.events, lastHash: listed?.lastHash }), {
      ok: true,
    });
  },
);

t.test('the index drops sessions older than the retention', async (t) => {
  const prefix = testPrefix();
  t.teardown(() => deleteKeys(prefix));
  const { logger } = capturingLogger();
  const recorder = createRecorder(config, logger, { prefix });
  const reader = createRecordingReader(config, { prefix });
  t.teardown(async () => {
    await recorder.close();
    await reader.close();
  });
  const old = sessionContext();
  recorder.startSession({ session: old, startedAt: Date.now() - 2 * 3_600_000 });
  await recorder.flush();
  recorder.startSession({ session: sessionContext(), startedAt: Date.now() });
  await recorder.flush();
  const ids = (await reader.listSessions({})).map((s) => s.id);
  t.equal(ids.length, 1);
  t.notOk(ids.includes(old.id));
});

t.test('reading a long stream pages through it in order', async (t) => {
  const prefix = testPrefix();
  t.teardown(() => deleteKeys(prefix));
  const { logger } = capturingLogger();
  const recorder = createRecorder(config, logger, { prefix, session: { batchRows: 1 } });
  const reader = createRecordingReader(config, { prefix });
  t.teardown(async () => {
    await recorder.close();
    await reader.close();
  });
  const session = sessionContext();
  const rec = recorder.startSession({ session });
  rec.onRows(
    'q',
    Array.from({ length: 2500 }, (_, i) => [i]),
  );
  await recorder.flush();
  const events = await collect(reader.readEvents(session.id));
  t.equal(events.length, 2501);
  t.match(await verifyChain(session.id, events), { ok: true, events: 2501 });
});

t.test('two gateway processes writing many sessions at once keep every chain whole', async (t) => {
  const prefix = testPrefix();
  t.teardown(() => deleteKeys(prefix));
  const { logger } = capturingLogger();
  const a = createRecorder(config, logger, { prefix, session: { batchRows: 7 }, queue: { batchEvents: 64 } });
  const b = createRecorder(config, logger, { prefix, session: { batchRows: 5 }, queue: { batchEvents: 50 } });
  const reader = createRecordingReader(config, { prefix });
  t.teardown(async () => {
    await a.close();
    await b.close();
    await reader.close();
  });
  const sessions = [a, b].flatMap((recorder) =>
    Array.from({ length: 20 }, () => {
      const session = sessionContext();
      return { session, rec: recorder.startSession({ session }) };
    }),
  );
  // Interleave statements of all sessions in both processes, tick by tick.
  for (let round = 0; round < 10; round++) {
    for (const { session, rec } of sessions) {
      const id = `q${round}`;
      rec.onStatement({ statementId: id, sql: `select ${round} from ${session.id.slice(0, 8)}` });
      rec.onRows(
        id,
        Array.from({ length: 13 }, (_, i) => [round, i, 'row']),
      );
      rec.onResultEnd({
        statementId: id,
        rowCount: 13,
        truncated: false,
        command: 'SELECT 13',
        durationMs: 0,
      });
    }
    await new Promise((r) => setImmediate(r));
  }
  for (const { rec } of sessions) {
    rec.onSessionEnd({ reason: 'done' });
  }
  await Promise.all([a.flush(), b.flush()]);

  const listed = await reader.listSessions({});
  t.equal(listed.length, 40);
  let verified = 0;
  for (const s of listed) {
    const events = await collect(reader.readEvents(s.id));
    const verdict = await verifyChain(s.id, events, { events: s.events, lastHash: s.lastHash });
    if (verdict.ok) verified++;
    else t.fail(`${s.id}: ${verdict.reason}`);
    t.equal(events.filter((e) => e.type === 'statement').length, 10, `${s.id} has all its statements`);
  }
  t.equal(verified, 40, 'every chain verifies');
});
