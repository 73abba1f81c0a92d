/**
 * Recording cost on the result path: 200k rows of 10 columns streamed from PostgreSQL with the
 * gateway's own client (text values decoded per column, as the gateway's engine does) and handed
 * to a SessionRecorder in batches of 100 (as the gateway's pipeline does), with recording off
 * (NullRecorder) and on (Redis Streams on the local Redis), measured in the same run, alternating.
 *
 * Then the Postgres listener's own row path: the same 200k rows read as raw protocol bytes from a
 * PostgreSQL socket (as the listener's relay reads them), each DataRow handed to RowRecording as
 * bytes, which passes them to the recorder in batches of 100 (onDataRows); the relay's pacing (a
 * wait for the recorder every 20k rows) included. Recording off, sealing only, on (Redis), and on
 * through the string path (each DataRow decoded to strings, then onRows: what the listener did
 * before), measured alternately in the same run; medians and the median of paired ratios.
 *
 * Then the small-event case, what the Postgres listener records per statement: SESSIONS sessions
 * each recording statement, decision, result.columns, a one-row result.rows and result.end per
 * statement, one statement per event-loop turn (as each arrives in its own socket read), off vs on.
 *
 *   npx tsc -p tsconfig.json --outDir dist && node dist/bench/recording.js
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { PgConnection, decoderFor, type TextDecoder } from '../protocols/postgres/client/index.js';
import { openRelayLink, type RelayLink } from '../protocols/postgres/client/relay-link.js';
import { RowRecording } from '../src/gateway/postgres/row-recording.js';
import { pino } from 'pino';
import { parseConfigText } from '../src/config/load.js';
import { createRecorder } from '../src/recording/create.js';
import { NullRecorder } from '../src/recording/null-recorder.js';
import { ChainedRecorder } from '../src/recording/recorder.js';
import { DEFAULT_QUEUE_OPTIONS } from '../src/recording/queue.js';
import { DEFAULT_SESSION_LIMITS } from '../src/recording/session-recorder.js';
import type { Recorder, SessionRecorder } from '../src/recording/types.js';
import type { SessionContext } from '../src/gateway/types.js';
import { machineLine, printTable } from './machine.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 200_000);
const BATCH = 100;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Rounds of the listener table, which reports medians. */
const LISTENER_ROUNDS = Number(process.env.BENCH_LISTENER_ROUNDS ?? 7);
/** As the relay: rows recorded between waits for the recorder (backend-relay.ts). */
const ROWS_PER_RECORDING_WAIT = Number(process.env.BENCH_RECORDING_WAIT ?? 20_000);
/** The recorder's row batches (env to try other sizes; the defaults otherwise). */
const SESSION_LIMITS = {
  ...DEFAULT_SESSION_LIMITS,
  batchRows: Number(process.env.BENCH_BATCH_ROWS ?? DEFAULT_SESSION_LIMITS.batchRows),
  batchBytes: Number(process.env.BENCH_BATCH_BYTES ?? DEFAULT_SESSION_LIMITS.batchBytes),
};
/** Which tables to print: any of rows, listener, small (default all). */
const TABLES = new Set((process.env.BENCH_TABLES ?? 'rows,listener,small').split(','));
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 16);
const STATEMENTS = Number(process.env.BENCH_STATEMENTS ?? 20_000);
const SQL = `select i, i * 2, md5(i::text), 'customer-' || i, i % 100, now(), (i * 1.5)::numeric,
  'a***@example.com', i % 2 = 0, repeat('x', 20) from generate_series(1, ${ROWS}) i`;

/** Wall time of the stream, wall time until stored, and this process's CPU time until stored. */
interface Run {
  streamMs: number;
  durableMs: number;
  cpuMs: number;
}

function session(): SessionContext {
  return {
    id: randomUUID(),
    identity: { subject: 'bench', groups: ['ai-agents'], issuer: 'bench', via: 'gateway' },
    target: 'orders',
    dialect: 'postgres',
    channel: 'postgres',
  };
}

