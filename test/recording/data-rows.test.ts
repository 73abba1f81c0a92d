import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { runRecordings } from '../../src/cli/recordings.js';
import { loadConfigFile } from '../../src/config/load.js';
import { RowRecording } from '../../src/gateway/postgres/row-recording.js';
import { quoteJson } from '../../src/recording/canonical.js';
import { verifyChain } from '../../src/recording/chain.js';
import { createRecorder } from '../../src/recording/create.js';
import { NEEDS_ROOM, NOT_UTF8, writeJsonHexString, writeJsonString } from '../../src/recording/json-bytes.js';
import { RecordingKeys } from '../../src/recording/redis-keys.js';
import { ChainedSessionRecorder, type SessionLimits } from '../../src/recording/session-recorder.js';
import type { RecordingEvent, SealedEvent, SessionRecorder } from '../../src/recording/types.js';
import { REDIS_URL, capturingLogger, recordingConfigText, sessionContext } from './fixtures/helpers.js';

/**
 * The listener records DataRows from their bytes (onDataRows); other channels record decoded
 * values (onRows). The record must not depend on the path: same events, same bytes, same hashes.
 */

/** A deterministic generator (mulberry32), so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Byte sequences that are not well-formed UTF-8, of each kind a decoder treats differently. */
const MALFORMED = [
  [0x80],
  [0xbf, 0x41],
  [0xc0, 0x80],
  [0xc1, 0xbf],
  [0xc3],
  [0xc3, 0x28],
  [0xe0, 0x80, 0x80],
  [0xe0, 0xa0],
  [0xe2, 0x82],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xef, 0xbf],
  [0xf0, 0x80, 0x80, 0x80],
  [0xf0, 0x9f, 0x98],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf5, 0x80, 0x80, 0x80],
  [0xfe],
  [0xff, 0xfe],
];

const SAMPLES = [
  'plain ascii',
  'a***@example.com',
  'ünïcödé ✓ 日本語 😀 𝄞',
  '\u2028\u2029 line separators',
  '\ufeffBOM first',
  '"quoted" and \\backslashed\\',
  'tab\tnewline\nreturn\rback\bfeed\f',
  '\u0000\u0001\u001f\u007f controls',
  '\uffff\ufffd specials',
];

function randomValue(next: () => number): Buffer {
  const parts: Buffer[] = [];
  const pieces = 1 + Math.floor(next() * 4);
  for (let i = 0; i < pieces; i++) {
    const kind = Math.floor(next() * 7);
    if (kind === 0) parts.push(Buffer.from(SAMPLES[Math.floor(next() * SAMPLES.length)] as string));
    else if (kind === 1)
      parts.push(Buffer.from(MALFORMED[Math.floor(next() * MALFORMED.length)] as number[]));
    else if (kind === 2) parts.push(Buffer.from([Math.floor(next() * 0x20)]));
    else if (kind === 3) parts.push(Buffer.from(next() < 0.5 ? '"' : '\\'));
    else if (kind === 4)
      parts.push(Buffer.from(String.fromCodePoint(Math.floor(next() * 0x10ffff) & ~0x800)));
    else if (kind === 5)
      parts.push(Buffer.from(Array.from({ length: Math.floor(next() * 8) }, () => next() * 256)));
    else parts.push(Buffer.from('x'.repeat(Math.floor(next() * 40))));
  }
  return Buffer.concat(parts);
}

/** A DataRow message built by hand (type, length, field count, then length and bytes per field). */
function dataRowOf(fields: (Buffer | null)[]): Buffer {
  const parts: Buffer[] = [];
  for (const field of fields) {
    const length = Buffer.alloc(4);
    length.writeInt32BE(field === null ? -1 : field.length);
    parts.push(length);
    if (field !== null) parts.push(field);
  }
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(7);
  head[0] = 0x44; // D
  head.writeInt32BE(6 + body.length, 1);
  head.writeInt16BE(fields.length, 5);
  return Buffer.concat([head, body]);
}

