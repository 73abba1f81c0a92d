/**
 * The Postgres listener end to end, against a direct connection and pgbouncer in the same run:
 *
 *   pgbench -S (select-only, simple protocol) at 1 and 8 clients, ~10 s each:
 *     direct     pgbench → PostgreSQL
 *     pgbouncer  pgbench → pgbouncer (session pooling, if installed) → PostgreSQL
 *     sluice     pgbench → Sluice (token login, guard, masking plan per result, recording to Redis) → PostgreSQL
 *   TPS, ratios, and the p50 latency each proxy adds (from pgbench's per-transaction log).
 *
 *   1,000,000-row SELECT with a masked column through Sluice, read by psql: time and the gateway's
 *   peak RSS (the gateway runs in a child process that samples its own memory).
 *
 * Run: npx tsc -p tsconfig.json --outDir dist && node dist/bench/pgbench.js [--seconds 10]
 * Needs: psql and pgbench; pgbouncer optional (apt-get install pgbouncer); PostgreSQL on
 * 127.0.0.1:5432 (trust for postgres) and Redis on 127.0.0.1:6379.
 */
import { execFile, fork, spawn, type ChildProcess } from 'node:child_process';
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { machineLine, printTable } from './machine.js';

const run = promisify(execFile);
const PG = { host: '127.0.0.1', port: 5432, user: 'postgres' };

interface GatewayReady {
  kind: 'ready';
  port: number;
  token: string;
}
interface GatewayRss {
  kind: 'rss';
  peak: number;
  now: number;
}

// ---------------------------------------------------------------- the gateway child process

/**
 * `SLUICE_BENCH_WORKERS` > 1: this process is a cluster primary with that many gateway workers on
 * one port (as `server.workers` runs them in `sluice serve`); it reports ready when all are.
 */
async function serveWorkers(count: number): Promise<void> {
  const port = await freePort();
  const ready: GatewayReady[] = [];
  for (let i = 0; i < count; i++) {
    const worker = cluster.fork({ SLUICE_BENCH_PORT: String(port) });
    worker.on('message', (message: GatewayReady) => {
      if (message.kind !== 'ready') return;
      ready.push(message);
      if (ready.length === count) process.send?.(ready[0]);
    });
  }
  process.on('message', (message: { kind: string }) => {
    if (message.kind === 'stop') {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
      process.exit(0);
    }
  });
}

async function serveGateway(configText: string, prefix: string, dir: string): Promise<void> {
  const port = process.env.SLUICE_BENCH_PORT;
  if (port) configText = configText.replace('listen: 127.0.0.1:0', `listen: 127.0.0.1:${port}`);
  const { parseConfigText } = await import('../src/config/load.js');
  const { assembleGateway } = await import('../src/cli/assemble.js');
  const { startPostgresListener } = await import('../src/gateway/postgres/listener.js');
  const config = parseConfigText(configText, { baseDir: dir, env: {} });
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const parts = await assembleGateway(config, logger, { recording: { prefix } });
  const listener = await startPostgresListener(parts, config, logger);
  const token = await parts.authenticator.mint({ subject: 'bench', groups: ['bench'] });
  let peak = process.memoryUsage().rss;
  let peakHeap = 0;
  let peakBuffers = 0;
  setInterval(() => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
    peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
    if (process.env.SLUICE_BENCH_MEMLOG)
      process.stderr.write(`rss ${m.rss >> 20} heap ${m.heapUsed >> 20} buffers ${m.arrayBuffers >> 20}\n`);
  }, 20).unref();
  process.on('message', (message: { kind: string }) => {
    if (message.kind === 'rss') {
      const now = process.memoryUsage().rss;
      process.send?.({ kind: 'rss', peak: Math.max(peak, now), now } satisfies GatewayRss);
      peak = now;
    } else if (message.kind === 'stop') {
      void listener
        .close()
        .then(() => parts.close())
        .then(() => process.exit(0));
    }
  });
  process.send?.({ kind: 'ready', port: listener.address.port, token } satisfies GatewayReady);
}

