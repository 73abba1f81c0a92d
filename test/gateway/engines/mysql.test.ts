import t, { type Test } from 'tap';
import { createServer } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { parseConfigText } from '../../../src/config/load.js';
import type { Target } from '../../../src/config/load.js';
import { createMysqlEngine, commandOf } from '../../../src/gateway/engines/mysql.js';
import type { ResultColumn, ResultSink, TargetEngine } from '../../../src/gateway/types.js';
import { scratchDatabase, type ScratchDatabase } from '../../protocols/mysql/fixtures/mariadb.js';

const silent = pino({ level: 'silent' });

function targetFor(
  db: { host: string; port: number; database: string; user: string },
  password: string,
  tls = 'disable',
): Target {
  const config = parseConfigText(
    `
targets:
  legacy: { engine: mysql, host: ${db.host}, port: ${db.port}, database: ${db.database}, user: ${db.user}, password: env:PW, tls: ${tls}, connectTimeout: 3s }
policies:
  - name: agents
    when: { groups: [ai-agents], targets: [legacy] }
`,
    { env: { PW: password } },
  );
  const target = config.targets.get('legacy');
  if (!target) throw new Error('target missing from config');
  return target;
}

/** A sink that keeps everything it is given. */
function collect(): ResultSink & { cols: ResultColumn[]; rows: unknown[][] } {
  const sink = {
    cols: [] as ResultColumn[],
    rows: [] as unknown[][],
    columns(columns: ResultColumn[]) {
      sink.cols = columns;
    },
    row(values: unknown[]) {
      sink.rows.push(values);
    },
  };
  return sink;
}

async function engineOn(t: Test, db: ScratchDatabase): Promise<TargetEngine> {
  const engine = createMysqlEngine(targetFor(db, db.password), silent);
  t.teardown(() => engine.close());
  return engine;
}

async function typedTable(db: ScratchDatabase): Promise<void> {
  await db.admin(`CREATE TABLE \`${db.database}\`.things (
    id INT PRIMARY KEY, big BIGINT, huge BIGINT UNSIGNED, price DECIMAL(12,4), label VARCHAR(40),
    made DATETIME(3), seen TIMESTAMP NULL, day DATE, raw BLOB, doc JSON, note TEXT)`);
  await db.admin(
    `INSERT INTO \`${db.database}\`.things VALUES
      (1, 42, 18446744073709551615, 12345678.9000, 'alpha', '2024-01-02 03:04:05.678', '2024-05-06 07:08:09',
       '2024-12-31', X'00FF10', '{"a":[1,2],"b":null}', NULL)`,
  );
}

function expectTypedRow(
  t: Test,
  sink: { cols: ResultColumn[]; rows: unknown[][] },
  db: ScratchDatabase,
): void {
  t.same(
    sink.cols.map((c) => [c.name, c.type]),
    [
      ['id', 'int'],
      ['big', 'bigint'],
      ['huge', 'bigint'],
      ['price', 'decimal'],
      ['label', 'varchar'],
      ['made', 'datetime'],
      ['seen', 'timestamp'],
      ['day', 'date'],
      ['raw', 'blob'],
      ['doc', 'json'],
      ['note', 'text'],
    ],
  );
  t.match(sink.cols[4], {
    name: 'label',
    type: 'varchar',
    orgSchema: db.database,
    orgTable: 'things',
    orgName: 'label',
    // The definition as the target sent it, for the MySQL listener to relay.
    mysql: {
      name: 'label',
      type: 253,
      schema: db.database,
      table: 'things',
      orgTable: 'things',
      columnLength: 160,
    },
  });
  t.same(sink.rows, [
    [
      1,
      42,
      '18446744073709551615',
      '12345678.9000',
      'alpha',
      '2024-01-02T03:04:05.678',
      '2024-05-06T07:08:09Z',
      '2024-12-31',
      Buffer.from([0, 255, 16]).toString('base64'),
      { a: [1, 2], b: null },
      null,
    ],
  ]);
}

t.test('a text-protocol query streams typed columns and JSON-friendly values', async (t) => {
  const db = await scratchDatabase(t);
  await typedTable(db);
  const engine = await engineOn(t, db);
  const sink = collect();
  const summary = await engine.query('SELECT * FROM things', sink);
  t.equal(engine.dialect, 'mysql');
  t.same(summary, { command: 'SELECT 1', rowCount: 1 });
  expectTypedRow(t, sink, db);
});

