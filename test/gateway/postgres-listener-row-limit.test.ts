import t from 'tap';
import { Socket } from 'node:net';
import pg from 'pg';
import type { RecordingEvent } from '../../src/recording/types.js';
import { PG_HOST, PG_PORT, PG_SUPERUSER } from '../support/postgres.js';
import { startHarness } from './postgres-listener-harness.js';

/**
 * limits.maxRows on the Postgres listener: a result stops at the limit, the rest is read from the
 * target and dropped, and the client ends it normally (WARNING notice, CommandComplete counting
 * the rows it got). Simple Query, extended protocol (with Execute row counts), COPY TO STDOUT.
 */

const MAX = 50;
const h = await startHarness(t, {
  seed: `
    CREATE TABLE big (id int PRIMARY KEY, label text NOT NULL);
    INSERT INTO big SELECT g, 'label-' || g FROM generate_series(1, 500) g;
    CREATE TABLE huge AS SELECT g AS id, repeat('y', 200) AS pad FROM generate_series(1, 200000) g;
    CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL);
    INSERT INTO customers SELECT g, 'person' || g || '@example.com' FROM generate_series(1, 120) g;
    CREATE TABLE notes (id int PRIMARY KEY, body text);
  `,
  policy: `
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
    statements:
      default: deny
      allow: [read, write, session, transaction]
      deny: [ddl, dcl, program, file, { effect: write, unbounded: true }]
    masking:
      - columns: [customers.email]
        strategy: email
    limits: { maxRows: ${MAX}, statementTimeout: 3s }
`,
  // pg_sleep is refused by default (it holds a backend); one test uses it to slow the rows.
  extra: 'guard: { sideEffectFunctions: { postgres: { pg_sleep: [] } } }',
});

interface Notice {
  severity?: string;
  message?: string;
  code?: string;
}

async function clientWithNotices(user?: { subject: string; token: string }) {
  const client = await h.client(user ? { user: user.subject, password: user.token } : {});
  const notices: Notice[] = [];
  client.on('notice', (n: Notice) => notices.push(n));
  return { client, notices };
}

async function recordedStatement(subject: string, sql: RegExp): Promise<RecordingEvent[]> {
  const sessions = await h.recordings(subject);
  const events = sessions.flat();
  const statements = events.filter((e) => e.type === 'statement' && sql.test(String(e.sql)));
  const ids = new Set(statements.map((e) => e.statementId));
  return events.filter((e) => ids.has(e.statementId));
}

function recordedRows(events: RecordingEvent[]): unknown[][] {
  return events.filter((e) => e.type === 'result.rows').flatMap((e) => e.rows as unknown[][]);
}

/** sluice_results_truncated_total for the Postgres listener. */
async function truncatedResults(): Promise<number> {
  const { values } = await h.parts.gateway.metrics.truncated.get();
  return values.find((v) => v.labels.channel === 'postgres')?.value ?? 0;
}

const ids = (rows: { id: number }[]) => rows.map((r) => r.id);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

t.test(
  'a simple Query result is cut at maxRows, with a WARNING and a tag counting the rows sent',
  async (t) => {
    const subject = 'limit-simple';
    const token = await h.mint(subject);
    const { client, notices } = await clientWithNotices({ subject, token });
    t.teardown(() => client.end());
    const cutBefore = await truncatedResults();
    const result = await client.query('SELECT id, label FROM big ORDER BY id');
    t.same(ids(result.rows), range(1, MAX));
    t.equal(await truncatedResults(), cutBefore + 1, 'counted in sluice_results_truncated_total');
    t.equal(result.command, 'SELECT');
    t.equal(result.rowCount, MAX, 'the tag carries the rows sent');
    t.equal(notices.length, 1);
    t.equal(notices[0]?.severity, 'WARNING');
    t.match(notices[0]?.message, `result cut at ${MAX} rows by the policy's row limit (limits.maxRows)`);

    const after = await client.query('SELECT count(*)::int AS n FROM big');
    t.same(after.rows, [{ n: 500 }], 'the next statement on the connection works');

    await client.end();
    const events = await recordedStatement(subject, /FROM big ORDER BY id/);
    const end = events.find((e) => e.type === 'result.end');
    t.equal(end?.truncated, true);
    t.equal(end?.rowCount, MAX);
    t.equal(end?.command, `SELECT ${MAX}`);
    const rows = recordedRows(events);
    t.equal(rows.length, MAX, 'rows past the cut are not recorded');
    t.same(rows.at(-1), [String(MAX), `label-${MAX}`]);
  },
);

