/**
 * Lineage of what the penetration test found: ON DUPLICATE KEY UPDATE reading the INSERT's SELECT,
 * `*` over RIGHT JOIN ... USING / NATURAL, set operations and DISTINCT comparing masked values,
 * and set-returning functions whose row count a masked value decides. Unit level, through the
 * masking stage (maskingPlan for reads, precheck for writes) over a static catalog.
 */
import t from 'tap';
import { parse } from 'libpg-query';
import type { GuardVerdict, ResultColumn } from '../../src/gateway/types.js';
import { astifyMySql } from '../../src/guard/mysql/readable.js';
import { createStaticCatalog, type CatalogRelation } from '../../src/masking/catalog.js';
import { LineageMasking } from '../../src/masking/index.js';
import { compiledPolicy, logger, relations, session } from './fixtures/shop.js';

type Dialect = 'postgres' | 'mysql';

const MASKING = `      - columns: [customers.email, customers.ssn]
        strategy: redact`;
const plain = compiledPolicy('', MASKING);
const strict = compiledPolicy('    maskedFilters: refuse\n    maskedDerivations: refuse', MASKING);
const filtersOnly = compiledPolicy('    maskedFilters: refuse', MASKING);

const notes: CatalogRelation[] = [
  { schema: 'public', name: 'notes', kind: 'table', oid: 16500, columns: ['id', 'body'], attnums: [1, 2] },
  { schema: 'shop', name: 'notes', kind: 'table', columns: ['id', 'body'] },
];

function masking(policy: typeof plain, dialect: Dialect) {
  const catalog = createStaticCatalog({
    dialect,
    relations: [...relations, ...notes],
    searchPath: dialect === 'postgres' ? ['pg_catalog', 'public'] : ['shop'],
    userFunctions: ['get_secret'],
  });
  return new LineageMasking({ rulesFor: () => policy, catalogFor: () => catalog, logger });
}

async function verdict(sql: string, dialect: Dialect, write: boolean): Promise<GuardVerdict> {
  return {
    action: 'allow',
    reason: '',
    rule: '',
    statements: [
      {
        text: sql,
        command: sql.split(' ')[0] ?? '',
        effects: write ? ['read', 'write'] : ['read'],
        objects: [],
        unbounded: false,
      },
    ],
    parsed: dialect === 'postgres' ? await parse(sql) : astifyMySql(sql),
  };
}

/** A write's precheck: 'runs', or the refusal's message. */
async function write(sql: string, dialect: Dialect, policy = plain): Promise<string> {
  return masking(policy, dialect)
    .precheck({ session: session(dialect), sql, verdict: await verdict(sql, dialect, true) })
    .then(
      () => 'runs',
      (e: Error) => e.message,
    );
}

const cols = (dialect: Dialect, names: string[]): ResultColumn[] =>
  names.map((name) =>
    dialect === 'postgres' ? { name, type: 'text', typeOid: 25 } : { name, type: 'VAR_STRING' },
  );

/** A read's actions per column (null, a strategy name), or the refusal's message. */
async function read(
  sql: string,
  dialect: Dialect,
  names: string[],
  policy = plain,
): Promise<(string | null)[] | string> {
  const context = { session: session(dialect), sql, verdict: await verdict(sql, dialect, false) };
  const s = masking(policy, dialect);
  try {
    await s.precheck(context);
    const plan = await s.maskingPlan(cols(dialect, names), context);
    return plan?.actions.map((a) => (a === null ? null : a.kind === 'mask' ? a.strategy.name : a.kind)) ?? [];
  } catch (e) {
    return (e as Error).message;
  }
}

