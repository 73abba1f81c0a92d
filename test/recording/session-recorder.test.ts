import t from 'tap';
import { storedJson, verifyChain } from '../../src/recording/chain.js';
import { DEFAULT_QUEUE_OPTIONS } from '../../src/recording/queue.js';
import { ChainedRecorder } from '../../src/recording/recorder.js';
import { DEFAULT_SESSION_LIMITS } from '../../src/recording/session-recorder.js';
import { NullRecorder } from '../../src/recording/null-recorder.js';
import type { RecordingEvent } from '../../src/recording/types.js';
import { MemoryEventStore, capturingLogger, sessionContext } from './fixtures/helpers.js';

function setup(
  opts: {
    policy?: 'refuse' | 'continue';
    maxEvents?: number;
    batchRows?: number;
    batchBytes?: number;
    maxQueued?: number;
  } = {},
) {
  const store = new MemoryEventStore();
  const { logger, lines } = capturingLogger();
  let now = 1_700_000_000_000;
  const recorder = new ChainedRecorder(
    store,
    {
      queue: {
        ...DEFAULT_QUEUE_OPTIONS,
        policy: opts.policy ?? 'refuse',
        maxEvents: opts.maxQueued ?? 1000,
        retryDelayMs: 5,
        maxRetryDelayMs: 20,
      },
      session: {
        ...DEFAULT_SESSION_LIMITS,
        maxEvents: opts.maxEvents ?? 1000,
        batchRows: opts.batchRows ?? 3,
        batchBytes: opts.batchBytes ?? 1 << 20,
      },
      closeTimeoutMs: 200,
      clock: () => now++,
    },
    logger,
  );
  const parsed = (): RecordingEvent[] =>
    store.events.map((e) => JSON.parse(storedJson(e.body, e.hash).toString()) as RecordingEvent);
  return { store, recorder, lines, parsed };
}

t.test('a session records every step in order as one valid chain', async (t) => {
  const { recorder, parsed } = setup();
  const session = sessionContext();
  const rec = recorder.startSession({ session, startedAt: 42 });
  rec.onStatement({ statementId: 'q1', sql: 'select id, email from customers where id = $1', params: [7n] });
  rec.onDecision({
    statementId: 'q1',
    action: 'allow',
    reason: 'read is allowed',
    rule: 'agents: allow read',
    effects: ['read'],
    objects: ['public.customers'],
  });
  rec.onApproval({ statementId: 'q1', requestId: 'r1', state: 'approved', by: 'dba-ann' });
  rec.onColumns({
    statementId: 'q1',
    columns: [
      { name: 'id', type: 'int4', masked: false },
      { name: 'email', type: 'text', masked: true },
    ],
  });
  rec.onRows('q1', [
    [1, 'a***@x.com'],
    [2, 'b***@x.com'],
  ]);
  rec.onRows('q1', [
    [3, null],
    [4, Buffer.from([0xff])],
  ]);
  rec.onResultEnd({ statementId: 'q1', rowCount: 4, truncated: false, command: 'SELECT 4', durationMs: 3.5 });
  rec.onError({ statementId: 'q2', code: 'ERR_GUARD_DENY', message: 'ddl is denied' });
  rec.onSessionEnd({ reason: 'client closed' });
  rec.onStatement({ statementId: 'late', sql: 'select 1' });
  await recorder.flush();

  const events = parsed();
  t.same(
    events.map((e) => e.type),
    [
      'session.start',
      'statement',
      'decision',
      'approval',
      'result.columns',
      'result.rows',
      'result.rows',
      'result.end',
      'error',
      'session.end',
    ],
    'nothing is recorded after session.end',
  );
  t.match(events[0], {
    seq: 1,
    ts: 42,
    session: session.id,
    subject: 'agent-7',
    groups: ['ai-agents'],
    issuer: 'https://idp.example.com',
    target: 'orders',
    channel: 'mcp-http',
    remote: '127.0.0.1:50000',
  });
  t.same(events[1]?.params, ['7'], 'a bigint parameter is recorded as a decimal string');
  t.same(
    events[5]?.rows,
    [
      [1, 'a***@x.com'],
      [2, 'b***@x.com'],
      [3, null],
    ],
    'rows are batched at batchRows',
  );
  t.equal(events[5]?.offset, 0);
  t.same(events[6]?.rows, [[4, '/w==']], 'a Buffer is recorded as base64');
  t.equal(events[6]?.offset, 3, 'each batch says where it starts in the result');
  t.match(events[9], { reason: 'client closed', events: 10 });
  t.same(
    events.map((e) => e.seq),
    events.map((_, i) => i + 1),
  );
  t.match(await verifyChain(session.id, events), { ok: true, events: 10 });
});

