/**
 * The Postgres target client against node-postgres, the baseline, in the same run on the same
 * server: streaming a large result, and sequential round trips (simple and extended protocol).
 * Needs PostgreSQL on 127.0.0.1:5432 (trust auth for `postgres`).
 *
 *   npx tsc -p tsconfig.json --outDir dist && node dist/bench/pg-client.js
 */
import pg from 'pg';
import { pino } from 'pino';
import { PgConnection } from '../protocols/postgres/client/index.js';
import { parseConfigText } from '../src/config/load.js';
import { createPostgresEngine } from '../src/gateway/engines/postgres.js';
import type { ResultSink } from '../src/gateway/types.js';
import { machineLine, printTable } from './machine.js';

const server = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' };
const ROWS = 500_000;
const RESULT = `SELECT g, md5(g::text) AS h, g * 1.5 AS f, now() AS ts FROM generate_series(1, ${ROWS}) g`;
const TRIPS = 5000;
const ROUNDS = 3;

async function ms(work: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function repeat(times: number, work: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < times; i++) await work();
}

/** Best of ROUNDS, scenarios interleaved so that load on a shared machine hits all alike. */
async function best(scenarios: [string, () => Promise<unknown>][]): Promise<Map<string, number>> {
  const times = new Map<string, number>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, work] of scenarios) {
      const took = await ms(work);
      times.set(name, Math.min(times.get(name) ?? Infinity, took));
    }
  }
  return times;
}

const baseline = new pg.Client(server);
await baseline.connect();
const connection = await PgConnection.connect({ ...server, tls: 'disable' });
const target = parseConfigText(
  'targets:\n  bench: { engine: postgres, host: 127.0.0.1, port: 5432, database: postgres, user: postgres, tls: disable }\n',
).targets.get('bench');
if (target === undefined) throw new Error('no target');
const engine = createPostgresEngine(target, pino({ level: 'silent' }));
const sink: ResultSink = { columns: () => undefined, row: () => undefined };
await engine.query('SELECT 1', sink);

const streaming = await best([
  ['node-postgres Client (baseline)', () => baseline.query(RESULT)],
  ['PgConnection, text rows', () => connection.query(RESULT, { row: () => undefined })],
  [
    'PgConnection, raw DataRows',
    () => connection.query(RESULT, { rawRow: () => undefined }, { mode: 'raw' }),
  ],
  ['engine, decoded rows to a sink', () => engine.query(RESULT, sink)],
]);
const trips = await best([
  ['node-postgres SELECT 1 (baseline)', () => repeat(TRIPS, () => baseline.query('SELECT 1'))],
  ['PgConnection SELECT 1', () => repeat(TRIPS, () => connection.query('SELECT 1', {}))],
  [
    'node-postgres SELECT $1::int (baseline)',
    () => repeat(TRIPS, () => baseline.query('SELECT $1::int', [1])),
  ],
  [
    'PgConnection SELECT $1::int',
    () => repeat(TRIPS, () => connection.query('SELECT $1::int', {}, { params: [1] })),
  ],
  ['engine SELECT 1 (pool + decode)', () => repeat(TRIPS, () => engine.query('SELECT 1', sink))],
]);

console.log(machineLine());
const streamBase = streaming.get('node-postgres Client (baseline)') ?? 1;
printTable(
  ['result of 500k rows', 'best ms', 'rows/s', 'vs baseline'],
  [...streaming].map(([name, took]) => [
    name,
    took.toFixed(0),
    Math.round(ROWS / (took / 1000)),
    `${(streamBase / took).toFixed(2)}×`,
  ]),
);
console.log('');
printTable(
  [`${TRIPS} sequential round trips`, 'best ms', 'µs each'],
  [...trips].map(([name, took]) => [name, took.toFixed(0), ((took * 1000) / TRIPS).toFixed(1)]),
);
await baseline.end();
await connection.close();
await engine.close();