t.test('MySQL ON DUPLICATE KEY UPDATE is bound over the target and the SELECT', async (t) => {
  const refused: [string, RegExp][] = [
    [
      'INSERT INTO notes (id, body) SELECT id, name FROM customers ON DUPLICATE KEY UPDATE body = ssn',
      /masked column shop\.customers\.ssn/,
    ],
    [
      "INSERT INTO notes (id, body) SELECT c.id, c.name FROM customers c ON DUPLICATE KEY UPDATE body = CONCAT(c.email, '')",
      /masked column shop\.customers\.email/,
    ],
    [
      "INSERT INTO notes (id, body) SELECT d.id, 'x' FROM (SELECT id, ssn AS s FROM customers) d ON DUPLICATE KEY UPDATE body = d.s",
      /masked column shop\.customers\.ssn/,
    ],
    [
      "INSERT INTO notes (id, body) SELECT c.id, 'x' FROM notes n JOIN customers c ON c.id = n.id ON DUPLICATE KEY UPDATE body = c.ssn",
      /masked column shop\.customers\.ssn/,
    ],
    [
      "INSERT INTO notes (id, body) WITH w AS (SELECT id, ssn FROM customers) SELECT id, 'x' FROM w ON DUPLICATE KEY UPDATE body = ssn",
      /masked column shop\.customers\.ssn/,
    ],
    [
      "INSERT INTO notes (id, body) SELECT id, name FROM customers UNION SELECT 3, 'x' ON DUPLICATE KEY UPDATE body = ssn",
      /masked column shop\.customers\.ssn/,
    ],
    [
      'INSERT INTO notes (id, body) SELECT id, name FROM customers ON DUPLICATE KEY UPDATE body = (SELECT MAX(x.ssn) FROM customers x WHERE x.id = customers.id)',
      /masked column shop\.customers\.ssn/,
    ],
    // What cannot be bound while a masked table is in reach: refused.
    [
      'INSERT INTO notes (id, body) SELECT c.id, c.name FROM customers c ON DUPLICATE KEY UPDATE body = customers.ssn',
      /origin cannot be told/,
    ],
    [
      'INSERT INTO notes (id, body) SELECT id, name FROM customers ON DUPLICATE KEY UPDATE body = nowhere',
      /origin cannot be told/,
    ],
    // VALUES(col) is the proposed row's value: of a masked column, refused (twice over).
    [
      'INSERT INTO notes (id, body) SELECT id, ssn FROM customers ON DUPLICATE KEY UPDATE body = VALUES(body)',
      /masked column shop\.customers\.ssn/,
    ],
  ];
  for (const [sql, expected] of refused) t.match(await write(sql, 'mysql'), expected, sql);
  const runs = [
    'INSERT INTO notes (id, body) SELECT id, name FROM customers ON DUPLICATE KEY UPDATE body = name',
    'INSERT INTO notes (id, body) SELECT c.id, c.name FROM customers c ON DUPLICATE KEY UPDATE body = CONCAT(notes.body, c.name)',
    'INSERT INTO notes (id, body) SELECT id, name FROM customers ON DUPLICATE KEY UPDATE body = VALUES(body)',
    'INSERT INTO notes SELECT id, name FROM customers ON DUPLICATE KEY UPDATE body = VALUES(body)',
    "INSERT INTO notes SET id = 1, body = 'x' ON DUPLICATE KEY UPDATE body = VALUES(body)",
    "INSERT INTO notes VALUES (1, 'x') ON DUPLICATE KEY UPDATE body = CONCAT(body, VALUES(body))",
    'INSERT INTO notes (id, body) SELECT d.id, d.n FROM (SELECT id, name AS n, ssn FROM customers) d ON DUPLICATE KEY UPDATE body = d.n',
  ];
  for (const sql of runs) t.equal(await write(sql, 'mysql'), 'runs', sql);
});

