import t from 'tap';
import { createStatementAnalyzer, type Analysis } from '../../../src/guard/analyzer.js';
import { literalShape, type LiteralSpan } from '../../../src/guard/literal-shape.js';
import { postgresLiteralSpans } from '../../../src/guard/postgres/literal-spans.js';
import { sameApartFromConstants } from '../../../src/guard/postgres/shape-cache.js';
import { lowerPostgres } from '../../../src/masking/lineage/postgres.js';
import { literalVariants, verdictOf } from '../fixtures/literal-variants.js';
import { rows } from '../fixtures/statement-rows.js';

/** What masking makes of the parse: the column lineage it lowers to. */
function lineageOf(a: Analysis): string {
  return a.ok ? JSON.stringify(lowerPostgres(a.parsed)) : '';
}

/** Parses every text: the decision of record. */
function reference() {
  return createStatementAnalyzer({ cacheSize: 0, shapeCacheSize: 0 });
}

/** No text cache, so that every text after the first of its shape goes to the shape cache. */
function shaped() {
  return createStatementAnalyzer({ cacheSize: 0 });
}

function spansOf(sql: string): LiteralSpan[] | undefined {
  return postgresLiteralSpans(sql)?.spans;
}

function literalsOf(sql: string): string[] | undefined {
  return spansOf(sql)?.map((s) => sql.slice(s.start, s.end));
}

t.test('the scan abstracts plain strings and plain integers only', async (t) => {
  t.same(
    literalsOf(`SELECT 'a', 42, 1.5, .5, 1e5, 0x1F, 1_000, x1, "7", $1, a$2, 'c;d', 'it''s', 'a\\b' FROM t`),
    ["'a'", '42', "'c;d'"],
  );
  t.same(literalsOf('SELECT 1234567890123456, 123456789012345'), ['123456789012345'], 'at most 15 digits');
  t.same(
    literalsOf("SELECT 1 /* '2' /* 3 */ '4' */ -- '5' 6\n, $$ '7' $$, $q$ 8 $q$, 9"),
    ['1', '9'],
    'nothing inside (nested) comments or dollar quotes',
  );
  t.same(literalsOf("SELECT 1 --\r'2'"), ['1', "'2'"], 'a -- comment ends at a carriage return');
  for (const sql of [
    "SELECT E'a\\'' , 1",
    "SELECT U&'d\\0061t' , 1",
    "SELECT B'101', 1",
    "SELECT X'1F', 1",
    "SELECT N'a', 1",
    "SELECT 'a",
    'SELECT "a',
    'SELECT 1 /* open',
    'SELECT $$ open',
    'SELECT $x$ open $y$',
  ]) {
    t.equal(spansOf(sql), undefined, `no shape: ${sql}`);
  }
  t.equal(postgresLiteralSpans("SELECT ';' ; SELECT 1")?.firstSemicolon, 11, 'the first statement end');
});

t.test('the shape keeps everything but the abstracted values', async (t) => {
  const shape = (sql: string) => literalShape(sql, spansOf(sql) ?? []);
  t.equal(
    shape("SELECT * FROM t WHERE id = 5 AND a = 'x'"),
    shape("SELECT * FROM t WHERE id = 7 AND a = 'yyy'"),
  );
  t.not(shape('SELECT * FROM t WHERE id = 5'), shape('SELECT * FROM t WHERE id = 55'), 'digit count');
  t.not(shape('SELECT * FROM t WHERE id = 5'), shape('SELECT * FROM t  WHERE id = 5'), 'spacing');
  t.not(shape("SELECT 'a' /* x */"), shape("SELECT 'a' /* y */"), 'comments');
  t.equal(shape('SELECT * FROM t'), undefined, 'no literal, no shape');
});

t.test('a new text of a known shape is decided without parsing it, with its own text', async (t) => {
  const analyzer = shaped();
  const first = await analyzer.analyze('SELECT abalance FROM pgbench_accounts WHERE aid = 4711;', 'postgres');
  t.ok(first.ok && !Object.isFrozen(first.parsed), 'the first text is parsed');
  const second = await analyzer.analyze(
    'SELECT abalance FROM pgbench_accounts WHERE aid = 1234;',
    'postgres',
  );
  const third = await analyzer.analyze(
    'SELECT abalance FROM pgbench_accounts WHERE aid = 9876 ;',
    'postgres',
  );
  t.not(verdictOf(third), '', 'a different spacing is another shape, still decided');
  t.ok(second.ok);
  if (second.ok) {
    t.ok(Object.isFrozen(second.parsed), 'the shape’s frozen parse');
    t.same(
      second.statements.map((s) => [s.text, s.command, s.effects, s.objects, s.unbounded]),
      [
        [
          'SELECT abalance FROM pgbench_accounts WHERE aid = 1234',
          'SELECT',
          ['read'],
          ['pgbench_accounts'],
          false,
        ],
      ],
    );
  }
  const fourth = await analyzer.analyze(
    'SELECT abalance FROM pgbench_accounts WHERE aid = 5555;',
    'postgres',
  );
  t.ok(fourth.ok && second.ok && fourth.parsed === second.parsed, 'one parse serves the shape');
  const disabled = createStatementAnalyzer({ cacheSize: 0, shapeCacheSize: 0 });
  await disabled.analyze('SELECT * FROM t WHERE id = 1', 'postgres');
  await disabled.analyze('SELECT * FROM t WHERE id = 2', 'postgres');
  const again = await disabled.analyze('SELECT * FROM t WHERE id = 3', 'postgres');
  t.ok(again.ok && !Object.isFrozen(again.parsed), 'shapeCacheSize 0 parses every text');
});

