/**
 * Recording cost on the result path: 200k rows of 10 columns streamed from PostgreSQL with the
 * gateway's own client (text values decoded per column, as the gateway's engine does) and handed
 * to a SessionRecorder in batches of 100 (as the gateway's pipeline does), with recording off
 * (NullRecorder) and on (Redis Streams on the local Redis), measured in the same run, alternating.
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

/** Streams the result through the recorder; returns the stream time and the time until stored. */
async function run(client: PgConnection, recorder: Recorder): Promise<Run> {
  const rec = recorder.startSession({ session: session() });
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  rec.onStatement({ statementId: 'q1', sql: SQL });
  rec.onDecision({
    statementId: 'q1',
    action: 'allow',
    reason: 'read',
    rule: 'bench',
    effects: ['read'],
    objects: [],
  });
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
  const on = createRecorder(config, logger, { prefix });
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
      session: DEFAULT_SESSION_LIMITS,
      closeTimeoutMs: 1_000,
    },
    logger,
  );
  // The same store, writing after each event-loop turn instead of gathering for up to 2 ms.
  const onNoLinger = createRecorder(config, logger, { prefix, queue: { lingerMs: 0 } });
  const admin = new Redis(REDIS_URL, { protocol: 2 });
  try {
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
    console.log(machineLine());
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
    await small({ off, sealOnly, on, onNoLinger });
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
