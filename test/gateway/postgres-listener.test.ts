import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startHarness, SUBJECT } from './postgres-listener-harness.js';

const run = promisify(execFile);
const h = await startHarness(t);

/** What psql prints when it talks to the database itself (the superuser, no Sluice). */
async function psqlDirect(args: string[]): Promise<string> {
  const { stdout } = await run(
    'psql',
    ['-X', '-h', '127.0.0.1', '-p', '5432', '-U', 'postgres', '-d', h.db, ...args],
    { env: { PATH: process.env.PATH } },
  );
  return stdout;
}

t.test('psql -c SELECT prints the rows with masked columns rewritten', async (t) => {
  const out = await h.psql(['-A', '-c', 'SELECT id, name, email, ssn FROM customers ORDER BY id']);
  t.equal(out.code, 0, out.stderr);
  t.equal(
    out.stdout,
    'id|name|email|ssn\n1|Ada|****@example.com|****\n2|Bob|****@example.org|****\n3|Cy||\n(3 rows)\n',
  );
});

t.test('masked values never appear in what psql prints, whatever the query shape', async (t) => {
  const queries = [
    'SELECT * FROM customers',
    'SELECT c.* FROM customers c',
    'SELECT email AS contact, upper(ssn) FROM customers',
    'SELECT (SELECT email FROM customers WHERE id = 1)',
    'SELECT x.e FROM (SELECT email AS e FROM customers) x',
  ];
  for (const sql of queries) {
    const out = await h.psql(['-A', '-c', sql]);
    t.equal(out.code, 0, `${sql}: ${out.stderr}`);
    t.notMatch(out.stdout, /ada@|bob@|123-45|987-65|ADA@|123-45-6789/i, sql);
  }
});

t.test('unmasked columns are byte-identical to a direct query', async (t) => {
  const sql = 'SELECT id, name, balance, id::text || name AS joined FROM customers ORDER BY id';
  const through = await h.psql(['-A', '-c', sql]);
  t.equal(through.code, 0, through.stderr);
  t.equal(through.stdout, await psqlDirect(['-A', '-c', sql]));
});

t.test('psql meta-commands \\d, \\dt and \\x work through the listener', async (t) => {
  const describe = await h.psql(['-c', '\\d customers']);
  t.equal(describe.code, 0, describe.stderr);
  t.match(describe.stdout, /Table "public\.customers"/);
  t.match(describe.stdout, /email\s+\| text/);
  t.match(describe.stdout, /"customers_pkey" PRIMARY KEY, btree \(id\)/);
  const tables = await h.psql(['-c', '\\dt']);
  t.equal(tables.code, 0, tables.stderr);
  t.match(tables.stdout, /public \| customers \| table/);
  t.match(tables.stdout, /public \| notes\s+\| table/);
  const expanded = await h.psql(['-c', '\\x', '-c', 'SELECT id, email FROM customers WHERE id = 1']);
  t.equal(expanded.code, 0, expanded.stderr);
  t.match(expanded.stdout, /-\[ RECORD 1 \]-+\nid\s+\| 1\nemail \| \*\*\*\*@example\.com/);
});

t.test('a denied statement answers 42501 and the table is still there', async (t) => {
  const out = await h.psql(['-c', 'DROP TABLE notes'], { PGOPTIONS: '' });
  t.not(out.code, 0);
  t.match(out.stderr, /ERROR:\s+statement denied/);
  const verbose = await h.psql(['-v', 'VERBOSITY=verbose', '-c', 'DROP TABLE notes']);
  t.match(verbose.stderr, /ERROR:\s+42501: statement denied/);
  const still = await h.direct('SELECT count(*)::int AS n FROM notes');
  t.equal(still.rows[0].n, 2);
});