t.test('a result under the limit reaches the client byte for byte as the target sent it', async (t) => {
  const sql =
    "SELECT id, label, repeat('z', id % 9) AS z, NULL::text AS n FROM big WHERE id <= 49 ORDER BY id";
  const tap = (socket: Socket): Buffer[] => {
    const seen: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => seen.push(Buffer.from(chunk)));
    return seen;
  };
  const viaSocket = new Socket();
  const viaBytes = tap(viaSocket);
  const via = await h.client({ stream: () => viaSocket });
  t.teardown(() => via.end());
  const directSocket = new Socket();
  const directBytes = tap(directSocket);
  const direct = new pg.Client({
    host: PG_HOST,
    port: PG_PORT,
    user: PG_SUPERUSER,
    database: h.db,
    stream: () => directSocket,
  });
  await direct.connect();
  t.teardown(() => direct.end());
  // Both ways: the simple protocol, and the extended one with a parameter.
  for (const query of [{ text: sql }, { text: sql.replace('<= 49', '<= $1'), values: [49] }]) {
    viaBytes.length = 0;
    directBytes.length = 0;
    const a = await via.query(query);
    const b = await direct.query(query);
    t.equal(a.rowCount, 49);
    t.same(a.rows, b.rows);
    t.ok(
      resultMessages(Buffer.concat(viaBytes)).equals(resultMessages(Buffer.concat(directBytes))),
      `RowDescription, DataRows and CommandComplete are identical (${query.values ? 'extended' : 'simple'})`,
    );
  }
});

/** The RowDescription, DataRow and CommandComplete messages in a stream of backend messages. */
function resultMessages(stream: Buffer): Buffer {
  const kept: Buffer[] = [];
  for (let pos = 0; pos + 5 <= stream.length;) {
    const size = stream.readInt32BE(pos + 1) + 1;
    const type = String.fromCharCode(stream[pos] as number);
    if (type === 'T' || type === 'D' || type === 'C') kept.push(stream.subarray(pos, pos + size));
    pos += size;
  }
  return Buffer.concat(kept);
}

t.test('an extended-protocol result (Parse/Bind/Execute) is cut at maxRows', async (t) => {
  const subject = 'limit-extended';
  const token = await h.mint(subject);
  const { client, notices } = await clientWithNotices({ subject, token });
  t.teardown(() => client.end());
  const result = await client.query('SELECT id FROM big WHERE id > $1 ORDER BY id', [10]);
  t.same(ids(result.rows), range(11, 10 + MAX));
  t.equal(result.rowCount, MAX);
  t.equal(notices.length, 1);
  t.equal(notices[0]?.severity, 'WARNING');
  const named = await client.query({
    name: 'by-id',
    text: 'SELECT id FROM big WHERE id >= $1 ORDER BY id',
    values: [1],
  });
  t.equal(named.rows.length, MAX);
  const again = await client.query({
    name: 'by-id',
    text: 'SELECT id FROM big WHERE id >= $1 ORDER BY id',
    values: [480],
  });
  t.same(ids(again.rows), range(480, 500), 'a prepared statement under the limit is untouched');
  t.equal(notices.length, 2);
  await client.end();
  const events = await recordedStatement(subject, /WHERE id > \$1/);
  const end = events.find((e) => e.type === 'result.end');
  t.equal(end?.truncated, true);
  t.equal(end?.rowCount, MAX);
  t.equal(recordedRows(events).length, MAX);
});