t.test(
  'for a wire client values keep the target forms: dates as printed, JSON as text, FLOAT text',
  async (t) => {
    const db = await scratchDatabase(t);
    await typedTable(db);
    const engine = await engineOn(t, db);
    const sink = collect();
    await engine.query('SELECT made, seen, doc, CAST(1e20 AS DOUBLE) AS d, raw FROM things', sink, {
      wireValues: true,
    });
    t.same(sink.rows, [
      [
        '2024-01-02 03:04:05.678',
        '2024-05-06 07:08:09',
        '{"a":[1,2],"b":null}',
        '1e20',
        Buffer.from([0, 255, 16]).toString('base64'),
      ],
    ]);
    const json = collect();
    await engine.query('SELECT made, doc, CAST(1e20 AS DOUBLE) AS d FROM things', json);
    t.same(
      json.rows,
      [['2024-01-02T03:04:05.678', { a: [1, 2], b: null }, 1e20]],
      'and JSON-friendly ones otherwise',
    );
  },
);

t.test('a query with params runs as a prepared statement and gives the same values', async (t) => {
  const db = await scratchDatabase(t);
  await typedTable(db);
  const engine = await engineOn(t, db);
  const sink = collect();
  const summary = await engine.query('SELECT * FROM things WHERE id = ? AND label = ?', sink, {
    params: [1, 'alpha'],
  });
  t.same(summary, { command: 'SELECT 1', rowCount: 1 });
  expectTypedRow(t, sink, db);
  const none = collect();
  await engine.query('SELECT id FROM things WHERE label = ?', none, { params: ['nobody'] });
  t.same(none.rows, []);
  t.same(
    none.cols.map((c) => c.name),
    ['id'],
  );
});

t.test('computed columns have empty origins and nulls stay null', async (t) => {
  const db = await scratchDatabase(t);
  const engine = await engineOn(t, db);
  const sink = collect();
  await engine.query("SELECT 1 + 1 AS two, NULL AS nothing, 'x' AS letter", sink);
  t.same(sink.rows, [[2, null, 'x']]);
  t.equal(sink.cols[0]?.orgTable, '');
  t.equal(sink.cols[0]?.orgName, '');
  t.equal(sink.cols[2]?.type, 'varchar');
});

t.test('statements without a result set report affected rows', async (t) => {
  const db = await scratchDatabase(t);
  const engine = await engineOn(t, db);
  await engine.query('CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)', collect());
  const insert = await engine.query('INSERT INTO notes VALUES (?, ?), (?, ?)', collect(), {
    params: [1, 'one', 2, { json: true }],
  });
  t.same(insert, {
    command: 'INSERT 2',
    rowCount: 2,
    ok: { insertId: 0, warnings: 0, info: 'Records: 2  Duplicates: 0  Warnings: 0', serverStatus: 2 },
  });
  const update = await engine.query('/* why */ UPDATE notes SET body = NULL WHERE id = 1', collect());
  t.match(update, { command: 'UPDATE 1', rowCount: 1, ok: { info: /^Rows matched: 1 {2}Changed: 1/ } });
  const sink = collect();
  await engine.query('SELECT body FROM notes WHERE id = 2', sink);
  t.same(sink.rows, [['{"json":true}']]);
});

t.test('a server error carries errno and SQLSTATE and the pool keeps working', async (t) => {
  const db = await scratchDatabase(t);
  const engine = await engineOn(t, db);
  await t.rejects(engine.query('SELEC 1', collect()), {
    code: 'ERR_TARGET_QUERY',
    errno: 1064,
    sqlstate: '42000',
  });
  await t.rejects(engine.query('SELECT * FROM missing WHERE a = ?', collect(), { params: [1] }), {
    code: 'ERR_TARGET_QUERY',
    errno: 1146,
    sqlstate: '42S02',
  });
  const sink = collect();
  await engine.query('SELECT 7', sink);
  t.same(sink.rows, [[7]]);
});

t.test('100k rows stream through a slow sink one at a time with the connection paused', async (t) => {
  const db = await scratchDatabase(t);
  const engine = await engineOn(t, db);
  let delivered = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let stalled = false;
  let deliveredWhileStalled = 0;
  let expected = 1;
  let ordered = true;
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const baseline = process.memoryUsage().heapUsed;
  let atStall = baseline;
  const summary = await engine.query("SELECT seq, REPEAT('x', 200) AS pad FROM seq_1_to_100000", {
    columns() {},
    async row(values) {
      if (stalled) deliveredWhileStalled++;
      if (values[0] !== expected++) ordered = false;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      delivered++;
      if (delivered === 50_000) {
        // A long stall: if the connection were not paused, rows would pile up meanwhile.
        stalled = true;
        await new Promise((resolve) => setTimeout(resolve, 300));
        gc();
        atStall = process.memoryUsage().heapUsed;
        stalled = false;
      } else if (delivered % 5_000 === 0) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      } else {
        await Promise.resolve();
      }
      inFlight--;
    },
  });
  t.same(summary, { command: 'SELECT 100000', rowCount: 100_000 });
  t.equal(delivered, 100_000);
  t.ok(ordered, 'rows arrive in order');
  t.equal(maxInFlight, 1, 'the next row waits for the previous promise');
  t.equal(deliveredWhileStalled, 0, 'nothing is delivered while the sink is stalled');
  // The 50k rows still to come are over 10 MB; a paused connection holds only a socket chunk or two.
  const grown = atStall - baseline;
  t.ok(grown < 4 * 1024 * 1024, `live heap at the stall grew by ${Math.round(grown / 1024)} KiB`);
});

