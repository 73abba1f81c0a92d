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
