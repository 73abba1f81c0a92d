import t from 'tap';
import { GuardError } from '../../../src/guard/errors.js';
import { splitMySql } from '../../../src/guard/mysql/lexer.js';

const texts = (sql: string) => splitMySql(sql).map((p) => p.text);

t.test('statements split on semicolons outside strings, identifiers and comments', async (t) => {
  t.same(texts('SELECT \'a;b\'; SELECT "c;d"; SELECT `e;f`'), [
    "SELECT 'a;b'",
    'SELECT "c;d"',
    'SELECT `e;f`',
  ]);
  t.same(texts('SELECT 1 /* ; */; SELECT 2 # ;\n; SELECT 3 -- ;\n'), [
    'SELECT 1 /* ; */',
    'SELECT 2 # ;',
    'SELECT 3 -- ;',
  ]);
  t.same(
    texts("SELECT 'it''s;', 'a\\';b'"),
    ["SELECT 'it''s;', 'a\\';b'"],
    'doubled quotes and backslash escapes',
  );
  t.same(texts('SELECT `a``;b`'), ['SELECT `a``;b`'], 'doubled backticks');
});

t.test('empty statements and comment-only pieces are dropped; optimizer hints are kept', async (t) => {
  t.same(texts(' ; ;; /* nothing */ ; # x\n'), []);
  t.same(texts('/*+ BKA(t) */ SELECT 1'), ['/*+ BKA(t) */ SELECT 1']);
});

t.test('unterminated strings and comments run to the end of the text', async (t) => {
  t.same(texts("SELECT 'abc; DROP TABLE t"), ["SELECT 'abc; DROP TABLE t"]);
  t.same(texts('SELECT 1 /* ; DROP TABLE t'), ['SELECT 1 /* ; DROP TABLE t']);
});

t.test('versioned comments are refused anywhere, even inside a string', async (t) => {
  for (const sql of ['SELECT /*!50000 1 */', "SELECT '/*!'", 'SELECT /*m!100000 1 */', '/*M!*/ SELECT 1']) {
    const err = t.throws(() => splitMySql(sql)) as unknown as GuardError;
    t.equal(err.code, 'ERR_GUARD_VERSIONED_COMMENT', sql);
  }
});

t.test('"--" that MySQL reads as two minus signs is refused outside strings only', async (t) => {
  const err = t.throws(() => splitMySql('SELECT 1 --1; DROP TABLE t')) as unknown as GuardError;
  t.equal(err.code, 'ERR_GUARD_AMBIGUOUS_COMMENT');
  t.match(err.message, /at character 10/);
  t.same(texts("SELECT '--1', `--x`"), ["SELECT '--1', `--x`"]);
  t.same(texts('SELECT 1 --\r\n; SELECT 2'), ['SELECT 1 --', 'SELECT 2']);
});

t.test(
  'a stored program keeps the statements of its body (BEGIN ... END) as the server reads it',
  async (t) => {
    const body =
      'CREATE PROCEDURE p() BEGIN SELECT 1; IF 1 THEN SELECT 2; END IF; SELECT CASE WHEN 1 THEN 2 END; END';
    t.same(texts(`${body}; SELECT 3`), [body, 'SELECT 3']);
    const trigger =
      'CREATE OR REPLACE DEFINER=`root`@`localhost` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.v = 1; END';
    t.same(texts(`${trigger};DELETE FROM t`), [trigger, 'DELETE FROM t']);
    const loops =
      'CREATE FUNCTION f() RETURNS INT BEGIN DECLARE i INT DEFAULT 0; l: LOOP SET i = i + 1; IF i > 3 THEN LEAVE l; END IF; END LOOP l; WHILE i > 0 DO SET i = i - 1; END WHILE; REPEAT SET i = i + 1; UNTIL i > 2 END REPEAT; CASE i WHEN 3 THEN SET i = 4; ELSE SET i = 5; END CASE; BEGIN SELECT 1; END; RETURN i; END';
    t.same(texts(`${loops}; SELECT f()`), [loops, 'SELECT f()']);
    t.same(texts("CREATE PROCEDURE p() BEGIN SELECT 'END; DROP TABLE t'; END"), [
      "CREATE PROCEDURE p() BEGIN SELECT 'END; DROP TABLE t'; END",
    ]);
  },
);

t.test('a body whose blocks never close is left split, so its pieces are read on their own', async (t) => {
  // `begin` as a name opens a block that nothing closes: nothing is joined, DROP stays a statement.
  t.same(texts('CREATE PROCEDURE p(begin INT) SELECT 1; DROP TABLE t'), [
    'CREATE PROCEDURE p(begin INT) SELECT 1',
    'DROP TABLE t',
  ]);
  t.same(texts('CREATE PROCEDURE p() BEGIN SELECT 1; DROP TABLE t'), [
    'CREATE PROCEDURE p() BEGIN SELECT 1',
    'DROP TABLE t',
  ]);
  // Only a CREATE of a stored program joins: BEGIN NOT ATOMIC (run at once) stays split.
  t.same(texts('BEGIN NOT ATOMIC SELECT 1; END'), ['BEGIN NOT ATOMIC SELECT 1', 'END']);
  t.same(texts('SELECT CASE WHEN 1 THEN 2; END'), ['SELECT CASE WHEN 1 THEN 2', 'END']);
});