t.test('Postgres ON CONFLICT DO UPDATE reads only the target and EXCLUDED', async (t) => {
  const refused: [string, RegExp][] = [
    [
      'INSERT INTO notes SELECT id, ssn FROM customers ON CONFLICT (id) DO UPDATE SET body = excluded.body',
      /masked column public\.customers\.ssn/,
    ],
    [
      "INSERT INTO notes SELECT id, 'x' || email FROM customers ON CONFLICT (id) DO UPDATE SET body = 'y'",
      /masked column public\.customers\.email/,
    ],
    // Postgres does not let DO UPDATE name the SELECT's tables; lineage cannot bind it: refused.
    [
      'INSERT INTO notes SELECT id, name FROM customers ON CONFLICT (id) DO UPDATE SET body = customers.ssn',
      /origin cannot be told/,
    ],
    [
      "INSERT INTO notes SELECT id, 'x' FROM customers ON CONFLICT (id) DO UPDATE SET body = (SELECT ssn FROM customers LIMIT 1)",
      /masked column public\.customers\.ssn/,
    ],
  ];
  for (const [sql, expected] of refused) t.match(await write(sql, 'postgres'), expected, sql);
  const runs = [
    // Without a column list, EXCLUDED is named after the target's columns (excluded.body is name).
    'INSERT INTO notes SELECT id, name FROM customers ON CONFLICT (id) DO UPDATE SET body = excluded.body',
    'INSERT INTO notes (id, body) SELECT id, name FROM customers ON CONFLICT (id) DO UPDATE SET body = excluded.body',
    'INSERT INTO notes AS n SELECT id, name FROM customers ON CONFLICT (id) DO UPDATE SET body = n.body || excluded.body WHERE n.id > 0',
  ];
  for (const sql of runs) t.equal(await write(sql, 'postgres'), 'runs', sql);
  t.match(
    await write(
      "INSERT INTO notes SELECT id, name FROM customers ON CONFLICT (id) DO UPDATE SET body = 'y' WHERE EXISTS (SELECT 1 FROM customers WHERE ssn LIKE '1%')",
      'postgres',
      filtersOnly,
    ),
    /filters on masked column public\.customers\.ssn/,
    'the DO UPDATE WHERE is a filter',
  );
});

t.test('MySQL `*` over RIGHT JOIN ... USING / NATURAL lists the right side first', async (t) => {
  const a = "(SELECT id, CONCAT(ssn, '') AS x FROM customers) a";
  const cases: [string, string[], (string | null)[]][] = [
    [`SELECT * FROM ${a} RIGHT JOIN notes USING (id)`, ['id', 'body', 'x'], [null, null, 'redact']],
    [`SELECT * FROM ${a} RIGHT OUTER JOIN notes USING (id)`, ['id', 'body', 'x'], [null, null, 'redact']],
    [`SELECT * FROM ${a} NATURAL RIGHT JOIN notes`, ['id', 'body', 'x'], [null, null, 'redact']],
    [`SELECT * FROM ${a} NATURAL RIGHT OUTER JOIN notes`, ['id', 'body', 'x'], [null, null, 'redact']],
    [`SELECT * FROM ${a} LEFT JOIN notes USING (id)`, ['id', 'x', 'body'], [null, 'redact', null]],
    [`SELECT * FROM ${a} JOIN notes USING (id)`, ['id', 'x', 'body'], [null, 'redact', null]],
    [`SELECT * FROM ${a} NATURAL JOIN notes`, ['id', 'x', 'body'], [null, 'redact', null]],
    [
      `SELECT * FROM (SELECT * FROM ${a} RIGHT JOIN notes USING (id)) t`,
      ['id', 'body', 'x'],
      [null, null, 'redact'],
    ],
    [
      `SELECT t.* FROM (SELECT * FROM ${a} NATURAL RIGHT JOIN notes) t`,
      ['id', 'body', 'x'],
      [null, null, 'redact'],
    ],
    // Plain columns without wire origins: the parse alone lines them up.
    [
      'SELECT * FROM customers RIGHT JOIN notes USING (id)',
      ['id', 'body', 'name', 'email', 'ssn'],
      [null, null, null, 'redact', 'redact'],
    ],
    [
      'SELECT * FROM notes RIGHT JOIN customers USING (id)',
      ['id', 'name', 'email', 'ssn', 'body'],
      [null, null, 'redact', 'redact', null],
    ],
    // The shared columns come in the first table's order, whatever the USING list's.
    [
      "SELECT * FROM customers c JOIN (SELECT 'k' AS k, email, id FROM customers) o USING (email, id)",
      ['id', 'email', 'name', 'ssn', 'k'],
      [null, 'redact', null, 'redact', null],
    ],
    [
      "SELECT * FROM customers c RIGHT JOIN (SELECT 'k' AS k, CONCAT(name, '') AS email, id FROM customers) o USING (id, email)",
      ['email', 'id', 'k', 'name', 'ssn'],
      ['redact', null, null, null, 'redact'],
    ],
    // A three-way join: the inner RIGHT JOIN's order carries into the outer one.
    [
      `SELECT * FROM ${a} RIGHT JOIN notes USING (id) JOIN (SELECT id, 'z' AS z FROM notes) n USING (id)`,
      ['id', 'body', 'x', 'z'],
      [null, null, 'redact', null],
    ],
  ];
  for (const [sql, names, expected] of cases) t.same(await read(sql, 'mysql', names), expected, sql);
  // With wire origins for plain columns, the stricter of wire and parse: nothing more masked.
  const s = masking(plain, 'mysql');
  const sql = 'SELECT * FROM customers RIGHT JOIN notes USING (id)';
  const wire: ResultColumn[] = [
    { name: 'id', type: 'LONG', orgSchema: 'shop', orgTable: 'notes', orgName: 'id' },
    { name: 'body', type: 'VAR_STRING', orgSchema: 'shop', orgTable: 'notes', orgName: 'body' },
    { name: 'name', type: 'VAR_STRING', orgSchema: 'shop', orgTable: 'customers', orgName: 'name' },
    { name: 'email', type: 'VAR_STRING', orgSchema: 'shop', orgTable: 'customers', orgName: 'email' },
    { name: 'ssn', type: 'VAR_STRING', orgSchema: 'shop', orgTable: 'customers', orgName: 'ssn' },
  ];
  const plan = await s.maskingPlan(wire, {
    session: session('mysql'),
    sql,
    verdict: await verdict(sql, 'mysql', false),
  });
  t.same(
    plan?.actions.map((x) => x?.kind ?? null),
    [null, null, null, 'mask', 'mask'],
  );
});

