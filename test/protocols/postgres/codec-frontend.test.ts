import t from 'tap';
import type { Test } from 'tap';
import {
  FrontendReader,
  ProtocolError,
  StartupCode,
  decodeFrontendMessage,
  decodePassword,
  decodeSASLInitialResponse,
} from '../../../protocols/postgres/codec/index.js';
import type { FrontendFrame, FrontendMessage } from '../../../protocols/postgres/codec/index.js';

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
    for (const b of Buffer.from(s, 'utf8')) this.u8(b);
    return this.u8(0);
  }
  raw(b: Buffer | number[]): this {
    for (const x of b) this.u8(x);
    return this;
  }
  /** A typed message: type letter, length (self included), body. */
  typed(letter: string): Buffer {
    const body = Buffer.from(this.out);
    const head = Buffer.alloc(5);
    head[0] = letter.charCodeAt(0);
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  }
  /** An untyped startup packet: length (self included), body. */
  startup(): Buffer {
    const body = Buffer.from(this.out);
    const head = Buffer.alloc(4);
    head.writeInt32BE(body.length + 4, 0);
    return Buffer.concat([head, body]);
  }
}
const b = (): Bytes => new Bytes();

const startupBytes = b()
  .i32(196608)
  .str('user')
  .str('alice')
  .str('database')
  .str('orders')
  .str('application_name')
  .str('psql')
  .u8(0)
  .startup();

interface Case {
  name: string;
  bytes: Buffer;
  expected: FrontendMessage;
}

const typedCases: Case[] = [
  {
    name: 'Query',
    bytes: b().str('SELECT 1; SELECT é').typed('Q'),
    expected: { name: 'Query', sql: 'SELECT 1; SELECT é' },
  },
  {
    name: 'Parse',
    bytes: b().str('s1').str('SELECT $1::int, $2').i16(2).i32(23).i32(0).typed('P'),
    expected: { name: 'Parse', statement: 's1', sql: 'SELECT $1::int, $2', paramTypes: [23, 0] },
  },
  {
    name: 'Bind',
    bytes: b()
      .str('p1')
      .str('s1')
      .i16(2)
      .i16(0)
      .i16(1)
      .i16(3)
      .i32(2)
      .raw(Buffer.from('42'))
      .i32(-1)
      .i32(0)
      .i16(1)
      .i16(1)
      .typed('B'),
    expected: {
      name: 'Bind',
      portal: 'p1',
      statement: 's1',
      paramFormats: [0, 1],
      params: [Buffer.from('42'), null, Buffer.alloc(0)],
      resultFormats: [1],
    },
  },
  {
    name: 'Execute',
    bytes: b().str('p1').i32(100).typed('E'),
    expected: { name: 'Execute', portal: 'p1', maxRows: 100 },
  },
  {
    name: 'Describe statement',
    bytes: b().u8(0x53).str('s1').typed('D'),
    expected: { name: 'Describe', target: 'S', statementOrPortal: 's1' },
  },
  {
    name: 'Describe portal',
    bytes: b().u8(0x50).str('').typed('D'),
    expected: { name: 'Describe', target: 'P', statementOrPortal: '' },
  },
  {
    name: 'Close',
    bytes: b().u8(0x53).str('s1').typed('C'),
    expected: { name: 'Close', target: 'S', statementOrPortal: 's1' },
  },
  { name: 'Sync', bytes: b().typed('S'), expected: { name: 'Sync' } },
  { name: 'Flush', bytes: b().typed('H'), expected: { name: 'Flush' } },
  { name: 'Terminate', bytes: b().typed('X'), expected: { name: 'Terminate' } },
  {
    name: 'FunctionCall',
    bytes: b().i32(1598).i16(1).i16(0).i16(1).i32(3).raw(Buffer.from('abc')).i16(0).typed('F'),
    expected: {
      name: 'FunctionCall',
      functionOid: 1598,
      argFormats: [0],
      args: [Buffer.from('abc')],
      resultFormat: 0,
    },
  },
  {
    name: 'CopyData',
    bytes: b().raw(Buffer.from('1\tx\n')).typed('d'),
    expected: { name: 'CopyData', data: Buffer.from('1\tx\n') },
  },
  { name: 'CopyDone', bytes: b().typed('c'), expected: { name: 'CopyDone' } },
  {
    name: 'CopyFail',
    bytes: b().str('aborted').typed('f'),
    expected: { name: 'CopyFail', message: 'aborted' },
  },
  {
    name: 'password',
    bytes: b().str('s3cret').typed('p'),
    expected: { name: 'AuthenticationResponse', data: Buffer.from('s3cret\0') },
  },
];

