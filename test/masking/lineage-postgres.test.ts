import t from 'tap';
import type { ResultColumn } from '../../src/gateway/types.js';
import { MaskingRefusal } from '../../src/masking/errors.js';
import type { CursorLineage } from '../../src/masking/origins.js';
import { compiledPolicy, computed, pgVerdict, session, stage } from './fixtures/shop.js';

const policy = compiledPolicy();

/** The action per column, as names: null (pass), a strategy name, or 'detect'. */
async function actions(sql: string, columns: ResultColumn[] | string[], cursor?: CursorLineage) {
  const cols =
    typeof columns[0] === 'string' ? computed(...(columns as string[])) : (columns as ResultColumn[]);
  const plan = await stage(policy).maskingPlan(cols, {
    session: session(),
    sql,
    verdict: await pgVerdict(sql),
    ...(cursor ? { cursor } : {}),
  });
  return plan?.actions.map((a) => (a === null ? null : a.kind === 'mask' ? a.strategy.name : a.kind));
}

const cases: [string, string, string[], (string | null)[]][] = [
  [
    'plain columns keep their rule',
    'SELECT id, email, ssn, phone, name FROM customers',
    ['id', 'email', 'ssn', 'phone', 'name'],
    [null, 'email', 'partial', 'hash', null],
  ],
  ['an alias is still the column', 'SELECT email AS contact FROM customers', ['contact'], ['email']],
  ['lower(email) is derived: redact', 'SELECT lower(email) FROM customers', ['lower'], ['redact']],
  ["email || '' is derived", "SELECT email || '' AS x FROM customers", ['x'], ['redact']],
  ['substr(ssn,1,3) is derived', 'SELECT substr(ssn, 1, 3) FROM customers', ['substr'], ['redact']],
  [
    'string_agg(email) is derived',
    "SELECT string_agg(email, ',') FROM customers",
    ['string_agg'],
    ['redact'],
  ],
  ['json_agg(c) carries every column of c', 'SELECT json_agg(c) FROM customers c', ['json_agg'], ['redact']],
  [
    'row_to_json(c) carries every column of c',
    'SELECT row_to_json(c) FROM customers c',
    ['row_to_json'],
    ['redact'],
  ],
  ['a whole-row reference carries every column', 'SELECT c FROM customers c', ['c'], ['redact']],
  ['(c).email is the email column', 'SELECT (c).email FROM customers c', ['email'], ['email']],
  [
    'SELECT * expands with each column its rule',
    'SELECT * FROM customers',
    ['id', 'name', 'email', 'ssn', 'phone'],
    [null, null, 'email', 'partial', 'hash'],
  ],
  [
    't.* expands the named relation only',
    'SELECT o.*, c.email FROM orders o JOIN customers c ON c.id = o.customer_id',
    ['id', 'customer_id', 'total', 'email'],
    [null, null, null, 'email'],
  ],
  [
    'a subquery in FROM passes taint through',
    'SELECT x.e FROM (SELECT email AS e, name FROM customers) x',
    ['e'],
    ['email'],
  ],
  [
    'a derived output of a FROM subquery stays derived',
    'SELECT x.e FROM (SELECT upper(email) AS e FROM customers) x',
    ['e'],
    ['redact'],
  ],
  [
    'a scalar subquery in the select list copies its column',
    'SELECT (SELECT email FROM customers LIMIT 1) AS e',
    ['e'],
    ['email'],
  ],
  ['ARRAY(subquery) is derived', 'SELECT ARRAY(SELECT ssn FROM customers) AS a', ['a'], ['redact']],
  [
    'a correlated subquery sees the outer row',
    'SELECT o.id, (SELECT c.phone FROM customers c WHERE c.id = o.customer_id) FROM orders o',
    ['id', 'phone'],
    [null, 'hash'],
  ],
  [
    'a CTE passes taint through',
    'WITH x AS (SELECT email, name FROM customers) SELECT name, email FROM x',
    ['name', 'email'],
    [null, 'email'],
  ],
  [
    'CTE column aliases rename positionally',
    'WITH x(a, b) AS (SELECT name, ssn FROM customers) SELECT b, a FROM x',
    ['b', 'a'],
    ['partial', null],
  ],
  [
    'a recursive CTE carries taint through its recursion',
    'WITH RECURSIVE r(n, a, b) AS (SELECT 1, name, email FROM customers UNION ALL SELECT n + 1, b, a FROM r WHERE n < 3) SELECT n, a FROM r',
    ['n', 'a'],
    [null, 'email'],
  ],
  [
    'a recursive step that computes is derived',
    'WITH RECURSIVE r(n, v) AS (SELECT 1, name FROM customers UNION ALL SELECT n + 1, v || (SELECT ssn FROM customers LIMIT 1) FROM r WHERE n < 3) SELECT n, v FROM r',
    ['n', 'v'],
    [null, 'redact'],
  ],
  [
    'UNION: output i is tainted by output i of every branch',
    'SELECT name, id FROM customers UNION SELECT email, id FROM customers',
    ['name', 'id'],
    ['email', null],
  ],
  [
    'INTERSECT and EXCEPT branches too',
    'SELECT name FROM customers INTERSECT SELECT ssn FROM customers EXCEPT SELECT phone FROM customers',
    ['name'],
    ['redact'],
  ],
  [
    'joins resolve columns on both sides',
    'SELECT o.total, email FROM orders o LEFT JOIN customers c ON c.id = o.customer_id',
    ['total', 'email'],
    [null, 'email'],
  ],
  [
    'a view is analysed through its definition',
    'SELECT id, contact, name FROM customer_contacts',
    ['id', 'contact', 'name'],
    [null, 'redact', null],
  ],
  ['CASE is derived', "SELECT CASE WHEN id > 1 THEN ssn ELSE 'x' END FROM customers", ['case'], ['redact']],
  ['COALESCE is derived', "SELECT coalesce(phone, '') FROM customers", ['coalesce'], ['redact']],
  ['a cast is derived', 'SELECT ssn::varchar(20) FROM customers', ['ssn'], ['redact']],
  [
    'a window function over a masked column is derived',
    'SELECT first_value(email) OVER (ORDER BY id) FROM customers',
    ['first_value'],
    ['redact'],
  ],
  ['count(*) reads no value', 'SELECT count(*) FROM customers', ['count'], [null]],
  [
    'schema-qualified names resolve',
    'SELECT public.customers.email FROM public.customers',
    ['email'],
    ['email'],
  ],
  [
    'an unmasked schema table with a glob-masked column',
    'SELECT ssn, email FROM shop.customers',
    ['ssn', 'email'],
    ['partial', 'email'],
  ],
  [
    'a pure set-returning function carries its arguments',
    'SELECT u FROM customers c, unnest(ARRAY[c.email, c.name]) u',
    ['u'],
    ['redact'],
  ],
  ['VALUES carry no taint', "SELECT * FROM (VALUES (1, 'a')) v(x, y)", ['x', 'y'], [null, null]],
  [
    'COPY (SELECT ...) TO STDOUT is analysed as its query',
    'COPY (SELECT email, name FROM customers) TO STDOUT',
    ['email', 'name'],
    ['email', null],
  ],
  [
    'COPY table TO STDOUT reads every column',
    'COPY customers TO STDOUT',
    ['id', 'name', 'email', 'ssn', 'phone'],
    [null, null, 'email', 'partial', 'hash'],
  ],
  [
    'RETURNING is analysed over the target table',
    "UPDATE customers SET name = 'x' WHERE id = 1 RETURNING id, email",
    ['id', 'email'],
    [null, 'redact'],
  ],
  ['SHOW returns no table data', 'SHOW search_path', ['search_path'], [null]],
  [
    'an unknown function in FROM taints every output',
    'SELECT email, name FROM customers, mystery() m',
    ['email', 'name'],
    ['redact', 'redact'],
  ],
  [
    'a column that cannot be bound taints every output',
    'SELECT name, nosuch FROM customers',
    ['name', 'nosuch'],
    ['redact', 'redact'],
  ],
  ['an unknown relation taints every output', 'SELECT a FROM somewhere_else', ['a'], ['redact']],
  [
    'a user function taints every output',
    'SELECT get_secret(1) AS s, name FROM customers',
    ['s', 'name'],
    ['redact', 'redact'],
  ],
  [
    'query_to_xml is opaque',
    "SELECT query_to_xml('select ssn from customers', true, true, '')",
    ['x'],
    ['redact'],
  ],
  [
    'a statement reading no masked table passes',
    'SELECT id, total, upper(total::text) FROM orders',
    ['id', 'total', 'upper'],
    [null, null, null],
  ],
  ['an unmodelled statement reading nothing known is redacted', 'EXECUTE stmt1', ['a'], ['redact']],
  [
    'a width mismatch with the result fails closed',
    'SELECT name FROM customers',
    ['name', 'extra'],
    ['redact', 'redact'],
  ],
  [
    'planner statistics hold copied values: every output masked',
    "SELECT attname, most_common_vals FROM pg_stats WHERE tablename = 'customers'",
    ['attname', 'most_common_vals'],
    ['redact', 'redact'],
  ],
  ['a view over an unknown relation fails closed', 'SELECT name FROM customer_names', ['name'], ['redact']],
  [
    "other sessions' statement text, through the function behind pg_stat_activity: masked",
    'SELECT (pg_stat_get_activity(NULL)).query',
    ['query'],
    ['redact'],
  ],
];

