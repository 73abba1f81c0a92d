/**
 * The masking hot path on the Postgres row stream: 100k DataRows of 10 columns (~160 bytes each),
 * read in 64 KiB chunks as a socket delivers them.
 *
 *   header walk (baseline)   find each message by its header, forward runs of rows as chunk views
 *   field index + forward    also locate every field of every row (readDataRowFields), forward originals
 *   mask 3 of 10             locate fields, rebuild each row with 3 fields replaced (rebuildDataRow)
 *   mask 3 of 10, reserved   the same, written into one output buffer per chunk (writeRebuiltDataRow)
 *   decode + re-encode       the naive way: every field to a string and dataRow() again
 *
 * Run: npx tsc -p tsconfig.json --outDir dist && node dist/bench/pg-framing.js
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  dataRow,
  dataRowFieldIndex,
  readDataRowFields,
  rebuildDataRow,
  rebuiltDataRowLength,
  writeRebuiltDataRow,
} from '../protocols/postgres/codec/index.js';
import type { FieldReplacement } from '../protocols/postgres/codec/index.js';
import { machineLine, printTable } from './machine.js';

const ROWS = 100_000;
const COLUMNS = 10;
const CHUNK = 64 * 1024;
const RUNS = 7;

function makeStream(): Buffer {
  const rows: Buffer[] = [];
  for (let i = 0; i < ROWS; i++) {
    rows.push(
      dataRow([
        String(100000 + i),
        `user${i}.name@mail.example.com`,
        'Alice Marie',
        'Example-Smith',
        '+1-555-0100',
        '2024-01-02',
        'active',
        String(i * 7),
        i % 10 === 0 ? null : 'NL',
        '4111111111111111',
      ]),
    );
  }
  return Buffer.concat(rows);
}

/** The stream cut into socket-sized chunks, each its own buffer. */
function chunked(stream: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < stream.length; i += CHUNK) chunks.push(Buffer.from(stream.subarray(i, i + CHUNK)));
  return chunks;
}

/** Looks at the DataRow whose body is chunk[start, end); returns the rewritten message or undefined to pass it. */
type RowAction = (chunk: Buffer, start: number, end: number) => Buffer | undefined;

/**
 * Walks messages chunk by chunk. A row the action leaves alone (undefined) stays in the current run,
 * which is forwarded as one view of the chunk; a rewritten row ends the run and is forwarded alone.
 * A message split across chunks is joined with the next chunk (as a backend reader would).
 */
function walk(chunks: Buffer[], action: RowAction | undefined): number {
  let forwarded = 0;
  let carry: Buffer | undefined;
  for (const incoming of chunks) {
    const chunk: Buffer = carry ? Buffer.concat([carry, incoming]) : incoming;
    carry = undefined;
    let pos = 0;
    let runStart = 0;
    while (pos + 5 <= chunk.length) {
      const total = 1 + chunk.readInt32BE(pos + 1);
      if (pos + total > chunk.length) break;
      if (action !== undefined) {
        const rewritten = action(chunk, pos + 5, pos + total);
        if (rewritten !== undefined) {
          forwarded += chunk.subarray(runStart, pos).length + rewritten.length;
          runStart = pos + total;
        }
      }
      pos += total;
    }
    forwarded += chunk.subarray(runStart, pos).length;
    if (pos < chunk.length) carry = chunk.subarray(pos);
  }
  return forwarded;
}