const startupCases: Case[] = [
  {
    name: 'StartupMessage',
    bytes: startupBytes,
    expected: {
      name: 'StartupMessage',
      protocolMajor: 3,
      protocolMinor: 0,
      parameters: new Map([
        ['user', 'alice'],
        ['database', 'orders'],
        ['application_name', 'psql'],
      ]),
    },
  },
  { name: 'SSLRequest', bytes: b().i32(80877103).startup(), expected: { name: 'SSLRequest' } },
  { name: 'GSSENCRequest', bytes: b().i32(80877104).startup(), expected: { name: 'GSSENCRequest' } },
  {
    name: 'CancelRequest',
    bytes: b().i32(80877102).i32(4242).i32(-559038737).startup(),
    expected: { name: 'CancelRequest', processId: 4242, secretKey: 0xdeadbeef },
  },
];

function typedReader(): FrontendReader {
  const reader = new FrontendReader();
  reader.push(startupBytes);
  reader.next();
  return reader;
}

function drain(reader: FrontendReader): FrontendFrame[] {
  const frames: FrontendFrame[] = [];
  for (let f = reader.next(); f; f = reader.next()) frames.push(f);
  return frames;
}

t.test('every frontend message decodes from bytes split at every offset', async (t) => {
  for (const c of [...typedCases, ...startupCases]) {
    const startup = startupCases.includes(c);
    for (let cut = 0; cut <= c.bytes.length; cut++) {
      const reader = startup ? new FrontendReader() : typedReader();
      reader.push(Buffer.from(c.bytes.subarray(0, cut)));
      const frames = drain(reader);
      reader.push(Buffer.from(c.bytes.subarray(cut)));
      frames.push(...drain(reader));
      t.equal(frames.length, 1, `${c.name} cut at ${cut}: one frame`);
      const frame = frames[0] as FrontendFrame;
      t.same(frame.raw, c.bytes, `${c.name} cut at ${cut}: raw bytes`);
      t.strictSame(decodeFrontendMessage(frame), c.expected, `${c.name} cut at ${cut}: decoded`);
      t.equal(reader.bufferedBytes, 0);
    }
  }
});

t.test('a pipelined stream keeps its order when fed one byte at a time', async (t) => {
  const stream = Buffer.concat([startupBytes, ...typedCases.map((c) => c.bytes)]);
  const reader = new FrontendReader({ initialCapacity: 16 });
  const names: string[] = [];
  for (const byte of stream) {
    reader.push(Buffer.from([byte]));
    for (const f of drain(reader)) names.push(decodeFrontendMessage(f).name);
  }
  t.same(names, ['StartupMessage', ...typedCases.map((c) => c.expected.name)]);
});

t.test('frames keep their bytes after later chunks are read (safe to write to a socket as is)', async (t) => {
  const stream = Buffer.concat(typedCases.map((c) => c.bytes));
  const reader = typedReader();
  const frames: FrontendFrame[] = [];
  for (let i = 0; i < stream.length; i += 7) {
    reader.push(Buffer.from(stream.subarray(i, i + 7)));
    frames.push(...drain(reader));
  }
  t.same(
    frames.map((f) => f.raw),
    typedCases.map((c) => c.bytes),
  );
});

t.test('a frame whole inside a chunk is a view of that chunk, not a copy', async (t) => {
  const reader = typedReader();
  const chunk = Buffer.concat([typedCases[0]!.bytes, typedCases[1]!.bytes]);
  reader.push(chunk);
  const [first, second] = drain(reader);
  t.equal(first?.raw.buffer, chunk.buffer);
  t.equal(second?.raw.byteOffset, chunk.byteOffset + typedCases[0]!.bytes.length);
});

t.test('the phase leaves startup only with a StartupMessage', async (t) => {
  const reader = new FrontendReader();
  reader.push(b().i32(80877103).startup());
  t.equal(reader.next()?.type, StartupCode.SSLRequest);
  t.equal(reader.phase, 'startup');
  reader.push(b().i32(80877104).startup());
  t.equal(reader.next()?.type, StartupCode.GSSENCRequest);
  t.equal(reader.phase, 'startup');
  reader.push(startupBytes);
  t.equal(reader.next()?.type, StartupCode.StartupMessage);
  t.equal(reader.phase, 'typed');
});

t.test('a protocol 3.x minor version is read as a StartupMessage with its minor', async (t) => {
  const reader = new FrontendReader();
  reader.push(b().i32(0x30002).str('user').str('bob').str('_pq_.x').str('1').u8(0).startup());
  const frame = reader.next() as FrontendFrame;
  t.equal(frame.type, StartupCode.StartupMessage);
  const message = decodeFrontendMessage(frame);
  t.match(message, { name: 'StartupMessage', protocolMajor: 3, protocolMinor: 2 });
});