function randomRow(next: () => number, columns: number): (Buffer | null)[] {
  return Array.from({ length: columns }, () => {
    const pick = next();
    if (pick < 0.1) return null;
    if (pick < 0.15) return Buffer.alloc(0);
    // Now and then a long value: past what the batch reserved per row, so escapes need room.
    if (pick < 0.17) return Buffer.from('\u0001"\\'.repeat(2000 + Math.floor(next() * 2000)));
    return randomValue(next);
  });
}

/** A session recorder whose sealed events are kept, at a fixed clock. */
function recorderFor(
  sessionId: string,
  limits: SessionLimits,
): { rec: ChainedSessionRecorder; events: SealedEvent[] } {
  const events: SealedEvent[] = [];
  const sink = {
    accepting: () => true,
    // Bodies of row batches are views of reused buffers: keep a copy, as a store does.
    enqueue: (e: SealedEvent) => {
      events.push({ ...e, body: Buffer.from(e.body) });
      e.release?.();
    },
    noteDropped: () => {},
  };
  const rec = new ChainedSessionRecorder(
    sessionContext({ id: sessionId }),
    1_000,
    sink,
    limits,
    () => 2_000,
    () => {},
  );
  return { rec, events };
}

/** The same recorder with only onRows: RowRecording then takes the string path (the old one). */
function stringsOnly(rec: SessionRecorder): SessionRecorder {
  return {
    onStatement: (e) => rec.onStatement(e),
    onDecision: (e) => rec.onDecision(e),
    onApproval: (e) => rec.onApproval(e),
    onColumns: (e) => rec.onColumns(e),
    onRows: (id, rows) => rec.onRows(id, rows),
    onResultEnd: (e) => rec.onResultEnd(e),
    onError: (e) => rec.onError(e),
    onSessionEnd: (e) => rec.onSessionEnd(e),
  };
}

interface Statement {
  formats: number[];
  /** Each row as received, inside a larger buffer at [start, end), as the relay hands it over. */
  rows: { buf: Buffer; start: number; end: number }[];
  /** After which rows the relay flushes (its wait for the recorder). */
  flushAfter: Set<number>;
  /** Rows arrive in one receive buffer that is written over between rows (the relay's). */
  reused: boolean;
}

function randomStatements(seed: number): Statement[] {
  const next = random(seed);
  return Array.from({ length: 1 + Math.floor(next() * 4) }, () => {
    const columns = Math.floor(next() * 6);
    const formatKind = Math.floor(next() * 4);
    const formats =
      formatKind === 0
        ? []
        : formatKind === 1
          ? [Math.floor(next() * 2)]
          : Array.from({ length: columns }, () => (next() < 0.3 ? 1 : 0));
    const count = Math.floor(next() * (next() < 0.2 ? 3_000 : 300));
    const rows = Array.from({ length: count }, () => {
      const message = dataRowOf(randomRow(next, columns));
      const before = Math.floor(next() * 5);
      const buf = Buffer.concat([Buffer.alloc(before, 0x5a), message, Buffer.alloc(3, 0x5a)]);
      return { buf, start: before, end: before + message.length };
    });
    const flushAfter = new Set(
      Array.from({ length: Math.floor(next() * 5) }, () => Math.floor(next() * count)),
    );
    return { formats, rows, flushAfter, reused: next() < 0.5 };
  });
}

function record(rec: SessionRecorder, statements: Statement[]): void {
  for (const [n, statement] of statements.entries()) {
    const statementId = `q${n}`;
    rec.onStatement({ statementId, sql: `select ${n}` });
    rec.onColumns({ statementId, columns: [] });
    const rows = new RowRecording(rec, statementId, statement.formats);
    let receive = Buffer.alloc(4096);
    for (const [i, row] of statement.rows.entries()) {
      if (statement.reused) {
        if (row.buf.length > receive.length) receive = Buffer.alloc(row.buf.length);
        receive.fill(0x5a);
        row.buf.copy(receive);
        rows.add(receive, row.start, row.end);
      } else {
        rows.add(row.buf, row.start, row.end);
      }
      if (statement.flushAfter.has(i)) rows.flush();
    }
    rows.flush();
    rec.onResultEnd({
      statementId,
      rowCount: rows.rows,
      truncated: false,
      command: `SELECT ${rows.rows}`,
      durationMs: 1,
    });
  }
  rec.onSessionEnd({ reason: 'done' });
}