t.test('rows are copied on arrival, so a caller reusing its arrays cannot alter the record', async (t) => {
  const { recorder, parsed } = setup({ batchRows: 100 });
  const rec = recorder.startSession({ session: sessionContext() });
  const row = ['original'];
  rec.onRows('q1', [row]);
  row[0] = 'changed';
  await recorder.flush();
  t.same(parsed()[1]?.rows, [['original']], 'flush() seals rows still being gathered');
});

t.test('a batch is sealed once it reaches batchBytes', async (t) => {
  const { recorder, parsed } = setup({ batchRows: 1000, batchBytes: 100 });
  const rec = recorder.startSession({ session: sessionContext() });
  for (let i = 0; i < 10; i++) rec.onRows('q1', [['x'.repeat(40)]]);
  rec.onRows('q1', []);
  rec.onResultEnd({ statementId: 'q1', rowCount: 10, truncated: false, command: 'SELECT 10', durationMs: 1 });
  await recorder.flush();
  const batches = parsed().filter((e) => e.type === 'result.rows');
  t.equal(batches.length, 4, 'three 45-byte rows pass the 100-byte bound: 3 + 3 + 3 + 1');
  t.equal(
    batches.reduce((n, e) => n + (e.rows as unknown[]).length, 0),
    10,
  );
});

t.test('one large onRows call overshoots batchBytes by at most one 32-row chunk', async (t) => {
  const { recorder, parsed } = setup({ batchRows: 1000, batchBytes: 100 });
  const rec = recorder.startSession({ session: sessionContext() });
  rec.onRows(
    'q1',
    Array.from({ length: 100 }, (_, i) => [i, 'x'.repeat(40)]),
  );
  await recorder.flush();
  const sizes = parsed()
    .filter((e) => e.type === 'result.rows')
    .map((e) => (e.rows as unknown[]).length);
  t.same(sizes, [32, 32, 32, 4]);
});

t.test('rows of a new statement start a new batch', async (t) => {
  const { recorder, parsed } = setup({ batchRows: 100 });
  const rec = recorder.startSession({ session: sessionContext() });
  rec.onRows('q1', [[1]]);
  rec.onRows('q2', [[2]]);
  await recorder.flush();
  t.same(
    parsed()
      .filter((e) => e.type === 'result.rows')
      .map((e) => [e.statementId, e.rows]),
    [
      ['q1', [[1]]],
      ['q2', [[2]]],
    ],
  );
});

t.test('past maxEventsPerSession rows stop with one truncation error while statements go on', async (t) => {
  const { recorder, parsed } = setup({ maxEvents: 5, batchRows: 1 });
  const session = sessionContext();
  const rec = recorder.startSession({ session });
  rec.onStatement({ statementId: 'q1', sql: 'select * from big' });
  rec.onRows('q1', [[1], [2], [3], [4], [5], [6]]);
  rec.onRows('q1', [[7]]);
  rec.onResultEnd({ statementId: 'q1', rowCount: 7, truncated: false, command: 'SELECT 7', durationMs: 1 });
  rec.onStatement({ statementId: 'q2', sql: 'select 1' });
  rec.onSessionEnd({ reason: 'done' });
  await recorder.flush();
  const events = parsed();
  t.same(
    events.map((e) => e.type),
    [
      'session.start',
      'statement',
      'result.rows',
      'result.rows',
      'error',
      'result.end',
      'statement',
      'session.end',
    ],
  );
  t.match(events[4], {
    code: 'RECORDING_TRUNCATED',
    statementId: 'q1',
    message: /maxEventsPerSession \(5\)/,
  });
  t.match(await verifyChain(session.id, events), { ok: true });
});

t.test(
  'under refuse, a failing store makes ready() refuse; events are kept and written in order once it recovers',
  async (t) => {
    const { store, recorder, parsed, lines } = setup({ policy: 'refuse' });
    const session = sessionContext();
    const rec = recorder.startSession({ session });
    await recorder.flush();
    t.same(recorder.ready(), { ok: true });
    store.failing = 'connection refused';
    t.same(recorder.ready(), { ok: false, reason: 'recording store unreachable: connection refused' });
    rec.onStatement({ statementId: 'q1', sql: 'select 1' });
    rec.onRows('q1', [[1], [2], [3], [4]]);
    await new Promise((r) => setTimeout(r, 30));
    t.ok(store.appendCalls > 2, 'the queue keeps retrying');
    t.equal(store.events.length, 1);
    t.match(lines, [{ level: 40, msg: /new statements are refused/ }]);
    store.recover();
    await recorder.flush();
    t.same(recorder.ready(), { ok: true }, 'it resumes by itself');
    t.same(
      parsed().map((e) => e.seq),
      [1, 2, 3, 4],
    );
    t.match(await verifyChain(session.id, parsed()), { ok: true });
    t.match(lines, [{}, { level: 40, msg: /reachable again/ }]);
  },
);

