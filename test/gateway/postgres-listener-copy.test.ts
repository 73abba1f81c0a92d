import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_POLICY, startHarness } from './postgres-listener-harness.js';

const h = await startHarness(t);
const readOnly = await startHarness(t, {
  policy: DEFAULT_POLICY.replace(
    'allow: [read, write, session, transaction]',
    'allow: [read, session, transaction]',
  ),
});
const dir = mkdtempSync(join(tmpdir(), 'sluice-pgl-copy-'));

t.test('\\copy of a table without masked columns TO STDOUT is relayed', async (t) => {
  const out = await h.psql(['-c', '\\copy (SELECT id, body FROM notes ORDER BY id) TO STDOUT']);
  t.equal(out.code, 0, out.stderr);
  t.equal(out.stdout, '1\tfirst\n2\tsecond\n');
  const table = await h.psql(['-c', '\\copy notes TO STDOUT']);
  t.equal(table.code, 0, table.stderr);
  t.match(table.stdout, /^1\tfirst\n2\tsecond\n$/);
});

t.test('\\copy of masked columns TO STDOUT is refused and nothing leaks', async (t) => {
  const out = await h.psql(['-c', '\\copy customers TO STDOUT']);
  t.not(out.code, 0);
  t.match(out.stderr, /COPY \.\.\. TO STDOUT would send masked columns \(email, ssn\) unmasked; use SELECT/);
  t.notMatch(out.stdout, /ada@|123-45/);
  const query = await h.psql(['-c', '\\copy (SELECT name, upper(email) FROM customers) TO STDOUT']);
  t.not(query.code, 0);
  t.notMatch(query.stdout, /ADA@/);
  const columns = await h.psql(['-c', '\\copy customers (id, name) TO STDOUT']);
  t.equal(columns.code, 0, columns.stderr);
  t.equal(columns.stdout, '1\tAda\n2\tBob\n3\tCy\n');
});

t.test('\\copy FROM STDIN runs when the policy allows writes', async (t) => {
  const file = join(dir, 'in.tsv');
  writeFileSync(file, '40\tcopied one\n41\tcopied two\n');
  const out = await h.psql(['-c', `\\copy notes FROM '${file}'`]);
  t.equal(out.code, 0, out.stderr);
  t.match(out.stdout, /COPY 2/);
  const rows = await h.direct('SELECT body FROM notes WHERE id >= 40 ORDER BY id');
  t.same(
    rows.rows.map((r) => r.body),
    ['copied one', 'copied two'],
  );
});

t.test(
  '\\copy FROM STDIN is refused when the policy does not allow writes, and no data arrives',
  async (t) => {
    const file = join(dir, 'in2.tsv');
    writeFileSync(file, '50\tnope\n');
    const out = await readOnly.psql(['-c', `\\copy notes FROM '${file}'`]);
    t.not(out.code, 0);
    t.match(out.stderr, /statement denied/);
    const rows = await readOnly.direct('SELECT count(*)::int AS n FROM notes WHERE id = 50');
    t.equal(rows.rows[0].n, 0);
    t.equal(readFileSync(file, 'utf8'), '50\tnope\n');
  },
);

t.test('binary COPY both ways: the bytes are those of a direct COPY, and come back in', async (t) => {
  await h.direct(
    `CREATE TABLE kinds (id int, n numeric, b bytea, ts timestamptz, j jsonb, a int[], u text);
     INSERT INTO kinds VALUES
       (1, 12.5, '\\x00ff10', '2026-01-02 03:04:05+00', '{"k": [1, null]}', '{1,2,NULL}', 'tab\there'),
       (2, NULL, NULL, NULL, NULL, NULL, 'ünï €')`,
  );
  t.teardown(() => h.direct('DROP TABLE IF EXISTS kinds, kinds_in'));
  const through = join(dir, 'through.bin');
  const out = await h.psql(['-c', `\\copy kinds TO '${through}' WITH (FORMAT binary)`]);
  t.equal(out.code, 0, out.stderr);
  // The same COPY straight to the database, for the bytes to compare.
  const straight = join(dir, 'straight.bin');
  await new Promise<void>((resolve, reject) =>
    execFile(
      'psql',
      [
        '-h',
        '127.0.0.1',
        '-U',
        'postgres',
        '-d',
        h.db,
        '-X',
        '-c',
        `\\copy kinds TO '${straight}' WITH (FORMAT binary)`,
      ],
      (err) => (err ? reject(err) : resolve()),
    ),
  );
  t.same(readFileSync(through), readFileSync(straight), 'the same bytes as a direct binary COPY');
  await h.direct('CREATE TABLE kinds_in (LIKE kinds)');
  const back = await h.psql(['-c', `\\copy kinds_in FROM '${through}' WITH (FORMAT binary)`]);
  t.equal(back.code, 0, back.stderr);
  t.match(back.stdout, /COPY 2/);
  const diff = await h.direct('SELECT count(*)::int AS n FROM (TABLE kinds EXCEPT ALL TABLE kinds_in) d');
  t.equal(diff.rows[0].n, 0, 'every row came back as it was');
  const count = await h.direct('SELECT count(*)::int AS n FROM kinds_in');
  t.equal(count.rows[0].n, 2);
});

t.test('binary COPY of masked columns is refused as text COPY is, and nothing leaks', async (t) => {
  const file = join(dir, 'masked.bin');
  const out = await h.psql(['-c', `\\copy customers TO '${file}' WITH (FORMAT binary)`]);
  t.not(out.code, 0);
  t.match(out.stderr, /would send masked columns \(email, ssn\) unmasked/);
  const written = (() => {
    try {
      return readFileSync(file);
    } catch {
      return Buffer.alloc(0);
    }
  })();
  t.notOk(written.includes('123-45') || written.includes('ada@'), 'no masked value reached the file');
});
