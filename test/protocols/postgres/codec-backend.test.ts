import t from 'tap';
import { Readable } from 'node:stream';
import { createRequire } from 'node:module';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import * as w from '../../../protocols/postgres/codec/index.js';

// pg-protocol's ESM wrapper trips the TypeScript loader's require cycle check; its CommonJS build does not.
const pgProtocol = createRequire(import.meta.url)('pg-protocol/dist/index.js') as {
  parse(stream: NodeJS.ReadableStream, callback: (message: BackendMessage) => void): Promise<void>;
};

/** Independent byte builder: the expected bytes are written here by hand, not by the codec. */
class Bytes {
  private readonly out: number[] = [];
  u8(n: number): this {
    this.out.push(n & 0xff);
    return this;
  }
  i16(n: number): this {
    return this.u8(n >> 8).u8(n);
  }
  i32(n: number): this {
    return this.u8(n >>> 24)
      .u8(n >>> 16)
      .u8(n >>> 8)
      .u8(n);
  }
  str(s: string): this {
    for (const x of Buffer.from(s, 'utf8')) this.u8(x);
    return this.u8(0);
  }
  raw(b: Buffer | string): this {
    for (const x of Buffer.from(b)) this.u8(x);
    return this;
  }
  typed(letter: string): Buffer {
    const body = Buffer.from(this.out);
    const head = Buffer.alloc(5);
    head[0] = letter.charCodeAt(0);
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  }
}
const b = (): Bytes => new Bytes();

const cases: [string, Buffer, Buffer][] = [
  ['AuthenticationOk', w.authenticationOk, b().i32(0).typed('R')],
  ['AuthenticationCleartextPassword', w.authenticationCleartextPassword, b().i32(3).typed('R')],
  [
    'AuthenticationMD5Password',
    w.authenticationMD5Password(Buffer.from([1, 2, 3, 4])),
    b()
      .i32(5)
      .raw(Buffer.from([1, 2, 3, 4]))
      .typed('R'),
  ],
  [
    'AuthenticationSASL',
    w.authenticationSASL(['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS']),
    b().i32(10).str('SCRAM-SHA-256').str('SCRAM-SHA-256-PLUS').u8(0).typed('R'),
  ],
  [
    'AuthenticationSASLContinue',
    w.authenticationSASLContinue(Buffer.from('r=abc')),
    b().i32(11).raw('r=abc').typed('R'),
  ],
  [
    'AuthenticationSASLFinal',
    w.authenticationSASLFinal(Buffer.from('v=xyz')),
    b().i32(12).raw('v=xyz').typed('R'),
  ],
  [
    'ParameterStatus',
    w.parameterStatus('server_version', '16.0'),
    b().str('server_version').str('16.0').typed('S'),
  ],
  ['BackendKeyData', w.backendKeyData(1234, 0xdeadbeef), b().i32(1234).i32(0xdeadbeef).typed('K')],
  ['BackendKeyData negative secret', w.backendKeyData(1, -2), b().i32(1).i32(-2).typed('K')],
  ['ReadyForQuery idle', w.readyForQuery('I'), b().u8(0x49).typed('Z')],
  ['ReadyForQuery transaction', w.readyForQuery('T'), b().u8(0x54).typed('Z')],
  ['ReadyForQuery failed', w.readyForQuery('E'), b().u8(0x45).typed('Z')],
  [
    'RowDescription',
    w.rowDescription([
      { name: 'id', tableOid: 16384, columnAttr: 1, typeOid: 23, typeSize: 4, typeModifier: -1, format: 0 },
      { name: 'naïve', typeOid: 25 },
    ]),
    b()
      .i16(2)
      .str('id')
      .i32(16384)
      .i16(1)
      .i32(23)
      .i16(4)
      .i32(-1)
      .i16(0)
      .str('naïve')
      .i32(0)
      .i16(0)
      .i32(25)
      .i16(-1)
      .i32(-1)
      .i16(0)
      .typed('T'),
  ],
  [
    'DataRow',
    w.dataRow(['1', Buffer.from([0xff]), null, 'é']),
    b()
      .i16(4)
      .i32(1)
      .raw('1')
      .i32(1)
      .raw(Buffer.from([0xff]))
      .i32(-1)
      .i32(2)
      .raw('é')
      .typed('D'),
  ],
  ['DataRow empty', w.dataRow([]), b().i16(0).typed('D')],
  ['CommandComplete', w.commandComplete('SELECT 3'), b().str('SELECT 3').typed('C')],
  ['EmptyQueryResponse', w.emptyQueryResponse, b().typed('I')],
  [
    'ErrorResponse',
    w.errorResponse({
      severity: 'ERROR',
      code: '42601',
      message: 'syntax error',
      detail: 'd',
      hint: 'h',
      position: 8,
    }),
    b()
      .u8(0x53)
      .str('ERROR')
      .u8(0x56)
      .str('ERROR')
      .u8(0x43)
      .str('42601')
      .u8(0x4d)
      .str('syntax error')
      .u8(0x44)
      .str('d')
      .u8(0x48)
      .str('h')
      .u8(0x50)
      .str('8')
      .u8(0)
      .typed('E'),
  ],
  [
    'NoticeResponse',
    w.noticeResponse({
      severity: 'NOTICE',
      code: '00000',
      message: 'm',
      where: 'w',
      schemaName: 's',
      tableName: 't',
      columnName: 'c',
      dataTypeName: 'd',
      constraintName: 'n',
    }),
    b()
      .u8(0x53)
      .str('NOTICE')
      .u8(0x56)
      .str('NOTICE')
      .u8(0x43)
      .str('00000')
      .u8(0x4d)
      .str('m')
      .u8(0x57)
      .str('w')
      .u8(0x73)
      .str('s')
      .u8(0x74)
      .str('t')
      .u8(0x63)
      .str('c')
      .u8(0x64)
      .str('d')
      .u8(0x6e)
      .str('n')
      .u8(0)
      .typed('N'),
  ],
  ['ParseComplete', w.parseComplete, b().typed('1')],
  ['BindComplete', w.bindComplete, b().typed('2')],
  ['CloseComplete', w.closeComplete, b().typed('3')],
  ['NoData', w.noData, b().typed('n')],
  ['PortalSuspended', w.portalSuspended, b().typed('s')],
  [
    'ParameterDescription',
    w.parameterDescription([23, 25, 4294967295]),
    b().i16(3).i32(23).i32(25).i32(-1).typed('t'),
  ],
  ['CopyInResponse', w.copyInResponse(0, [0, 0]), b().u8(0).i16(2).i16(0).i16(0).typed('G')],
  ['CopyOutResponse', w.copyOutResponse(1, [1]), b().u8(1).i16(1).i16(1).typed('H')],
  ['CopyData', w.copyData(Buffer.from('a\tb\n')), b().raw('a\tb\n').typed('d')],
  ['CopyDone', w.copyDone, b().typed('c')],
  [
    'NegotiateProtocolVersion',
    w.negotiateProtocolVersion(0, ['_pq_.x']),
    b().i32(0).i32(1).str('_pq_.x').typed('v'),
  ],
];

