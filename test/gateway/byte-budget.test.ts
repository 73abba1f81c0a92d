/**
 * limits.maxBytes (#19): the bytes of row data one statement may deliver. A result is cut before
 * the row that would pass it, on every channel, with a message that names the budget and says
 * how to narrow the query: MCP (`truncated`, `truncatedBy: maxBytes`), the Postgres listener
 * (WARNING, a tag counting the rows sent, simple and extended protocol, masked rows too, COPY TO
 * STDOUT lines), the MySQL listener (a warning, as at the row limit). The session goes on.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import t from 'tap';
import { startChannels } from '../support/channels.js';
import { adminQuery, createScratchDatabase, randomSuffix } from '../support/postgres.js';

const run = promisify(execFile);
const MAX_BYTES = 2000;
const ROWS = 300;
const { name: db } = await createScratchDatabase(t, 'sluice_bytes');
await adminQuery(
  `CREATE TABLE wide (id int PRIMARY KEY, pad text, email text);
   INSERT INTO wide SELECT g, repeat('x', 100), 'person' || g || '@example.com' FROM generate_series(1, ${ROWS}) g;`,
  [],
  db,
);
const myDb = `sluice_bytes_${randomSuffix()}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);
await admin.query(`CREATE TABLE ${myDb}.wide (id int, pad varchar(200))`);
await admin.query(`INSERT INTO ${myDb}.wide SELECT seq, REPEAT('x', 100) FROM ${myDb}.seq_1_to_${ROWS}`);
t.teardown(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${myDb}`);
  await admin.end();
});

const channels = await startChannels(
  t,
  `
server:
  http: { listen: 127.0.0.1:0 }
  postgres: { listen: 127.0.0.1:0, allowPlaintextAuth: true }
  mysql: { listen: 127.0.0.1:0 }
targets:
  shop: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${db}, user: postgres, tls: disable }
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${myDb}, user: root, tls: disable }
policies:
  - name: agents
    when: { groups: [agents] }
    statements: { default: deny, allow: [read] }
    masking:
      - { columns: [wide.email], strategy: email }
    limits: { maxRows: 1000, maxBytes: ${MAX_BYTES} }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-bytes-',
);

t.test('MCP: the result stops before the byte limit, and says which budget cut it', async (t) => {
  const mcp = await channels.mcp('agent-1', ['agents'], t);
  const out = await mcp('SELECT pad FROM wide ORDER BY id', 'shop');
  t.notOk(out.isError);
  t.equal(out.rows?.length, MAX_BYTES / 100, 'as many 100-byte rows as fit');
  t.match(out.text, /limits\.maxBytes/);
  t.match(out.text, /truncatedBy.*maxBytes|maxBytes/);
  const small = await mcp('SELECT id FROM wide ORDER BY id LIMIT 5', 'shop');
  t.equal(small.rows?.length, 5, 'a small result is whole');
  t.notMatch(small.text, /truncated/);
});

t.test(
  'Postgres listener: simple and extended, masked or not, with a WARNING and a counting tag',
  async (t) => {
    for (const mode of ['simple', 'extended'] as const) {
      for (const sql of ['SELECT pad FROM wide ORDER BY id', 'SELECT pad, email FROM wide ORDER BY id']) {
        const client = await channels.psql('agent-1', ['agents'], 'shop', t);
        const notices: { message?: string; severity?: string; hint?: string }[] = [];
        client.on('notice', (n) => notices.push(n));
        const result = await client.query({
          text: sql,
          ...(mode === 'extended' ? { queryMode: 'extended' } : {}),
        } as never);
        const rows = (result as unknown as { rows: { pad: string; email?: string }[]; rowCount: number })
          .rows;
        t.ok(rows.length > 0 && rows.length < MAX_BYTES / 100, `${mode}: ${sql}: cut (${rows.length} rows)`);
        t.equal(
          (result as unknown as { rowCount: number }).rowCount,
          rows.length,
          'the tag counts the rows sent',
        );
        if (sql.includes('email')) t.notMatch(JSON.stringify(rows), /person\d+@/, 'masked rows stay masked');
        t.match(
          notices[0]?.message,
          `result cut at ${MAX_BYTES} bytes by the policy's byte limit (limits.maxBytes)`,
        );
        t.equal(notices[0]?.severity, 'WARNING');
        const next = await client.query('SELECT count(*)::int AS n FROM wide');
        t.same(next.rows, [{ n: ROWS }], 'the session carries on');
      }
    }
  },
);

t.test(
  'Postgres listener: each FETCH from a cursor is a statement of its own, with its own byte limit',
  async (t) => {
    const client = await channels.psql('agent-1', ['agents'], 'shop', t);
    await client.query('BEGIN');
    await client.query('DECLARE c CURSOR FOR SELECT pad FROM wide ORDER BY id');
    let total = 0;
    for (let i = 0; i < 5; i++) total += (await client.query('FETCH 5 FROM c')).rowCount ?? 0;
    t.equal(total, 25, 'each FETCH is a statement of its own, under the limit');
    await client.query('COMMIT');
  },
);

t.test('COPY TO STDOUT lines count against the byte limit (psql)', async (t) => {
  const token = await channels.token('agent-1', ['agents']);
  const out = await run(
    'psql',
    [
      '-X',
      '-h',
      '127.0.0.1',
      '-p',
      String(channels.postgresPort),
      '-U',
      'agent-1',
      '-d',
      'shop',
      '-c',
      'COPY (SELECT pad FROM wide ORDER BY id) TO STDOUT',
    ],
    { env: { ...process.env, PGPASSWORD: token, PGSSLMODE: 'disable' } },
  );
  const lines = out.stdout.split('\n').filter(Boolean);
  t.ok(lines.length > 0 && lines.length < MAX_BYTES / 100, `cut at ${lines.length} lines`);
  t.match(out.stderr, /limits\.maxBytes/);
});

t.test('MySQL listener: the result is cut with a warning', async (t) => {
  const conn = await channels.mysql('agent-1', ['agents'], 'legacy', t);
  const [rows] = await conn.query('SELECT pad FROM wide ORDER BY id');
  const n = (rows as unknown[]).length;
  t.ok(n > 0 && n <= MAX_BYTES / 100, `cut at ${n} rows`);
});

t.test('the recording marks the cut result truncated', async (t) => {
  const events = await channels.recorded('agent-1');
  const ends = events.filter((e) => e.type === 'result.end' && e['truncated'] === true);
  t.ok(ends.length >= 6, `${ends.length} truncated results recorded`);
});