// ---------------------------------------------------------------- helpers of the driver

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function admin(sql: string, database = 'postgres'): Promise<void> {
  const client = new pg.Client({ ...PG, database });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

interface PgbenchResult {
  tps: number;
  p50us: number;
  p99us: number;
}

async function pgbench(
  port: number,
  user: string,
  database: string,
  clients: number,
  seconds: number,
  env: NodeJS.ProcessEnv,
  logDir: string,
): Promise<PgbenchResult> {
  const prefix = join(logDir, `log-${port}-${clients}-${randomBytes(3).toString('hex')}`);
  const { stdout } = await run(
    'pgbench',
    [
      '-n',
      '-S',
      '-c',
      String(clients),
      '-j',
      String(Math.min(clients, 2)),
      '-T',
      String(seconds),
      '-l',
      '--log-prefix',
      prefix,
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      user,
      database,
    ],
    { env: { PATH: process.env.PATH, ...env }, maxBuffer: 16 * 1024 * 1024 },
  );
  const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  const latencies: number[] = [];
  const base = prefix.slice(logDir.length + 1);
  for (const file of readdirSync(logDir).filter((f) => f.startsWith(base))) {
    for (const line of readFileSync(join(logDir, file), 'utf8').split('\n')) {
      const fields = line.split(' ');
      if (fields.length >= 3) latencies.push(Number(fields[2]));
    }
  }
  latencies.sort((a, b) => a - b);
  return {
    tps,
    p50us: latencies[Math.floor(latencies.length / 2)] ?? NaN,
    p99us: latencies[Math.floor(latencies.length * 0.99)] ?? NaN,
  };
}

/**
 * pgbouncer refuses to run as root; when the bench runs as root it is started as the `postgres`
 * user, in a folder that user can write.
 */
async function startPgbouncer(parent: string, port: number, database: string): Promise<ChildProcess> {
  const dir = join(parent, 'pgbouncer');
  mkdirSync(dir);
  chmodSync(parent, 0o755);
  chmodSync(dir, 0o777);
  let ids: { uid: number; gid: number } | undefined;
  if (process.getuid?.() === 0) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    ids = { uid, gid };
  }
  writeFileSync(join(dir, 'userlist.txt'), '"postgres" ""\n');
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `${database} = host=127.0.0.1 port=5432 dbname=${database} user=postgres`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = session',
      'max_client_conn = 100',
      'default_pool_size = 20',
      `unix_socket_dir = ${dir}`,
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      '',
    ].join('\n'),
  );
  return spawn('pgbouncer', [join(dir, 'pgbouncer.ini')], { stdio: 'ignore', ...ids });
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await run('pg_isready', ['-h', '127.0.0.1', '-p', String(port), '-t', '1']);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nothing answers on ${port}`);
}

async function haveCommand(name: string): Promise<boolean> {
  try {
    await run('which', [name]);
    return true;
  } catch {
    return false;
  }
}

function rss(child: ChildProcess): Promise<GatewayRss> {
  return new Promise((resolve) => {
    child.once('message', (m: GatewayRss) => resolve(m));
    child.send({ kind: 'rss' });
  });
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

async function main(): Promise<void> {
  const secondsArg = process.argv.indexOf('--seconds');
  const seconds = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 10;
  const suffix = randomBytes(4).toString('hex');
  const database = `sluice_bench_${suffix}`;
  const prefix = `sluice:bench:${suffix}:`;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pgbench-'));
  const children: ChildProcess[] = [];
  console.log(machineLine());
  await admin(`CREATE DATABASE ${database}`);
  try {
    await run('pgbench', [
      '-i',
      '-s',
      '1',
      '-q',
      '-h',
      '127.0.0.1',
      '-p',
      '5432',
      '-U',
      'postgres',
      database,
    ]);
    await admin(
      `CREATE TABLE people AS SELECT g AS id, 'user' || g || '@example.com' AS email, md5(g::text) AS note
       FROM generate_series(1, 1000000) g; ANALYZE people`,
      database,
    );

    let config = `
server: { postgres: { listen: 127.0.0.1:0, allowPlaintextAuth: true } }
targets:
  bench: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${database}, user: postgres, tls: disable }
policies:
  - name: bench
    when: { groups: [bench], targets: [bench] }
    statements: { default: deny, allow: [read, session, transaction], deny: [ddl, dcl, program, file] }
    masking:
      - columns: [people.email]
        strategy: email
      - columns: ["*.ssn"]
        strategy: redact
    limits: { maxRows: 1000000, statementTimeout: 60s }
