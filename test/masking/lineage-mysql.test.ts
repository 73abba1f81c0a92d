import t from 'tap';
import type { ResultColumn } from '../../src/gateway/types.js';
import { compiledPolicy, mysqlVerdict, session, stage } from './fixtures/shop.js';

const policy = compiledPolicy();

async function actions(sql: string, columns: ResultColumn[] | string[]) {
  const cols =
    typeof columns[0] === 'string'
      ? (columns as string[]).map((name): ResultColumn => ({ name, type: 'VAR_STRING' }))
      : (columns as ResultColumn[]);
  const plan = await stage(policy, 'mysql').maskingPlan(cols, {
    session: session('mysql'),
    sql,
    verdict: mysqlVerdict(sql),
  });
  return plan?.actions.map((a) => (a === null ? null : a.kind === 'mask' ? a.strategy.name : a.kind));
}

const cases: [string, string, string[], (string | null)[]][] = [
  [
    'plain columns keep their rule',
    'SELECT id, email, ssn, name FROM customers',
    ['id', 'email', 'ssn', 'name'],
    [null, 'email', 'partial', null],
  ],
  [
    'SELECT * expands the current database table',
    'SELECT * FROM customers',
    ['id', 'name', 'email', 'ssn'],
    [null, null, 'email', 'partial'],
  ],
  [
    't.* and qualified names',
    'SELECT c.*, shop.customers.email FROM shop.customers c JOIN shop.customers ON 1 = 1',
    ['id', 'name', 'email', 'ssn', 'e2'],
    [null, null, 'email', 'partial', 'email'],
  ],
  [
    'functions are derived',
    "SELECT lower(email), concat(ssn, ''), group_concat(email) FROM customers",
    ['a', 'b', 'c'],
    ['redact', 'redact', 'redact'],
  ],
  [
    'CASE, CAST and windows are derived',
    'SELECT CASE WHEN id > 1 THEN ssn END, CAST(email AS CHAR), max(ssn) OVER (PARTITION BY name) FROM customers',
    ['a', 'b', 'c'],
    ['redact', 'redact', 'redact'],
  ],
  ['COUNT(*) reads no value', 'SELECT COUNT(*) FROM customers', ['n'], [null]],
  [
    'a subquery in FROM passes taint through',
    'SELECT x.e FROM (SELECT email AS e FROM customers) x',
    ['e'],
    ['email'],
  ],
  [
    'a scalar subquery in the select list',
    'SELECT (SELECT ssn FROM customers LIMIT 1) AS s',
    ['s'],
    ['partial'],
  ],
  [
    'a CTE passes taint through',
    'WITH x AS (SELECT email FROM customers) SELECT email FROM x',
    ['email'],
    ['email'],
  ],
  [
    'UNION branches taint by position',
    'SELECT name FROM customers UNION SELECT email FROM customers',
    ['name'],
    ['email'],
  ],
  [
    'a view is analysed through its definition',
    'SELECT contact, name FROM public.customer_contacts',
    ['contact', 'name'],
    ['redact', null],
  ],
  ['an unknown table taints every output', 'SELECT a, b FROM elsewhere', ['a', 'b'], ['redact', 'redact']],
  [
    'an unbound column in a masked statement taints every output',
    'SELECT name, nope FROM customers',
    ['name', 'nope'],
    ['redact', 'redact'],
  ],
  ['SHOW returns no table data', 'SHOW TABLES', ['Tables_in_shop'], [null]],
  ['a statement on unmasked data passes', 'SELECT 1 + 1 AS two FROM dual', ['two'], [null]],
  // Reads node-sql-parser has no grammar for, analysed through their equivalents (readable.ts).
  [
    'TABLE t is SELECT * FROM t',
    'TABLE customers',
    ['id', 'name', 'email', 'ssn'],
    [null, null, 'email', 'partial'],
  ],
  [
    'TABLE t with ORDER BY and LIMIT',
    'TABLE customers ORDER BY id LIMIT 2',
    ['id', 'name', 'email', 'ssn'],
    [null, null, 'email', 'partial'],
  ],
  [
    'NATURAL JOIN: the shared columns once, then the rest of each side',
    "SELECT * FROM customers NATURAL JOIN (SELECT id, email, 'x' AS extra FROM customers) AS o",
    ['id', 'email', 'name', 'ssn', 'extra'],
    [null, 'email', null, 'partial', null],
  ],
  [
    'NATURAL LEFT JOIN with named columns',
    'SELECT c.ssn, o.id FROM customers c NATURAL LEFT OUTER JOIN customers o',
    ['ssn', 'id'],
    ['partial', null],
  ],
  [
    'JSON_TABLE over a constant document',
    `SELECT * FROM JSON_TABLE('[{"a": 1}]', '$[*]' COLUMNS (rn FOR ORDINALITY, a INT PATH '$.a' DEFAULT '0' ON EMPTY, NESTED PATH '$.b[*]' COLUMNS (b INT PATH '$'))) AS jt`,
    ['rn', 'a', 'b'],
    [null, null, null],
  ],
  [
    'JSON_TABLE over a masked column: every column derived from it',
    "SELECT jt.v FROM (SELECT JSON_ARRAY(ssn) AS doc FROM customers) AS c, JSON_TABLE(c.doc, '$[*]' COLUMNS (v VARCHAR(20) PATH '$', n FOR ORDINALITY)) AS jt",
    ['v'],
    ['redact'],
  ],
  ['VALUES ROW of constants', 'VALUES ROW(1, 2), ROW(3, 4)', ['column_0', 'column_1'], [null, null]],
  [
    'VALUES ROW holding a masked subquery',
    'VALUES ROW((SELECT ssn FROM customers LIMIT 1), 1)',
    ['column_0', 'column_1'],
    ['partial', null],
  ],
  [
    // The derived table's columns are not traced through a scalar subquery: everything is redacted.
    'VALUES ROW in a derived table, holding a masked subquery',
    'SELECT * FROM (VALUES ROW((SELECT ssn FROM customers LIMIT 1), 1)) AS v',
    ['column_0', 'column_1'],
    ['redact', 'redact'],
  ],
];

for (const [name, sql, columns, expected] of cases) {
  t.test(name, async (t) => {
    t.same(await actions(sql, columns), expected, sql);
  });
}

t.test('the wire origin (orgTable / orgName) names the column', async (t) => {
  const cols: ResultColumn[] = [
    { name: 'x', type: 'VAR_STRING', orgSchema: 'shop', orgTable: 'customers', orgName: 'ssn' },
    { name: 'y', type: 'VAR_STRING', orgSchema: '', orgTable: '', orgName: '' },
  ];
  t.same(await actions('SELECT ssn AS x, name AS y FROM customers', cols), ['partial', null]);
  // The wire says ssn while the parse says name: both taint it.
  t.same(await actions('SELECT name AS x, name AS y FROM customers', cols), ['partial', null]);
});

t.test('maskedFilters: refuse applies to MySQL too', async (t) => {
  const s = stage(compiledPolicy('    maskedFilters: refuse'), 'mysql');
  const sql = "SELECT id FROM customers WHERE ssn LIKE '123%'";
  await t.rejects(
    s.maskingPlan([{ name: 'id', type: 'LONG' }], {
      session: session('mysql'),
      sql,
      verdict: mysqlVerdict(sql),
    }),
    { code: 'ERR_MASKING_REFUSED', message: /shop\.customers\.ssn/ },
  );
});
