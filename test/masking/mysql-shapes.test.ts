import t from 'tap';
import { astifyMySql } from '../../src/guard/mysql/readable.js';
import { MysqlLoweringShapes } from '../../src/masking/lineage/mysql-shapes.js';
import { lowerMysql, lowerMysqlWrites } from '../../src/masking/lineage/mysql.js';

const exact = (sql: string) => JSON.stringify(lowerMysql(astifyMySql(sql)));

t.test('texts that differ only in literal values share one lowering', async (t) => {
  const shapes = new MysqlLoweringShapes(lowerMysql);
  const first = shapes.lower('SELECT c FROM sbtest1 WHERE id=5');
  t.ok(first, 'the first text of the shape is lowered and kept');
  const second = shapes.lower('SELECT c FROM sbtest1 WHERE id=7');
  t.equal(second, first, 'the second is the same (frozen) lowering');
  t.equal(JSON.stringify(second), exact('SELECT c FROM sbtest1 WHERE id=7'), 'equal to its own parse');
  t.ok(Object.isFrozen(first), 'frozen');
  const json = shapes.lower("SELECT JSON_EXTRACT(doc, '$.a') FROM t WHERE k = 'x'");
  t.equal(shapes.lower("SELECT JSON_EXTRACT(doc, '$.b') FROM t WHERE k = 'y'"), json);
});

t.test('a lowering that reads a literal value is never reused', async (t) => {
  const shapes = new MysqlLoweringShapes(lowerMysql);
  // ORDER BY 2 sorts by the second output column: the number is read.
  t.equal(shapes.lower('SELECT name, ssn FROM t ORDER BY 1'), undefined);
  t.equal(shapes.lower('SELECT name, ssn FROM t ORDER BY 2'), undefined, 'the shape stays refused');
  // A string alias names the output column: the parser does not read it as a literal node.
  t.equal(shapes.lower("SELECT ssn AS 'x' FROM t"), undefined);
  t.equal(shapes.lower("SELECT ssn AS 'y' FROM t"), undefined);
});

t.test('texts without a shape, or that do not split or parse, are left to the caller', async (t) => {
  const shapes = new MysqlLoweringShapes(lowerMysql);
  t.equal(shapes.lower('SELECT c FROM t'), undefined, 'no literal: no shape');
  t.equal(shapes.lower('SELECT /*! 1 */ c FROM t WHERE id = 1'), undefined, 'refused by the split');
  t.equal(shapes.lower('SELEKT c FROM t WHERE id = 1'), undefined, 'does not parse');
  t.equal(shapes.lower(`SELECT c FROM t WHERE id = 1 ${' '.repeat(17 * 1024)}`), undefined, 'too long');
});

t.test('writes are lowered by shape the same way', async (t) => {
  const shapes = new MysqlLoweringShapes(lowerMysqlWrites);
  const first = shapes.lower("UPDATE t SET note = 'a' WHERE id = 1");
  t.equal(shapes.lower("UPDATE t SET note = 'b' WHERE id = 2"), first);
  t.equal(
    JSON.stringify(first),
    JSON.stringify(lowerMysqlWrites(astifyMySql("UPDATE t SET note = 'b' WHERE id = 2"))),
  );
});