recording: { store: redis, redis: { url: redis://127.0.0.1:6379 } }
state: { dir: state }
`;
    // SLUICE_BENCH_VARIANT=no-masking | file-recording: attribute the cost of a stage.
    const variant = process.env.SLUICE_BENCH_VARIANT ?? '';
    if (variant.includes('no-masking')) config = config.replace(/ {4}masking:\n(?: {6}.*\n)+/, '');
    if (variant.includes('file-recording'))
      config = config.replace(/recording: .*\n/, 'recording: { store: file }\n');
    const startGateway = async (workers: number): Promise<{ child: ChildProcess; ready: GatewayReady }> => {
      const child = fork(fileURLToPath(import.meta.url), ['--gateway'], {
        env: {
          ...process.env,
          SLUICE_BENCH_CONFIG: config,
          SLUICE_BENCH_PREFIX: prefix,
          SLUICE_BENCH_DIR: dir,
          SLUICE_BENCH_WORKERS: String(workers),
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        // SLUICE_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir /tmp/p": profile the gateway.
        execArgv: process.env.SLUICE_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
      });
      children.push(child);
      const ready = await new Promise<GatewayReady>((resolve) => child.once('message', resolve));
      return { child, ready };
    };
    const { child: gateway, ready } = await startGateway(1);
    // The same gateway as two worker processes sharing the port (server.workers: 2).
    const twoWorkers = process.env.SLUICE_BENCH_SKIP_WORKERS ? undefined : await startGateway(2);

    const bouncer = (await haveCommand('pgbouncer')) ? await freePort() : undefined;
    if (bouncer !== undefined) {
      children.push(await startPgbouncer(dir, bouncer, database));
      await waitForPort(bouncer);
    }

    const rows: (string | number)[][] = [];
    const results = new Map<string, PgbenchResult>();
    const clientCounts = (process.env.SLUICE_BENCH_CLIENTS ?? '1,8').split(',').filter(Boolean).map(Number);
    for (const clients of clientCounts) {
      const paths: [string, () => Promise<PgbenchResult>][] = [
        ['direct', () => pgbench(5432, 'postgres', database, clients, seconds, {}, dir)],
      ];
      if (bouncer !== undefined) {
        paths.push(['pgbouncer', () => pgbench(bouncer, 'postgres', database, clients, seconds, {}, dir)]);
      }
      // pgbouncer here speaks plain TCP to pgbench, so Sluice is measured without TLS too (sslmode=disable);
      // SLUICE_BENCH_SSLMODE=require measures Sluice over TLS instead.
      const sslmode = process.env.SLUICE_BENCH_SSLMODE ?? 'disable';
      paths.push([
        'sluice',
        () =>
          pgbench(
            ready.port,
            'bench',
            'bench',
            clients,
            seconds,
            { PGPASSWORD: ready.token, PGSSLMODE: sslmode },
            dir,
          ),
      ]);
      if (twoWorkers) {
        const { port, token } = twoWorkers.ready;
        paths.push([
          'sluice ×2',
          () =>
            pgbench(port, 'bench', 'bench', clients, seconds, { PGPASSWORD: token, PGSSLMODE: sslmode }, dir),
        ]);
      }
      for (const [name, measure] of paths) {
        const result = await measure();
        results.set(`${name}/${clients}`, result);
      }
      const direct = results.get(`direct/${clients}`) as PgbenchResult;
      const bouncerResult = results.get(`pgbouncer/${clients}`);
      for (const [name] of paths) {
        const r = results.get(`${name}/${clients}`) as PgbenchResult;
        rows.push([
          clients,
          name,
          r.tps.toFixed(0),
          (r.tps / direct.tps).toFixed(2),
          bouncerResult ? (r.tps / bouncerResult.tps).toFixed(2) : '-',
          r.p50us.toFixed(0),
          name === 'direct' ? '-' : (r.p50us - direct.p50us).toFixed(0),
          r.p99us.toFixed(0),
        ]);
      }
    }
    twoWorkers?.child.send({ kind: 'stop' });
    console.log(
      `\npgbench -S (select-only, simple protocol), ${seconds} s per run, scale 1; ` +
        `Sluice with sslmode=${process.env.SLUICE_BENCH_SSLMODE ?? 'disable'}; sluice ×2: two worker processes`,
    );
    if (rows.length > 0)
      printTable(
        ['clients', 'path', 'tps', '× direct', '× pgbouncer', 'p50 µs', 'p50 added µs', 'p99 µs'],
        rows,
      );

    // 1,000,000 rows with a masked column, read by psql (which buffers them; its memory is its own).
    if (process.env.SLUICE_BENCH_SKIP_ROWS) {
      gateway.send({ kind: 'stop' });
      await new Promise((r) => gateway.once('exit', r));
      return;
    }
    const before = await rss(gateway);
    const started = process.hrtime.bigint();
    const { stdout } = await run(
      'psql',
      [
        '-X',
        '-A',
        '-t',
        '-h',
        '127.0.0.1',
        '-p',
        String(ready.port),
        '-U',
        'bench',
        '-d',
        'bench',
        '-c',
        'SELECT * FROM people',
      ],
      { env: { PATH: process.env.PATH, PGPASSWORD: ready.token }, maxBuffer: 512 * 1024 * 1024 },
    );
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const memory = await rss(gateway);
    const lines = stdout.split('\n').filter((l) => l !== '');
    const leaked = lines.filter((l) => /\|user\d+@/.test(l)).length;
    console.log('\n1,000,000-row SELECT, email masked, through Sluice (psql reads it all)');
    printTable(
      ['rows', 'time', 'rows/s', 'gateway RSS before', 'peak RSS', 'RSS after', 'unmasked emails seen'],
      [
        [
          lines.length,
          `${(ms / 1000).toFixed(2)} s`,
          ((lines.length / ms) * 1000).toFixed(0),
          mib(before.now),
          mib(memory.peak),
          mib(memory.now),
          leaked,
        ],
      ],
    );
    gateway.send({ kind: 'stop' });
    await new Promise((r) => gateway.once('exit', r));
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
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

const benchWorkers = Number(process.env.SLUICE_BENCH_WORKERS ?? 1);
if (process.argv.includes('--gateway') && cluster.isPrimary && benchWorkers > 1) {
  await serveWorkers(benchWorkers);
} else if (process.argv.includes('--gateway')) {
  await serveGateway(
    process.env.SLUICE_BENCH_CONFIG ?? '',
    process.env.SLUICE_BENCH_PREFIX ?? 'sluice:bench:',
    process.env.SLUICE_BENCH_DIR ?? tmpdir(),
  );
} else {
  await main();
}
