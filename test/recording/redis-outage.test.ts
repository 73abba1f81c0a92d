import t from 'tap';
import { parseConfigText } from '../../src/config/load.js';
import { verifyChain } from '../../src/recording/chain.js';
import { createRecorder, createRecordingReader } from '../../src/recording/create.js';
import type { Recorder, RecordingEvent, SessionRecorder } from '../../src/recording/types.js';
import { capturingLogger, recordingConfigText, sessionContext } from './fixtures/helpers.js';
import { PrivateRedis } from './fixtures/private-redis.js';

async function until(what: string, check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function statement(rec: SessionRecorder, id: string, rows: number): void {
  rec.onStatement({ statementId: id, sql: `select * from t -- ${id}` });
  rec.onDecision({
    statementId: id,
    action: 'allow',
    reason: 'read',
    rule: 'agents: allow read',
    effects: ['read'],
    objects: ['t'],
  });
  rec.onColumns({ statementId: id, columns: [{ name: 'n', type: 'int4', masked: false }] });
  rec.onRows(
    id,
    Array.from({ length: rows }, (_, i) => [i]),
  );
  rec.onResultEnd({
    statementId: id,
    rowCount: rows,
    truncated: false,
    command: `SELECT ${rows}`,
    durationMs: 1,
  });
}

for (const policy of ['refuse', 'continue'] as const) {
  t.test(
    `${policy}: a session survives the store stopping and restarting, with every event in order`,
    async (t) => {
      const redis = await PrivateRedis.start();
      t.teardown(() => redis.kill());
      const config = parseConfigText(
        recordingConfigText(`
store: redis
redis: { url: "${redis.url}" }
onStoreFailure: ${policy}
`),
      );
      const { logger, lines } = capturingLogger();
      const recorder: Recorder = createRecorder(config, logger, { session: { batchRows: 10 } });
      const reader = createRecordingReader(config);
      t.teardown(async () => {
        await recorder.close();
        await reader.close();
      });

      const session = sessionContext();
      const rec = recorder.startSession({ session });
      statement(rec, 'before', 25);
      await recorder.flush();
      t.same(recorder.ready(), { ok: true });

      await redis.stop();
      if (policy === 'refuse') {
        await until('ready() refuses', () => !recorder.ready().ok);
        t.match(
          recorder.ready(),
          { ok: false, reason: /^recording store unreachable: / },
          'new statements are refused',
        );
      } else {
        await until('the outage is noticed', () => lines.some((l) => /unreachable/.test(l.msg)));
        t.same(recorder.ready(), { ok: true }, 'statements keep being served');
        t.ok(
          lines.some((l) => l.level >= 50 && /serving without recording/.test(l.msg)),
          'an alert is logged',
        );
      }
      // What a statement already running (or, under continue, a new one) records while the store is down.
      statement(rec, 'during', 33);
      await new Promise((r) => setTimeout(r, 200));

      await redis.startAgain();
      await until('ready() is ok again', () => recorder.ready().ok);
      statement(rec, 'after', 5);
      rec.onSessionEnd({ reason: 'done' });
      await recorder.flush();

      const [summary] = await reader.listSessions({ session: session.id });
      const events: RecordingEvent[] = [];
      for await (const e of reader.readEvents(session.id)) events.push(e);
      // session.start, 3 statements of 4 events each plus their row batches (3 + 4 + 1), session.end
      t.equal(events.length, 1 + 3 * 4 + 8 + 1, 'every event is present');
      t.same(
        events.filter((e) => e.type === 'statement').map((e) => e.statementId),
        ['before', 'during', 'after'],
      );
      t.same(
        events
          .filter((e) => e.type === 'result.rows' && e.statementId === 'during')
          .flatMap((e) => e.rows as unknown[]),
        Array.from({ length: 33 }, (_, i) => [i]),
        'the rows recorded during the outage are all there, in order',
      );
      t.match(
        await verifyChain(session.id, events, { events: summary?.events, lastHash: summary?.lastHash }),
        { ok: true },
      );
      t.ok(
        lines.some((l) => /reachable again/.test(l.msg)),
        'the recovery is logged',
      );
    },
  );
}
