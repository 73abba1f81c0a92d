import t from 'tap';
import { ColumnType, columnTypeName } from '../../../protocols/mysql/codec/column-types.js';
import { decodeCommand, decodeExecuteParams } from '../../../protocols/mysql/codec/commands.js';
import {
  decodeClearPassword,
  decodeHandshakeResponse,
  encodeAuthSwitchRequest,
  encodeHandshakeV10,
} from '../../../protocols/mysql/codec/handshake.js';
import { PayloadReader } from '../../../protocols/mysql/codec/payload-reader.js';
import { PayloadBuilder } from '../../../protocols/mysql/codec/payload-builder.js';
import { encodeEof, encodeErr, encodeOk } from '../../../protocols/mysql/codec/responses.js';
import {
  encodeColumnCount,
  encodeColumnDefinition,
  encodePrepareOk,
  encodeTextRow,
} from '../../../protocols/mysql/codec/resultset.js';

// Bytes are built here by hand, independently of PayloadBuilder, so a bug shared by encoder and
// decoder cannot hide.
const u16 = (n: number) => [n & 0xff, (n >> 8) & 0xff];
const u32 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
const str = (s: string) => [...Buffer.from(s)];
const lenenc = (s: string) => [Buffer.byteLength(s), ...str(s)];

const CLIENT_41 = 0x200 | 0x8000 | 0x80000 | 0x8 | 0x200000 | 0x100000;

function handshakeResponse(): Buffer {
  const attrs = [...lenenc('_client_name'), ...lenenc('libmariadb')];
  return Buffer.from([
    ...u32(CLIENT_41),
    ...u32(16 * 1024 * 1024),
    45,
    ...new Array<number>(23).fill(0),
    ...str('alice'),
    0,
    20,
    ...new Array<number>(20).fill(7),
    ...str('shop'),
    0,
    ...str('mysql_native_password'),
    0,
    attrs.length,
    ...attrs,
  ]);
}

t.test('HandshakeV10 has the layout clients expect', async (t) => {
  const scramble = Buffer.from('abcdefghijklmnopqrst');
  const payload = encodeHandshakeV10({
    serverVersion: '8.0.36-sluice',
    connectionId: 7,
    authPluginData: scramble,
    capabilities: 0x00ab_cdef,
    authPluginName: 'mysql_native_password',
  });
  t.same(
    payload,
    Buffer.from([
      10,
      ...str('8.0.36-sluice'),
      0,
      ...u32(7),
      ...str('abcdefgh'),
      0,
      ...u16(0xcdef),
      45,
      ...u16(2),
      ...u16(0x00ab),
      21,
      ...new Array<number>(10).fill(0),
      ...str('ijklmnopqrst'),
      0,
      ...str('mysql_native_password'),
      0,
    ]),
  );
  t.throws(() =>
    encodeHandshakeV10({
      serverVersion: 'x',
      connectionId: 1,
      authPluginData: Buffer.alloc(8),
      capabilities: 0,
      authPluginName: 'p',
    }),
  );
});

t.test('HandshakeResponse41 decodes user, auth data, database, plugin and attributes', async (t) => {
  const message = decodeHandshakeResponse(handshakeResponse());
  t.match(message, {
    kind: 'handshake-response',
    user: 'alice',
    database: 'shop',
    authPluginName: 'mysql_native_password',
    maxPacketSize: 16 * 1024 * 1024,
    characterSet: 45,
  });
  if (message.kind !== 'handshake-response') throw new Error('unreachable');
  t.same(message.authResponse, Buffer.alloc(20, 7));
  t.same([...message.attributes], [['_client_name', 'libmariadb']]);
});