t.test('every backend message is written byte for byte as the protocol lays it out', async (t) => {
  for (const [name, actual, expected] of cases) t.same(actual, expected, name);
});

t.test('a NUL inside a string cannot forge extra fields or messages', async (t) => {
  t.same(w.commandComplete('SELECT 1\0Zforged'), b().str('SELECT 1Zforged').typed('C'));
  t.same(
    w.errorResponse({ severity: 'ERROR', code: 'XX000', message: 'a\0Mb' }),
    b()
      .u8(0x53)
      .str('ERROR')
      .u8(0x56)
      .str('ERROR')
      .u8(0x43)
      .str('XX000')
      .u8(0x4d)
      .str('aMb')
      .u8(0)
      .typed('E'),
  );
});

t.test('concatMessages joins messages into one buffer', async (t) => {
  t.same(
    w.concatMessages([w.parseComplete, w.bindComplete]),
    Buffer.concat([w.parseComplete, w.bindComplete]),
  );
});

t.test('node-postgres parses what the writer produces', async (t) => {
  const stream = Readable.from([
    Buffer.concat([
      w.authenticationOk,
      w.parameterStatus('client_encoding', 'UTF8'),
      w.backendKeyData(7, 9),
      w.readyForQuery('I'),
      w.rowDescription([{ name: 'n', typeOid: 23 }]),
      w.dataRow(['1']),
      w.dataRow([null]),
      w.commandComplete('SELECT 2'),
      w.errorResponse({ severity: 'ERROR', code: '42P01', message: 'no such table', position: 15 }),
      w.readyForQuery('E'),
    ]),
  ]);
  const seen: BackendMessage[] = [];
  await pgProtocol.parse(stream, (m) => seen.push(m));
  t.same(
    seen.map((m) => m.name),
    [
      'authenticationOk',
      'parameterStatus',
      'backendKeyData',
      'readyForQuery',
      'rowDescription',
      'dataRow',
      'dataRow',
      'commandComplete',
      'error',
      'readyForQuery',
    ],
  );
  t.match(seen[7], { text: 'SELECT 2' });
  t.match(seen[8], { code: '42P01', message: 'no such table', position: '15', severity: 'ERROR' });
  t.match(seen[5], { fields: ['1'] });
  t.match(seen[6], { fields: [null] });
  t.match(seen[9], { status: 'E' });
});

t.test('allocMessage writes the header for a body of the given length', async (t) => {
  const m = w.allocMessage(0x44, 3);
  t.equal(m.length, 8);
  t.equal(m[0], 0x44);
  t.equal(m.readInt32BE(1), 7);
});