t.test(
  'DataRows recorded from their bytes seal the same events, bytes and hashes as decoded rows',
  async (t) => {
    const limitSets: SessionLimits[] = [
      { maxEvents: 1_000_000, batchRows: 1_000, batchBytes: 512 * 1024 },
      { maxEvents: 1_000_000, batchRows: 7, batchBytes: 512 * 1024 },
      { maxEvents: 1_000_000, batchRows: 1_000, batchBytes: 3_000 },
      { maxEvents: 40, batchRows: 50, batchBytes: 10_000 },
    ];
    let events = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const statements = randomStatements(seed);
      const limits = limitSets[seed % limitSets.length] as SessionLimits;
      const bytes = recorderFor('s-1', limits);
      const strings = recorderFor('s-1', limits);
      record(bytes.rec, statements);
      record(stringsOnly(strings.rec), statements);
      const same =
        bytes.events.length === strings.events.length &&
        bytes.events.every((e, i) => {
          const other = strings.events[i] as SealedEvent;
          return e.hash === other.hash && e.body.equals(other.body) && e.type === other.type;
        });
      if (!same) {
        const at = bytes.events.findIndex(
          (e, i) => !e.body.equals(strings.events[i]?.body ?? Buffer.alloc(0)),
        );
        t.fail(`seed ${seed}: the paths differ at event ${at + 1}`, {
          bytes: bytes.events[at]?.body.toString().slice(0, 400),
          strings: strings.events[at]?.body.toString().slice(0, 400),
        });
        return;
      }
      const parsed = bytes.events.map(
        (e) => ({ ...(JSON.parse(e.body.toString('utf8')) as object), hash: e.hash }) as RecordingEvent,
      );
      const verdict = await verifyChain('s-1', parsed);
      if (!verdict.ok) {
        t.fail(`seed ${seed}: the chain does not verify`, { verdict });
        return;
      }
      events += bytes.events.filter((e) => e.type === 'result.rows').length;
    }
    t.ok(events > 100, `${events} row batches compared`);
  },
);

const viewOf = (buf: Buffer) => new DataView(buf.buffer, buf.byteOffset, buf.byteLength);

t.test(
  'a field is the JSON.stringify of its decoded text for every short byte sequence, anywhere in a word',
  async (t) => {
    const out = Buffer.alloc(256);
    let checked = 0;
    /** Undefined when the bytes path writes what the string path writes for `bytes`. */
    const differs = (bytes: number[]): string | undefined => {
      const src = Buffer.from(bytes);
      const end = writeJsonString(viewOf(src), 0, src.length, viewOf(out), 0, out.length);
      // Malformed UTF-8 goes the string path: it must be exactly what Node calls malformed.
      if ((end === NOT_UTF8) !== !isUtf8(src)) return `bytes ${src.toString('hex')}: well-formed or not`;
      if (end === NOT_UTF8) return undefined;
      checked++;
      return out.toString('utf8', 0, end) === JSON.stringify(src.toString('utf8'))
        ? undefined
        : `bytes ${src.toString('hex')}`;
    };
    let failure: string | undefined;
    for (let a = 0; a < 256 && failure === undefined; a++) {
      failure = differs([a]);
      for (let b = 0; b < 256 && failure === undefined; b++) failure = differs([a, b]);
      // Each byte at each place of the words that are checked four bytes at a time.
      const plain = [...Buffer.from('abcdefghi')];
      for (let at = 0; at < plain.length && failure === undefined; at++) {
        failure = differs(plain.map((c, k) => (k === at ? a : c)));
      }
    }
    // Every lead byte of a longer sequence with every second byte, and some of the rest.
    for (let a = 0xe0; a < 0x100 && failure === undefined; a++) {
      for (let b = 0; b < 256 && failure === undefined; b++) {
        for (const c of [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff]) {
          failure ??= differs([a, b, c]);
          for (const d of [0x41, 0x80, 0xbf, 0xc0]) {
            failure ??= differs([a, b, c, d]);
            failure ??= differs([0x61, 0x62, 0x63, 0x64, 0x65, a, b, c, d, 0x66]);
          }
        }
      }
    }
    t.equal(failure, undefined, 'no sequence differs');
    t.ok(checked > 30_000, `${checked} well-formed sequences written from their bytes`);
  },
);

