/**
 * Masking on the row path, against pass-through framing measured in the same run.
 *
 *   npx tsc -p tsconfig.json --outDir dist && node dist/bench/masking.js
 *
 * A synthetic result of 100k Postgres DataRows (10 columns, mixed types, ~160 bytes a row) in one
 * stream buffer. Scenarios:
 *   (a) pass-through framing: each DataRow framed and copied into a 64 KiB output buffer (as a
 *       listener does before one socket write): the baseline of every ratio; also whole runs of
 *       rows framed and copied with one native call each (memcpy speed);
 *   (b) column masking of 3 of 10 columns (email, partial, redact): row by row in JavaScript, and
 *       in runs through the WebAssembly kernel (`maskRowsInto`, what the listener does);
 *   (c) every content detector over all 7 text columns (PII in every row, and in 1% of rows),
 *       row by row and in runs;
 *   (x) the JavaScript masker on a plan that masks nothing (walk and copy), then each rule of (b);
 *   (r) the same streams through the Postgres listener's relay in 64 KiB chunks: pass-through,
 *       (b) and (c) (bench/relay-harness.ts);
 *   (d) MCP path: each DataRow decoded to JSON values, then masked with the plan.
 * `node dist/bench/masking.js b c` runs (a) and the named scenarios only (for profiling).
 */
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { parseConfigText } from '../src/config/load.js';
import type { GuardVerdict, ResultColumn, SessionContext } from '../src/gateway/types.js';
import { createStaticCatalog } from '../src/masking/catalog.js';
import { compileMaskingPolicy } from '../src/masking/policy.js';
import { LineageMasking } from '../src/masking/stage.js';
import { type ColumnAction, MaskingPlan } from '../src/masking/plan.js';
import { compileStrategy } from '../src/masking/strategies.js';
import { PostgresRowMasker } from '../src/masking/postgres-row.js';
import { machineLine, printTable } from './machine.js';
import { relayOnce, resultChunks } from './relay-harness.js';

const ROWS = 100_000;
const RUNS = 7;

const columnNames = ['id', 'name', 'email', 'ssn', 'phone', 'city', 'note', 'amount', 'created', 'status'];
const textColumns = new Set(['name', 'email', 'ssn', 'phone', 'city', 'note', 'status']);
const columns: ResultColumn[] = columnNames.map((name, i) => ({
  name,
  type: textColumns.has(name) ? 'text' : name === 'id' ? 'int4' : name === 'amount' ? 'numeric' : 'timestamp',
  typeOid: textColumns.has(name) ? 25 : name === 'id' ? 23 : name === 'amount' ? 1700 : 1114,
  tableOid: 16400,
  columnAttr: i + 1,
}));

const notes = [
  'called about delivery',
  'prefers email contact',
  'vip since 2019',
  'no notes',
  'asked for refund',
];
const cities = ['Lisbon', 'Osaka', 'Denver', 'Nairobi', 'Tallinn'];

/** Row i; with `pii` false the email, SSN and phone columns hold look-alike values that are not PII. */
function rowValues(i: number, pii: boolean): string[] {
  return [
    String(100000 + i),
    `Customer ${i % 977}`,
    pii ? `user${i}@example.com` : `user${i} at example`,
    pii
      ? `${String(100 + (i % 800)).padStart(3, '0')}-${String(10 + (i % 89))}-${String(1000 + (i % 8999))}`
      : `ref ${1000 + (i % 8999)}`,
    pii ? `+1 415-555-${String(1000 + (i % 8999))}` : `ext ${1000 + (i % 8999)}`,
    cities[i % cities.length] as string,
    notes[i % notes.length] as string,
    `${(i % 10000) + 0.25}`,
    '2024-05-06 07:08:09',
    i % 3 === 0 ? 'active' : 'closed',
  ];
}

