import t from 'tap';
import { Writable } from 'node:stream';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { parseConfigText, type Target } from '../../../src/config/load.js';
import { createPostgresEngine, PostgresEngineError } from '../../../src/gateway/engines/postgres.js';
import type { ResultColumn, ResultSink, TargetEngine } from '../../../src/gateway/types.js';
import {
  adminQuery,
  createRole,
  createScratchDatabase,
  ensureServerTls,
  PG_HOST,
  PG_PORT,
} from '../../support/postgres.js';

/** A logger whose lines are kept, to check what reaches the log. */
function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

function targetFor(
  fields: Record<string, unknown>,
  env: Record<string, string> = {},
  baseDir?: string,
): Target {
  const yaml = `targets:\n  t1: ${JSON.stringify({ engine: 'postgres', host: PG_HOST, port: PG_PORT, user: 'postgres', database: 'postgres', tls: 'disable', ...fields })}\n`;
  const config = parseConfigText(yaml, { env, ...(baseDir ? { baseDir } : {}) });
  const target = config.targets.get('t1');
  if (!target) throw new Error('no target');
  return target;
}

function engineFor(t: { teardown(fn: () => unknown): void }, target: Target): TargetEngine {
  const engine = createPostgresEngine(target, pino({ level: 'silent' }));
  t.teardown(() => engine.close());
  return engine;
}

function collect() {
  const seen: { columns: ResultColumn[]; rows: unknown[][] } = { columns: [], rows: [] };
  const sink: ResultSink = {
    columns: (c) => void (seen.columns = c),
    row: (r) => void seen.rows.push(r),
  };
  return { seen, sink };
}

t.test('a statement without parameters streams ResultColumns and decoded rows', async (t) => {
  const db = await createScratchDatabase(t);
  const engine = engineFor(t, targetFor({ database: db.name }));
  await engine.query(
    'CREATE TABLE orders (id int4, total numeric, placed timestamptz, tags text[])',
    collect().sink,
  );
  await engine.query(
    "INSERT INTO orders VALUES (1, 9.90, '2024-05-01 10:00:00+00', '{a,b}'), (2, NULL, NULL, NULL)",
    collect().sink,
  );
  const tableOid = Number(
    (await adminQuery("SELECT 'orders'::regclass::oid AS oid", [], db.name)).rows[0]?.oid,
  );
  const { seen, sink } = collect();
  const summary = await engine.query(
    "SET TIME ZONE 'UTC'; SELECT id, total, placed, tags, id * 2 AS twice FROM orders ORDER BY id",
    sink,
  );
  t.same(summary, { command: 'SELECT 2', rowCount: 2 });
  t.same(seen.columns, [
    { name: 'id', type: 'int4', typeOid: 23, tableOid, columnAttr: 1 },
    { name: 'total', type: 'numeric', typeOid: 1700, tableOid, columnAttr: 2 },
    { name: 'placed', type: 'timestamptz', typeOid: 1184, tableOid, columnAttr: 3 },
    { name: 'tags', type: '_text', typeOid: 1009, tableOid, columnAttr: 4 },
    { name: 'twice', type: 'int4', typeOid: 23, tableOid: 0, columnAttr: 0 },
  ]);
  t.same(seen.rows, [
    [1, '9.90', '2024-05-01T10:00:00+00:00', ['a', 'b'], 2],
    [2, null, null, null, 4],
  ]);
});

t.test('parameters go through the extended protocol, null as NULL', async (t) => {
  const engine = engineFor(t, targetFor({}));
  const { seen, sink } = collect();
  const summary = await engine.query('SELECT $1::int4 + 1 AS n, $2::text AS s, $3::jsonb AS j', sink, {
    params: [1, null, { k: [1] }],
  });
  t.same(seen.rows, [[2, null, { k: [1] }]]);
  t.equal(summary.command, 'SELECT 1');
});