/** The statement and its decision, as the gateway records them before a result. */
function recordAllowedStatement(rec: SessionRecorder): void {
  rec.onStatement({ statementId: 'q1', sql: SQL });
  rec.onDecision({
    statementId: 'q1',
    action: 'allow',
    reason: 'read',
    rule: 'bench',
    effects: ['read'],
    objects: [],
  });
}

/** Streams the result through the recorder; returns the stream time and the time until stored. */
async function run(client: PgConnection, recorder: Recorder): Promise<Run> {
  const rec = recorder.startSession({ session: session() });
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  recordAllowedStatement(rec);
  rec.onColumns({
    statementId: 'q1',
    columns: Array.from({ length: 10 }, (_, i) => ({ name: `c${i}`, type: 'text', masked: i === 7 })),
  });
  let batch: unknown[][] = [];
  let count = 0;
  let decoders: TextDecoder[] = [];
  await client.query(SQL, {
    columns(fields) {
      decoders = fields.map((f) => decoderFor(f.typeOid));
    },
    row(values) {
      const row = new Array<unknown>(values.length);
      for (let i = 0; i < values.length; i++) {
        const text = values[i];
        row[i] = text === null || text === undefined ? null : (decoders[i] as TextDecoder)(text);
      }
      batch.push(row);
      count++;
      if (batch.length === BATCH) {
        rec.onRows('q1', batch);
        batch = [];
      }
    },
  });
  if (batch.length > 0) rec.onRows('q1', batch);
  rec.onResultEnd({
    statementId: 'q1',
    rowCount: count,
    truncated: false,
    command: `SELECT ${count}`,
    durationMs: 0,
  });
  rec.onSessionEnd({ reason: 'bench' });
  const streamMs = performance.now() - started;
  await recorder.flush();
  const durableMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  if (count !== ROWS) throw new Error(`expected ${ROWS} rows, got ${count}`);
  return { streamMs, durableMs, cpuMs };
}

/** The first table: rows decoded by the gateway's client, handed to onRows (the MCP path). */
async function rowsTable(
  client: PgConnection,
  { off, sealOnly, on }: { off: Recorder; sealOnly: Recorder; on: ChainedRecorder },
  admin: Redis,
  prefix: string,
): Promise<void> {
  await run(client, off); // warm-up: JIT, connection, Postgres cache
  await run(client, on);
  const results = {
    off: [] as Run[],
    seal: [] as Run[],
    on: [] as Run[],
  };
  for (let round = 0; round < ROUNDS; round++) {
    results.off.push(await run(client, off));
    results.seal.push(await run(client, sealOnly));
    results.on.push(await run(client, on));
  }
  const best = (xs: Run[], key: keyof Run) => Math.min(...xs.map((x) => x[key]));
  const offMs = best(results.off, 'streamMs');
  const onMs = best(results.on, 'streamMs');
  const onDurable = best(results.on, 'durableMs');
  const sealMs = best(results.seal, 'streamMs');
  const cpu = {
    off: best(results.off, 'cpuMs'),
    seal: best(results.seal, 'cpuMs'),
    on: best(results.on, 'cpuMs'),
  };
  const rate = (ms: number) => Math.round(ROWS / (ms / 1000));
  const stats = on.stats();
  let streamBytes = 0;
  let sample: string | undefined;
  for (const key of await admin.keys(`${prefix}events:*`)) {
    sample ??= key;
    streamBytes += Number((await admin.memory('USAGE', key)) ?? 0);
  }
  console.log(
    `${ROWS} rows × 10 columns from PostgreSQL (gateway client, text decoded), onRows in batches of ${BATCH}, best of ${ROUNDS} rounds\n`,
  );
  const row = (name: string, wall: number, cpuMs: number, stored: string) => [
    name,
    wall.toFixed(0),
    rate(wall),
    (offMs / wall).toFixed(2),
    stored,
    cpuMs.toFixed(0),
    (cpu.off / cpuMs).toFixed(2),
  ];
  printTable(
    ['scenario', 'stream ms', 'rows/s', 'ratio vs off', 'until stored ms', 'process CPU ms', 'CPU ratio'],
    [
      row('recording off (NullRecorder)', offMs, cpu.off, '-'),
      row('sealing only (store discards)', sealMs, cpu.seal, '-'),
      row('recording on (Redis Streams)', onMs, cpu.on, onDurable.toFixed(0)),
    ],
  );
  console.log(
    "\nratio = rows/s relative to off (wall clock, best round); CPU ratio = this process's CPU time\n" +
      'for the off run over this run, until stored: the throughput ratio of a CPU-bound gateway.',
  );
  console.log(
    `\nwritten: ${stats.written} events, dropped: ${stats.dropped}; Redis memory per session stream ≈ ${(
      streamBytes /
      Math.max(1, (await admin.keys(`${prefix}events:*`)).length) /
      2 ** 20
    ).toFixed(1)} MiB`,
  );
}