t.test('Postgres `*` over RIGHT / FULL JOIN ... USING keeps the left side first', async (t) => {
  const a = "(SELECT id, ssn || '' AS x FROM customers) a";
  const cases: [string, string[], (string | null)[]][] = [
    [`SELECT * FROM ${a} RIGHT JOIN notes USING (id)`, ['id', 'x', 'body'], [null, 'redact', null]],
    [`SELECT * FROM ${a} FULL JOIN notes USING (id)`, ['id', 'x', 'body'], [null, 'redact', null]],
    [`SELECT * FROM ${a} NATURAL RIGHT JOIN notes`, ['id', 'x', 'body'], [null, 'redact', null]],
    [`SELECT * FROM ${a} NATURAL FULL OUTER JOIN notes`, ['id', 'x', 'body'], [null, 'redact', null]],
    [
      `SELECT * FROM (SELECT * FROM ${a} RIGHT JOIN notes USING (id)) t`,
      ['id', 'x', 'body'],
      [null, 'redact', null],
    ],
    // USING order for the shared columns.
    [
      "SELECT * FROM customers c RIGHT JOIN (SELECT 'k' AS k, email, id FROM customers) o USING (email, id)",
      ['email', 'id', 'name', 'ssn', 'phone', 'k'],
      ['redact', null, null, 'redact', null, null],
    ],
  ];
  for (const [sql, names, expected] of cases) t.same(await read(sql, 'postgres', names), expected, sql);
});

const refusedFilter = /filters, joins, groups or orders on masked column/;

