import t from 'tap';
import { parseConfigText } from '../../src/config/load.js';
import { Secret } from '../../src/config/secret.js';
import { compileMaskingPolicy } from '../../src/masking/policy.js';
import { compileStrategy, HASH_HEX_LENGTH, REDACTED } from '../../src/masking/strategies.js';
import { newFeatures, scanText } from '../../src/masking/detectors.js';
import { compiledPolicy } from './fixtures/shop.js';

const key = Buffer.from('k');

t.test('redact writes a fixed mask whatever the value', async (t) => {
  const s = compileStrategy('redact', 4, key);
  t.equal(s.apply('secret'), REDACTED);
  t.equal(s.apply(''), REDACTED);
  t.same(s.constant, { value: REDACTED });
});

t.test('partial keeps the last `keep` characters, and hides short values whole', async (t) => {
  const s = compileStrategy('partial', 4, key);
  t.equal(s.apply('4111111111111111'), '************1111');
  t.equal(s.apply('abc'), '***');
  t.equal(s.apply('abcd'), '****');
  t.equal(s.apply('ñandú😀xyz'), '*****😀xyz', 'counts code points, not UTF-16 units');
  t.equal(compileStrategy('partial', 0, key).apply('abc'), '***');
});

t.test('email keeps the domain, and redacts what is not an email', async (t) => {
  const s = compileStrategy('email', 4, key);
  t.equal(s.apply('alice@example.com'), '****@example.com');
  t.equal(s.apply(' bob@mail.example.org '), '****@mail.example.org');
  t.equal(s.apply('not an email'), REDACTED);
  t.equal(s.apply('a@b@c.com'), REDACTED);
});

t.test('hash is a keyed, stable, truncated HMAC', async (t) => {
  const a = compileStrategy('hash', 4, Buffer.from('key-a'));
  const b = compileStrategy('hash', 4, Buffer.from('key-b'));
  t.equal(a.apply('x'), a.apply('x'), 'stable, so joins and GROUP BY line up');
  t.not(a.apply('x'), a.apply('y'));
  t.not(a.apply('x'), b.apply('x'), 'depends on the key');
  t.match(a.apply('x'), new RegExp(`^[0-9a-f]{${HASH_HEX_LENGTH}}$`));
});

t.test('null replaces the value with NULL', async (t) => {
  t.equal(compileStrategy('null', 4, key).apply('x'), null);
});

t.test('column rules: exact, unqualified, schema-qualified and globs; first rule wins', async (t) => {
  const p = compiledPolicy(
    '',
    `      - columns: [customers.email]
        strategy: email
      - columns: ["*.ssn", "customers.*_phone"]
        strategy: partial
      - columns: [billing.cards.number]
        strategy: hash
      - columns: [customers.email]
        strategy: "null"`,
  );
  t.equal(
    p.columnRule('public', 'customers', 'email')?.strategy.name,
    'email',
    'unqualified table matches any schema',
  );
  t.equal(p.columnRule('crm', 'Customers', 'EMAIL')?.strategy.name, 'email', 'case-insensitive');
  t.equal(p.columnRule('x', 'people', 'ssn')?.strategy.name, 'partial');
  t.equal(p.columnRule('x', 'customers', 'home_phone')?.pattern, 'customers.*_phone');
  t.equal(p.columnRule('x', 'customers', 'phone'), undefined, '*_phone needs the underscore');
  t.equal(p.columnRule('billing', 'cards', 'number')?.strategy.name, 'hash');
  t.equal(p.columnRule('public', 'cards', 'number'), undefined, 'schema-qualified rule is only that schema');
  t.equal(p.columnRule('public', 'orders', 'email'), undefined);
  t.equal(p.columnRule('public', 'customers', 'email')?.index, 0, 'first rule wins');
  t.ok(p.hasColumnRules);
});

t.test('detector rules: first rule whose detector fires decides', async (t) => {
  const p = compiledPolicy(
    '',
    `      - detect: [credit-card]
        strategy: partial
      - detect: [email, us-ssn]
        strategy: redact`,
  );
  t.notOk(p.hasColumnRules);
  const f = newFeatures();
  t.equal(p.detect('4111111111111111', scanText('4111111111111111', f))?.strategy.name, 'partial');
  t.equal(p.detect('a@example.com', scanText('a@example.com', f))?.strategy.name, 'redact');
  t.equal(p.detect('hello', scanText('hello', f)), undefined);
  t.notOk(p.detectCandidate(scanText('hello', f)));
});

t.test('without masking.hashKey a per-process key is used and the policy says so', async (t) => {
  const config = parseConfigText(`
targets:
  t: { engine: postgres, host: h, port: 5432, database: d, user: u }
policies:
  - name: p
    when: { groups: [g] }
    masking:
      - columns: [a.b]
        strategy: hash
`);
  const p1 = compileMaskingPolicy(config.policies[0]!, undefined);
  const p2 = compileMaskingPolicy(config.policies[0]!, undefined);
  t.match(p1.warnings.join('\n'), /hashKey is not set/);
  t.equal(
    p1.columnRule('s', 'a', 'b')?.strategy.apply('v'),
    p2.columnRule('s', 'a', 'b')?.strategy.apply('v'),
    'the same key within the process',
  );
  const keyed = compileMaskingPolicy(config.policies[0]!, new Secret('configured', 'literal'));
  t.same(keyed.warnings, [], 'no warning with a configured key');
  t.not(
    keyed.columnRule('s', 'a', 'b')?.strategy.apply('v'),
    p1.columnRule('s', 'a', 'b')?.strategy.apply('v'),
  );
});