t.test('a field asks for room before an escape would overrun the limit it was given', async (t) => {
  const src = Buffer.from('ab\u0001cd');
  const out = Buffer.alloc(64);
  t.equal(writeJsonString(viewOf(src), 0, src.length, viewOf(out), 0, src.length + 2), NEEDS_ROOM);
  const end = writeJsonString(viewOf(src), 0, src.length, viewOf(out), 0, 64);
  t.equal(out.toString('utf8', 0, end), JSON.stringify(src.toString()));
  const hex = Buffer.from([0, 0xab, 0xff]);
  const hexEnd = writeJsonHexString(viewOf(hex), 0, 3, viewOf(out), 0);
  t.equal(out.toString('utf8', 0, hexEnd), JSON.stringify('\\x00abff'));
});

t.test(
  'a DataRow whose field runs past the message is refused as the decoding path refuses it',
  async (t) => {
    const row = dataRowOf([Buffer.from('abc'), Buffer.from('de')]);
    const cut = row.subarray(0, row.length - 1);
    const events = recorderFor('s', { maxEvents: 100, batchRows: 10, batchBytes: 1_000 });
    t.throws(() => new RowRecording(events.rec, 'q', []).add(cut, 0, cut.length), RangeError);
    t.throws(() => new RowRecording(stringsOnly(events.rec), 'q', []).add(cut, 0, cut.length), RangeError);
  },
);

t.test('rows recorded from bytes to Redis pass `recordings verify`', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-rec-rows-'));
  const configPath = join(dir, 'sluice.yaml');
  writeFileSync(
    configPath,
    recordingConfigText(`store: redis\nredis: { url: "${REDIS_URL}" }\nretention: 1h`),
  );
  // The command reads the default key prefix: the session isolates itself by subject and target.
  const tag = randomBytes(6).toString('hex');
  const session = sessionContext({
    identity: { subject: `rows-${tag}`, groups: ['g'], issuer: 'https://idp', via: 'oidc' },
    target: `t-${tag}`,
  });
  const admin = new Redis(REDIS_URL, { protocol: 2 });
  t.teardown(async () => {
    const keys = new RecordingKeys();
    await admin.del(
      keys.events(session.id),
      keys.meta(session.id),
      keys.byIdentity(session.identity.subject),
      keys.byTarget(session.target),
    );
    await admin.zrem(keys.byTime(), session.id);
    admin.disconnect();
  });
  const { logger } = capturingLogger();
  const recorder = createRecorder(loadConfigFile(configPath), logger, {
    session: { batchRows: 100, batchBytes: 8_192 },
  });
  const rec = recorder.startSession({ session });
  t.type(rec.onDataRows, 'function', 'the recorder takes DataRow bytes');
  const statements: Statement[] = [];
  for (let seed = 100; statements.reduce((n, s) => n + s.rows.length, 0) < 2_000; seed++) {
    statements.push(...randomStatements(seed));
  }
  record(rec, statements);
  await recorder.close();
  const batches = await admin.xlen(new RecordingKeys().events(session.id));
  t.ok(batches > 20, `${batches} events stored`);

  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await runRecordings(['verify', '--session', session.id, '--config', configPath], {
    stdout,
    stderr: new PassThrough(),
    env: {},
  });
  t.equal(code, 0, out);
  t.match(out, `OK ${session.id} ${batches} events`);
});

t.test(
  'a string quoted without JSON.stringify is what JSON.stringify writes, for every code unit',
  async (t) => {
    let failure: string | undefined;
    for (let unit = 0; unit < 0x10000 && failure === undefined; unit++) {
      const c = String.fromCharCode(unit);
      for (const s of [c, `a${c}b`, `${c}\ud83d\ude00`, `\ud83d${c}`]) {
        if (quoteJson(s) !== JSON.stringify(s))
          failure = `code unit ${unit.toString(16)} in ${JSON.stringify(s)}`;
      }
    }
    t.equal(failure, undefined, 'no string differs');
  },
);
