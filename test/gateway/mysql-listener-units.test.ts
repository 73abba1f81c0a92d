import t from 'tap';
import { encodeBinaryRow } from '../../protocols/mysql/codec/binary-row.js';
import { ColumnType, type ColumnDefinition } from '../../protocols/mysql/server/index.js';
import { GatewayError } from '../../src/gateway/errors.js';
import {
  countPlaceholders,
  literalUsingValues,
  replacePlaceholders,
} from '../../src/gateway/mysql/placeholders.js';
import { charsetChange, charsetStatementWith } from '../../src/gateway/mysql/set-names.js';
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

const definition = (name: string, type: number, extra: Partial<ColumnDefinition> = {}): ColumnDefinition => ({
  name,
  type,
  schema: 'shop',
  table: 't',
  orgTable: 'customers',
  orgName: name,
  characterSet: 63,
  columnLength: 11,
  flags: 0,
  decimals: 0,
  ...extra,
});

t.test('unmasked columns keep the target definitions; masked ones are text with no flags', async (t) => {
  const id = definition('id', ColumnType.Long, { flags: 0x0001 | 0x0002 | 0x0020 | 0x0200 });
  const email = definition('email', ColumnType.VarString, { characterSet: 45, columnLength: 1020, flags: 1 });
  const photo = definition('photo', ColumnType.Blob, { flags: 0x0080 | 0x0010 });
  const flag = definition('flag', ColumnType.Bit, { columnLength: 1, flags: 0x0020 });
  const doc = definition('doc', ColumnType.Blob, { characterSet: 45, columnLength: 4294967295 });
  const joined = definition('joined', ColumnType.DateTime, { columnLength: 26, decimals: 6 });
  const columns = wireColumns([
    { name: 'id', type: 'int', masked: false, mysql: id },
    { name: 'mail', type: 'varchar', masked: true, mysql: email },
    { name: 'photo', type: 'blob', masked: false, mysql: photo },
    { name: 'flag', type: 'bit', masked: false, mysql: flag },
    { name: 'doc', type: 'json', masked: false, mysql: doc },
    { name: 'joined', type: 'datetime', masked: false, mysql: joined },
    { name: 'made', type: 'varchar', masked: false },
  ]);
  t.same(columns[0]?.definition, id, 'flags, length, names and collation as the target sent them');
  t.same(columns[1]?.definition, {
    schema: 'shop',
    table: 't',
    orgTable: 'customers',
    orgName: 'email',
    name: 'mail',
    type: ColumnType.VarString,
    characterSet: 45,
    columnLength: 1024,
  });
  t.same(columns[6]?.definition, { name: 'made', type: ColumnType.VarString, characterSet: 45 });
  const row = wireRow(columns, [
    7,
    'a***@example.com',
    Buffer.from([1, 2]).toString('base64'),
    Buffer.from([1]).toString('base64'),
    '{"k": [1, 2]}',
    '2024-01-02 03:04:05.250000',
    null,
  ]);
  t.same(row, [
    '7',
    'a***@example.com',
    Buffer.from([1, 2]),
    Buffer.from([1]),
    '{"k": [1, 2]}',
    '2024-01-02 03:04:05.250000',
    null,
  ]);
});

t.test(
  'binary rows encode by the target types, unsigned included; masked values of any type encode',
  async (t) => {
    const columns = wireColumns([
      {
        name: 'tiny',
        type: 'tinyint',
        masked: false,
        mysql: definition('tiny', ColumnType.Tiny, { flags: 0x20 }),
      },
      { name: 'n', type: 'int', masked: false, mysql: definition('n', ColumnType.Long, { flags: 0x20 }) },
      { name: 'secret', type: 'int', masked: true, mysql: definition('secret', ColumnType.Long) },
    ]);
    const encoded = encodeBinaryRow(
      columns.map((c) => c.definition),
      wireRow(columns, [255, 4294967295, '****']),
    );
    t.equal(encoded.readUInt8(2), 255, 'TINYINT UNSIGNED 255 in one byte');
    t.equal(encoded.readUInt32LE(3), 4294967295, 'INT UNSIGNED max in four bytes');
    t.equal(encoded.subarray(8).toString('latin1'), '****', 'the masked INT travels as text');
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

t.test('character-set statements are read by the listener: what the client sends and reads', async (t) => {
  const names = charsetChange('SET NAMES cp1251');
  t.equal(names?.client?.name, 'cp1251');
  t.equal(names?.results?.name, 'cp1251');
  t.equal(charsetChange("set names 'koi8r' collate 'koi8r_general_ci';")?.client?.name, 'koi8r');
  t.equal(charsetChange('SET CHARACTER SET latin1')?.results?.name, 'latin1');
  const results = charsetChange('SET character_set_results = cp1251');
  t.equal(results?.results?.name, 'cp1251');
  t.equal(results?.client, undefined, 'the client set is unchanged');
  t.equal(charsetChange('SET character_set_results = NULL')?.results?.name, 'utf8mb4');
  const both = charsetChange('SET @@session.character_set_client = latin1, character_set_results = koi8r');
  t.equal(both?.client?.name, 'latin1');
  t.equal(both?.results?.name, 'koi8r');
  t.equal(charsetChange('SET NAMES dec8')?.unknown, 'dec8');
  t.equal(charsetChange('SET NAMES utf8mb4, sql_mode = ""'), undefined, 'anything else assigned: not ours');
  t.equal(charsetChange('SET character_set_server = latin1'), undefined, "the server set is the target's");
  t.equal(charsetChange("SELECT 'SET NAMES cp1251'"), undefined);
  t.equal(charsetChange('SET NAMES cp1251; DROP TABLE t'), undefined, 'a second statement is not a name');
});

t.test('a prepared character-set statement is answered with its parameter in place', async (t) => {
  t.equal(charsetStatementWith('SET character_set_results = ?', ['cp1251'])?.change.results?.name, 'cp1251');
  t.equal(charsetStatementWith('SET NAMES ?', ['koi8r'])?.sql, "SET NAMES 'koi8r'");
  t.equal(charsetStatementWith('SET NAMES ?', ["koi8r' , sql_mode = '"]), undefined, 'a bare name only');
  t.equal(charsetStatementWith('SET character_set_results = ?', [5]), undefined);
  t.equal(charsetStatementWith('SELECT ?', ['x']), undefined);
  t.equal(
    charsetStatementWith('SET character_set_results = ?', ['a', 'b']),
    undefined,
    'as many as placeholders',
  );
});

t.test('EXECUTE USING: literal values are substituted, anything else is a variable', async (t) => {
  t.same(literalUsingValues("EXECUTE p USING 1, 'a,b', -2.5"), ['1', "'a,b'", '-2.5']);
  t.same(literalUsingValues("execute `p q` using 'it''s', '\\\\'"), ["'it''s'", "'\\\\'"]);
  t.equal(literalUsingValues('EXECUTE p USING @v'), undefined);
  t.equal(literalUsingValues('EXECUTE p USING 1, @v'), undefined);
  t.equal(literalUsingValues('EXECUTE p USING (SELECT ssn FROM customers)'), undefined);
  t.equal(literalUsingValues('EXECUTE p USING CONCAT(1)'), undefined);
  t.equal(literalUsingValues('EXECUTE p'), undefined);
  t.equal(
    replacePlaceholders("SELECT ?, '?', `?`, ? -- ?\n, ?", ['1'], '@x'),
    "SELECT  1 , '?', `?`,  @x  -- ?\n,  @x ",
  );
});
