/**
 * The write check against a static catalog: which values each kind of write stores, per dialect,
 * and which calls keep their arguments. A refusal names the masked column; a write that stores
 * nothing masked passes.
 */
import t from 'tap';
import { parse } from 'libpg-query';
import type { Effect } from '../../src/config/schema.js';
import type { GuardVerdict } from '../../src/gateway/types.js';
import { astifyMySql } from '../../src/guard/mysql/readable.js';
import { DEFAULT_SIDE_EFFECT_FUNCTIONS, sideEffectTable, sinkFunctionsOf } from '../../src/guard/index.js';
import { createStaticCatalog } from '../../src/masking/catalog.js';
import { LineageMasking } from '../../src/masking/index.js';
import { compiledPolicy, logger, relations, session } from './fixtures/shop.js';

const policy = compiledPolicy();

function masking(dialect: 'postgres' | 'mysql') {
  const catalog = createStaticCatalog({
    dialect,
    relations,
    searchPath: dialect === 'postgres' ? ['pg_catalog', 'public'] : ['shop'],
    userFunctions: ['get_secret'],
  });
  return new LineageMasking({
    rulesFor: () => policy,
    catalogFor: () => catalog,
    logger,
    // get_secret, a user function, declared to write: it may copy what it reads inside.
    sinkFunctions: (d) => sinkFunctionsOf(sideEffectTable(d, { get_secret: ['write'] })),
  });
}

async function decide(sql: string, dialect: 'postgres' | 'mysql', effects: Effect[] = ['read', 'write']) {
  const parsed = dialect === 'postgres' ? await parse(sql) : astifyMySql(sql);
  const verdict: GuardVerdict = {
    action: 'allow',
    reason: '',
    rule: '',
    statements: [
      { text: sql, command: sql.split(' ')[0] ?? '', effects, objects: ['customers'], unbounded: false },
    ],
    parsed,
  };
  return masking(dialect)
    .precheck({ session: session(dialect), sql, verdict })
    .then(
      () => 'runs',
      (e: Error) => e.message,
    );
}

const POSTGRES: [string, RegExp | 'runs'][] = [
  ['INSERT INTO orders (id, total) SELECT id, length(name) FROM customers', 'runs'],
  [
    'INSERT INTO orders SELECT id, 1, ssn::numeric FROM customers',
    /masked column public\.customers\.ssn in a table/,
  ],
  ['INSERT INTO orders SELECT * FROM (SELECT id, 1, phone FROM customers) x', /public\.customers\.phone/],
  [
    'INSERT INTO orders (id, total) VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET total = excluded.total',
    'runs',
  ],
  [
    'INSERT INTO orders (id, total) SELECT id, length(name) FROM customers ON CONFLICT (id) DO UPDATE SET customer_id = excluded.id',
    'runs',
  ],
  [
    'INSERT INTO orders (id, total) SELECT id, length(email) FROM customers ON CONFLICT (id) DO UPDATE SET customer_id = excluded.total',
    /public\.customers\.email/,
  ],
  ['UPDATE orders o SET total = c.id FROM customers c WHERE c.email = o.id::text', 'runs'],
  ['UPDATE orders o SET total = length(c.ssn) FROM customers c WHERE c.id = o.id', /public\.customers\.ssn/],
  [
    'WITH RECURSIVE r(x) AS (SELECT email FROM customers UNION ALL SELECT x FROM r) INSERT INTO orders SELECT 1, 1, x FROM r',
    /email/,
  ],
  [
    'WITH d AS (DELETE FROM customers WHERE id = 1 RETURNING email) INSERT INTO orders SELECT 1, 1, email FROM d',
    /email/,
  ],
  [
    'WITH d AS (DELETE FROM customers WHERE id = 1 RETURNING id) INSERT INTO orders SELECT id, 1, 1 FROM d',
    'runs',
  ],
  ['INSERT INTO orders SELECT 1, 1, get_secret()', /origin cannot be told/],
  ['INSERT INTO orders SELECT id, 1, 1 FROM customer_contacts', 'runs'],
  ['INSERT INTO orders SELECT id, 1, contact FROM customer_contacts', /public\.customers\.email/],
  ['CREATE RULE r AS ON INSERT TO orders DO ALSO INSERT INTO orders SELECT 1, 1, ssn FROM customers', /ssn/],
  ["SELECT setval('s', length(ssn)) FROM customers", /through setval\(\)/],
  ["SELECT pg_catalog.set_config('a.b', email, false) FROM customers", /through set_config\(\)/],
  ['SELECT pg_advisory_lock(id) FROM customers', 'runs'],
  ["SELECT setval('s', 1)", 'runs'],
  ['SELECT get_secret()', /origin cannot be told .* through get_secret\(\)/],
];

const MYSQL: [string, RegExp | 'runs'][] = [
  ['INSERT INTO orders SELECT id, 1, LENGTH(name) FROM customers', 'runs'],
  ['INSERT INTO orders SELECT id, 1, ssn FROM customers', /masked column shop\.customers\.ssn/],
  ['UPDATE orders o, customers c SET o.total = c.email WHERE o.id = c.id', /email/],
  ['UPDATE customers o JOIN customers c ON c.id = o.id SET o.name = c.id', 'runs'],
  [
    'UPDATE orders o JOIN customers c ON c.id = o.id SET o.total = c.id',
    /origin cannot be told \(relation orders/,
  ],
  ['INSERT INTO orders SET id = 1, total = (SELECT MAX(ssn) FROM customers)', /ssn/],
  [
    'INSERT INTO orders VALUES (1, 1, 1) ON DUPLICATE KEY UPDATE total = (SELECT ssn FROM customers LIMIT 1)',
    /ssn/,
  ],
  ['INSERT INTO orders VALUES (1, 1, @v)', /origin cannot be told/],
  ['SET @v = (SELECT ssn FROM customers LIMIT 1)', 'runs'],
  ['SET @@session.sql_mode = (SELECT ssn FROM customers LIMIT 1)', /ssn/],
  ['SELECT GET_LOCK(email, 0) FROM customers', /through get_lock\(\)/],
  ['CREATE TABLE stash AS SELECT email FROM customers', /email/],
];

t.test('Postgres writes', async (t) => {
  for (const [sql, expected] of POSTGRES) {
    const out = await decide(sql, 'postgres');
    if (expected === 'runs') t.equal(out, 'runs', `${sql}: ${out}`);
    else t.match(out, expected, sql);
  }
});

t.test('MySQL writes', async (t) => {
  for (const [sql, expected] of MYSQL) {
    const out = await decide(sql, 'mysql');
    if (expected === 'runs') t.equal(out, 'runs', `${sql}: ${out}`);
    else t.match(out, expected, sql);
  }
});

t.test('a statement that only reads is not looked at, and the sink list follows the guard', async (t) => {
  t.equal(
    await decide('SELECT ssn FROM customers', 'postgres', ['read']),
    'runs',
    'reads are masked, not refused',
  );
  const sinks = sinkFunctionsOf(sideEffectTable('postgres', { set_config: [], lo_get: ['read'] }));
  t.notOk(sinks.has('set_config'), 'a function declared pure is no sink');
  t.notOk(sinks.has('lo_get'), 'a read is no sink');
  t.ok(sinks.has('pg_notify'));
  t.ok(
    Object.keys(DEFAULT_SIDE_EFFECT_FUNCTIONS.mysql).every((n) =>
      sinkFunctionsOf(sideEffectTable('mysql', undefined)).has(n),
    ),
  );
});