function rejects(t: Test, bytes: Buffer, code: string, sqlState: string, typed = true): void {
  const reader = typed ? typedReader() : new FrontendReader();
  reader.push(bytes);
  t.throws(() => decodeFrontendMessage(reader.next() as FrontendFrame), {
    name: 'ProtocolError',
    code,
    sqlState,
  });
}

t.test('an oversized startup packet is refused from its length field alone, buffering nothing', async (t) => {
  const reader = new FrontendReader({ initialCapacity: 64 });
  reader.push(Buffer.from([0x00, 0x00]));
  t.equal(reader.next(), undefined);
  reader.push(Buffer.from([0x27, 0x11])); // 10001
  t.throws(() => reader.next(), { code: 'ERR_PG_STARTUP_LENGTH', sqlState: '08P01' });
  t.equal(reader.capacity, 64, 'the buffer did not grow');
});

t.test('an oversized message is refused from its header, before its body is buffered', async (t) => {
  const reader = new FrontendReader({ maxMessageBody: 1000, initialCapacity: 64 });
  reader.push(startupBytes);
  reader.next();
  const header = Buffer.from([0x51, 0x00, 0x0f, 0x42, 0x44]); // Q, 1,000,004
  reader.push(header.subarray(0, 3));
  t.equal(reader.next(), undefined);
  reader.push(header.subarray(3));
  const error = t.throws(() => reader.next(), { code: 'ERR_PG_MESSAGE_TOO_LARGE', sqlState: '54000' });
  t.ok(error instanceof ProtocolError);
  t.equal(reader.capacity, 64, 'the buffer did not grow');

  const capped = new FrontendReader({ maxMessageBody: 1000 });
  capped.push(startupBytes);
  capped.next();
  capped.push(b().str('x'.repeat(1001)).typed('Q'));
  t.throws(() => capped.next(), { code: 'ERR_PG_MESSAGE_TOO_LARGE' });
});

t.test('messages without user payload are capped at 10,000 bytes whatever the general cap', async (t) => {
  const reader = typedReader();
  reader.push(Buffer.from([0x53, 0x00, 0x00, 0x27, 0x15])); // Sync announcing 10,001 bytes of body
  t.throws(() => reader.next(), { code: 'ERR_PG_MESSAGE_TOO_LARGE' });
});

t.test('a large message split into small chunks is assembled in a geometrically grown buffer', async (t) => {
  const sql = 'SELECT ' + 'x'.repeat(100_000);
  const bytes = b().str(sql).typed('Q');
  const reader = typedReader();
  const start = reader.capacity;
  let frame: FrontendFrame | undefined;
  for (let i = 0; i < bytes.length; i += 1000) {
    reader.push(Buffer.from(bytes.subarray(i, i + 1000)));
    frame = reader.next() ?? frame;
  }
  t.match(decodeFrontendMessage(frame as FrontendFrame), { name: 'Query', sql });
  t.ok(reader.capacity >= bytes.length && reader.capacity <= Math.max(bytes.length, start * 2 ** 6));
});

t.test('bad framing gives typed errors', async (t) => {
  const unknown = typedReader();
  unknown.push(b().typed('Z'));
  t.throws(() => unknown.next(), { code: 'ERR_PG_UNKNOWN_MESSAGE', sqlState: '08P01' });

  const short = typedReader();
  short.push(Buffer.from([0x51, 0, 0, 0, 3]));
  t.throws(() => short.next(), { code: 'ERR_PG_BAD_LENGTH', sqlState: '08P01' });

  const negative = typedReader();
  negative.push(Buffer.from([0x51, 0xff, 0xff, 0xff, 0xff]));
  t.throws(() => negative.next(), { code: 'ERR_PG_BAD_LENGTH' });

  const tinyStartup = new FrontendReader();
  tinyStartup.push(Buffer.from([0, 0, 0, 4]));
  t.throws(() => tinyStartup.next(), { code: 'ERR_PG_STARTUP_LENGTH' });

  const v2 = new FrontendReader();
  v2.push(b().i32(0x20000).str('user').str('x').u8(0).startup());
  t.throws(() => v2.next(), { code: 'ERR_PG_UNSUPPORTED_PROTOCOL', sqlState: '0A000' });
});

