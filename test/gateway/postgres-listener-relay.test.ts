import t from 'tap';
import {
  commandComplete,
  dataRow,
  readyForQuery,
  rowDescription,
} from '../../protocols/postgres/codec/index.js';
import type { ResultColumn } from '../../src/gateway/types.js';
import { MaskingPlan } from '../../src/masking/plan.js';
import { PostgresRowMasker } from '../../src/masking/postgres-row.js';
import type { WireRowMasker } from '../../src/masking/stage.js';
import { compileStrategy } from '../../src/masking/strategies.js';
import { compiledPolicy } from '../masking/fixtures/shop.js';
import { GatewayMetrics } from '../../src/gateway/metrics.js';
import type { WireSession } from '../../src/gateway/gateway.js';
import { BackendRelay } from '../../src/gateway/postgres/backend-relay.js';
import { ExpectationQueue } from '../../src/gateway/postgres/expectation-queue.js';
import type { StatementRun } from '../../src/gateway/postgres/session-state.js';
import type { WireMasking } from '../../src/gateway/postgres/wire-masking.js';

/**
 * The relay's framing on its own: a result stream split into chunks at every size and offset
 * must come out as the same messages, masked rows rewritten, with nothing lost or reordered.
 */

/** Masks field 1 of every row: its text is replaced by as many 'x' (a rewrite that keeps lengths varied). */
class FakeMasker {
  readonly dialect = 'postgres';
  readonly masked = [false, true];
  consumed = 0;
  rows = 0;
  changedRows = 0;

  maskDataRow(message: Buffer): Buffer {
    const fields: (string | null)[] = [];
    let pos = 7;
    for (let i = 0; i < message.readInt16BE(5); i++) {
      const len = message.readInt32BE(pos);
      pos += 4;
      fields.push(len < 0 ? null : message.toString('utf8', pos, pos + len));
      pos += Math.max(len, 0);
    }
    if (fields[1] === null || fields[1] === undefined) return message;
    return dataRow([fields[0] ?? null, `<${'x'.repeat((fields[1]?.length ?? 0) % 7)}>`]);
  }

  /** The run contract of PostgresRowMasker.maskRowsInto, row by row with maskDataRow. */
  maskRowsInto(
    buf: Buffer,
    start: number,
    end: number,
    out: Buffer,
    offset: number,
    maxRows: number,
  ): number {
    let r = start;
    let w = offset;
    let rows = 0;
    while (rows < maxRows && r + 5 <= end && buf[r] === 0x44) {
      const size = buf.readInt32BE(r + 1) + 1;
      if (r + size > end) break;
      const row = this.maskDataRow(buf.subarray(r, r + size));
      if (w + row.length > out.length) break;
      w += row.copy(out, w);
      r += size;
      rows++;
    }
    this.consumed = r - start;
    this.rows = rows;
    this.changedRows = rows;
    return w;
  }
}
const fakeMasker = new FakeMasker() as unknown as WireRowMasker;

function stream(rows: number, masker: WireRowMasker = fakeMasker): { input: Buffer; expected: Buffer } {
  const head = rowDescription([
    { name: 'id', typeOid: 23 },
    { name: 'secret', typeOid: 25 },
  ]);
  const input: Buffer[] = [head];
  const expected: Buffer[] = [head];
  for (let i = 0; i < rows; i++) {
    const secret = i % 5 === 0 ? null : `secret-${i}-${'s'.repeat(i % 300)}`;
    const row = dataRow([String(i), secret]);
    input.push(row);
    expected.push(masker.dialect === 'postgres' ? masker.maskDataRow(row) : row);
  }
  const tail = [commandComplete(`SELECT ${rows}`), readyForQuery('I')];
  return { input: Buffer.concat([...input, ...tail]), expected: Buffer.concat([...expected, ...tail]) };
}