/** The whole result as one stream of DataRow messages; PII in one row of every `piiEvery`. */
function buildStream(piiEvery: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < ROWS; i++) {
    const fields = rowValues(i, i % piiEvery === 0).map((v) => Buffer.from(v));
    const bodyLength = 2 + fields.reduce((n, f) => n + 4 + f.length, 0);
    const msg = Buffer.allocUnsafe(1 + 4 + bodyLength);
    msg[0] = 0x44;
    msg.writeInt32BE(4 + bodyLength, 1);
    msg.writeInt16BE(fields.length, 5);
    let pos = 7;
    for (const f of fields) {
      pos = msg.writeInt32BE(f.length, pos);
      pos += f.copy(msg, pos);
    }
    parts.push(msg);
  }
  return Buffer.concat(parts);
}

/** A coalescing output buffer: rows are copied in, "written" when full. */
class Output {
  readonly buf = Buffer.allocUnsafe(64 * 1024);
  pos = 0;
  bytes = 0;
  push(msg: Buffer): void {
    if (this.pos + msg.length > this.buf.length) {
      this.bytes += this.pos;
      this.pos = 0;
    }
    this.pos += msg.copy(this.buf, this.pos);
  }
}

/** Splits the stream into messages (header only) and hands each to `each`. */
function frame(stream: Buffer, each: (msg: Buffer) => void): void {
  let pos = 0;
  while (pos + 5 <= stream.length) {
    const end = pos + 1 + stream.readInt32BE(pos + 1);
    each(stream.subarray(pos, end));
    pos = end;
  }
}

/** Decodes a text-format DataRow to JS values (as a driver would for the MCP path). */
function decodeRow(msg: Buffer, cols: readonly ResultColumn[]): unknown[] {
  const n = msg.readInt16BE(5);
  const values = new Array<unknown>(n);
  let pos = 7;
  for (let i = 0; i < n; i++) {
    const len = msg.readInt32BE(pos);
    pos += 4;
    if (len < 0) {
      values[i] = null;
      continue;
    }
    const text = msg.toString('utf8', pos, pos + len);
    pos += len;
    const oid = cols[i]?.typeOid;
    values[i] = oid === 23 ? Number(text) : text;
  }
  return values;
}

const session: SessionContext = {
  id: 'bench',
  identity: { subject: 'bench', groups: ['g'], issuer: 'bench', via: 'operator' },
  target: 't',
  dialect: 'postgres',
  channel: 'postgres',
};

function policyFor(masking: string) {
  const config = parseConfigText(`
targets:
  t: { engine: postgres, host: h, port: 5432, database: d, user: u }
masking: { hashKey: bench-key }
policies:
  - name: bench
    when: { groups: [g] }
    masking:
${masking}
`);
  return compileMaskingPolicy(
    config.policies[0] as NonNullable<(typeof config.policies)[0]>,
    config.masking.hashKey,
  );
}

async function wireMasker(masking: string): Promise<PostgresRowMasker> {
  const catalog = createStaticCatalog({
    dialect: 'postgres',
    relations: [{ schema: 'public', name: 'customers', kind: 'table', oid: 16400, columns: columnNames }],
    searchPath: ['public'],
  });
  const policy = policyFor(masking);
  const stage = new LineageMasking({
    rulesFor: () => policy,
    catalogFor: () => catalog,
    logger: pino({ level: 'silent' }),
  });
  const sql = `SELECT ${columnNames.join(', ')} FROM customers`;
  const verdict: GuardVerdict = { action: 'allow', reason: '', rule: '', statements: [] };
  const masker = await stage.planForWire(
    columns,
    { session, sql, verdict },
    columns.map(() => 0),
  );
  if (!masker || masker.dialect !== 'postgres') throw new Error('expected a Postgres row masker');
  return masker;
}

const columnRules = `      - columns: [customers.email]
        strategy: email
      - columns: [customers.ssn]
        strategy: partial
      - columns: [customers.phone]
        strategy: redact`;
const detectorRules = `      - detect: [email, credit-card, us-ssn, phone, iban, ip, bearer-token, api-key]
        strategy: redact`;