/** Runs `text` with Execute row counts of `rows` (PortalSuspended between them), as cursors do. */
function queryInPieces(client: pg.Client, text: string, rows: number) {
  return new Promise<{ rows: { id: number }[]; rowCount: number | null }>((resolve, reject) => {
    // `rows` (the Execute row count) is missing from pg's types; pg-cursor uses it the same way.
    const query = new pg.Query({ text, values: [], rows } as pg.QueryConfig);
    const got: { id: number }[] = [];
    query.on('row', (row: { id: number }) => got.push(row));
    query.on('error', reject);
    query.on('end', (result: pg.QueryResult) => resolve({ rows: got, rowCount: result.rowCount }));
    void client.query(query);
  });
}

t.test('Execute with a row count cannot fetch past maxRows a piece at a time', async (t) => {
  const { client, notices } = await clientWithNotices();
  t.teardown(() => client.end());
  // 20 + 20 + 10 (of 20): the third Execute is cut, and ends with CommandComplete, not PortalSuspended.
  const pieces = await queryInPieces(client, 'SELECT id FROM big ORDER BY id', 20);
  t.same(ids(pieces.rows), range(1, MAX));
  t.equal(notices.length, 1);
  // 25 + 25 reach the limit exactly (PortalSuspended passes); the next Execute sends none.
  const exact = await queryInPieces(client, 'SELECT id FROM big ORDER BY id', 25);
  t.same(ids(exact.rows), range(1, MAX));
  t.equal(exact.rowCount, 0, 'the cut Execute reports the rows it sent: none');
  t.equal(notices.length, 2);
  t.match(notices[1]?.message, /result cut at 50 rows/);
  const under = await queryInPieces(client, 'SELECT id FROM big WHERE id <= 30 ORDER BY id', 20);
  t.same(ids(under.rows), range(1, 30));
  t.equal(notices.length, 2, 'no warning under the limit');
  t.same((await client.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
});

t.test('each result of a multi-statement Query has its own count', async (t) => {
  const { client, notices } = await clientWithNotices();
  t.teardown(() => client.end());
  const results = (await client.query(
    'SELECT id FROM big ORDER BY id; SELECT id FROM big WHERE id <= 10 ORDER BY id; SELECT id FROM big ORDER BY id DESC',
  )) as unknown as pg.QueryResult[];
  t.equal(results.length, 3);
  t.same(ids(results[0]?.rows ?? []), range(1, MAX));
  t.same(ids(results[1]?.rows ?? []), range(1, 10));
  t.same(ids(results[2]?.rows ?? []), range(500 - MAX + 1, 500).reverse());
  t.equal(notices.length, 2);
});

t.test('masking still applies to the rows sent', async (t) => {
  const subject = 'limit-masked';
  const token = await h.mint(subject);
  const { client } = await clientWithNotices({ subject, token });
  t.teardown(() => client.end());
  const result = await client.query('SELECT id, email FROM customers ORDER BY id');
  t.equal(result.rows.length, MAX);
  t.notOk(
    result.rows.some((r: { email: string }) => /person\d/.test(r.email)),
    'no address reaches the client unmasked',
  );
  await client.end();
  const rows = recordedRows(await recordedStatement(subject, /FROM customers/));
  t.equal(rows.length, MAX);
  t.notOk(rows.some((r) => /person\d/.test(String(r[1]))));
});

t.test('a cut inside a transaction leaves it usable; the rest of a large result is discarded', async (t) => {
  const { client, notices } = await clientWithNotices();
  t.teardown(() => client.end());
  await client.query('BEGIN');
  const started = Date.now();
  const cut = await client.query('SELECT id, pad FROM huge');
  t.equal(cut.rows.length, MAX);
  t.ok(Date.now() - started < 3_000, 'discarding 200,000 rows finishes well within the timeout');
  await client.query("INSERT INTO notes VALUES (1, 'after a cut')");
  await client.query('COMMIT');
  t.same((await h.direct('SELECT body FROM notes WHERE id = 1')).rows, [{ body: 'after a cut' }]);
  t.equal(notices.length, 1);
});

t.test('discarding is bounded by the statement timeout: the cut is explained, then its error', async (t) => {
  const { client, notices } = await clientWithNotices();
  t.teardown(() => client.end());
  const rows: unknown[] = [];
  const slow = client.query(
    new pg.Query({ text: 'SELECT g, pg_sleep(0.01) FROM generate_series(1, 100000) g' }),
  ) as unknown as pg.Query;
  await new Promise<void>((resolve) => {
    slow.on('row', (r: unknown) => rows.push(r));
    slow.on('error', (err: Error & { code?: string }) => {
      t.equal(err.code, '57014', 'cancelled by the statement timeout');
      resolve();
    });
    slow.on('end', () => {
      t.fail('the statement should not end normally');
      resolve();
    });
  });
  t.equal(rows.length, MAX);
  t.equal(notices[0]?.severity, 'WARNING');
  t.same((await client.query('SELECT 2 AS two')).rows, [{ two: 2 }]);
});

t.test('psql prints the warning and the rows it got', async (t) => {
  const out = await h.psql(['-A', '-t', '-c', 'SELECT id FROM big ORDER BY id', '-c', 'SELECT 42']);
  t.equal(out.code, 0, out.stderr);
  t.equal(out.stdout, `${range(1, MAX).join('\n')}\n42\n`);
  t.match(out.stderr, `WARNING:  result cut at ${MAX} rows by the policy's row limit (limits.maxRows)`);
  const table = await h.psql(['-c', 'SELECT id FROM big ORDER BY id']);
  t.match(table.stdout, `(${MAX} rows)`);
});

t.test('COPY ... TO STDOUT sends at most maxRows lines (a header line is not a row)', async (t) => {
  const text = await h.psql(['-c', '\\copy (SELECT id FROM big ORDER BY id) TO STDOUT']);
  t.equal(text.code, 0, text.stderr);
  t.equal(text.stdout, `${range(1, MAX).join('\n')}\n`);
  t.match(text.stderr, /WARNING: {2}result cut at 50 rows/);

  const csv = await h.psql(['-c', '\\copy big TO STDOUT WITH (FORMAT csv, HEADER)']);
  t.equal(csv.code, 0, csv.stderr);
  const lines = csv.stdout.trimEnd().split('\n');
  t.equal(lines[0], 'id,label');
  t.equal(lines.length, MAX + 1);

  const small = await h.psql([
    '-c',
    '\\copy (SELECT id FROM big WHERE id <= 5) TO STDOUT WITH (FORMAT csv, HEADER)',
  ]);
  t.equal(small.stdout, 'id\n1\n2\n3\n4\n5\n');
  t.notMatch(small.stderr, /WARNING/);

  const { client } = await clientWithNotices();
  t.teardown(() => client.end());
  const binary = await copyOutBinary(
    client,
    'COPY (SELECT id FROM big ORDER BY id) TO STDOUT WITH (FORMAT binary)',
  );
  t.equal(binary.tuples, MAX, 'binary COPY: rows up to the limit');
  t.ok(binary.trailer, 'and the trailer, so the file stays well formed');
});

/** Counts the tuples of a binary COPY read through the raw protocol (pg has no COPY TO reader). */
async function copyOutBinary(client: pg.Client, sql: string): Promise<{ tuples: number; trailer: boolean }> {
  const data: Buffer[] = [];
  const connection = (client as unknown as { connection: NodeJS.EventEmitter }).connection;
  const onData = (msg: { chunk: Buffer }) => data.push(Buffer.from(msg.chunk));
  connection.on('copyData', onData);
  await client.query(sql);
  connection.off('copyData', onData);
  const file = Buffer.concat(data);
  let pos = 11 + 8 + file.readUInt32BE(15);
  let tuples = 0;
  while (pos + 2 <= file.length) {
    const fields = file.readInt16BE(pos);
    pos += 2;
    if (fields === -1) return { tuples, trailer: pos === file.length };
    for (let i = 0; i < fields; i++) {
      const length = file.readInt32BE(pos);
      pos += 4 + Math.max(length, 0);
    }
    tuples++;
  }
  return { tuples, trailer: false };
}
