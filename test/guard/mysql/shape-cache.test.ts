import t from 'tap';
import { createStatementAnalyzer } from '../../../src/guard/analyzer.js';
import { splitMySql } from '../../../src/guard/mysql/lexer.js';
import { sameApartFromLiterals } from '../../../src/guard/mysql/shape-cache.js';
import { literalShape, probeText, type LiteralSpan } from '../../../src/guard/literal-shape.js';
import { literalVariants, verdictOf } from '../fixtures/literal-variants.js';
import { rows } from '../fixtures/statement-rows.js';

/** Parses every text: the decision of record. */
function reference() {
  return createStatementAnalyzer({ cacheSize: 0, shapeCacheSize: 0 });
}

/** No text cache, so that every text after the first of its shape goes to the shape cache. */
function shaped() {
  return createStatementAnalyzer({ cacheSize: 0 });
}

function spansOf(sql: string): LiteralSpan[] {
  const spans: LiteralSpan[] = [];
  splitMySql(sql, spans);
  return spans;
}

function literalsOf(sql: string): string[] {
  return spansOf(sql).map((s) => sql.slice(s.start, s.end));
}

t.test('the lexer abstracts plain strings and short integers only', async (t) => {
  t.same(literalsOf("SELECT 'a', 42, 1.5, x1, 12abc, `7`, \"8\" FROM t WHERE b = 'c;d'"), [
    "'a'",
    '42',
    '1',
    '5',
    "'c;d'",
  ]);
  t.same(
    literalsOf("SELECT _utf8'a', N'b', X'0A', B'1', 0x1F, 1e5, 'it''s', 'a\\'b'"),
    [],
    'prefixed or escaped',
  );
  t.same(
    literalsOf('SELECT 1234567890123456, 123456789012345'),
    ['123456789012345'],
    '16 digits may be a bigint',
  );
  t.same(literalsOf("SELECT 1 /* '2' 3 */ # '4' 5\n -- '6' 7\n"), ['1'], 'nothing inside comments');
  t.same(literalsOf("SELECT 'a"), [], 'an unterminated string');
});

t.test('the shape keeps everything but the abstracted values', async (t) => {
  const shape = (sql: string) => literalShape(sql, spansOf(sql));
  t.equal(
    shape("SELECT * FROM t WHERE id = 5 AND a = 'x'"),
    shape("SELECT * FROM t WHERE id = 7 AND a = 'yyy'"),
  );
  t.not(shape('SELECT * FROM t WHERE id = 5'), shape('SELECT * FROM t WHERE id = 55'), 'digit count');
  t.not(shape('SELECT * FROM t WHERE id = 5'), shape('SELECT * FROM t  WHERE id = 5'), 'spacing');
  t.not(shape('SELECT * FROM t WHERE id = 5'), shape('select * from t where id = 5'), 'case');
  t.not(shape("SELECT 'a' /* x */"), shape("SELECT 'a' /* y */"), 'comments');
  t.equal(shape('SELECT * FROM t'), undefined, 'no literal, no shape');
  t.equal(shape("SELECT 'a\u0000', 1"), undefined, 'U+0000 anywhere, no shape');
  const sql = "UPDATE t SET a = 'sluice probe 0', b = 19 WHERE id = 90";
  const probe = probeText(sql, spansOf(sql));
  t.equal(probe, "UPDATE t SET a = 'sluice probe 0.', b = 20 WHERE id = 01", 'every literal changed');
  t.equal(shape(probe), shape(sql), 'the probe has the same shape');
});

t.test('a new text of a known shape is decided without parsing it, with its own text', async (t) => {
  const analyzer = shaped();
  const first = await analyzer.analyze("UPDATE orders SET status = 'new' WHERE id = 5; SELECT 1", 'mysql');
  t.not(first.ok && first.parsed, undefined, 'the first text is parsed');
  const second = await analyzer.analyze(
    "UPDATE orders SET status = 'shipped' WHERE id = 6; SELECT 2",
    'mysql',
  );
  t.ok(second.ok);
  if (second.ok) {
    t.equal(second.parsed, undefined, 'decided by shape');
    t.same(
      second.statements.map((s) => [s.text, s.command, s.effects, s.objects, s.unbounded]),
      [
        ["UPDATE orders SET status = 'shipped' WHERE id = 6", 'UPDATE', ['write'], ['orders'], false],
        ['SELECT 2', 'SELECT', ['read'], [], false],
      ],
    );
    t.ok(Object.isFrozen(second.statements[0]?.effects), 'shared lists are frozen');
  }
  const disabled = createStatementAnalyzer({ cacheSize: 0, shapeCacheSize: 0 });
  await disabled.analyze('SELECT * FROM t WHERE id = 1', 'mysql');
  const again = await disabled.analyze('SELECT * FROM t WHERE id = 2', 'mysql');
  t.not(again.ok && again.parsed, undefined, 'shapeCacheSize 0 parses every text');
});