t.test('a statement over its timeout is killed quickly with a clear error', async (t) => {
  const db = await scratchDatabase(t);
  const engine = await engineOn(t, db);
  const started = Date.now();
  const err = await engine.query('SELECT SLEEP(5)', collect(), { timeoutMs: 300 }).catch((e: unknown) => e);
  const elapsed = Date.now() - started;
  t.match(err, { code: 'ERR_TARGET_TIMEOUT', errno: 1317, sqlstate: '70100', message: /300 ms/ });
  t.ok(elapsed < 4000, `returned after ${elapsed} ms`);
  // The server leaves SLEEP soon after KILL QUERY, not at once; allow it a moment.
  let running = -1;
  for (let attempt = 0; attempt < 20 && running !== 0; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    const rows = (await db.admin(
      `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ? AND INFO LIKE 'SELECT SLEEP%'`,
      [db.user],
    )) as { n: number }[];
    running = Number(rows[0]?.n);
  }
  t.equal(running, 0, 'the server no longer runs the statement');
  const sink = collect();
  await engine.query('SELECT 1', sink);
  t.same(sink.rows, [[1]], 'the engine still works after a kill');
});

t.test('an AbortSignal cancels a running statement and a pre-aborted one never starts', async (t) => {
  const db = await scratchDatabase(t);
  const engine = await engineOn(t, db);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 200);
  const started = Date.now();
  await t.rejects(engine.query('SELECT SLEEP(5)', collect(), { signal: controller.signal }), {
    code: 'ERR_TARGET_CANCELLED',
    sqlstate: '70100',
  });
  t.ok(Date.now() - started < 4000, 'the SLEEP(5) was cut short');
  await t.rejects(engine.query('SELECT 1', collect(), { signal: controller.signal }), {
    code: 'ERR_TARGET_CANCELLED',
  });
});

t.test('a sink that fails stops the statement and its error is the one reported', async (t) => {
  const db = await scratchDatabase(t);
  const engine = await engineOn(t, db);
  const boom = new Error('sink refused');
  await t.rejects(
    engine.query('SELECT seq FROM seq_1_to_100000', {
      columns() {},
      row(values) {
        if (values[0] === 10) throw boom;
      },
    }),
    boom,
  );
  await t.rejects(
    engine.query('SELECT seq FROM seq_1_to_10', {
      columns() {
        return Promise.reject(boom);
      },
      row() {},
    }),
    boom,
  );
  const sink = collect();
  await engine.query('SELECT 2', sink);
  t.same(sink.rows, [[2]]);
});

t.test('a wrong password fails with errno 1045 and the error never contains the password', async (t) => {
  const db = await scratchDatabase(t);
  const wrong = 'not-the-password-Zq81';
  const engine = createMysqlEngine(targetFor(db, wrong), silent);
  t.teardown(() => engine.close());
  const err = (await engine.query('SELECT 1', collect()).catch((e: unknown) => e)) as Record<string, unknown>;
  t.match(err, { code: 'ERR_TARGET_AUTH', errno: 1045, sqlstate: '28000' });
  t.notMatch(JSON.stringify({ ...err, message: err.message, stack: err.stack }), wrong);
  t.notMatch(String(err.stack), db.password);
});

t.test('an unreachable port fails with ERR_TARGET_UNREACHABLE naming host:port', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
  const engine = createMysqlEngine(
    targetFor({ host: '127.0.0.1', port, database: 'x', user: 'nobody' }, 'pw'),
    silent,
  );
  t.teardown(() => engine.close());
  await t.rejects(engine.query('SELECT 1', collect()), {
    code: 'ERR_TARGET_UNREACHABLE',
    message: new RegExp(`127\\.0\\.0\\.1:${port}`),
  });
});