/**
 * Texts of one shape whose decisions or lineage differ, or whose constant the parser, the
 * classifier or the lineage reads. Each group is run in both orders through one shape-cached
 * analyzer; every answer must equal the answer of an analyzer that parses every text.
 */
const SAME_SHAPE_DIFFERENT_LITERAL: string[][] = [
  ['DELETE FROM t WHERE 1 = 1', 'DELETE FROM t WHERE 1 = 0', 'DELETE FROM t WHERE 2 = 2'],
  ["DELETE FROM t WHERE '1'::bool", "DELETE FROM t WHERE '0'::bool", "DELETE FROM t WHERE 'yes'::bool"],
  ["DELETE FROM t WHERE 'a' = 'a'", "DELETE FROM t WHERE 'a' = 'b'"],
  ['DELETE FROM t WHERE id + 1 = id + 1', 'DELETE FROM t WHERE id + 1 = id + 2'],
  ['UPDATE t SET a = 1 WHERE 5 > 3', 'UPDATE t SET a = 1 WHERE 3 > 5'],
  ['DELETE FROM t WHERE id = 1 OR 1 = 1', 'DELETE FROM t WHERE id = 1 OR 1 = 0'],
  ['DELETE FROM t WHERE NOT 1 = 0', 'DELETE FROM t WHERE NOT 1 = 1'],
  ['DELETE FROM t WHERE 1.0 = 1.0', 'DELETE FROM t WHERE 0.0 = 1.0'],
  ['UPDATE t SET a = 1 WHERE id = 5', 'UPDATE t SET a = 2 WHERE id = 6'],
  ['SELECT a, ssn FROM t ORDER BY 1', 'SELECT a, ssn FROM t ORDER BY 2'],
  ['SELECT a, ssn, count(*) FROM t GROUP BY 1, 2', 'SELECT a, ssn, count(*) FROM t GROUP BY 2, 1'],
  ['SELECT DISTINCT ON (1) a, ssn FROM t', 'SELECT DISTINCT ON (2) a, ssn FROM t'],
  ["COPY t TO '/tmp/a'", "COPY t TO '/tmp/b'"],
  ["COPY (SELECT * FROM t WHERE a = 'x') TO STDOUT", "COPY (SELECT * FROM t WHERE a = 'yy') TO STDOUT"],
  ["DO 'BEGIN NULL; END'", "DO 'BEGIN PERFORM pg_terminate_backend(1); END'"],
  ["SET search_path = 'a'", "SET search_path = 'b'"],
  ['EXPLAIN (ANALYZE 1) DELETE FROM t', 'EXPLAIN (ANALYZE 0) DELETE FROM t'],
  ["SELECT set_config('role', 'x', false)", "SELECT set_config('a', 'b', true)"],
  ["SELECT 'a'", "SELECT ';DROP TABLE t'", "SELECT '*/ DROP TABLE t; /*'", "SELECT '$$'", "SELECT '--x'"],
  ['SELECT * FROM t LIMIT 1', 'SELECT * FROM t LIMIT 0'],
  ['SELECT 3000000000', 'SELECT 2000000000', 'SELECT 0000000000'],
  ['SELECT 1; SELECT 2', 'SELECT 3; SELECT 4'],
  ['BEGIN; DELETE FROM t WHERE id = 1', 'BEGIN; DELETE FROM t WHERE id = 2'],
  ["INSERT INTO t VALUES (1, 'a')", "INSERT INTO t VALUES (2, 'bb')"],
  ["SELECT * FROM t WHERE a = 'x' FOR UPDATE", "SELECT * FROM t WHERE a = 'y' FOR UPDATE"],
  [
    'WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d',
    'WITH d AS (DELETE FROM t WHERE 1 = 1 RETURNING *) SELECT * FROM d',
    'WITH d AS (DELETE FROM t WHERE 1 = 0 RETURNING *) SELECT * FROM d',
  ],
  ["SELECT 'orders'::regclass", "SELECT 'secrets'::regclass"],
  ['SELECT * FROM t WHERE a = 1 -- x 1\n', 'SELECT * FROM t WHERE a = 2 -- x 1\n'],
  ['PREPARE p AS SELECT * FROM t WHERE id = 1', 'PREPARE p AS SELECT * FROM t WHERE id = 2'],
  ["SELECT pg_read_file('/etc/passwd')", "SELECT pg_read_file('x')"],
  ['DELETE FROM t WHERE 5 IS NULL', 'DELETE FROM t WHERE 5 IS NOT NULL'],
];