for (const [name, sql, columns, expected] of cases) {
  t.test(name, async (t) => {
    t.same(await actions(sql, columns), expected, sql);
  });
}

t.test('the wire origin names the column for SELECT * without a parse match', async (t) => {
  // tableOid/columnAttr of customers.phone (attnum 5) on a computed-looking name.
  const cols: ResultColumn[] = [
    { name: 'x', type: 'text', typeOid: 25, tableOid: 16400, columnAttr: 5 },
    { name: 'y', type: 'text', typeOid: 25, tableOid: 0, columnAttr: 0 },
  ];
  t.same(await actions('SELECT phone AS x, name AS y FROM customers', cols), ['hash', null]);
});

t.test('wire and parse disagree: the stricter wins', async (t) => {
  // The wire says customers.email; the parse says name: both taint it.
  const cols: ResultColumn[] = [{ name: 'name', type: 'text', typeOid: 25, tableOid: 16400, columnAttr: 3 }];
  t.same(await actions('SELECT name FROM customers', cols), ['email']);
  // The wire names a view column: its definition decides.
  const viewCol: ResultColumn[] = [
    { name: 'contact', type: 'text', typeOid: 25, tableOid: 16420, columnAttr: 2 },
  ];
  t.same(await actions('SELECT 1', viewCol), ['redact']);
});