t.test('malformed fields give typed errors, never out-of-bounds reads', async (t) => {
  const m = 'ERR_PG_MALFORMED';
  rejects(t, b().raw(Buffer.from('SELECT 1')).typed('Q'), m, '08P01');
  rejects(t, b().str('SELECT 1').u8(1).typed('Q'), m, '08P01');
  rejects(t, b().str('s').str('q').i16(-1).typed('P'), m, '08P01');
  rejects(t, b().str('s').str('q').i16(3).i32(23).typed('P'), m, '08P01');
  rejects(t, b().str('').str('').i16(0).i16(3).i32(2).raw([0x31, 0x32]).typed('B'), m, '08P01');
  rejects(t, b().str('').str('').i16(0).i16(1).i32(-2).i16(0).typed('B'), m, '08P01');
  rejects(t, b().str('').str('').i16(0).i16(1).i32(1000).raw([1]).i16(0).typed('B'), m, '08P01');
  rejects(t, b().str('').str('').i16(1).i16(7).i16(0).i16(0).typed('B'), m, '08P01');
  rejects(t, b().str('p').typed('E'), m, '08P01');
  rejects(t, b().u8(0x58).str('s').typed('D'), m, '08P01');
  rejects(t, b().u8(0x53).typed('C'), m, '08P01');
  rejects(t, b().u8(0).typed('S'), m, '08P01');
  rejects(t, b().i32(1).i16(0).i16(0).typed('F'), m, '08P01');
  rejects(t, b().raw(Buffer.from('no end')).typed('f'), m, '08P01');
  rejects(t, b().i32(196608).str('user').str('a').startup(), m, '08P01', false);
  rejects(t, b().i32(80877102).i32(1).startup(), m, '08P01', false);
  rejects(t, b().i32(80877103).i32(0).startup(), m, '08P01', false);
});

t.test('password and SASL responses decode on demand', async (t) => {
  t.equal(decodePassword(Buffer.from('pw\0')), 'pw');
  t.throws(() => decodePassword(Buffer.from('pw')), { code: 'ERR_PG_MALFORMED' });
  const initial = b().str('SCRAM-SHA-256').i32(3).raw(Buffer.from('n,,')).startup().subarray(4);
  t.strictSame(decodeSASLInitialResponse(initial), {
    mechanism: 'SCRAM-SHA-256',
    response: Buffer.from('n,,'),
  });
  const none = b().str('SCRAM-SHA-256').i32(-1).startup().subarray(4);
  t.strictSame(decodeSASLInitialResponse(none), { mechanism: 'SCRAM-SHA-256', response: null });
  const bad = b().str('SCRAM-SHA-256').i32(-5).startup().subarray(4);
  t.throws(() => decodeSASLInitialResponse(bad), { code: 'ERR_PG_MALFORMED' });
});

t.test('a frame with an unknown type cannot be decoded', async (t) => {
  t.throws(() => decodeFrontendMessage({ type: 0x7a, body: Buffer.alloc(0), raw: Buffer.alloc(5) }), {
    code: 'ERR_PG_UNKNOWN_MESSAGE',
  });
});

t.test('a restricted reader refuses other message types from the header alone', async (t) => {
  const reader = typedReader();
  reader.restrictTypes([0x70]);
  reader.push(b().str('pw').typed('p'));
  t.match(decodeFrontendMessage(reader.next() as FrontendFrame), { name: 'AuthenticationResponse' });
  reader.push(Buffer.from([0x51, 0x00, 0x10, 0x00, 0x00])); // Q announcing 1 MiB
  t.throws(() => reader.next(), { code: 'ERR_PG_UNEXPECTED_MESSAGE', sqlState: '08P01' });
  const open = typedReader();
  open.restrictTypes([0x70]);
  open.restrictTypes(undefined);
  open.push(b().str('SELECT 1').typed('Q'));
  t.match(decodeFrontendMessage(open.next() as FrontendFrame), { name: 'Query' });
});

t.test('a startup parameter given twice takes its last value, as Postgres does', async (t) => {
  const reader = new FrontendReader();
  reader.push(
    b()
      .i32(196608)
      .str('user')
      .str('bob')
      .str('application_name')
      .str('first')
      .str('database')
      .str('a')
      .str('application_name')
      .str('second')
      .str('database')
      .str('b')
      .u8(0)
      .startup(),
  );
  const message = decodeFrontendMessage(reader.next() as FrontendFrame);
  t.match(message, { name: 'StartupMessage' });
  const parameters = (message as unknown as { parameters: Map<string, string> }).parameters;
  t.equal(parameters.get('application_name'), 'second');
  t.equal(parameters.get('database'), 'b');
  t.equal(parameters.size, 3);
});