function relayThrough(
  input: Buffer,
  split: (remaining: number, index: number) => number,
  masker: WireRowMasker = fakeMasker,
  /** Keep what the relay wrote as given (no copy) and say it is written a turn later, as a socket does. */
  asSocket = false,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const queue = new ExpectationQueue();
    const run: StatementRun = {
      statementId: 's1',
      sql: 'SELECT id, secret FROM t',
      verdict: { action: 'allow', reason: '', rule: '', statements: [] },
      startedAt: 0,
      cancelled: false,
    };
    queue.push({ kind: 'query', run });
    const recorded: unknown[][] = [];
    const session = {
      recording: {
        onColumns() {},
        onRows(_id: string, rows: unknown[][]) {
          recorded.push(...rows);
        },
        onResultEnd() {},
        onError() {},
      },
      context: { channel: 'postgres' },
      metrics: new GatewayMetrics({ openSessions: () => 0, recorder: () => undefined }),
    } as unknown as WireSession;
    const masking: WireMasking = {
      plan: () => new Promise((r) => setTimeout(() => r(masker), 1)),
      // Never cached: every result waits for its plan, which is what this test exercises.
      cachedPlan: () => undefined,
      declaredCursors: async () => [],
      precheck: async () => undefined,
      masksAnything: async () => true,
      errorScreen: async () => null,
    };
    let paused = false;
    const pending: Buffer[] = [];
    let next = 0;
    const relay = new BackendRelay({
      session,
      masking,
      queue,
      writeClient: (bytes, written) => {
        out.push(asSocket ? bytes : Buffer.from(bytes));
        if (asSocket && written !== undefined) setImmediate(written);
        return true;
      },
      whenClientDrained: (resume) => resume(),
      pauseTarget: () => {
        paused = true;
      },
      resumeTarget: () => {
        paused = false;
        while (!paused && next < pending.length) relay.push(pending[next++] as Buffer);
      },
      copyIn: () => {},
      runEnded: () => setImmediate(() => resolve(Buffer.concat(out))),
      fail: reject,
      targetEnding: () => {},
      cancelTarget: () => {},
      recordingWritten: async () => undefined,
      now: () => 0,
    });
    let at = 0;
    let index = 0;
    while (at < input.length) {
      const n = Math.max(1, Math.min(split(input.length - at, index++), input.length - at));
      const chunk = Buffer.from(input.subarray(at, at + n));
      at += n;
      // A paused socket delivers nothing: chunks wait as they would in the kernel.
      if (paused || next < pending.length) pending.push(chunk);
      else relay.push(chunk);
    }
  });
}

t.test('a masked result split into chunks of every size from 1 to 64 bytes comes out whole', async (t) => {
  const { input, expected } = stream(200);
  for (let size = 1; size <= 64; size++) {
    const out = await relayThrough(input, () => size);
    if (!out.equals(expected)) {
      t.fail(`chunks of ${size} bytes`);
      return;
    }
  }
  t.pass('every chunk size');
});

t.test('a masked result split at random offsets comes out whole', async (t) => {
  const { input, expected } = stream(3000);
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  for (let round = 0; round < 10; round++) {
    const max = [3, 17, 700, 16_384, 65_536][round % 5] as number;
    const out = await relayThrough(input, () => 1 + (random() % max));
    t.ok(out.equals(expected), `round ${round}, chunks up to ${max} bytes`);
  }
});

t.test(
  'with the real masker (runs of rows through the WebAssembly kernel), chunks of any size',
  async (t) => {
    const columns: ResultColumn[] = [
      { name: 'id', type: 'int4', typeOid: 23 },
      { name: 'secret', type: 'text', typeOid: 25 },
    ];
    const plan = new MaskingPlan(
      [null, { kind: 'mask', strategy: compileStrategy('partial', 3, Buffer.from('k')), because: 's' }],
      compiledPolicy(),
    );
    const masker = new PostgresRowMasker(plan, columns);
    const { input, expected } = stream(2000, new PostgresRowMasker(plan, columns));
    t.not(input.equals(expected), true, 'the secrets are masked');
    for (const size of [1, 2, 5, 7, 64, 333, 4096, 65_536]) {
      const out = await relayThrough(input, () => size, masker);
      t.ok(out.equals(expected), `chunks of ${size} bytes`);
    }
  },
);

t.test('run buffers are used again only once the client has written them', async (t) => {
  const columns: ResultColumn[] = [
    { name: 'id', type: 'int4', typeOid: 23 },
    { name: 'secret', type: 'text', typeOid: 25 },
  ];
  const plan = new MaskingPlan(
    [null, { kind: 'mask', strategy: compileStrategy('redact', 0, Buffer.from('k')), because: 's' }],
    compiledPolicy(),
  );
  const { input, expected } = stream(30_000, new PostgresRowMasker(plan, columns));
  // The views the relay wrote are compared after the whole result: a buffer taken back before
  // its write was done would show other rows in them.
  for (const size of [4096, 65_536]) {
    const out = await relayThrough(input, () => size, new PostgresRowMasker(plan, columns), true);
    t.ok(out.equals(expected), `chunks of ${size} bytes`);
  }
});
