import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storedJson, verifyChain } from '../../src/recording/chain.js';
import { FileEventStore, FileRecordingReader, sessionFileName } from '../../src/recording/file-store.js';
import { ChainedSessionRecorder, DEFAULT_SESSION_LIMITS } from '../../src/recording/session-recorder.js';
import type { RecordingEvent, SealedEvent } from '../../src/recording/types.js';
import { sessionContext } from './fixtures/helpers.js';

function sealed(sessionId: string, build: (rec: ChainedSessionRecorder) => void): SealedEvent[] {
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
  build(rec);
  return events;
}

async function collect(iter: AsyncIterable<RecordingEvent>): Promise<RecordingEvent[]> {
  const out: RecordingEvent[] = [];
  for await (const e of iter) out.push(e);
  return out;
}

t.test('a retried batch is not appended twice', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-rec-file-'));
  const store = new FileEventStore(dir);
  const events = sealed('s-1', (rec) => {
    rec.onStatement({ statementId: 'q', sql: 'select 1' });
    rec.onSessionEnd({ reason: 'done' });
  });
  await store.append(events.slice(0, 2));
  await store.append(events);
  await store.close();
  const reader = new FileRecordingReader(dir);
  const read = await collect(reader.readEvents('s-1'));
  t.same(
    read.map((e) => e.seq),
    [1, 2, 3],
  );
  t.match(await verifyChain('s-1', read), { ok: true });
  t.equal(
    readFileSync(join(dir, 's-1.jsonl'), 'utf8').split('\n')[0],
    storedJson(events[0]?.body ?? Buffer.alloc(0), events[0]?.hash ?? '').toString(),
  );
  t.match(await reader.listSessions({}), [{ id: 's-1', events: 3, endedAt: 2000 }]);
  await reader.close();
});

t.test('a session id cannot choose the path of its file', async (t) => {
  t.equal(
    sessionFileName('0b6e1c5e-2a4f-4c1e-9b7a-4f7d8f1e2a3b'),
    '0b6e1c5e-2a4f-4c1e-9b7a-4f7d8f1e2a3b.jsonl',
  );
  for (const hostile of ['../../etc/passwd', '.hidden', 'index', 'a/b', '']) {
    t.match(sessionFileName(hostile), /^[0-9a-f]{64}\.jsonl$/, JSON.stringify(hostile));
  }
  const dir = mkdtempSync(join(tmpdir(), 'sluice-rec-file-'));
  const store = new FileEventStore(dir);
  await store.append(sealed('../escape', () => {}));
  t.same(
    readdirSync(dir).filter((f) => f !== 'index.jsonl'),
    [sessionFileName('../escape')],
  );
  const reader = new FileRecordingReader(dir);
  t.equal((await collect(reader.readEvents('../escape'))).length, 1);
});

t.test('listing an empty or torn index works, and a missing session is a coded error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-rec-file-'));
  const reader = new FileRecordingReader(dir);
  t.same(await reader.listSessions({}), [], 'no index yet');
  const store = new FileEventStore(dir);
  await store.append(sealed('s-2', () => {}));
  writeFileSync(join(dir, 'index.jsonl'), readFileSync(join(dir, 'index.jsonl'), 'utf8') + '{"id":"torn');
  t.match(await reader.listSessions({}), [{ id: 's-2', events: 1 }], 'a torn last line is skipped');
  await t.rejects(collect(reader.readEvents('nope')), { code: 'ERR_RECORDING_NOT_FOUND' });
});