t.test('an SSLRequest is recognised by its length and CLIENT_SSL', async (t) => {
  const ssl = Buffer.from([...u32(CLIENT_41 | 0x800), ...u32(0), 45, ...new Array<number>(23).fill(0)]);
  t.match(decodeHandshakeResponse(ssl), { kind: 'ssl-request' });
  const noSsl = Buffer.from([...u32(CLIENT_41), ...u32(0), 45, ...new Array<number>(23).fill(0)]);
  t.throws(() => decodeHandshakeResponse(noSsl), { code: 'ERR_HANDSHAKE' });
  const old = Buffer.from([...u32(0x8000), ...u32(0), 45, ...new Array<number>(23).fill(0)]);
  t.throws(() => decodeHandshakeResponse(old), { code: 'ERR_HANDSHAKE', message: /4\.1/ });
});

t.test('handshake responses with hostile fields are typed errors', async (t) => {
  const longUser = Buffer.from([
    ...u32(CLIENT_41),
    ...u32(0),
    45,
    ...new Array<number>(23).fill(0),
    ...new Array<number>(300).fill(0x61),
    0,
  ]);
  t.throws(() => decodeHandshakeResponse(longUser), { code: 'ERR_HANDSHAKE' });
  const truncated = handshakeResponse().subarray(0, 40);
  t.throws(() => decodeHandshakeResponse(truncated), { code: 'ERR_PACKET_MALFORMED' });
  const manyAttrs: number[] = [];
  for (let i = 0; i < 70; i++) manyAttrs.push(...lenenc(`k${i}`), ...lenenc('v'));
  const attrs = Buffer.from([
    ...u32(CLIENT_41),
    ...u32(0),
    45,
    ...new Array<number>(23).fill(0),
    ...str('bob'),
    0,
    0,
    0,
    ...str('p'),
    0,
    0xfc,
    ...u16(manyAttrs.length),
    ...manyAttrs,
  ]);
  t.throws(() => decodeHandshakeResponse(attrs), { code: 'ERR_HANDSHAKE', message: /attributes/ });
});

t.test('AuthSwitchRequest and the clear-text answer', async (t) => {
  t.same(
    encodeAuthSwitchRequest('mysql_clear_password'),
    Buffer.from([0xfe, ...str('mysql_clear_password'), 0, 0]),
  );
  t.equal(decodeClearPassword(Buffer.from('TOKEN\0')), 'TOKEN');
  t.equal(decodeClearPassword(Buffer.from('TOKEN')), 'TOKEN');
  t.equal(decodeClearPassword(Buffer.alloc(0)), '');
});

t.test('OK, ERR and EOF packets', async (t) => {
  t.same(encodeOk(), Buffer.from([0, 0, 0, 2, 0, 0, 0]));
  t.same(
    encodeOk({ affectedRows: 300, lastInsertId: 5, status: 3, warnings: 1, info: 'hi' }),
    Buffer.from([0, 0xfc, ...u16(300), 5, ...u16(3), ...u16(1), ...str('hi')]),
  );
  t.same(
    encodeErr({ errno: 1045, sqlstate: '28000', message: 'no' }),
    Buffer.from([0xff, ...u16(1045), ...str('#28000no')]),
  );
  t.same(encodeErr({ errno: 1, sqlstate: 'bad', message: '' }).subarray(3, 9), Buffer.from('#HY000'));
  t.same(encodeEof({ warnings: 2, status: 0x22 }), Buffer.from([0xfe, ...u16(2), ...u16(0x22)]));
});