/** Masks every row into one output buffer per input chunk: one allocation per chunk, not per row. */
function walkInto(chunks: Buffer[], replacements: readonly FieldReplacement[]): number {
  let forwarded = 0;
  let carry: Buffer | undefined;
  for (const incoming of chunks) {
    const chunk: Buffer = carry ? Buffer.concat([carry, incoming]) : incoming;
    carry = undefined;
    let out = Buffer.allocUnsafe(chunk.length + 1024);
    let at = 0;
    let pos = 0;
    while (pos + 5 <= chunk.length) {
      const total = 1 + chunk.readInt32BE(pos + 1);
      if (pos + total > chunk.length) break;
      const start = pos + 5;
      const end = pos + total;
      const count = readDataRowFields(chunk, fields, start, end);
      const length = rebuiltDataRowLength(chunk, fields, count, replacements, start, end);
      if (at + length > out.length) {
        forwarded += at;
        out = Buffer.allocUnsafe(Math.max(length, chunk.length));
        at = 0;
      }
      at = writeRebuiltDataRow(out, at, length, chunk, fields, count, replacements, start, end);
      pos += total;
    }
    forwarded += at;
    if (pos < chunk.length) carry = chunk.subarray(pos);
  }
  return forwarded;
}

const fields = dataRowFieldIndex(COLUMNS);
// email, phone and card number masked; the other seven columns pass as they are.
const mask: FieldReplacement[] = new Array<FieldReplacement>(COLUMNS).fill(undefined);
mask[1] = 'u***@mail.example.com';
mask[4] = '+1-***-****';
mask[9] = '************1111';

const scenarios: [string, RowAction | undefined | 'reserved'][] = [
  ['header walk (baseline)', undefined],
  [
    'field index + forward',
    (chunk, start, end) => {
      readDataRowFields(chunk, fields, start, end);
      return undefined;
    },
  ],
  [
    'mask 3 of 10 fields',
    (chunk, start, end) =>
      rebuildDataRow(chunk, fields, readDataRowFields(chunk, fields, start, end), mask, start, end),
  ],
  ['mask 3 of 10, reserved', 'reserved'],
  [
    'decode + re-encode all',
    (chunk, start, end) => {
      const count = readDataRowFields(chunk, fields, start, end);
      const values: (string | null)[] = new Array<string | null>(count);
      for (let i = 0; i < count; i++) {
        const offset = fields[2 * i] as number;
        const length = fields[2 * i + 1] as number;
        values[i] = length < 0 ? null : chunk.toString('utf8', offset, offset + length);
      }
      values[1] = 'u***@mail.example.com';
      values[4] = '+1-***-****';
      values[9] = '************1111';
      return dataRow(values);
    },
  ],
];

const stream = makeStream();
const chunks = chunked(stream);
const megabytes = stream.length / 1e6;
console.log(machineLine());
console.log(
  `${ROWS} rows × ${COLUMNS} columns, ${(stream.length / ROWS).toFixed(0)} bytes/row, ${CHUNK / 1024} KiB chunks, best of ${RUNS}, load average ${loadavg()[0]?.toFixed(1)}`,
);
const results: (string | number)[][] = [];
let baseline = 0;
for (const [name, action] of scenarios) {
  let bestWall = Infinity;
  let bestCpu = Infinity;
  let out = 0;
  for (let r = 0; r < RUNS; r++) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    out = action === 'reserved' ? walkInto(chunks, mask) : walk(chunks, action);
    bestWall = Math.min(bestWall, performance.now() - start);
    const used = process.cpuUsage(cpu);
    bestCpu = Math.min(bestCpu, (used.user + used.system) / 1000);
  }
  // Throughput from CPU time: on a shared machine wall time also counts waiting for a core.
  const rowsPerSecond = ROWS / (bestCpu / 1000);
  if (baseline === 0) baseline = rowsPerSecond;
  results.push([
    name,
    bestWall.toFixed(1),
    bestCpu.toFixed(1),
    Math.round(rowsPerSecond).toLocaleString('en-US'),
    (megabytes / (bestCpu / 1000)).toFixed(0),
    (rowsPerSecond / baseline).toFixed(2),
    (out / 1e6).toFixed(1),
  ]);
}
printTable(['scenario', 'wall ms', 'cpu ms', 'rows/s (cpu)', 'MB/s in', 'vs baseline', 'MB out'], results);