t.test('an unknown database fails with errno 1049', async (t) => {
  const db = await scratchDatabase(t);
  const missing = `${db.database}_missing`;
  // Grant on the missing name so the server says "unknown database" rather than "access denied".
  await db.admin(`GRANT SELECT ON \`${missing.replace(/_/g, '\\_')}\`.* TO '${db.user}'@'%'`);
  const engine = createMysqlEngine(targetFor({ ...db, database: missing }, db.password), silent);
  t.teardown(() => engine.close());
  await t.rejects(engine.query('SELECT 1', collect()), {
    code: 'ERR_TARGET_CONNECT',
    errno: 1049,
    sqlstate: '42000',
  });
});

t.test('tls require refuses a server without TLS; prefer falls back to plaintext and says so', async (t) => {
  const db = await scratchDatabase(t);
  const required = createMysqlEngine(targetFor(db, db.password, 'require'), silent);
  t.teardown(() => required.close());
  await t.rejects(required.query('SELECT 1', collect()), { code: 'ERR_TARGET_TLS' });

  const warnings: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
  const preferred = createMysqlEngine(targetFor(db, db.password, 'prefer'), logger);
  t.teardown(() => preferred.close());
  const sink = collect();
  await preferred.query('SELECT 3', sink);
  t.same(sink.rows, [[3]]);
  t.match(warnings.join(''), /falls back to plaintext/);
  t.notMatch(warnings.join(''), db.password);
});

t.test('a WITH query is tagged SELECT and BIT columns read as numbers', async (t) => {
  const db = await scratchDatabase(t);
  const engine = await engineOn(t, db);
  await engine.query('CREATE TABLE flags (flag BIT(1), five BIT(3))', collect());
  await engine.query("INSERT INTO flags VALUES (b'1', b'101')", collect());
  const sink = collect();
  const summary = await engine.query('WITH x AS (SELECT * FROM flags) SELECT * FROM x', sink);
  t.same(summary, { command: 'SELECT 1', rowCount: 1 });
  t.same(
    sink.cols.map((c) => c.type),
    ['bit', 'bit'],
  );
  t.same(sink.rows, [[1, 5]]);
});

t.test('the command tag is the leading keyword past comments', async (t) => {
  t.equal(commandOf('  select 1'), 'SELECT');
  t.equal(commandOf('-- note\n# more\n/* c */ (SELECT 1)'), 'SELECT');
  t.equal(commandOf('123'), 'UNKNOWN');
});

t.test('a CA file that cannot be read is a typed error naming the file, resolved from baseDir', async (t) => {
  const target = {
    ...targetFor({ host: '127.0.0.1', port: 3306, database: 'x', user: 'u' }, 'pw', 'verify-full'),
    ca: 'missing-ca.pem',
  };
  t.throws(() => createMysqlEngine(target, silent, { baseDir: '/nonexistent-dir' }), {
    code: 'ERR_TARGET_CA_UNREADABLE',
    message: /\/nonexistent-dir\/missing-ca\.pem/,
  });
});

t.test('with every pooled connection busy, a statement times out waiting instead of hanging', async (t) => {
  const db = await scratchDatabase(t);
  const base = targetFor(db, db.password);
  const engine = createMysqlEngine({ ...base, pool: { max: 1 } }, silent);
  t.teardown(() => engine.close());
  const busy = engine.query('SELECT SLEEP(1)', collect());
  const started = Date.now();
  await t.rejects(engine.query('SELECT 1', collect(), { timeoutMs: 200 }), {
    code: 'ERR_TARGET_TIMEOUT',
    message: /no connection/,
  });
  t.ok(Date.now() - started < 900, 'gave up before the busy statement finished');
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  await t.rejects(engine.query('SELECT 1', collect(), { signal: controller.signal }), {
    code: 'ERR_TARGET_CANCELLED',
  });
  await busy;
  const sink = collect();
  await engine.query('SELECT 5', sink);
  t.same(sink.rows, [[5]], 'the connection that arrived late went back to the pool');
});

t.test('a connection killed under a statement fails it and the pool replaces the connection', async (t) => {
  const db = await scratchDatabase(t);
  const engine = createMysqlEngine({ ...targetFor(db, db.password), pool: { max: 1 } }, silent);
  t.teardown(() => engine.close());
  const id = collect();
  await engine.query('SELECT CONNECTION_ID()', id);
  const threadId = Number(id.rows[0]?.[0]);
  const running = engine.query('SELECT SLEEP(5)', collect()).catch((e: unknown) => e);
  await new Promise((resolve) => setTimeout(resolve, 150));
  await db.admin(`KILL CONNECTION ${threadId}`);
  const err = (await running) as { code?: string };
  t.ok(err instanceof Error, 'the statement failed');
  t.match(err.code, /^ERR_TARGET_(QUERY|CLOSED)$/);
  const after = collect();
  await engine.query('SELECT CONNECTION_ID()', after);
  t.not(Number(after.rows[0]?.[0]), threadId, 'a new connection serves the next statement');
});