interface Scenario {
  name: string;
  run: () => void | Promise<void>;
  times: number[];
}

/** Runs the scenarios round-robin, so load from other processes falls on all of them alike. */
async function measure(scenarios: Scenario[]): Promise<void> {
  for (const s of scenarios) await s.run(); // warm-up
  for (let r = 0; r < RUNS; r++) {
    for (const s of scenarios) {
      const t0 = performance.now();
      await s.run();
      s.times.push((performance.now() - t0) / 1000);
    }
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const stream = buildStream(1);
  const sparse = buildStream(100);
  const columnMasker = await wireMasker(columnRules);
  const detectMasker = await wireMasker(detectorRules);
  const catalog = createStaticCatalog({
    dialect: 'postgres',
    relations: [{ schema: 'public', name: 'customers', kind: 'table', oid: 16400, columns: columnNames }],
    searchPath: ['public'],
  });
  const policy = policyFor(columnRules);
  const stage = new LineageMasking({
    rulesFor: () => policy,
    catalogFor: () => catalog,
    logger: pino({ level: 'silent' }),
  });
  const verdict: GuardVerdict = { action: 'allow', reason: '', rule: '', statements: [] };
  const plan = await stage.plan(columns, { session, sql: `SELECT * FROM customers`, verdict });
  if (!plan) throw new Error('expected a plan');

  /** A masker built straight from per-column actions (same policy), for the breakdown rows. */
  const key = Buffer.from('bench-key');
  const maskerFor = (actions: ColumnAction[]) =>
    new PostgresRowMasker(new MaskingPlan(actions, policy), columns);
  const onlyRule = (column: number, strategy: 'email' | 'partial' | 'redact'): ColumnAction[] =>
    columns.map((_, i) =>
      i === column ? { kind: 'mask', strategy: compileStrategy(strategy, 4, key), because: 'bench' } : null,
    );

  const relayed = resultChunks(columns, stream);
  const relayedSparse = resultChunks(columns, sparse);
  let sink = 0;
  const scenario = (name: string, run: () => void | Promise<void>): Scenario => ({ name, run, times: [] });
  /** Rows written straight into the coalescing buffer (no allocation per row). */
  const into =
    (masker: PostgresRowMasker, source = stream) =>
    () => {
      const out = new Output();
      frame(source, (msg) => {
        let next = masker.maskDataRowInto(msg, out.buf, out.pos);
        if (next < 0) {
          out.bytes += out.pos;
          out.pos = 0;
          next = masker.maskDataRowInto(msg, out.buf, 0);
        }
        out.pos = next;
      });
      sink += out.bytes;
    };
  /** Runs of rows through `maskRowsInto` (the WebAssembly kernel), 64 KiB of output at a time. */
  const runs =
    (masker: PostgresRowMasker, source = stream) =>
    () => {
      const out = Buffer.allocUnsafe(64 * 1024);
      let bytes = 0;
      let w = 0;
      let pos = 0;
      while (pos < source.length) {
        w = masker.maskRowsInto(source, pos, source.length, out, w, Number.MAX_SAFE_INTEGER);
        pos += masker.consumed;
        if (masker.consumed === 0) {
          if (w === 0) throw new Error('a row does not fit the output buffer');
          bytes += w;
          w = 0;
        }
      }
      sink += bytes + w;
    };
  const results = [
    scenario('(a) pass-through framing', () => {
      const out = new Output();
      frame(stream, (msg) => out.push(msg));
      sink += out.bytes;
    }),
    scenario('(a) runs: framed, whole runs copied', () => {
      const out = Buffer.allocUnsafe(64 * 1024);
      const set = Uint8Array.prototype.set;
      let bytes = 0;
      let w = 0;
      let pos = 0;
      const length = stream.length;
      while (pos < length) {
        // Frame every message that fits the output, then copy them as one run.
        const start = pos;
        const room = out.length - w;
        while (pos + 5 <= length) {
          const end = pos + 1 + stream.readInt32BE(pos + 1);
          if (end - start > room) break;
          pos = end;
        }
        if (pos === start) {
          bytes += w;
          w = 0;
          continue;
        }
        set.call(out, stream.subarray(start, pos), w);
        w += pos - start;
      }
      sink += bytes + w;
    }),
    scenario('(b) column masking, 3 of 10', into(columnMasker)),
    scenario('(b) runs, kernel', runs(columnMasker)),
    scenario('(b) same, maskDataRow (allocating)', () => {
      const out = new Output();
      frame(stream, (msg) => out.push(columnMasker.maskDataRow(msg)));
      sink += out.bytes;
    }),
    scenario('(c) detectors, 7 text columns', into(detectMasker)),
    scenario('(c) same, PII in 1% of rows', into(detectMasker, sparse)),
    scenario('(c) runs, kernel', runs(detectMasker)),
    scenario('(c) runs, kernel, PII in 1%', runs(detectMasker, sparse)),
    // Where the time of (b) and (c) goes: the same masker walking and checking every field of a
    // row in which nothing is masked, then copying it (as it must) into the output buffer; then
    // each of the three column rules of (b) alone.
    scenario('(x) walk + copy, nothing masked', into(maskerFor(columns.map(() => null)))),
    scenario('(x) email column only', into(maskerFor(onlyRule(2, 'email')))),
    scenario('(x) partial column only', into(maskerFor(onlyRule(3, 'partial')))),
    scenario('(x) redact column only', into(maskerFor(onlyRule(4, 'redact')))),
    // The same streams through the Postgres listener's relay, in 64 KiB chunks: what a client of
    // the listener gets, with the relay's own framing as the baseline.
    scenario('(r) relay: pass-through', async () => {
      sink += await relayOnce(relayed, null);
    }),
    scenario('(r) relay: column masking, 3 of 10', async () => {
      sink += await relayOnce(relayed, columnMasker);
    }),
    scenario('(r) relay: detectors, 7 text columns', async () => {
      sink += await relayOnce(relayed, detectMasker);
    }),
    scenario('(r) relay: detectors, PII in 1% of rows', async () => {
      sink += await relayOnce(relayedSparse, detectMasker);
    }),
    scenario('(d) MCP path: decode + mask', () => {
      let n = 0;
      frame(stream, (msg) => {
        n += plan.mask(decodeRow(msg, columns)).length;
      });
      sink += n;
    }),
    scenario('(d) baseline: decode only', () => {
      let n = 0;
      frame(stream, (msg) => {
        n += decodeRow(msg, columns).length;
      });
      sink += n;
    }),
  ];
  // `node dist/bench/masking.js b c` runs (a) and the scenarios whose letter is named (for profiling).
  const only = process.argv.slice(2);
  const chosen =
    only.length === 0
      ? results
      : results.filter((r, i) => i === 0 || only.some((o) => r.name.startsWith(`(${o})`)));
  results.splice(0, results.length, ...chosen);
  await measure(results);
  const base = median(results[0]?.times ?? [1]);
  console.log(machineLine());
  console.log(
    `result: ${ROWS} rows, ${(stream.length / ROWS).toFixed(0)} bytes a row, ${(stream.length / 2 ** 20).toFixed(1)} MiB; median of ${RUNS} runs, run round-robin`,
  );
  printTable(
    ['scenario', 'rows/s', 'MB/s', 'ns/row', 'ratio to (a)'],
    results.map((r) => {
      const seconds = median(r.times);
      return [
        r.name,
        Math.round(ROWS / seconds).toLocaleString('en-US'),
        (stream.length / seconds / 1e6).toFixed(0),
        ((seconds / ROWS) * 1e9).toFixed(0),
        (base / seconds).toFixed(2),
      ];
    }),
  );
  if (sink < 0) console.log(sink);
}

await main();