t.test('same shape, different literal: every text gets the parser-backed decision and lineage', async (t) => {
  const ref = reference();
  for (const group of SAME_SHAPE_DIFFERENT_LITERAL) {
    for (const order of [group, [...group].reverse()]) {
      const analyzer = shaped();
      for (const sql of [...order, ...order]) {
        const got = await analyzer.analyze(sql, 'postgres');
        const want = await ref.analyze(sql, 'postgres');
        t.equal(verdictOf(got), verdictOf(want), sql);
        t.equal(lineageOf(got), lineageOf(want), `lineage: ${sql}`);
      }
    }
  }
});

t.test('an analysis that read a constant is not reused', async (t) => {
  const analyzer = shaped();
  await analyzer.analyze('DELETE FROM t WHERE 1 = 0', 'postgres');
  await analyzer.analyze('DELETE FROM t WHERE 2 = 0', 'postgres');
  const unbounded = await analyzer.analyze('DELETE FROM t WHERE 3 = 3', 'postgres');
  t.ok(unbounded.ok && unbounded.statements[0]?.unbounded);
});

t.test('a caller that changes the first parse does not change what the shape decides', async (t) => {
  const analyzer = shaped();
  const first = await analyzer.analyze('SELECT * FROM orders WHERE id = 1', 'postgres');
  const stmt = first.ok ? (first.parsed as { stmts: { stmt: unknown }[] }).stmts[0] : undefined;
  t.ok(stmt);
  if (stmt) stmt.stmt = { DropStmt: {} };
  const second = await analyzer.analyze('SELECT * FROM orders WHERE id = 2', 'postgres');
  t.same(second.ok ? second.statements[0]?.objects : [], ['orders']);
  t.ok(second.ok && Object.isFrozen(second.parsed) && JSON.stringify(second.parsed).includes('SelectStmt'));
});

t.test('the tree comparison ignores positions and constant values only', async (t) => {
  const c = (value: unknown) => ({ A_Const: { ...(value as object), location: 3 } });
  t.ok(sameApartFromConstants(c({ ival: { ival: 1 } }), c({ ival: {} })), 'zero omits ival');
  t.ok(
    sameApartFromConstants(c({ ival: { ival: 1 } }), c({ fval: { fval: '3000000000' } })),
    'ival and fval',
  );
  t.ok(sameApartFromConstants({ a: 1, location: 5 }, { a: 1, location: 9 }), 'positions');
  t.notOk(
    sameApartFromConstants(c({ ival: { ival: 1 } }), c({ sval: { sval: '1' } })),
    'a number and a string',
  );
  t.notOk(sameApartFromConstants({ String: { sval: 'a' } }, { String: { sval: 'b' } }), 'a name');
  t.notOk(sameApartFromConstants({ filename: 'a' }, { filename: 'b' }), 'a value outside a constant');
  t.notOk(sameApartFromConstants([1], [1, 2]), 'list length');
  t.notOk(sameApartFromConstants({ a: 1 }, { a: 1, b: 2 }), 'keys');
});

/** Values of the same shape as the original literal: edge values and SQL-looking strings. */
const STRING_VALUES = [
  '',
  '0',
  '1',
  'a',
  't',
  'yes',
  ' 1',
  '; DROP TABLE t',
  '*/',
  '/*',
  '--x',
  '$$',
  '"',
  'é',
  'orders',
  '\u0001',
  'a\nb',
  '\u{1F600}',
];

function variants(sql: string): string[] {
  return literalVariants(sql, spansOf(sql) ?? [], STRING_VALUES);
}

t.test(
  'every Postgres statement of the table, with its literals varied, gets the parser-backed decision and lineage',
  async (t) => {
    const ref = reference();
    const sources = [
      ...rows.filter((r) => r[0] === 'postgres').map((r) => r[1]),
      ...SAME_SHAPE_DIFFERENT_LITERAL.flat(),
    ];
    let compared = 0;
    let byShape = 0;
    for (const sql of sources) {
      const analyzer = shaped();
      let first: unknown;
      for (const text of [sql, ...variants(sql), sql]) {
        const got = await analyzer.analyze(text, 'postgres');
        const want = await ref.analyze(text, 'postgres');
        if (got.ok && first !== undefined && got.parsed === first) byShape++;
        if (got.ok && Object.isFrozen(got.parsed)) first = got.parsed;
        compared++;
        if (verdictOf(got) !== verdictOf(want))
          t.fail(`${text}\n got: ${verdictOf(got)}\nwant: ${verdictOf(want)}`);
        if (lineageOf(got) !== lineageOf(want)) t.fail(`lineage differs: ${text}`);
      }
    }
    t.ok(compared > 1000, `${compared} texts compared`);
    t.ok(byShape > 300, `${byShape} decided by shape`);
  },
);