t.test(
  'non-builtin types are named from pg_type; one created later is learnt after its first result',
  async (t) => {
    const db = await createScratchDatabase(t);
    const engine = engineFor(t, targetFor({ database: db.name }));
    const first = collect();
    await engine.query("SELECT '(1,2)'::point AS p", first.sink);
    t.match(first.seen.columns[0], { name: 'p', type: 'point', typeOid: 600 });
    t.same(first.seen.rows, [['(1,2)']], 'a type without a decoder stays text');
    await engine.query("CREATE TYPE mood AS ENUM ('happy', 'sad')", collect().sink);
    const before = collect();
    await engine.query("SELECT 'happy'::mood AS m", before.sink);
    t.equal(before.seen.columns[0]?.type, 'unknown', 'not known when the result starts');
    const after = collect();
    await engine.query("SELECT 'sad'::mood AS m", after.sink);
    t.equal(after.seen.columns[0]?.type, 'mood');
    t.same(after.seen.rows, [['sad']]);
  },
);

t.test(
  'a server error becomes ERR_TARGET_QUERY with sqlstate, position and the server message',
  async (t) => {
    const engine = engineFor(t, targetFor({}));
    const err = (await engine
      .query('SELECT nope FROM pg_class', collect().sink)
      .catch((e: unknown) => e)) as PostgresEngineError;
    t.ok(err instanceof PostgresEngineError);
    t.equal(err.code, 'ERR_TARGET_QUERY');
    t.equal(err.sqlstate, '42703');
    t.equal(err.position, 8);
    t.match(err.message, /column "nope" does not exist/);
    const dup = (await engine
      .query(
        'SELECT * FROM (VALUES (1)) v(a) WHERE 1 = (SELECT x FROM (VALUES (1),(2)) s(x))',
        collect().sink,
      )
      .catch((e: unknown) => e)) as PostgresEngineError;
    t.equal(dup.sqlstate, '21000');
    const ok = collect();
    await engine.query('SELECT 1', ok.sink);
    t.same(ok.seen.rows, [[1]], 'the pooled connection is usable after the error');
  },
);

t.test(
  'a wrong password gives ERR_TARGET_AUTH; the password appears in no error and no log line',
  async (t) => {
    const role = await createRole(t, { auth: 'scram-sha-256' });
    const wrong = 'Wr0ng-Pa55w0rd-for-the-test';
    const { logger, lines } = capturingLogger();
    const engine = createPostgresEngine(
      targetFor({ user: role.user, password: 'env:PW' }, { PW: wrong }),
      logger,
    );
    t.teardown(() => engine.close());
    const err = (await engine
      .query('SELECT 1', collect().sink)
      .catch((e: unknown) => e)) as PostgresEngineError;
    t.equal(err.code, 'ERR_TARGET_AUTH');
    t.equal(err.sqlstate, '28P01');
    t.match(err.message, `target "t1" (${PG_HOST}:${PG_PORT})`);
    const { inspect } = await import('node:util');
    const everything = [
      err.message,
      err.stack,
      JSON.stringify(err),
      inspect(err, { depth: 10 }),
      ...lines,
    ].join('\n');
    t.notMatch(everything, wrong);
    t.ok(lines.length > 0, 'the failure was logged');
  },
);

t.test('the right password connects (MD5 role)', async (t) => {
  const role = await createRole(t, { auth: 'md5' });
  const engine = engineFor(t, targetFor({ user: role.user, password: 'env:PW' }, { PW: role.password }));
  const { seen, sink } = collect();
  await engine.query('SELECT current_user', sink);
  t.same(seen.rows, [[role.user]]);
});

t.test('a password the server echoes in an error is scrubbed', async (t) => {
  const role = await createRole(t, { auth: 'password', password: 'echo-me-123' });
  const engine = engineFor(t, targetFor({ user: role.user, password: 'env:PW' }, { PW: role.password }));
  const err = (await engine
    .query("SELECT 'echo-me-123'::int", collect().sink)
    .catch((e: unknown) => e)) as PostgresEngineError;
  t.equal(err.sqlstate, '22P02');
  t.notMatch(err.message, 'echo-me-123');
  t.match(err.message, '[secret]');
});

t.test('an unreachable target gives ERR_TARGET_UNREACHABLE naming host:port', async (t) => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  const engine = engineFor(t, targetFor({ port }));
  const err = (await engine
    .query('SELECT 1', collect().sink)
    .catch((e: unknown) => e)) as PostgresEngineError;
  t.equal(err.code, 'ERR_TARGET_UNREACHABLE');
  t.match(err.message, `127.0.0.1:${port}`);
});

