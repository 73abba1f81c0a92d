/**
 * The Postgres listener's target-to-client relay (BackendRelay) on its own, for the masking bench:
 * a result stream pushed in 64 KiB chunks as a socket delivers them, the client's bytes counted.
 * Masking comes from a plan decided before (as for a statement of a known shape), recording is
 * off (the null recorder: rows are only counted), so what is timed is the relay's own work.
 */
import { commandComplete, readyForQuery, rowDescription } from '../protocols/postgres/codec/index.js';
import type { WireSession } from '../src/gateway/gateway.js';
import { GatewayMetrics } from '../src/gateway/metrics.js';
import { BackendRelay } from '../src/gateway/postgres/backend-relay.js';
import { ExpectationQueue } from '../src/gateway/postgres/expectation-queue.js';
import type { StatementRun } from '../src/gateway/postgres/session-state.js';
import type { WireMasking } from '../src/gateway/postgres/wire-masking.js';
import type { ResultColumn } from '../src/gateway/types.js';
import type { WireRowMasker } from '../src/masking/stage.js';
import { nullSessionRecorder } from '../src/recording/null-recorder.js';

const CHUNK = 64 * 1024;

/** The rows as a whole simple-Query answer, split into the chunks a socket would deliver. */
export function resultChunks(columns: readonly ResultColumn[], rows: Buffer): Buffer[] {
  const head = rowDescription(columns.map((c) => ({ name: c.name, typeOid: c.typeOid ?? 25 })));
  const whole = Buffer.concat([head, rows, commandComplete('SELECT 1'), readyForQuery('I')]);
  const chunks: Buffer[] = [];
  for (let at = 0; at < whole.length; at += CHUNK) chunks.push(Buffer.from(whole.subarray(at, at + CHUNK)));
  return chunks;
}

/**
 * Relays the chunks once with `masker` (null: no masking); resolves to the bytes the client got.
 * The relay pauses the target every 20,000 rows until the recorder has caught up (here at once,
 * a turn later): chunks are pushed while it is not paused, as a socket delivers them.
 */
export function relayOnce(chunks: readonly Buffer[], masker: WireRowMasker | null): Promise<number> {
  let bytes = 0;
  let next = 0;
  let paused = false;
  let done: (bytes: number) => void = () => {};
  let failed: (err: Error) => void = () => {};
  const finished = new Promise<number>((resolve, reject) => {
    done = resolve;
    failed = reject;
  });
  const queue = new ExpectationQueue();
  const run: StatementRun = {
    statementId: 's1',
    sql: 'SELECT * FROM customers',
    verdict: { action: 'allow', reason: '', rule: '', statements: [] },
    startedAt: 0,
    cancelled: false,
  };
  queue.push({ kind: 'query', run });
  const session = {
    recording: nullSessionRecorder,
    context: { channel: 'postgres' },
    metrics,
  } as unknown as WireSession;
  const masking: WireMasking = {
    plan: async () => masker,
    cachedPlan: () => masker,
    declaredCursors: async () => [],
    precheck: async () => undefined,
    masksAnything: async () => masker !== null,
    errorScreen: async () => null,
  };
  const relay = new BackendRelay({
    session,
    masking,
    queue,
    // A client that keeps up: each write is done at once.
    writeClient: (out, written) => {
      bytes += out.length;
      written?.();
      return true;
    },
    whenClientDrained: (resume) => resume(),
    pauseTarget: () => {
      paused = true;
    },
    resumeTarget: () => {
      paused = false;
      deliver();
    },
    copyIn: () => {},
    runEnded: () => done(bytes),
    fail: (err) => failed(err),
    targetEnding: () => {},
    cancelTarget: () => {},
    recordingWritten: async () => undefined,
    now: () => 0,
  });
  const deliver = (): void => {
    while (!paused && next < chunks.length) relay.push(chunks[next++] as Buffer);
  };
  deliver();
  return finished;
}

const metrics = new GatewayMetrics({ openSessions: () => 0, recorder: () => undefined });