t.test('set operations and DISTINCT compare masked values: refused under maskedFilters', async (t) => {
  for (const dialect of ['mysql', 'postgres'] as const) {
    const refused: [string, string[]][] = [
      ["(SELECT id, ssn FROM customers) UNION ALL (SELECT 0, '5') ORDER BY 2", ['id', 'ssn']],
      ["SELECT id, ssn FROM customers UNION ALL SELECT 0, '5' ORDER BY 2", ['id', 'ssn']],
      ["SELECT id, ssn FROM customers UNION ALL SELECT 0, '5' ORDER BY ssn", ['id', 'ssn']],
      ["(SELECT id, ssn FROM customers) UNION ALL (SELECT 0, '5') ORDER BY ssn DESC LIMIT 1", ['id', 'ssn']],
      ["SELECT COUNT(*) FROM ((SELECT ssn FROM customers) INTERSECT (SELECT '123-45-6789')) u", ['n']],
      ["SELECT COUNT(*) FROM ((SELECT ssn FROM customers) UNION (SELECT '123-45-6789')) u", ['n']],
      ["SELECT COUNT(*) FROM (SELECT ssn FROM customers UNION DISTINCT SELECT '123-45-6789') u", ['n']],
      ["SELECT COUNT(*) FROM (SELECT ssn FROM customers EXCEPT SELECT '123-45-6789') u", ['n']],
      ["SELECT COUNT(*) FROM (SELECT '123-45-6789' EXCEPT SELECT ssn FROM customers) u", ['n']],
      [
        "SELECT COUNT(*) FROM (SELECT DISTINCT x FROM (SELECT ssn AS x FROM customers UNION ALL SELECT '123-45-6789') a) b",
        ['n'],
      ],
      ['SELECT COUNT(*) FROM (SELECT DISTINCT email FROM customers) d', ['n']],
      [
        "SELECT COUNT(*) FROM (SELECT name FROM customers UNION ALL SELECT 'x' UNION SELECT ssn FROM customers) u",
        ['n'],
      ],
    ];
    if (dialect === 'postgres') {
      refused.push(
        ["SELECT count(*) FROM (SELECT ssn FROM customers INTERSECT ALL SELECT '123-45-6789') u", ['n']],
        ["SELECT count(*) FROM (SELECT ssn FROM customers EXCEPT ALL SELECT '123-45-6789') u", ['n']],
        ['SELECT count(*) FROM (SELECT DISTINCT ON (ssn) id FROM customers) d', ['n']],
      );
    }
    for (const [sql, names] of refused) {
      t.match(await read(sql, dialect, names, filtersOnly), refusedFilter, `${dialect}: ${sql}`);
      t.match(await read(sql, dialect, names, strict), /masked column/, `${dialect} strict: ${sql}`);
    }
    // What compares or orders plain columns only still runs, its masked outputs masked.
    const runs: [string, string[], (string | null)[]][] = [
      [
        'SELECT id, name FROM customers UNION ALL SELECT id, body FROM notes ORDER BY name',
        ['id', 'name'],
        [null, null],
      ],
      [
        'SELECT id, name FROM customers UNION ALL SELECT id, body FROM notes ORDER BY 2 DESC',
        ['id', 'name'],
        [null, null],
      ],
      ['SELECT name FROM customers UNION SELECT body FROM notes', ['name'], [null]],
      ["SELECT id, ssn FROM customers UNION ALL SELECT 0, 'x' ORDER BY 1", ['id', 'ssn'], [null, 'redact']],
      [
        "(SELECT id, email FROM customers) UNION ALL (SELECT 0, 'x') ORDER BY id LIMIT 5",
        ['id', 'email'],
        [null, 'redact'],
      ],
      ['SELECT DISTINCT name FROM customers', ['name'], [null]],
      ['SELECT COUNT(*) FROM (SELECT id FROM customers INTERSECT SELECT id FROM notes) u', ['n'], [null]],
    ];
    for (const [sql, names, expected] of runs) {
      t.same(await read(sql, dialect, names, filtersOnly), expected, `${dialect}: ${sql}`);
    }
    // Masking alone (no refuse) keeps masking set operations by position.
    t.same(
      await read('SELECT name FROM customers UNION SELECT ssn FROM customers ORDER BY 1', dialect, ['name']),
      ['redact'],
      `${dialect}: masked, not refused, without maskedFilters`,
    );
  }
});

