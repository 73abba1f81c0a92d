import t from 'tap';
import { compiledPolicy, computed, mysqlVerdict, pgVerdict, session, stage } from './fixtures/shop.js';

/**
 * `derived:` on a masking rule returns chosen aspects of a masked column in clear: `length`
 * (length(), char_length(), octet_length(), pg_column_size(); it tells nullness too) and
 * `nullness` (IS NULL, IS NOT NULL, ISNULL()). Only of the column itself: an aspect of a computed
 * value can encode the value, so it stays masked; by default every derivation is masked.
 */
const masking = `      - columns: [customers.email]
        strategy: email
        derived: [nullness]
      - columns: ["*.ssn"]
        strategy: partial
        derived: [length]
      - columns: [public.customers.phone]
        strategy: hash`;

const withAspects = compiledPolicy('', masking);
const byDefault = compiledPolicy();
const refusing = compiledPolicy('    maskedDerivations: refuse', masking);

async function actions(
  dialect: 'postgres' | 'mysql',
  sql: string,
  width = 1,
  policy = withAspects,
): Promise<(string | null)[] | undefined> {
  const columns = computed(...Array.from({ length: width }, (_, i) => `c${i}`));
  const plan = await stage(policy, dialect).maskingPlan(columns, {
    session: session(dialect),
    sql,
    verdict: dialect === 'postgres' ? await pgVerdict(sql) : mysqlVerdict(sql),
  });
  return plan?.actions.map((a) => (a === null ? null : a.kind === 'mask' ? a.strategy.name : a.kind));
}

const both: [string, string, (string | null)[]][] = [
  ['length of a column whose rule lists length', 'SELECT length(ssn) FROM customers', [null]],
  ['char_length too', 'SELECT char_length(ssn) FROM customers', [null]],
  ['length tells nullness, so IS NULL passes', 'SELECT ssn IS NULL FROM customers', [null]],
  ['IS NOT NULL of a nullness rule', 'SELECT email IS NOT NULL FROM customers', [null]],
  ['length of a nullness-only rule stays masked', 'SELECT length(email) FROM customers', ['redact']],
  ['a rule without derived masks every derivation', 'SELECT phone IS NULL FROM customers', ['redact']],
  ['a function of a length passes', 'SELECT length(ssn) > 9 FROM customers', [null]],
  ['an aggregate of a length passes', 'SELECT max(length(ssn)) FROM customers', [null]],
  [
    'the length of a computed value may encode it',
    "SELECT length(repeat('x', ascii(ssn))) FROM customers",
    ['redact'],
  ],
  ['length of lower() is computed', 'SELECT length(lower(ssn)) FROM customers', ['redact']],
  [
    'a nullness that depends on the value',
    "SELECT nullif(email, 'ada@example.com') IS NULL FROM customers",
    ['redact'],
  ],
  ['length next to the value itself', 'SELECT length(ssn) || ssn FROM customers', ['redact']],
  [
    'a CASE that returns the value',
    'SELECT CASE WHEN length(ssn) > 3 THEN ssn END FROM customers',
    ['redact'],
  ],
  ['the column itself keeps its strategy', 'SELECT ssn, length(ssn) FROM customers', ['partial', null]],
];

for (const dialect of ['postgres', 'mysql'] as const) {
  for (const [name, sql, expected] of both) {
    t.test(`${dialect}: ${name}`, async (t) => {
      t.same(await actions(dialect, sql, expected.length), expected, sql);
    });
  }
}

t.test('postgres: pg_column_size is a length', async (t) => {
  t.same(await actions('postgres', 'SELECT pg_column_size(ssn) FROM customers'), [null]);
});

t.test('mysql: ISNULL() is a nullness test', async (t) => {
  t.same(await actions('mysql', 'SELECT ISNULL(email) FROM customers'), [null]);
});

t.test('a user function named like a length builtin is not one', async (t) => {
  t.same(await actions('postgres', 'SELECT public.length(ssn) FROM customers'), ['redact']);
});

t.test('by default (no derived list) length and nullness are masked', async (t) => {
  t.same(await actions('postgres', 'SELECT length(ssn), ssn IS NULL FROM customers', 2, byDefault), [
    'redact',
    'redact',
  ]);
  t.same(await actions('mysql', 'SELECT LENGTH(ssn), ssn IS NULL FROM customers', 2, byDefault), [
    'redact',
    'redact',
  ]);
});

t.test('maskedDerivations: refuse does not refuse an aspect the rule returns', async (t) => {
  t.same(await actions('postgres', 'SELECT length(ssn) FROM customers', 1, refusing), [null]);
  await t.rejects(
    actions('postgres', 'SELECT length(email) FROM customers', 1, refusing),
    /computed from masked/,
  );
});