t.test('DECLARE is analysed once and its lineage reused by FETCH', async (t) => {
  const s = stage(policy);
  const declare = 'DECLARE cur CURSOR FOR SELECT id, email, lower(ssn) FROM customers';
  const cursor = await s.cursorLineage({
    session: session(),
    sql: declare,
    verdict: await pgVerdict(declare),
  });
  t.equal(cursor?.name, 'cur');
  t.same(await actions('FETCH 10 FROM cur', ['id', 'email', 'lower'], cursor), [null, 'email', 'redact']);
  // FETCH without the cursor's lineage: nothing is known, everything masked.
  t.same(await actions('FETCH 10 FROM cur', ['id', 'email', 'lower']), ['redact', 'redact', 'redact']);
  // DECLARE and FETCH in one text.
  t.same(await actions(`${declare}; FETCH 1 FROM cur`, ['id', 'email', 'lower']), [null, 'email', 'redact']);
  t.equal(
    await s.cursorLineage({ session: session(), sql: 'SELECT 1', verdict: await pgVerdict('SELECT 1') }),
    undefined,
  );
});

t.test('maskedDerivations: refuse names the column and the reason', async (t) => {
  const strict = compiledPolicy('    maskedDerivations: refuse');
  const s = stage(strict);
  const sql = 'SELECT id, lower(email) AS e FROM customers';
  const err = await s
    .maskingPlan(computed('id', 'e'), { session: session(), sql, verdict: await pgVerdict(sql) })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  t.ok(err instanceof MaskingRefusal);
  t.equal((err as MaskingRefusal).code, 'ERR_MASKING_REFUSED');
  t.match((err as Error).message, /column "e" is computed from masked column public\.customers\.email/);
  // A plain copy is still masked, not refused.
  const plain = 'SELECT email FROM customers';
  const plan = await s.maskingPlan(computed('email'), {
    session: session(),
    sql: plain,
    verdict: await pgVerdict(plain),
  });
  t.equal(plan?.actions[0]?.kind, 'mask');
  // An untraceable origin is refused too.
  const opaque = 'SELECT a FROM nowhere';
  await t.rejects(
    s.maskingPlan(computed('a'), { session: session(), sql: opaque, verdict: await pgVerdict(opaque) }),
    /cannot tell where column "a" comes from/,
  );
});