t.test('set-returning functions: a masked value deciding the row count is a filter', async (t) => {
  const refused: [string, string[]][] = [
    [
      'SELECT count(*) FROM customers c, generate_series(1, ascii(substr(c.ssn, 2, 1))) WHERE c.id = 1',
      ['count'],
    ],
    [
      'SELECT count(*) FROM (SELECT unnest(string_to_array(ssn, NULL)) FROM customers WHERE id = 1) q',
      ['count'],
    ],
    [
      'SELECT count(*) FROM customers c CROSS JOIN LATERAL generate_series(1, ascii(c.email)) g WHERE c.id = 1',
      ['count'],
    ],
    [
      'SELECT count(*) FROM customers c JOIN LATERAL unnest(string_to_array(c.ssn, NULL)) u ON true WHERE c.id = 1',
      ['count'],
    ],
    [
      'SELECT count(*) FROM customers c, ROWS FROM (generate_series(1, 2), generate_series(1, ascii(c.ssn))) r',
      ['count'],
    ],
    ["SELECT count(*) FROM customers c, json_each_text(json_build_object('k', c.ssn)) j", ['count']],
    ["SELECT count(*) FROM (SELECT regexp_matches(ssn, '1', 'g') FROM customers) q", ['count']],
    ["SELECT count(*) FROM (SELECT regexp_split_to_table(email, '') FROM customers) q", ['count']],
    ['SELECT count(*) FROM (SELECT string_to_table(ssn, NULL) FROM customers) q', ['count']],
    [
      'SELECT count(*) FROM (SELECT jsonb_array_elements(to_jsonb(string_to_array(ssn, NULL))) FROM customers) q',
      ['count'],
    ],
    [
      'SELECT count(*) FROM (SELECT jsonb_object_keys(jsonb_build_object(ssn, 1)) FROM customers) q',
      ['count'],
    ],
    ['SELECT count(*) FROM (SELECT generate_series(1, ascii(ssn)) FROM customers) q', ['count']],
    [
      'SELECT count(*) FROM (SELECT generate_subscripts(string_to_array(ssn, NULL), 1) FROM customers) q',
      ['count'],
    ],
    ["SELECT count(*) FROM (SELECT jsonb_path_query(to_jsonb(ssn), '$') FROM customers) q", ['count']],
    [
      "SELECT count(*) FROM (SELECT * FROM customers c, json_to_recordset(json_build_array(json_build_object('a', c.ssn))) AS r(a text)) q",
      ['count'],
    ],
    ['SELECT count(*) FROM (SELECT abs(generate_series(1, ascii(ssn))) FROM customers) q', ['count']],
  ];
  for (const [sql, names] of refused) {
    t.match(await read(sql, 'postgres', names, filtersOnly), refusedFilter, sql);
  }
  const runs: [string, string[], (string | null)[]][] = [
    ['SELECT count(*) FROM customers c, generate_series(1, c.id)', ['count'], [null]],
    ["SELECT id, unnest(ARRAY[name, 'x']) AS u FROM customers", ['id', 'u'], [null, null]],
    [
      "SELECT * FROM ROWS FROM (generate_series(1, 2), unnest(ARRAY['a', 'b'])) AS r(a, b)",
      ['a', 'b'],
      [null, null],
    ],
    ['SELECT count(*) FROM customers c, generate_series(1, 3) g', ['count'], [null]],
  ];
  for (const [sql, names, expected] of runs)
    t.same(await read(sql, 'postgres', names, filtersOnly), expected, sql);
  // ROWS FROM with a function lineage does not know: the outputs are untraced, masked.
  t.same(
    await read('SELECT * FROM customers c, ROWS FROM (generate_series(1, 2), get_secret()) r', 'postgres', [
      'id',
      'name',
      'email',
      'ssn',
      'phone',
      'generate_series',
    ]),
    ['redact', 'redact', 'redact', 'redact', 'redact', 'redact'],
  );
});

t.test('MySQL JSON_TABLE: the document decides the row count', async (t) => {
  t.match(
    await read(
      "SELECT COUNT(*) FROM customers c, JSON_TABLE(CONCAT('[', REPEAT('1,', ASCII(c.ssn)), '1]'), '$[*]' COLUMNS (v INT PATH '$')) AS jt WHERE c.id = 1",
      'mysql',
      ['n'],
      filtersOnly,
    ),
    refusedFilter,
  );
  t.match(
    await read(
      "SELECT COUNT(*) FROM customers c, JSON_TABLE(JSON_ARRAY(c.email), '$[*]' COLUMNS (n FOR ORDINALITY, v VARCHAR(80) PATH '$')) AS jt",
      'mysql',
      ['n'],
      filtersOnly,
    ),
    refusedFilter,
  );
  // Only an ordinality column: the document still decides how many rows there are.
  t.match(
    await read(
      "SELECT COUNT(*) FROM customers c, JSON_TABLE(JSON_ARRAY(c.email), '$[*]' COLUMNS (n FOR ORDINALITY)) AS jt",
      'mysql',
      ['n'],
      filtersOnly,
    ),
    refusedFilter,
  );
  t.same(
    await read(
      "SELECT COUNT(*) FROM customers c, JSON_TABLE(JSON_ARRAY(c.name), '$[*]' COLUMNS (v VARCHAR(40) PATH '$')) AS jt",
      'mysql',
      ['n'],
      filtersOnly,
    ),
    [null],
  );
  t.same(
    await read(
      `SELECT * FROM JSON_TABLE('[{"a": 1}]', '$[*]' COLUMNS (a INT PATH '$.a')) AS jt`,
      'mysql',
      ['a'],
      filtersOnly,
    ),
    [null],
  );
});