/**
 * Texts of one shape whose decisions differ, or whose literal the parser or the classifier reads.
 * Each group is run in both orders through one shape-cached analyzer; every answer must equal the
 * answer of an analyzer that parses every text.
 */
const SAME_SHAPE_DIFFERENT_LITERAL: string[][] = [
  ['DELETE FROM t WHERE 1', 'DELETE FROM t WHERE 0', 'DELETE FROM t WHERE 7'],
  ['UPDATE t SET a = 1 WHERE 1 = 1', 'UPDATE t SET a = 1 WHERE 1 = 0', 'UPDATE t SET a = 2 WHERE 2 = 2'],
  ["DELETE FROM t WHERE '1'", "DELETE FROM t WHERE 'a'", "DELETE FROM t WHERE '0'"],
  ["DELETE FROM t WHERE 'a' = 'a'", "DELETE FROM t WHERE 'a' = 'b'"],
  ['DELETE FROM t WHERE id + 1 = id + 1', 'DELETE FROM t WHERE id + 1 = id + 2'],
  ['DELETE FROM t WHERE NOT 0', 'DELETE FROM t WHERE NOT 1'],
  ['UPDATE t SET a = 1 WHERE 5 > 3', 'UPDATE t SET a = 1 WHERE 3 > 5'],
  ['DELETE FROM t WHERE id = 1 OR 1', 'DELETE FROM t WHERE id = 1 OR 0'],
  ['DELETE FROM t WHERE 1.0', 'DELETE FROM t WHERE 0.0', 'DELETE FROM t WHERE 0.5'],
  ["DELETE FROM t WHERE a = 'x' OR 'y' = 'y'", "DELETE FROM t WHERE a = 'x' OR 'y' = 'z'"],
  ["PREPARE s FROM 'SELECT 1'", "PREPARE s FROM 'DROP TABLE t'", "PREPARE s FROM 'DELETE FROM t'"],
  ["SET NAMES 'utf8mb4'", "SET NAMES 'latin1'"],
  ["SET SESSION sql_mode = 'ANSI'", "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'"],
  ["DESCRIBE 'orders'", "DESCRIBE 'secrets'"],
  ["SHOW COLUMNS FROM 'orders'", "SHOW COLUMNS FROM 'secrets'"],
  ["SELECT a AS 'x' FROM t", "SELECT a AS 'y' FROM t"],
  ['EXPLAIN ANALYZE DELETE FROM t WHERE id = 1', 'EXPLAIN ANALYZE DELETE FROM t WHERE id = 2'],
  ['EXPLAIN ANALYZE DELETE FROM t WHERE 1', 'EXPLAIN ANALYZE DELETE FROM t WHERE 0'],
  ['DO SLEEP(1)', 'DO SLEEP(2)'],
  ['KILL 1', 'KILL 2'],
  ["SELECT 'a'", "SELECT ';DROP TABLE t'", "SELECT '/*!50000 DROP TABLE t */'", "SELECT '--x'"],
  ["SELECT 'a' FROM t", "SELECT '*/ DROP TABLE t; /*' FROM t"],
  ["SELECT * FROM t WHERE a = 'x' LIMIT 1", "SELECT * FROM t WHERE a = 'x' LIMIT 0"],
  ["SELECT * INTO OUTFILE '/tmp/a' FROM t", "SELECT * INTO OUTFILE '/tmp/b' FROM t"],
  ["SELECT LOAD_FILE('/etc/passwd')", "SELECT LOAD_FILE('x')"],
  ["CREATE USER 'app'@'%'", "CREATE USER 'root'@'localhost'"],
  ["SELECT JSON_EXTRACT(doc, '$.a') FROM t", "SELECT JSON_EXTRACT(doc, '$.b') FROM t"],
  ["SELECT * FROM t WHERE d > DATE '2020-01-01'", "SELECT * FROM t WHERE d > DATE 'x'"],
  ['SELECT @1', 'SELECT @2'],
  ['SELECT t.1 FROM t', 'SELECT t.2 FROM t'],
  ["SET @a = 'x'", "SET @a = 'y'"],
  ["CALL p(1, 'a')", "CALL p(2, 'b')"],
];

t.test('same shape, different literal: every text gets the parser-backed decision', async (t) => {
  const ref = reference();
  for (const group of SAME_SHAPE_DIFFERENT_LITERAL) {
    for (const order of [group, [...group].reverse()]) {
      const analyzer = shaped();
      for (const sql of [...order, ...order]) {
        t.equal(
          verdictOf(await analyzer.analyze(sql, 'mysql')),
          verdictOf(await ref.analyze(sql, 'mysql')),
          sql,
        );
      }
    }
  }
});

