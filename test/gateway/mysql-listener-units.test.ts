import t from 'tap';
import { encodeBinaryRow } from '../../protocols/mysql/codec/binary-row.js';
import { ColumnType } from '../../protocols/mysql/server/index.js';
import { GatewayError } from '../../src/gateway/errors.js';
import { countPlaceholders } from '../../src/gateway/mysql/placeholders.js';
import { PreparedStatements } from '../../src/gateway/mysql/prepared-statements.js';
import { wireColumns, wireRow } from '../../src/gateway/mysql/wire-columns.js';
import { toWireError } from '../../src/gateway/mysql/wire-errors.js';

t.test('placeholders are counted outside strings, quoted identifiers and comments', async (t) => {
  t.equal(countPlaceholders('SELECT * FROM t WHERE a = ? AND b = ?'), 2);
  t.equal(countPlaceholders('SELECT \'?\', "?", `?` FROM t WHERE a = ?'), 1);
  t.equal(countPlaceholders("SELECT 'it''s ?' , 'a\\'?' FROM t WHERE a = ?"), 1);
  t.equal(countPlaceholders('SELECT 1 -- ?\nFROM t WHERE a = ? # ?\n AND b = ?'), 2);
  t.equal(countPlaceholders('SELECT 1 /* ? */ FROM t WHERE a = ?'), 1);
  t.equal(countPlaceholders('SELECT 5--?\n'), 1, '-- without a following space is minus minus');
  t.equal(countPlaceholders("SELECT 'unterminated ?"), 0);
});

t.test('prepared statements are capped per connection and ids are never reused while open', async (t) => {
  const statements = new PreparedStatements(2);
  const a = statements.add('SELECT 1', 0);
  const b = statements.add('SELECT ?', 1);
  t.ok(a && b);
  t.not(a?.id, b?.id);
  t.equal(statements.add('SELECT 2', 0), undefined, 'the cap refuses a third');
  statements.close(a?.id ?? 0);
  const c = statements.add('SELECT 3', 0);
  t.ok(c);
  t.equal(statements.get(a?.id ?? 0), undefined);
  t.equal(statements.get(c?.id ?? 0)?.sql, 'SELECT 3');
});

t.test('delivered columns map to MySQL column definitions; masked ones are always text', async (t) => {
  const columns = wireColumns(
    [
      { name: 'id', type: 'int', masked: false },
      { name: 'email', type: 'varchar', masked: true },
      { name: 'salary', type: 'decimal', masked: true },
      { name: 'photo', type: 'blob', masked: false },
      { name: 'joined', type: 'datetime', masked: false },
      { name: 'stamp', type: 'timestamp', masked: false },
      { name: 'doc', type: 'json', masked: false },
      { name: 'flag', type: 'bit', masked: false },
    ],
    { binary: false },
  );
  t.same(
    columns.map((c) => c.definition.type),
    [
      ColumnType.Long,
      ColumnType.VarString,
      ColumnType.VarString,
      ColumnType.Blob,
      ColumnType.DateTime,
      ColumnType.Timestamp,
      ColumnType.Blob,
      ColumnType.LongLong,
    ],
  );
  const row = wireRow(columns, [
    7,
    'a***@example.com',
    '***',
    Buffer.from([1, 2]).toString('base64'),
    '2024-01-02T03:04:05',
    '2024-01-02T03:04:05.250Z',
    { k: [1, 2] },
    1,
  ]);
  t.same(row, [
    '7',
    'a***@example.com',
    '***',
    Buffer.from([1, 2]),
    '2024-01-02 03:04:05',
    '2024-01-02 03:04:05.250',
    '{"k":[1,2]}',
    '1',
  ]);
});

t.test(
  'binary results widen integers so unsigned values fit, and masked values of any type encode',
  async (t) => {
    const columns = wireColumns(
      [
        { name: 'tiny', type: 'tinyint', masked: false },
        { name: 'n', type: 'int', masked: false },
        { name: 'secret', type: 'int', masked: true },
      ],
      { binary: true },
    );
    t.same(
      columns.map((c) => c.definition.type),
      [ColumnType.Short, ColumnType.LongLong, ColumnType.VarString],
    );
    const encoded = encodeBinaryRow(
      columns.map((c) => c.definition),
      wireRow(columns, [255, 4294967295, '****']),
    );
    t.equal(encoded.readUInt16LE(2), 255, 'TINYINT UNSIGNED 255 as a SMALLINT');
    t.equal(encoded.readBigUInt64LE(4), 4294967295n, 'INT UNSIGNED max as a BIGINT');
    t.equal(encoded.subarray(13).toString('latin1'), '****', 'the masked INT travels as text');
  },
);

t.test('gateway errors become MySQL errors in one place', async (t) => {
  t.match(toWireError(new GatewayError('ERR_STATEMENT_DENIED', 'statement denied: ddl')).wire, {
    errno: 1142,
    sqlstate: '42000',
    message: 'statement denied: ddl',
  });
  t.match(toWireError(new GatewayError('ERR_APPROVAL_DENIED', 'statement not approved: no')).wire, {
    errno: 1142,
  });
  t.match(toWireError(new GatewayError('ERR_MASKING_REFUSED', 'cannot trace')).wire, { errno: 1142 });
  t.match(toWireError(new GatewayError('ERR_TARGET', 'shop: Table x', { sqlstate: '42S02' })).wire, {
    errno: 1105,
    sqlstate: '42S02',
    message: 'shop: Table x',
  });
  t.match(toWireError(new GatewayError('ERR_TARGET', 'shop: killed', { sqlstate: '70100' })).wire, {
    errno: 1317,
  });
  const withErrno = Object.assign(new GatewayError('ERR_TARGET', 'shop: Table x', { sqlstate: '42S02' }), {
    errno: 1146,
  });
  t.match(toWireError(withErrno).wire, { errno: 1146 }, 'a target errno is forwarded when the error has one');
  const internal = toWireError(new Error('secret internals'));
  t.same(internal, {
    wire: { errno: 1105, sqlstate: 'HY000', message: 'Internal error' },
    expected: false,
  });
});