t.test('an unknown database gives ERR_TARGET_CONNECT with 3D000', async (t) => {
  const engine = engineFor(t, targetFor({ database: 'sluice_surely_missing_db' }));
  const err = (await engine
    .query('SELECT 1', collect().sink)
    .catch((e: unknown) => e)) as PostgresEngineError;
  t.equal(err.code, 'ERR_TARGET_CONNECT');
  t.equal(err.sqlstate, '3D000');
});

t.test('timeoutMs cancels with ERR_TARGET_TIMEOUT; abort cancels with ERR_TARGET_CANCELLED', async (t) => {
  const engine = engineFor(t, targetFor({ pool: { max: 1 } }));
  const timedOut = (await engine
    .query('SELECT pg_sleep(10)', collect().sink, { timeoutMs: 100 })
    .catch((e: unknown) => e)) as PostgresEngineError;
  t.equal(timedOut.code, 'ERR_TARGET_TIMEOUT');
  t.equal(timedOut.sqlstate, '57014');
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const aborted = (await engine
    .query('SELECT pg_sleep(10)', collect().sink, { signal: controller.signal })
    .catch((e: unknown) => e)) as PostgresEngineError;
  t.equal(aborted.code, 'ERR_TARGET_CANCELLED');
  const ok = collect();
  await engine.query('SELECT 2', ok.sink);
  t.same(ok.seen.rows, [[2]]);
});

t.test('with pool max 1, concurrent statements wait their turn on one connection', async (t) => {
  const engine = engineFor(t, targetFor({ pool: { max: 1 } }));
  const pids = new Set<unknown>();
  const sink: ResultSink = { columns: () => undefined, row: (r) => void pids.add(r[0]) };
  await Promise.all(Array.from({ length: 5 }, () => engine.query('SELECT pg_backend_pid()', sink)));
  t.equal(pids.size, 1);
});

t.test('a sink with backpressure receives every row; a sink error passes through unchanged', async (t) => {
  const engine = engineFor(t, targetFor({}));
  let rows = 0;
  const summary = await engine.query('SELECT g FROM generate_series(1, 20000) g', {
    columns: () => undefined,
    row: () => {
      rows++;
      return rows % 1000 === 0 ? new Promise<void>((r) => setImmediate(r)) : undefined;
    },
  });
  t.equal(rows, 20000);
  t.equal(summary.rowCount, 20000);
  const mine = new Error('masking refused');
  const err = await engine
    .query('SELECT 1', { columns: () => Promise.reject(mine), row: () => undefined })
    .catch((e: unknown) => e);
  t.equal(err, mine);
});

t.test('verify-full reads the CA file relative to baseDir', async (t) => {
  const tls = await ensureServerTls();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pg-engine-'));
  writeFileSync(join(dir, 'ca.pem'), tls.caPem);
  writeFileSync(join(dir, 'wrong.pem'), tls.wrongCaPem);
  const good = createPostgresEngine(
    targetFor({ tls: 'verify-full', ca: 'ca.pem' }),
    pino({ level: 'silent' }),
    { baseDir: dir },
  );
  t.teardown(() => good.close());
  const { seen, sink } = collect();
  await good.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()', sink);
  t.same(seen.rows, [[true]]);
  const bad = createPostgresEngine(
    targetFor({ tls: 'verify-full', ca: 'wrong.pem' }),
    pino({ level: 'silent' }),
    { baseDir: dir },
  );
  t.teardown(() => bad.close());
  const err = (await bad.query('SELECT 1', collect().sink).catch((e: unknown) => e)) as PostgresEngineError;
  t.equal(err.code, 'ERR_TARGET_TLS');
  t.throws(
    () =>
      createPostgresEngine(targetFor({ tls: 'verify-full', ca: 'missing.pem' }), pino({ level: 'silent' }), {
        baseDir: dir,
      }),
    { code: 'ERR_TARGET_CA_UNREADABLE' },
  );
});

t.test('after close, a statement fails with ERR_TARGET_CLOSED', async (t) => {
  const engine = createPostgresEngine(targetFor({}), pino({ level: 'silent' }));
  await engine.query('SELECT 1', collect().sink);
  await engine.close();
  const err = (await engine
    .query('SELECT 1', collect().sink)
    .catch((e: unknown) => e)) as PostgresEngineError;
  t.equal(err.code, 'ERR_TARGET_CLOSED');
  t.equal(engine.dialect, 'postgres');
});