t.test('column count, column definition and text rows', async (t) => {
  t.same(encodeColumnCount(3), Buffer.from([3]));
  t.same(encodeColumnCount(70000), Buffer.from([0xfd, 0x70, 0x11, 0x01]));
  t.same(
    encodeColumnDefinition({
      name: 'email',
      type: ColumnType.VarString,
      schema: 's',
      table: 'c',
      orgTable: 'customers',
      orgName: 'email',
    }),
    Buffer.from([
      ...lenenc('def'),
      ...lenenc('s'),
      ...lenenc('c'),
      ...lenenc('customers'),
      ...lenenc('email'),
      ...lenenc('email'),
      0x0c,
      ...u16(45),
      ...u32(1024),
      0xfd,
      ...u16(0),
      0,
      0,
      0,
    ]),
  );
  const blob = encodeColumnDefinition({
    name: 'b',
    type: ColumnType.Blob,
    flags: 0x80,
    decimals: 0,
    columnLength: 10,
  });
  t.same(blob.subarray(blob.length - 12), Buffer.from([...u16(63), ...u32(10), 0xfc, ...u16(0x80), 0, 0, 0]));
  t.same(
    encodeTextRow(['a', null, Buffer.from([1, 2]), 'é']),
    Buffer.from([1, 0x61, 0xfb, 2, 1, 2, 2, 0xc3, 0xa9]),
  );
  t.same(
    encodePrepareOk({ statementId: 9, columnCount: 2, paramCount: 1 }),
    Buffer.from([0, ...u32(9), ...u16(2), ...u16(1), 0, ...u16(0)]),
  );
});

t.test('every command we implement decodes; others are unsupported', async (t) => {
  t.same(decodeCommand(Buffer.from([0x01])), { kind: 'quit' });
  t.same(decodeCommand(Buffer.from([0x0e])), { kind: 'ping' });
  t.same(decodeCommand(Buffer.from([0x02, ...str('shop')])), { kind: 'init-db', schema: 'shop' });
  t.same(decodeCommand(Buffer.from([0x03, ...str('SELECT 1')])), { kind: 'query', sql: 'SELECT 1' });
  t.same(decodeCommand(Buffer.from([0x04, ...str('t'), 0, ...str('%')])), {
    kind: 'field-list',
    table: 't',
    wildcard: '%',
  });
  t.same(decodeCommand(Buffer.from([0x16, ...str('SELECT ?')])), { kind: 'stmt-prepare', sql: 'SELECT ?' });
  t.same(decodeCommand(Buffer.from([0x17, ...u32(4), 0, ...u32(1), 9])), {
    kind: 'stmt-execute',
    statementId: 4,
    flags: 0,
    parameterBlock: Buffer.from([9]),
  });
  t.same(decodeCommand(Buffer.from([0x19, ...u32(4)])), { kind: 'stmt-close', statementId: 4 });
  t.same(decodeCommand(Buffer.from([0x1a, ...u32(4)])), { kind: 'stmt-reset', statementId: 4 });
  t.same(decodeCommand(Buffer.from([0x18, ...u32(4), 1, 0, 0xaa])), {
    kind: 'stmt-send-long-data',
    statementId: 4,
    paramId: 1,
    data: Buffer.from([0xaa]),
  });
  t.same(decodeCommand(Buffer.from([0x0d])), { kind: 'unsupported', command: 0x0d });
  t.same(decodeCommand(Buffer.from([0x09])), { kind: 'statistics' });
  t.same(decodeCommand(Buffer.from([0x1b, 1, 0])), { kind: 'set-option', option: 1 });
  t.same(
    decodeCommand(
      Buffer.from([
        0x11,
        ...str('u-2'),
        0,
        2,
        0xaa,
        0xbb,
        ...str('shop'),
        0,
        51,
        0,
        ...str('mysql_native_password'),
        0,
      ]),
    ),
    {
      kind: 'change-user',
      user: 'u-2',
      database: 'shop',
      characterSet: 51,
      authPluginName: 'mysql_native_password',
      authResponse: Buffer.from([0xaa, 0xbb]),
    },
  );
  t.throws(() => decodeCommand(Buffer.from([0x11, ...str('u')])), { code: 'ERR_PACKET_MALFORMED' });
  t.throws(() => decodeCommand(Buffer.alloc(0)), { code: 'ERR_PACKET_MALFORMED' });
  t.throws(() => decodeCommand(Buffer.from([0x19, 1])), { code: 'ERR_PACKET_MALFORMED' });
  t.throws(() => decodeCommand(Buffer.from([0x17, ...u32(4), 0, ...u32(2)])), {
    code: 'ERR_PACKET_MALFORMED',
  });
  t.throws(() => decodeCommand(Buffer.from([0x04, ...str('t')])), { code: 'ERR_PACKET_MALFORMED' });
});

