/**
 * psql's meta-commands as an agent under the usual read-only policy (#17): what DBAs type to look
 * around is allowed, and where a meta-command shows data, a masked column never comes back in clear.
 */
import t from 'tap';
import { startHarness } from './postgres-listener-harness.js';

const h = await startHarness(t, {
  policy: `
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
    statements:
      default: deny
      allow: [read]
    masking:
      - columns: [customers.ssn, customers.email]
        strategy: redact
`,
  seed: `
  CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, ssn text);
  INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', '123-45-6789');
  CREATE INDEX customers_by_name ON customers (name);
  CREATE VIEW named AS SELECT id, name FROM customers;
  CREATE FUNCTION add_one(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + 1';
  CREATE SCHEMA reports;
`,
});

const SECRETS = ['123-45-6789', 'ada@example.com'];

for (const command of [
  '\\l',
  '\\dt',
  '\\d customers',
  '\\df',
  '\\dn',
  '\\du',
  '\\dv',
  '\\di',
  '\\d+ named',
]) {
  t.test(`${command} works as an agent`, async (t) => {
    const out = await h.psql(['-c', command]);
    t.equal(out.code, 0, `${command}: ${out.stderr}`);
    t.equal(out.stderr, '', 'no error, no warning');
    t.notSame(out.stdout.trim(), '', 'it shows something');
  });
}

t.test('\\d shows what the catalog says', async (t) => {
  const out = await h.psql(['-c', '\\d customers']);
  t.match(out.stdout, /ssn\s+\|\s+text/);
  t.match(out.stdout, /customers_by_name/);
  const fns = await h.psql(['-c', '\\df add_one']);
  t.match(fns.stdout, /add_one/);
  const schemas = await h.psql(['-c', '\\dn']);
  t.match(schemas.stdout, /reports/);
});

t.test(
  '\\x shows masked columns masked; \\copy sends what it may and refuses what it would leak',
  async (t) => {
    const expanded = await h.psql(['-c', '\\x on', '-c', 'SELECT * FROM customers']);
    t.equal(expanded.code, 0, expanded.stderr);
    t.match(expanded.stdout, /name\s+\| Ada/);
    const copied = await h.psql(['-c', '\\copy (SELECT id, name FROM customers) TO STDOUT']);
    t.equal(copied.code, 0, copied.stderr);
    t.equal(copied.stdout.trim(), '1\tAda');
    // COPY lines are not rewritten (a known gap, docs/compatibility.md): refused, and said why.
    const masked = await h.psql(['-c', '\\copy (SELECT id, email, ssn FROM customers) TO STDOUT']);
    t.not(masked.code, 0);
    t.match(
      masked.stderr,
      /COPY \.\.\. TO STDOUT would send masked columns \(email, ssn\) unmasked; use SELECT/,
    );
    for (const out of [expanded.stdout, copied.stdout, masked.stdout, masked.stderr]) {
      for (const secret of SECRETS) t.notOk(out.includes(secret), `no ${secret} in what psql shows`);
    }
  },
);