/** A simple Query message: 'Q', length, the SQL and its NUL. */
function queryMessage(sql: string): Buffer {
  const text = Buffer.from(`${sql}\0`, 'utf8');
  const message = Buffer.allocUnsafe(5 + text.length);
  message[0] = 0x51; // Q
  message.writeInt32BE(4 + text.length, 1);
  text.copy(message, 5);
  return message;
}

/** Hides onDataRows: RowRecording then decodes each DataRow to strings for onRows (the old path). */
function stringPath(rec: SessionRecorder): SessionRecorder {
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

/**
 * The listener's row path for one 200k-row result: raw bytes from the target socket, walked
 * message by message (a message split across reads is joined with the next read), every DataRow
 * given to RowRecording as the bytes it arrived in; every 20k rows the reading pauses until the
 * recorder has written what it has (as the relay does).
 */
async function runListener(link: RelayLink, recorder: Recorder, path: 'bytes' | 'strings'): Promise<Run> {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const recording = recorder.startSession({ session: session() });
  const rec = path === 'bytes' ? recording : stringPath(recording);
  recordAllowedStatement(rec);
  const socket = link.socket;
  let count = 0;
  await new Promise<void>((resolve, reject) => {
    let carry: Buffer | undefined;
    let rows: RowRecording | undefined;
    let sinceWait = 0;
    const onData = (chunk: Buffer): void => {
      const buf = carry === undefined ? chunk : Buffer.concat([carry, chunk]);
      carry = undefined;
      let pos = 0;
      while (pos + 5 <= buf.length) {
        const end = pos + 1 + buf.readInt32BE(pos + 1);
        if (end > buf.length) break;
        switch (buf[pos]) {
          case 0x54: // T RowDescription
            rec.onColumns({
              statementId: 'q1',
              columns: Array.from({ length: buf.readInt16BE(pos + 5) }, (_, i) => ({
                name: `c${i}`,
                type: 'text',
                masked: i === 7,
              })),
            });
            rows = new RowRecording(rec, 'q1', []);
            break;
          case 0x44: // D DataRow
            rows?.add(buf, pos, end);
            count++;
            sinceWait++;
            break;
          case 0x43: // C CommandComplete
            rows?.flush();
            rec.onResultEnd({
              statementId: 'q1',
              rowCount: count,
              truncated: false,
              command: `SELECT ${count}`,
              durationMs: 0,
            });
            break;
          case 0x45: // E ErrorResponse
            reject(new Error(buf.toString('utf8', pos + 5, end)));
            return;
          case 0x5a: // Z ReadyForQuery
            socket.off('data', onData);
            socket.pause();
            resolve();
            return;
        }
        pos = end;
      }
      if (pos < buf.length) carry = buf.subarray(pos);
      if (sinceWait > ROWS_PER_RECORDING_WAIT) {
        sinceWait = 0;
        rows?.flush();
        socket.pause();
        void recorder.flush().then(() => socket.resume(), reject);
      }
    };
    socket.on('data', onData);
    socket.resume();
    socket.write(queryMessage(SQL));
  });
  rec.onSessionEnd({ reason: 'bench' });
  const streamMs = performance.now() - started;
  await recorder.flush();
  const durableMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  if (count !== ROWS) throw new Error(`expected ${ROWS} rows, got ${count}`);
  return { streamMs, durableMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** The listener table: medians of alternating rounds, and the median of each round's ratio to off. */
async function listener(recorders: { off: Recorder; sealOnly: Recorder; on: Recorder }): Promise<void> {
  const link = await openRelayLink({
    host: '127.0.0.1',
    port: 5432,
    user: 'postgres',
    database: 'postgres',
    tls: 'disable',
  });
  const scenarios = [
    { name: 'recording off (NullRecorder)', recorder: recorders.off, path: 'bytes' },
    { name: 'sealing only, DataRow bytes (store discards)', recorder: recorders.sealOnly, path: 'bytes' },
    { name: 'recording on, DataRow bytes (Redis)', recorder: recorders.on, path: 'bytes' },
    { name: 'recording on, decoded strings (Redis; before)', recorder: recorders.on, path: 'strings' },
  ] as const;
  try {
    for (const s of scenarios) await runListener(link, s.recorder, s.path); // warm-up
    const results = scenarios.map(() => [] as Run[]);
    for (let round = 0; round < LISTENER_ROUNDS; round++) {
      // Each round starts with another scenario, so none always follows the same one.
      for (let k = 0; k < scenarios.length; k++) {
        const i = (round + k) % scenarios.length;
        const s = scenarios[i] as (typeof scenarios)[number];
        results[i]?.push(await runListener(link, s.recorder, s.path));
      }
    }
    const median = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      const mid = sorted.length >> 1;
      return sorted.length % 2 === 1
        ? (sorted[mid] as number)
        : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
    };
    const off = results[0] as Run[];
    console.log(
      `\nThe listener's row path: ${ROWS} rows × 10 columns as raw DataRow bytes from a PostgreSQL socket, ` +
        `RowRecording per DataRow, a wait for the recorder every ${ROWS_PER_RECORDING_WAIT} rows; ` +
        `median of ${LISTENER_ROUNDS} alternating rounds\n`,
    );
    printTable(
      ['scenario', 'stream ms', 'until stored ms', 'rows/s', 'ratio vs off', 'process CPU ms', 'CPU ratio'],
      scenarios.map((s, i) => {
        const runs = results[i] as Run[];
        // Paired: each round's run against the off run of the same round.
        const ratio = median(runs.map((r, n) => (off[n] as Run).streamMs / r.durableMs));
        const cpuRatio = median(runs.map((r, n) => (off[n] as Run).cpuMs / r.cpuMs));
        const durable = median(runs.map((r) => r.durableMs));
        return [
          s.name,
          median(runs.map((r) => r.streamMs)).toFixed(0),
          durable.toFixed(0),
          Math.round(ROWS / (durable / 1000)),
          ratio.toFixed(2),
          median(runs.map((r) => r.cpuMs)).toFixed(0),
          cpuRatio.toFixed(2),
        ];
      }),
    );
    console.log(
      "\nratio vs off = the off run's stream time over this run's time until stored (paired by round, then the\n" +
        "median); CPU ratio = the off run's process CPU over this run's, until stored.",
    );
  } finally {
    link.socket.destroy();
  }
}

/** Wall and process CPU time of STATEMENTS small statements spread over SESSIONS sessions. */
async function runSmall(recorder: Recorder): Promise<Run> {
  const sessions = Array.from({ length: SESSIONS }, () => recorder.startSession({ session: session() }));
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  for (let n = 0; n < STATEMENTS; n++) {
    const rec = sessions[n % SESSIONS] as SessionRecorder;
    const statementId = `s${n}`;
    rec.onStatement({ statementId, sql: 'SELECT abalance FROM pgbench_accounts WHERE aid = 48213;' });
    rec.onDecision({
      statementId,
      action: 'allow',
      reason: 'read is allowed',
      rule: 'agents: allow read',
      effects: ['read'],
      objects: ['public.pgbench_accounts'],
    });
    rec.onColumns({ statementId, columns: [{ name: 'abalance', type: 'int4', masked: false }] });
    rec.onRows(statementId, [['-2841']]);
    rec.onResultEnd({ statementId, rowCount: 1, truncated: false, command: 'SELECT 1', durationMs: 0.21 });
    // One statement per event-loop turn, as when each arrives in its own socket read.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const streamMs = performance.now() - started;
  for (const rec of sessions) rec.onSessionEnd({ reason: 'bench' });
  await recorder.flush();
  const durableMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return { streamMs, durableMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function main(): Promise<void> {
  const client = await PgConnection.connect({
    host: '127.0.0.1',
    port: 5432,
    user: 'postgres',
    database: 'postgres',
    tls: 'disable',
  });
  const prefix = `sluice-bench:rec:${randomBytes(4).toString('hex')}:`;
  const config = parseConfigText(`
targets: {}
recording: { store: redis, redis: { url: "${REDIS_URL}" }, retention: 1h }
`);
  const logger = pino({ level: 'warn' });
  const on = createRecorder(config, logger, { prefix, session: SESSION_LIMITS });
  const off = new NullRecorder();
  // Sealing without a store: what recording costs this process before any I/O.
  const sealOnly = new ChainedRecorder(
    {
      append: async () => {},
      copiesBodies: true,
      health: () => ({ ok: true }),
      onReachable: () => {},
      close: async () => {},
    },
    {
      queue: { ...DEFAULT_QUEUE_OPTIONS, policy: 'refuse' },
      session: SESSION_LIMITS,
      closeTimeoutMs: 1_000,
    },
    logger,
  );
  // The same store, writing after each event-loop turn instead of gathering for up to 2 ms.
  const onNoLinger = createRecorder(config, logger, {
    prefix,
    queue: { lingerMs: 0 },
    session: SESSION_LIMITS,
  });
  const admin = new Redis(REDIS_URL, { protocol: 2 });
  try {
    console.log(machineLine());
    if (TABLES.has('rows')) await rowsTable(client, { off, sealOnly, on }, admin, prefix);
    if (TABLES.has('listener')) await listener({ off, sealOnly, on });
    if (TABLES.has('small')) await small({ off, sealOnly, on, onNoLinger });
  } finally {
    await onNoLinger.close();
    await on.close();
    await client.close();
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  }
}

/** The small-event table: events per second and CPU per statement, off vs on. */
async function small(recorders: { off: Recorder; sealOnly: Recorder; on: Recorder; onNoLinger: Recorder }) {
  const names = {
    off: 'recording off (NullRecorder)',
    sealOnly: 'sealing only (store discards)',
    on: 'recording on (Redis, gathered ≤ 2 ms)',
    onNoLinger: 'recording on (Redis, a write per turn)',
  } as const;
  const kinds = Object.keys(names) as (keyof typeof names)[];
  for (const kind of kinds) await runSmall(recorders[kind]); // warm-up
  const results = new Map<keyof typeof names, Run[]>(kinds.map((k) => [k, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of kinds) results.get(kind)?.push(await runSmall(recorders[kind]));
  }
  const best = (kind: keyof typeof names, key: keyof Run) =>
    Math.min(...(results.get(kind) ?? []).map((r) => r[key]));
  const offCpu = best('off', 'cpuMs');
  console.log(
    `\n${STATEMENTS} statements over ${SESSIONS} sessions, 5 events each (statement, decision, result.columns, ` +
      `one-row result.rows, result.end), one statement per event-loop turn, best of ${ROUNDS} rounds\n`,
  );
  printTable(
    ['scenario', 'wall ms', 'until stored ms', 'events/s', 'CPU µs / statement', 'added µs', 'CPU ratio'],
    kinds.map((kind) => {
      const cpuMs = best(kind, 'cpuMs');
      const durable = best(kind, 'durableMs');
      return [
        names[kind],
        best(kind, 'streamMs').toFixed(0),
        durable.toFixed(0),
        kind === 'off' ? '-' : Math.round((STATEMENTS * 5) / (durable / 1000)),
        ((cpuMs * 1000) / STATEMENTS).toFixed(1),
        (((cpuMs - offCpu) * 1000) / STATEMENTS).toFixed(1),
        (offCpu / cpuMs).toFixed(2),
      ];
    }),
  );
  console.log(
    '\nCPU = this process until every event is stored; the off run is the loop alone (setImmediate per statement).',
  );
}

await main();
