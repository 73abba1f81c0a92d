import t from 'tap';
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
