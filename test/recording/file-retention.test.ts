import t from 'tap';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import { verifyChain } from '../../src/recording/chain.js';
import { createRecorder } from '../../src/recording/create.js';
import { FileEventStore, FileRecordingReader, sessionFileName } from '../../src/recording/file-store.js';
import { sweepRecordingDir } from '../../src/recording/file-retention.js';
import { ChainedSessionRecorder, DEFAULT_SESSION_LIMITS } from '../../src/recording/session-recorder.js';
import type { RecordingEvent, SealedEvent } from '../../src/recording/types.js';
import { sessionContext } from './fixtures/helpers.js';

const DAY = 86_400_000;
/** The fake "now" of these tests: far from the real clock, so nothing passes by accident. */
const NOW = Date.UTC(2030, 0, 31);

/** A session's events, all stamped at `at`; `ended: false` leaves it open. */
function session(id: string, at: number, options: { ended?: boolean; rows?: number } = {}): SealedEvent[] {
  const events: SealedEvent[] = [];
  const sink = { accepting: () => true, enqueue: (e: SealedEvent) => events.push(e), noteDropped: () => {} };
  const rec = new ChainedSessionRecorder(
    sessionContext({ id }),
    at,
    sink,
    DEFAULT_SESSION_LIMITS,
    () => at,
    () => {},
  );
  rec.onStatement({ statementId: 'q', sql: 'select 1' });
  if (options.rows !== undefined) {
    rec.onColumns({ statementId: 'q', columns: [{ name: 'x', type: 'text', masked: false }] });
    rec.onRows(
      'q',
      Array.from({ length: options.rows }, (_, i) => [`row ${i}`]),
    );
    rec.onResultEnd({
      statementId: 'q',
      rowCount: options.rows,
      truncated: false,
      command: 'SELECT 1',
      durationMs: 1,
    });
  }
  if (options.ended !== false) rec.onSessionEnd({ reason: 'done' });
  return events;
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'sluice-rec-retention-'));
}

function setMtime(dir: string, id: string, at: number): void {
  utimesSync(join(dir, sessionFileName(id)), at / 1000, at / 1000);
}

async function collect(iter: AsyncIterable<RecordingEvent>): Promise<RecordingEvent[]> {
  const out: RecordingEvent[] = [];
  for await (const e of iter) out.push(e);
  return out;
}