t.test('a denied statement in a multi-statement query runs nothing of the query', async (t) => {
  const out = await h.psql([
    '-c',
    "INSERT INTO notes VALUES (10, 'x'); DROP TABLE customers; INSERT INTO notes VALUES (11, 'y')",
  ]);
  t.not(out.code, 0);
  t.match(out.stderr, /statement denied/);
  const notes = await h.direct('SELECT count(*)::int AS n FROM notes WHERE id >= 10');
  t.equal(notes.rows[0].n, 0, 'the INSERT before the denied statement did not run');
  const customers = await h.direct('SELECT count(*)::int AS n FROM customers');
  t.equal(customers.rows[0].n, 3);
});

t.test('a denied statement inside a transaction block fails the block as an error would', async (t) => {
  const out = await h.psql([
    '-v',
    'ON_ERROR_STOP=0',
    '-c',
    'BEGIN',
    '-c',
    "INSERT INTO notes VALUES (20, 'in tx')",
    '-c',
    'DROP TABLE notes',
    '-c',
    'SELECT 1',
    '-c',
    'COMMIT',
  ]);
  t.match(out.stderr, /statement denied/);
  t.match(out.stderr, /current transaction is aborted/);
  t.match(out.stdout, /ROLLBACK/);
  const rows = await h.direct('SELECT count(*)::int AS n FROM notes WHERE id = 20');
  t.equal(rows.rows[0].n, 0);
});

t.test('a write allowed by the policy runs; an unbounded one is denied', async (t) => {
  const ok = await h.psql(['-c', "UPDATE notes SET body = 'changed' WHERE id = 2"]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /UPDATE 1/);
  const unbounded = await h.psql(['-c', 'DELETE FROM notes']);
  t.not(unbounded.code, 0);
  t.match(unbounded.stderr, /statement denied/);
  t.equal((await h.direct('SELECT count(*)::int AS n FROM notes')).rows[0].n, 2);
});

t.test('FunctionCall messages are refused with 42501', async (t) => {
  // libpq's fast-path is used by large-object calls: lo_creat goes through FunctionCall.
  const out = await h.psql(['-c', '\\lo_import /etc/hostname']);
  t.not(out.code, 0);
  t.match(out.stderr, /function calls by OID \(FunctionCall\) are not allowed/);
});

t.test('the recording holds the statement, decision, masked columns, rows as sent and the end', async (t) => {
  const subject = 'recorded-agent';
  const token = await h.mint(subject);
  const out = await h.psql(
    ['-A', '-U', subject, '-c', 'SELECT id, email FROM customers WHERE id <= 2 ORDER BY id'],
    {
      PGPASSWORD: token,
    },
  );
  t.equal(out.code, 0, out.stderr);
  // psql has exited; give the listener a moment to see the socket close.
  await new Promise((r) => setTimeout(r, 100));
  const sessions = await h.recordings(subject);
  t.equal(sessions.length, 1);
  const events = sessions[0] ?? [];
  const types = events.map((e) => e.type);
  t.same(types.slice(0, 1), ['session.start']);
  t.ok(types.includes('session.end'));
  const statement = events.find((e) => e.type === 'statement' && /customers/.test(String(e.sql)));
  t.ok(statement);
  const id = statement?.statementId;
  const mine = events.filter((e) => e.statementId === id).map((e) => e.type);
  t.same(mine, ['statement', 'decision', 'result.columns', 'result.rows', 'result.end']);
  const columns = events.find((e) => e.type === 'result.columns' && e.statementId === id);
  t.same(columns?.columns, [
    { name: 'id', type: 'int4', masked: false },
    { name: 'email', type: 'text', masked: true },
  ]);
  const rows = events.find((e) => e.type === 'result.rows' && e.statementId === id);
  t.same(rows?.rows, [
    ['1', '****@example.com'],
    ['2', '****@example.org'],
  ]);
  const end = events.find((e) => e.type === 'result.end' && e.statementId === id);
  t.equal(end?.command, 'SELECT 2');
  t.equal(end?.rowCount, 2);
  t.equal(SUBJECT, 'agent-1');
});