t.test('under refuse, a queue over its bound refuses new statements but keeps every event', async (t) => {
  const { store, recorder } = setup({ policy: 'refuse', maxQueued: 3, batchRows: 1 });
  store.failing = 'down';
  const rec = recorder.startSession({ session: sessionContext() });
  rec.onRows('q1', [[1], [2], [3], [4], [5]]);
  store.failing = undefined;
  t.match(recorder.ready(), { ok: false, reason: /queue is full: 6 events/ });
  store.recover();
  await recorder.flush();
  t.equal(store.events.length, 6);
  t.same(recorder.ready(), { ok: true });
});

t.test(
  'under continue, a full queue drops events, alerts, and records the gap so the chain stays valid',
  async (t) => {
    const { store, recorder, parsed, lines } = setup({ policy: 'continue', maxQueued: 3, batchRows: 1 });
    store.failing = 'down';
    const session = sessionContext();
    const rec = recorder.startSession({ session });
    rec.onStatement({ statementId: 'q1', sql: 'select 1' });
    rec.onRows('q1', [[1], [2], [3], [4]]);
    t.same(recorder.ready(), { ok: true }, 'continue keeps serving');
    t.equal(recorder.stats().dropped, 3);
    await new Promise((r) => setTimeout(r, 20));
    store.recover();
    await recorder.flush();
    rec.onSessionEnd({ reason: 'done' });
    await recorder.flush();
    const events = parsed();
    t.same(
      events.map((e) => e.type),
      ['session.start', 'statement', 'result.rows', 'error', 'session.end'],
    );
    t.match(events[3], { code: 'RECORDING_GAP', dropped: 3 });
    t.match(await verifyChain(session.id, events), { ok: true });
    t.ok(
      lines.some((l) => l.level >= 50 && /dropped/.test(l.msg)),
      'an alert is logged at error level',
    );
    t.ok(lines.some((l) => l.level >= 50 && /serving without recording/.test(l.msg)));
  },
);

t.test('close() gives up after its timeout and reports what the store never got', async (t) => {
  const { store, recorder, lines } = setup();
  store.failing = 'down';
  recorder.startSession({ session: sessionContext() }).onRows('q', [[1]]);
  await recorder.close();
  t.same(recorder.ready(), { ok: false, reason: 'recording is closed' });
  t.ok(lines.some((l) => l.level === 50 && /never acknowledged/.test(l.msg)));
  await recorder.close();
});

t.test('the NullRecorder accepts every call and records nothing', async (t) => {
  const recorder = new NullRecorder();
  const rec = recorder.startSession();
  rec.onStatement({ statementId: 'q', sql: 'select 1' });
  rec.onRows('q', [[1]]);
  rec.onSessionEnd({ reason: 'x' });
  t.same(recorder.ready(), { ok: true });
  await recorder.flush();
  await recorder.close();
});

t.test('events are sealed after the turn that records them, in order, and flush covers them', async (t) => {
  const { store, recorder, parsed } = setup();
  const a = sessionContext();
  const b = sessionContext();
  const recA = recorder.startSession({ session: a });
  const recB = recorder.startSession({ session: b });
  recA.onStatement({ statementId: 'qa', sql: 'select 1' });
  recB.onStatement({ statementId: 'qb', sql: 'select 2' });
  const params = [7];
  recA.onStatement({ statementId: 'qa2', sql: 'select $1', params });
  t.equal(recorder.stats().queued, 5, 'counted at once: two session starts and three statements');
  // The turn that recorded them ends; their sealing runs after its I/O.
  await new Promise((r) => setImmediate(r));
  recA.onResultEnd({ statementId: 'qa', rowCount: 1, truncated: false, command: 'SELECT 1', durationMs: 1 });
  // flush() in the same turn as a recording still waits for that event.
  await recorder.flush();
  t.equal(store.events.length, 6, 'every event recorded before flush() is written');
  recA.onSessionEnd({ reason: 'done' });
  recB.onSessionEnd({ reason: 'done' });
  await recorder.flush();
  const events = parsed();
  for (const session of [a, b]) {
    const own = events.filter((e) => e.session === session.id);
    t.match(await verifyChain(session.id, own), { ok: true }, 'each chain is whole and in order');
  }
  t.same(
    events.filter((e) => e.session === a.id).map((e) => [e.seq, e.type]),
    [
      [1, 'session.start'],
      [2, 'statement'],
      [3, 'statement'],
      [4, 'result.end'],
      [5, 'session.end'],
    ],
  );
  t.match(
    events.find((e) => e.statementId === 'qa2'),
    { params: [7] },
  );
});