t.test('a string the parser reads as a name refuses its shape (the probe)', async (t) => {
  const analyzer = shaped();
  await analyzer.analyze("DESCRIBE 'orders'", 'mysql');
  const other = await analyzer.analyze("DESCRIBE 'secrets'", 'mysql');
  t.ok(other.ok);
  if (other.ok) {
    t.not(other.parsed, undefined, 'parsed, not decided by shape');
    t.same(other.statements[0]?.objects, ['secrets']);
  }
});

t.test('a literal the parser keeps outside a literal node refuses its shape', async (t) => {
  // node-sql-parser stores a table option's value as a plain value, not a literal node.
  const analyzer = shaped();
  await analyzer.analyze('ALTER TABLE orders AUTO_INCREMENT = 1', 'mysql');
  const other = await analyzer.analyze('ALTER TABLE orders AUTO_INCREMENT = 2', 'mysql');
  t.ok(other.ok && other.parsed !== undefined, 'parsed, not decided by shape');
});

t.test(
  'a caller that changes the AST of the first text does not change what the shape decides',
  async (t) => {
    const analyzer = shaped();
    const first = await analyzer.analyze('SELECT * FROM orders WHERE id = 1', 'mysql');
    const ast =
      first.ok && Array.isArray(first.parsed)
        ? (first.parsed[0] as { from: { table: string }[] })
        : undefined;
    t.ok(ast);
    if (ast?.from[0]) ast.from[0].table = 'elsewhere';
    const second = await analyzer.analyze('SELECT * FROM orders WHERE id = 2', 'mysql');
    t.ok(second.ok && second.parsed === undefined, 'decided by shape');
    t.same(second.ok ? second.statements[0]?.objects : [], ['orders']);
  },
);

t.test('an analysis that read a literal is not reused', async (t) => {
  const analyzer = shaped();
  await analyzer.analyze('DELETE FROM t WHERE 0', 'mysql');
  const unbounded = await analyzer.analyze('DELETE FROM t WHERE 1', 'mysql');
  t.ok(unbounded.ok && unbounded.parsed !== undefined && unbounded.statements[0]?.unbounded);
});

t.test('the AST comparison ignores literal values only', async (t) => {
  const lit = (value: unknown) => ({ type: 'number', value });
  t.ok(sameApartFromLiterals({ where: lit(1) }, { where: lit(2) }));
  t.ok(
    sameApartFromLiterals(
      [{ type: 'single_quote_string', value: 'a' }],
      [{ type: 'single_quote_string', value: 'b' }],
    ),
  );
  t.notOk(sameApartFromLiterals({ table: 'orders' }, { table: 'secrets' }), 'a name');
  t.notOk(
    sameApartFromLiterals({ type: 'origin', value: 'a' }, { type: 'origin', value: 'b' }),
    'a keyword node',
  );
  t.notOk(sameApartFromLiterals(lit(1), { type: 'bigint', value: 1 }), 'the literal type');
  t.notOk(sameApartFromLiterals(lit(1), { ...lit(2), extra: 1 }), 'the keys');
  t.notOk(
    sameApartFromLiterals(lit({ type: 'function' }), lit({ type: 'column_ref' })),
    'a value that is a node',
  );
  t.notOk(sameApartFromLiterals([lit(1)], [lit(1), lit(2)]), 'list length');
});

/** Values of the same shape as the original literal: edge values and SQL-looking strings. */
const STRING_VALUES = [
  '',
  '0',
  '1',
  'a',
  ' 1',
  '1abc',
  '; DROP TABLE t',
  'DROP TABLE orders',
  '/*! 1 */',
  '--x',
  '*/',
  '#',
  '"',
  '`',
  'é',
  'orders',
  '\u0001',
  'a\nb',
  '\t',
  '\u{1F600}',
  '\u2028',
];

function variants(sql: string): string[] {
  let spans: LiteralSpan[];
  try {
    spans = spansOf(sql);
  } catch {
    return []; // refused by the lexer: no shape
  }
  return literalVariants(sql, spans, STRING_VALUES);
}

t.test(
  'every MySQL statement of the table, with its literals varied, gets the parser-backed decision',
  async (t) => {
    const ref = reference();
    const sources = [
      ...rows.filter((r) => r[0] === 'mysql').map((r) => r[1]),
      ...SAME_SHAPE_DIFFERENT_LITERAL.flat(),
    ];
    let compared = 0;
    let byShape = 0;
    for (const sql of sources) {
      const analyzer = shaped();
      for (const text of [sql, ...variants(sql), sql]) {
        const got = await analyzer.analyze(text, 'mysql');
        const want = await ref.analyze(text, 'mysql');
        if (got.ok && got.parsed === undefined) byShape++;
        compared++;
        if (verdictOf(got) !== verdictOf(want))
          t.fail(`${text}\n got: ${verdictOf(got)}\nwant: ${verdictOf(want)}`);
      }
    }
    t.ok(compared > 1000, `${compared} texts compared`);
    t.ok(byShape > 300, `${byShape} decided by shape`);
  },
);