function indexIds(dir: string): string[] {
  return readFileSync(join(dir, 'index.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { id: string }).id);
}

t.test('finished sessions older than the retention are deleted and dropped from the index', async (t) => {
  const dir = tempDir();
  const store = new FileEventStore(dir);
  await store.append(session('old', NOW - 40 * DAY));
  await store.append(session('recent', NOW - 2 * DAY));
  await store.close();

  const result = await sweepRecordingDir(
    dir,
    { retentionMs: 30 * DAY, clock: () => NOW },
    new Set(),
    sessionFileName,
  );
  t.same(result.deleted, ['old.jsonl']);
  t.notOk(existsSync(join(dir, 'old.jsonl')));
  t.same(indexIds(dir), ['recent', 'recent'], 'its start and end lines are left');
  t.same(readdirSync(dir).sort(), ['index.jsonl', 'recent.jsonl'], 'no temporary file or lock left behind');

  const reader = new FileRecordingReader(dir);
  t.match(await reader.listSessions({}), [{ id: 'recent', events: 3, endedAt: NOW - 2 * DAY }]);
  t.equal((await reader.listSessions({})).length, 1);
  const events = await collect(reader.readEvents('recent'));
  t.match(await verifyChain('recent', events, { events: 3 }), { ok: true }, 'what is kept still verifies');
  await t.rejects(collect(reader.readEvents('old')), { code: 'ERR_RECORDING_NOT_FOUND' });
});

t.test('a session still being written is never deleted, however old its last event', async (t) => {
  const dir = tempDir();
  let now = NOW;
  const store = new FileEventStore(dir, { retentionMs: 30 * DAY, clock: () => now });
  const open = session('open-here', NOW - 60 * DAY, { ended: false });
  await store.append(open);
  setMtime(dir, 'open-here', NOW - 60 * DAY);
  const result = await store.sweep();
  t.same(result.deleted, []);
  t.ok(existsSync(join(dir, 'open-here.jsonl')));
  t.equal(
    Math.round(statSync(join(dir, sessionFileName('open-here'))).mtimeMs),
    NOW,
    'its file is marked alive, so other processes sharing the directory leave it too',
  );
  now += 31 * DAY;
  t.same((await store.sweep()).deleted, [], 'still open a month later');
  await store.close();
});

t.test('a session without an end is judged by its file time: fresh kept, abandoned deleted', async (t) => {
  const dir = tempDir();
  const writer = new FileEventStore(dir);
  await writer.append(session('other-process', NOW - 40 * DAY, { ended: false }));
  await writer.append(session('crashed', NOW - 40 * DAY, { ended: false }));
  // Another process writing 'other-process' refreshed its file; nobody touched 'crashed'.
  setMtime(dir, 'other-process', NOW - 3_600_000);
  setMtime(dir, 'crashed', NOW - 31 * DAY);
  const result = await sweepRecordingDir(
    dir,
    { retentionMs: 30 * DAY, clock: () => NOW },
    new Set(),
    sessionFileName,
  );
  t.same(result.deleted, ['crashed.jsonl']);
  t.same(indexIds(dir), ['other-process']);
  const listed = await new FileRecordingReader(dir).listSessions({});
  t.match(listed, [{ id: 'other-process', events: 2 }], 'counted from its file, as before');
  t.equal(listed.length, 1);
});

t.test('past maxBytes the oldest finished sessions go first, open ones stay', async (t) => {
  const dir = tempDir();
  const store = new FileEventStore(dir);
  await store.append(session('first', NOW - 3 * DAY, { rows: 200 }));
  await store.append(session('second', NOW - 2 * DAY, { rows: 200 }));
  await store.append(session('third', NOW - 1 * DAY, { rows: 200 }));
  await store.append(session('running', NOW - 5 * DAY, { ended: false, rows: 200 }));
  await store.close();
  const size = (id: string): number => statSync(join(dir, sessionFileName(id))).size;
  const cap = size('third') + size('second') + size('running');

  const result = await sweepRecordingDir(
    dir,
    { retentionMs: 30 * DAY, maxBytes: cap, clock: () => NOW },
    new Set([sessionFileName('running')]),
    sessionFileName,
  );
  t.same(result.deleted, ['first.jsonl']);
  t.equal(result.bytes, cap);

  const tighter = await sweepRecordingDir(
    dir,
    { retentionMs: 30 * DAY, maxBytes: 1, clock: () => NOW },
    new Set([sessionFileName('running')]),
    sessionFileName,
  );
  t.same(tighter.deleted, ['second.jsonl', 'third.jsonl'], 'every finished one, never the open one');
  t.same(indexIds(dir), ['running']);
});

t.test('writing past a tenth of maxBytes starts a pass by itself', async (t) => {
  const scratch = tempDir();
  await new FileEventStore(scratch).append(session('probe', NOW, { rows: 200 }));
  const one = statSync(join(scratch, 'probe.jsonl')).size;

  const dir = tempDir();
  const store = new FileEventStore(dir, {
    retentionMs: 30 * DAY,
    maxBytes: Math.floor(one * 1.5),
    clock: () => NOW,
  });
  await store.append(session('a', NOW - 3 * DAY, { rows: 200 }));
  await store.sweep(); // the pass that write started (or the one at start): one session fits
  t.ok(existsSync(join(dir, 'a.jsonl')));
  await store.append(session('b', NOW - 2 * DAY, { rows: 200 }));
  await store.close(); // waits for the pass that write started
  t.notOk(existsSync(join(dir, 'a.jsonl')), 'the older one was deleted');
  t.ok(existsSync(join(dir, 'b.jsonl')), 'the newer one fits');
});

t.test(
  'a sweep leaves alone a directory another process is sweeping, and takes over a stale lock',
  async (t) => {
    const dir = tempDir();
    const store = new FileEventStore(dir);
    await store.append(session('old', NOW - 40 * DAY));
    writeFileSync(join(dir, 'index.jsonl.lock'), '12345');
    const real = Date.now();
    utimesSync(join(dir, 'index.jsonl.lock'), (real - 60_000) / 1000, (real - 60_000) / 1000);
    const retention = { retentionMs: 30 * DAY, clock: () => NOW };
    t.match(await sweepRecordingDir(dir, retention, new Set(), sessionFileName), {
      locked: true,
      deleted: [],
    });
    t.ok(existsSync(join(dir, 'old.jsonl')));

    utimesSync(join(dir, 'index.jsonl.lock'), (real - DAY) / 1000, (real - DAY) / 1000);
    // A temporary index left by a sweep that crashed before its rename.
    writeFileSync(join(dir, 'index.jsonl.999-abc.tmp'), '{"id":"half');
    t.match(await sweepRecordingDir(dir, retention, new Set(), sessionFileName), {
      locked: false,
      deleted: ['old.jsonl'],
    });
    t.same(readdirSync(dir).sort(), ['index.jsonl']);
    t.same(indexIds(dir), []);
  },
);

t.test('an index line that does not parse, and one whose session file is gone, are dropped', async (t) => {
  const dir = tempDir();
  const store = new FileEventStore(dir);
  await store.append(session('kept', NOW - DAY));
  await store.append(session('lost', NOW - DAY));
  // What a writer that crashed mid-line leaves, once the next writer ended the line.
  writeFileSync(join(dir, 'index.jsonl'), '{"id":"to\n' + readFileSync(join(dir, 'index.jsonl'), 'utf8'));
  unlinkSync(join(dir, 'lost.jsonl'));
  await sweepRecordingDir(dir, { retentionMs: 30 * DAY, clock: () => NOW }, new Set(), sessionFileName);
  t.same(indexIds(dir), ['kept', 'kept']);
  t.match(await new FileRecordingReader(dir).listSessions({}), [{ id: 'kept', events: 3 }]);
});

t.test('sessions written while two processes sweep the same directory all stay listed', async (t) => {
  const dir = tempDir();
  // The real clock here: a file another process is writing is judged by its time until its index
  // lines are written, and a fresh file's time is the real now.
  const NOW = Date.now();
  // Two stores on one directory stand for two worker processes; each sweeps while both write.
  const retention = { retentionMs: 30 * DAY, clock: () => NOW };
  const one = new FileEventStore(dir, retention);
  const two = new FileEventStore(dir, retention);
  // Expired sessions keep arriving, so that every pass rewrites the index while others append.
  const late = new FileEventStore(dir);
  const written: string[] = [];
  const work: Promise<unknown>[] = [];
  for (let i = 0; i < 80; i++) {
    const id = `s-${i}`;
    written.push(id);
    work.push((i % 2 === 0 ? one : two).append(session(id, NOW - DAY)));
    work.push(late.append(session(`expired-${i}`, NOW - 40 * DAY)));
    if (i % 4 === 0) work.push((i % 8 === 0 ? one : two).sweep().catch(() => undefined));
  }
  await Promise.all(work);
  await one.sweep();
  await Promise.all([one.close(), two.close()]);
  const listed = await new FileRecordingReader(dir).listSessions({});
  t.same(listed.map((s) => s.id).sort(), written.sort(), 'every session written is listed once');
  t.ok(
    listed.every((s) => s.endedAt === NOW - DAY && s.events === 3),
    'with its end',
  );
  t.same(
    readdirSync(dir).filter((n) => n.startsWith('expired-')),
    [],
    'the last pass deleted every expired one',
  );
});

t.test('the recorder the config asks for applies recording.retention to files at start', async (t) => {
  const dir = tempDir();
  const seed = new FileEventStore(join(dir, 'recordings'));
  await seed.append(session('old', Date.now() - 40 * DAY));
  await seed.append(session('recent', Date.now() - DAY));
  const config = parseConfigText(
    `
targets: {}
policies: []
recording: { store: file, retention: 30d, file: { dir: recordings, maxBytes: 10GiB } }
`,
    { baseDir: dir, env: {} },
  );
  t.equal(config.recording.file.maxBytes, 10 * 2 ** 30);
  const recorder = createRecorder(config, pino({ level: 'silent' }));
  await new Promise((resolve) => setTimeout(resolve, 200));
  await recorder.close();
  t.same(readdirSync(join(dir, 'recordings')).sort(), ['index.jsonl', 'recent.jsonl']);
});

t.test('recording.file.maxBytes takes a number of bytes or a size with a unit, nothing else', async (t) => {
  const parse = (maxBytes: string) =>
    parseConfigText(
      `targets: {}\npolicies: []\nrecording: { store: file, file: { maxBytes: ${maxBytes} } }\n`,
      {
        baseDir: tempDir(),
        env: {},
      },
    ).recording.file.maxBytes;
  t.equal(parse('1048576'), 1_048_576);
  t.equal(parse('500MB'), 500_000_000);
  t.equal(parse('1.5GiB'), 1.5 * 2 ** 30);
  t.throws(() => parse('lots'), /maxBytes/);
  t.throws(() => parse('0'), /maxBytes/);
});

t.test('passes repeat on a timer (every half retention when that is under an hour)', async (t) => {
  const dir = tempDir();
  let now = NOW;
  const store = new FileEventStore(dir, { retentionMs: 2_000, clock: () => now });
  t.teardown(() => store.close());
  await store.append(session('short-lived', NOW));
  await store.sweep(); // nothing is old yet
  t.ok(existsSync(join(dir, 'short-lived.jsonl')));
  now += 5_000;
  for (let i = 0; i < 40 && existsSync(join(dir, 'short-lived.jsonl')); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.notOk(existsSync(join(dir, 'short-lived.jsonl')), 'the next timed pass deleted it');
});
