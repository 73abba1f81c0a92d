/**
 * The MySQL listener end to end, against a direct connection to the same MariaDB in the same run:
 *
 *   sysbench oltp_point_select (one `SELECT c FROM sbtest1 WHERE id=n` per transaction, a new
 *   literal each time) at 1 and 8 threads, text protocol (`--db-ps-mode=disable`) and server-side
 *   prepared (`auto`), ~10 s each:
 *     direct   sysbench → MariaDB
 *     sluice   sysbench → Sluice (token login, guard, masking plan per result with a column rule,
 *              recording to Redis) → MariaDB
 *   qps, the ratio to direct, and the gateway's CPU (user + system, from /proc/<pid>/stat) per query.
 *
 * Run: npx tsc -p tsconfig.json --outDir dist && node dist/bench/mysql.js [--seconds 10]
 * Needs: MariaDB on 127.0.0.1:3306 (root, empty password), Redis on 127.0.0.1:6379; sysbench is
 * installed with apt-get when missing (root only). SLUICE_BENCH_THREADS=1,8 and
 * SLUICE_BENCH_MODES=disable,auto choose the rows; SLUICE_BENCH_NODE_ARGS profiles the gateway.
 */
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import { machineLine, printTable } from './machine.js';

const run = promisify(execFile);
const TABLE_SIZE = 10_000;

interface GatewayReady {
  kind: 'ready';
  port: number;
  token: string;
}

// ---------------------------------------------------------------- the gateway child process

async function serveGateway(configText: string, prefix: string, dir: string): Promise<void> {
  const { parseConfigText } = await import('../src/config/load.js');
  const { assembleGateway } = await import('../src/cli/assemble.js');
  const { startMysqlListener } = await import('../src/gateway/mysql/index.js');
  const config = parseConfigText(configText, { baseDir: dir, env: {} });
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const parts = await assembleGateway(config, logger, { recording: { prefix } });
  const listener = await startMysqlListener(parts, config, logger);
  const token = await parts.authenticator.mint({ subject: 'bench', groups: ['bench'] });
  process.on('message', (message: { kind: string }) => {
    if (message.kind !== 'stop') return;
    void listener
      .close()
      .then(() => parts.close())
      .then(() => process.exit(0));
  });
  process.send?.({ kind: 'ready', port: listener.address.port, token } satisfies GatewayReady);
}

// ---------------------------------------------------------------- helpers of the driver

async function haveCommand(name: string): Promise<boolean> {
  try {
    await run('which', [name]);
    return true;
  } catch {
    return false;
  }
}