t.test('maskedFilters: refuse stops WHERE, JOIN, GROUP BY and ORDER BY on masked columns', async (t) => {
  const s = stage(compiledPolicy('    maskedFilters: refuse'));
  for (const sql of [
    "SELECT id FROM customers WHERE ssn LIKE '123%'",
    'SELECT o.id FROM orders o JOIN customers c ON c.email = o.total::text',
    'SELECT count(*) FROM customers GROUP BY phone',
    'SELECT id FROM customers ORDER BY email',
    'SELECT a.id FROM customers a JOIN customers b USING (ssn)',
    "SELECT id FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE email = 'a@b.c')",
  ]) {
    await t.rejects(
      s.maskingPlan(computed('id'), { session: session(), sql, verdict: await pgVerdict(sql) }),
      {
        code: 'ERR_MASKING_REFUSED',
        message: /filters, joins, groups or orders on masked column public\.customers\./,
      },
      sql,
    );
  }
  const ok = 'SELECT email FROM customers WHERE id = 1 ORDER BY name';
  const plan = await s.maskingPlan(computed('email'), {
    session: session(),
    sql: ok,
    verdict: await pgVerdict(ok),
  });
  t.equal(plan?.actions[0]?.kind, 'mask');
});

t.test('without a guard parse the stage parses the SQL itself; a parse error fails closed', async (t) => {
  const s = stage(policy);
  const base = { action: 'allow' as const, reason: '', rule: '', statements: [] };
  const sql = 'SELECT lower(email), name FROM customers';
  const plan = await s.maskingPlan(computed('l', 'name'), { session: session(), sql, verdict: base });
  t.same(
    plan?.actions.map((a) => a?.kind ?? null),
    ['mask', null],
  );
  const broken = await s.maskingPlan(computed('a'), { session: session(), sql: 'SELEC nope', verdict: base });
  t.equal(broken?.actions[0]?.kind, 'mask');
});

t.test('a caller without masking gets no plan; detectors alone need no catalog', async (t) => {
  t.equal(
    await stage(undefined).plan(computed('a'), {
      session: session(),
      sql: 'SELECT 1',
      verdict: await pgVerdict('SELECT 1'),
    }),
    null,
  );
  const detectOnly = compiledPolicy('', '      - detect: [email]\n        strategy: redact');
  const s = stage(detectOnly);
  const sql = 'SELECT note, n FROM whatever';
  const cols: ResultColumn[] = [
    { name: 'note', type: 'text', typeOid: 25 },
    { name: 'n', type: 'int4', typeOid: 23 },
  ];
  const masker = await s.plan(cols, { session: session(), sql, verdict: await pgVerdict(sql) });
  t.same(masker?.masked, [false, false], 'detector-scanned columns are not reported as masked');
  t.same(masker?.mask(['mail me: a@example.com', 5]), ['****', 5]);
  const untouched = ['nothing here', 7];
  t.equal(masker?.mask(untouched), untouched, 'a row without hits is returned as is');
});

t.test('precheck refuses before the statement runs, from the parse alone', async (t) => {
  const s = stage(compiledPolicy('    maskedDerivations: refuse\n    maskedFilters: refuse'));
  const context = async (sql: string) => ({ session: session(), sql, verdict: await pgVerdict(sql) });
  await t.rejects(s.precheck(await context("SELECT id FROM customers WHERE ssn = '1'")), {
    code: 'ERR_MASKING_REFUSED',
  });
  await t.rejects(
    s.precheck(await context('SELECT upper(email) AS u FROM customers')),
    /column "u" is computed/,
  );
  await t.rejects(
    s.precheck(await context('DECLARE c CURSOR FOR SELECT lower(ssn) FROM customers')),
    /computed/,
  );
  await t.rejects(s.precheck(await context('SELECT * FROM nowhere')), /cannot tell/);
  await t.resolves(
    s.precheck(await context('SELECT id, email FROM customers WHERE id = 1; SHOW search_path')),
  );
  const declare = 'DECLARE c CURSOR FOR SELECT email FROM customers';
  const cursor = await s.cursorLineage(await context(declare));
  await t.resolves(s.precheck({ ...(await context('FETCH 5 FROM c')), ...(cursor ? { cursor } : {}) }));
  await t.resolves(
    stage(policy).precheck(await context('SELECT upper(email) FROM customers WHERE ssn = 1')),
    'mask policies never refuse',
  );
});