t.test('COM_STMT_EXECUTE parameters decode by their bound types', async (t) => {
  const date = [7, ...u16(2024), 1, 2, 3, 4, 5];
  const dateTimeMicros = [11, ...u16(2024), 1, 2, 3, 4, 5, ...u32(6)];
  const time = [8, 1, ...u32(1), 2, 3, 4];
  const types = [
    0x01, 0x8001, 0x02, 0x03, 0x08, 0x8008, 0x04, 0x05, 0xfd, 0xfc, 0x0a, 0x0c, 0x0b, 0x06, 0xf6,
  ];
  const values = [
    0xff, // tiny -1
    0xff, // unsigned tiny 255
    ...u16(0xfffe), // short -2
    ...u32(0xfffffffd), // long -3
    ...[0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // longlong -4
    ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // unsigned longlong 2^64-1
    ...[0, 0, 0xc0, 0x3f], // float 1.5
    ...[0, 0, 0, 0, 0, 0, 0x04, 0x40], // double 2.5
    ...lenenc('héllo'),
    2,
    0xde,
    0xad,
    ...[4, ...u16(2024), 12, 31],
    ...dateTimeMicros,
    ...time,
    // 0x06 NULL type has no bytes
    ...lenenc('1.50'),
  ];
  const count = types.length + 1; // plus one NULL by bitmap
  const bitmap = Buffer.alloc((count + 7) >> 3);
  bitmap[(count - 1) >> 3] = 1 << ((count - 1) & 7);
  const block = Buffer.from([...bitmap, 1, ...types.flatMap(u16), ...u16(0x0f), ...values]);
  const decoded = decodeExecuteParams(block, count);
  t.same(decoded.values, [
    -1,
    255,
    -2,
    -3,
    -4,
    18446744073709551615n,
    1.5,
    2.5,
    'héllo',
    Buffer.from([0xde, 0xad]),
    '2024-12-31',
    '2024-01-02 03:04:05.000006',
    '-26:03:04',
    null,
    '1.50',
    null,
  ]);
  t.equal(decoded.types.length, count);
  const again = decodeExecuteParams(Buffer.from([0, 0, ...date.slice(0, 0), ...u32(5)]), 1, [0x03]);
  t.same(again.values, [5], 'types from the previous execute are reused');
  t.throws(() => decodeExecuteParams(Buffer.from([0, 0]), 1), { code: 'ERR_PACKET_MALFORMED' });
  t.throws(() => decodeExecuteParams(Buffer.from([0, 1, ...u16(0x99), 0]), 1), {
    code: 'ERR_PACKET_MALFORMED',
  });
  t.throws(() => decodeExecuteParams(Buffer.from([0, 1, ...u16(0x0c), 5, 0, 0, 0, 0, 0]), 1), {
    code: 'ERR_PACKET_MALFORMED',
  });
  t.same(decodeExecuteParams(Buffer.alloc(0), 0), { values: [], types: [] });
  t.same(decodeExecuteParams(Buffer.from([0, 1, ...u16(0x0a), 0]), 1).values, ['0000-00-00']);
  t.same(decodeExecuteParams(Buffer.from([0, 1, ...u16(0x0b), 0]), 1).values, ['00:00:00']);
  t.same(decodeExecuteParams(Buffer.from([0, 1, ...u16(0x0c), ...date]), 1).values, ['2024-01-02 03:04:05']);
});

t.test('the payload reader never reads past the end and rejects oversized integers', async (t) => {
  const r = new PayloadReader(Buffer.from([0xfe, 0, 0, 0, 0, 0, 0, 0x40, 0]));
  t.throws(() => r.lenencInt(), { code: 'ERR_PACKET_MALFORMED', message: /too large/ });
  t.throws(() => new PayloadReader(Buffer.from([0xfb])).lenencInt(), { code: 'ERR_PACKET_MALFORMED' });
  t.throws(() => new PayloadReader(Buffer.from([5, 1])).lenencBytes(), { code: 'ERR_PACKET_MALFORMED' });
  t.throws(() => new PayloadReader(Buffer.from([1])).skip(2), { code: 'ERR_PACKET_MALFORMED' });
  const ok = new PayloadReader(Buffer.from([0xfc, 1, 1, 0xfd, 1, 0, 1, 9, 8]));
  t.equal(ok.lenencInt(), 257);
  t.equal(ok.lenencInt(), 65537);
  t.same(ok.rest(), Buffer.from([9, 8]));
  t.equal(ok.remaining, 0);
  const built = new PayloadBuilder(1)
    .lenencInt(2 ** 40)
    .u64(1n)
    .build();
  const back = new PayloadReader(built);
  t.equal(back.lenencInt(), 2 ** 40);
  t.equal(back.u64(), 1n);
});

t.test('column type names follow the type code, flags and character set', async (t) => {
  const name = (type: number, characterSet = 45, flags = 0) => columnTypeName({ type, characterSet, flags });
  t.equal(name(ColumnType.VarString), 'varchar');
  t.equal(name(ColumnType.VarString, 63), 'varbinary');
  t.equal(name(ColumnType.Blob), 'text');
  t.equal(name(ColumnType.Blob, 63), 'blob');
  t.equal(name(ColumnType.TinyBlob), 'tinytext');
  t.equal(name(ColumnType.MediumBlob, 63), 'mediumblob');
  t.equal(name(ColumnType.LongBlob), 'longtext');
  t.equal(name(ColumnType.String), 'char');
  t.equal(name(ColumnType.String, 63), 'binary');
  t.equal(name(ColumnType.String, 45, 0x100), 'enum');
  t.equal(name(ColumnType.String, 45, 0x800), 'set');
  t.equal(name(ColumnType.NewDecimal), 'decimal');
  t.equal(name(ColumnType.Decimal), 'decimal');
  t.equal(name(ColumnType.Long), 'int');
  t.equal(name(ColumnType.LongLong), 'bigint');
  t.equal(name(ColumnType.Int24), 'mediumint');
  t.equal(name(ColumnType.Tiny), 'tinyint');
  t.equal(name(ColumnType.Short), 'smallint');
  t.equal(name(ColumnType.Float), 'float');
  t.equal(name(ColumnType.Double), 'double');
  t.equal(name(ColumnType.Null), 'null');
  t.equal(name(ColumnType.Timestamp), 'timestamp');
  t.equal(name(ColumnType.DateTime), 'datetime');
  t.equal(name(ColumnType.Date), 'date');
  t.equal(name(ColumnType.NewDate), 'date');
  t.equal(name(ColumnType.Time), 'time');
  t.equal(name(ColumnType.Year), 'year');
  t.equal(name(ColumnType.VarChar), 'varchar');
  t.equal(name(ColumnType.Bit), 'bit');
  t.equal(name(ColumnType.Json), 'json');
  t.equal(name(ColumnType.Enum), 'enum');
  t.equal(name(ColumnType.Set), 'set');
  t.equal(name(ColumnType.Geometry), 'geometry');
  t.equal(name(0x42), 'unknown');
  t.equal(
    columnTypeName({ type: ColumnType.String, characterSet: 45, flags: 0, extendedTypeName: 'uuid' }),
    'uuid',
  );
  t.equal(
    columnTypeName({ type: ColumnType.Blob, characterSet: 45, flags: 0, extendedFormat: 'json' }),
    'json',
  );
});