async function ensureSysbench(): Promise<void> {
  if (await haveCommand('sysbench')) return;
  if (process.getuid?.() !== 0) throw new Error('sysbench is missing: apt-get install sysbench');
  console.log('installing sysbench (apt-get install -y sysbench) ...');
  await run('apt-get', ['update', '-qq'], { maxBuffer: 64 * 1024 * 1024 });
  await run('apt-get', ['install', '-y', '-qq', 'sysbench'], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** CPU time (user + system) a process has used, in microseconds. */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / 100;
}

interface SysbenchResult {
  qps: number;
  queries: number;
  errors: number;
  failed?: string;
}

async function sysbench(
  args: { port: number; user: string; password: string; database: string },
  threads: number,
  psMode: string,
  seconds: number,
  command = 'run',
): Promise<SysbenchResult> {
  const argv = [
    'oltp_point_select',
    '--mysql-host=127.0.0.1',
    `--mysql-port=${args.port}`,
    `--mysql-user=${args.user}`,
    `--mysql-password=${args.password}`,
    `--mysql-db=${args.database}`,
    '--tables=1',
    `--table-size=${TABLE_SIZE}`,
    `--threads=${threads}`,
    `--time=${seconds}`,
    `--db-ps-mode=${psMode}`,
    command,
  ];
  try {
    const { stdout } = await run('sysbench', argv, {
      // libmariadb loads caching_sha2_password (the listener's login) on first use, and threads
      // that connect at once race there ("Plugin caching_sha2_password could not be loaded: it is
      // already loaded", 4-5 runs in 25 at 8 threads): load it once, when the library starts.
      env: { ...process.env, LIBMYSQL_PLUGINS: 'caching_sha2_password' },
      maxBuffer: 16 * 1024 * 1024,
    });
    const queries = /queries:\s+(\d+)\s+\(([\d.]+) per sec/.exec(stdout);
    const errors = /ignored errors:\s+(\d+)/.exec(stdout);
    return {
      qps: Number(queries?.[2] ?? NaN),
      queries: Number(queries?.[1] ?? 0),
      errors: Number(errors?.[1] ?? 0),
    };
  } catch (err) {
    const text = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
    const fatal = text
      .split('\n')
      .filter((l) => l.includes('FATAL'))
      .map((l) => l.trim())
      .join(' | ');
    return { qps: NaN, queries: 0, errors: 1, failed: fatal || (err as Error).message };
  }
}

function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  const secondsArg = process.argv.indexOf('--seconds');
  const seconds = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 10;
  const rounds = Number(process.env.SLUICE_BENCH_ROUNDS ?? 1);
  const suffix = randomBytes(4).toString('hex');
  const database = `sluice_bench_my_${suffix}`;
  const prefix = `sluice:bench:${suffix}:`;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-mysql-bench-'));
  const children: ChildProcess[] = [];
  console.log(machineLine());
  await ensureSysbench();
  const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
  await admin.query(`CREATE DATABASE ${database}`);
  try {
    const direct = { port: 3306, user: 'root', password: '', database };
    await sysbench(direct, 1, 'disable', 1, 'prepare');
    const config = `
server: { mysql: { listen: 127.0.0.1:0, allowPlaintextAuth: true } }
targets:
  bench: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${database}, user: root, tls: disable }
policies:
  - name: bench
    when: { groups: [bench], targets: [bench] }
    statements: { default: deny, allow: [read, session, transaction], deny: [ddl, dcl, program, file] }
    masking:
      - columns: ["*.ssn"]
        strategy: redact
    limits: { maxRows: 1000000, statementTimeout: 60s }
recording: { store: redis, redis: { url: redis://127.0.0.1:6379 } }
state: { dir: state }
`;
    const gateway = fork(fileURLToPath(import.meta.url), ['--gateway'], {
      env: {
        ...process.env,
        SLUICE_BENCH_CONFIG: config,
        SLUICE_BENCH_PREFIX: prefix,
        SLUICE_BENCH_DIR: dir,
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: process.env.SLUICE_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
    });
    children.push(gateway);
    const ready = await new Promise<GatewayReady>((resolve, reject) => {
      gateway.once('message', resolve);
      gateway.once('exit', (code) => reject(new Error(`the gateway exited (${code}) before it was ready`)));
    });
    const pid = gateway.pid as number;
    const through = { port: ready.port, user: 'bench', password: ready.token, database: 'bench' };
    // Warm the gateway's JIT and caches (and the RSA key of the first login) before measuring.
    await sysbench(through, 8, 'disable', Math.min(3, seconds));

    const threadCounts = (process.env.SLUICE_BENCH_THREADS ?? '1,8').split(',').filter(Boolean).map(Number);
    const modes = (process.env.SLUICE_BENCH_MODES ?? 'disable,auto').split(',').filter(Boolean);
    const rows: (string | number)[][] = [];
    const failures: string[] = [];
    for (const threads of threadCounts) {
      for (const mode of modes) {
        const directQps: number[] = [];
        const sluiceQps: number[] = [];
        const cpuPerQuery: number[] = [];
        let errors = 0;
        // Round-robin, so that the load others put on the machine falls on both paths alike.
        for (let round = 0; round < rounds; round++) {
          const d = await sysbench(direct, threads, mode, seconds);
          directQps.push(d.qps);
          const before = cpuMicros(pid);
          const s = await sysbench(through, threads, mode, seconds);
          const used = cpuMicros(pid) - before;
          sluiceQps.push(s.qps);
          if (s.queries > 0) cpuPerQuery.push(used / s.queries);
          errors += s.errors + d.errors;
          if (s.failed) failures.push(`sluice, ${threads} threads, ${mode}: ${s.failed}`);
          if (d.failed) failures.push(`direct, ${threads} threads, ${mode}: ${d.failed}`);
        }
        const label = mode === 'disable' ? 'text' : 'prepared';
        const dq = median(directQps);
        const sq = median(sluiceQps);
        rows.push([
          threads,
          label,
          dq.toFixed(0),
          sq.toFixed(0),
          (sq / dq).toFixed(3),
          median(cpuPerQuery).toFixed(0),
          errors,
        ]);
      }
    }
    console.log(
      `\nsysbench oltp_point_select, ${seconds} s per run, ${rounds} round(s) (medians), table of ${TABLE_SIZE} rows; ` +
        'Sluice without TLS (allowPlaintextAuth: the token RSA-encrypted), recording to Redis, a *.ssn column rule',
    );
    printTable(
      [
        'threads',
        'protocol',
        'direct qps',
        'sluice qps',
        'sluice / direct',
        'gateway CPU µs / query',
        'errors',
      ],
      rows,
    );
    for (const failure of failures) console.log(`failed: ${failure}`);
    gateway.send({ kind: 'stop' });
    await new Promise((r) => gateway.once('exit', r));
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
    await admin.query(`DROP DATABASE IF EXISTS ${database}`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
    const redis = new Redis('redis://127.0.0.1:6379');
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    await redis.quit();
  }
}

if (process.argv.includes('--gateway')) {
  await serveGateway(
    process.env.SLUICE_BENCH_CONFIG ?? '',
    process.env.SLUICE_BENCH_PREFIX ?? 'sluice:bench:',
    process.env.SLUICE_BENCH_DIR ?? tmpdir(),
  );
} else {
  await main();
}
