import t from 'tap';
import {
  FrontendReader,
  ProtocolError,
  dataRow,
  dataRowFieldIndex,
  decodeFrontendMessage,
  decodePassword,
  decodeSASLInitialResponse,
  readDataRowFields,
  rebuildDataRow,
} from '../../../protocols/postgres/codec/index.js';

/** mulberry32: a small seeded PRNG, so a failure can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function frame(letter: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = letter.charCodeAt(0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

const startup = (() => {
  const body = Buffer.from('\0\x03\0\0user\0alice\0database\0db\0\0', 'latin1');
  const head = Buffer.alloc(4);
  head.writeInt32BE(body.length + 4);
  return Buffer.concat([head, body]);
})();

const i16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

/** Real frames to mutate: one of each typed message. */
const corpus: Buffer[] = [
  frame('Q', Buffer.from('SELECT 1\0')),
  frame('P', Buffer.concat([Buffer.from('s\0SELECT $1\0'), i16(1), i32(23)])),
  frame(
    'B',
    Buffer.concat([
      Buffer.from('p\0s\0'),
      i16(1),
      i16(0),
      i16(2),
      i32(2),
      Buffer.from('42'),
      i32(-1),
      i16(1),
      i16(1),
    ]),
  ),
  frame('E', Buffer.concat([Buffer.from('p\0'), i32(0)])),
  frame('D', Buffer.from('Ss\0')),
  frame('C', Buffer.from('Pp\0')),
  frame('S', Buffer.alloc(0)),
  frame('H', Buffer.alloc(0)),
  frame('F', Buffer.concat([i32(1598), i16(1), i16(0), i16(1), i32(1), Buffer.from('x'), i16(0)])),
  frame('d', Buffer.from('1\tx\n')),
  frame('c', Buffer.alloc(0)),
  frame('f', Buffer.from('no\0')),
  frame('p', Buffer.from('pw\0')),
];

function mutate(input: Buffer, random: () => number): Buffer {
  const bytes = Buffer.from(input);
  const edits = 1 + Math.floor(random() * 4);
  let out = bytes;
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(random() * Math.max(out.length, 1));
    switch (Math.floor(random() * 5)) {
      case 0: // flip a byte
        if (out.length > 0) out[at] = Math.floor(random() * 256);
        break;
      case 1: // truncate
        out = out.subarray(0, at);
        break;
      case 2: // insert bytes
        out = Buffer.concat([
          out.subarray(0, at),
          Buffer.from([Math.floor(random() * 256), 0]),
          out.subarray(at),
        ]);
        break;
      case 3: // rewrite a length or count with an edge value
        if (out.length >= at + 4)
          out.writeInt32BE([0, -1, -2, 3, 4, 5, 0x7fffffff, 65536][Math.floor(random() * 8)] as number, at);
        break;
      default: // extreme int16 counts
        if (out.length >= at + 2)
          out.writeInt16BE([0, -1, 1, 0x7fff][Math.floor(random() * 4)] as number, at);
    }
  }
  return out;
}

/** Feeds `input` in random chunks; returns how the run ended. Fails the test on any non-ProtocolError. */
function run(input: Buffer, random: () => number, typed: boolean): 'ok' | 'protocol-error' {
  const reader = new FrontendReader({ maxMessageBody: 4096, initialCapacity: 16 });
  if (typed) {
    reader.push(startup);
    reader.next();
  }
  try {
    let offset = 0;
    while (offset < input.length) {
      const size = 1 + Math.floor(random() * 40);
      reader.push(Buffer.from(input.subarray(offset, offset + size)));
      offset += size;
      // Each frame is at least 4 bytes, so more calls than bytes would mean a loop that does not advance.
      for (let guard = 0; ; guard++) {
        if (guard > input.length + 1) throw new Error('reader does not advance');
        const f = reader.next();
        if (f === undefined) break;
        const message = decodeFrontendMessage(f);
        if (message.name === 'AuthenticationResponse') {
          for (const decode of [decodePassword, decodeSASLInitialResponse]) {
            try {
              decode(message.data);
            } catch (error) {
              if (!(error instanceof ProtocolError)) throw error;
            }
          }
        }
      }
    }
    return 'ok';
  } catch (error) {
    if (error instanceof ProtocolError) return 'protocol-error';
    throw error;
  }
}

t.test(
  '20,000 random and mutated inputs: the reader only ever throws ProtocolError and always advances',
  async (t) => {
    const random = prng(0x5eed);
    const outcomes = { ok: 0, 'protocol-error': 0 };
    for (let i = 0; i < 20_000; i++) {
      let input: Buffer;
      const typed = random() < 0.8;
      if (i % 2 === 0) {
        input = Buffer.from(
          Array.from({ length: Math.floor(random() * 120) }, () => Math.floor(random() * 256)),
        );
      } else {
        const picks = 1 + Math.floor(random() * 3);
        const frames = Array.from(
          { length: picks },
          () => corpus[Math.floor(random() * corpus.length)] as Buffer,
        );
        input = mutate(Buffer.concat(typed ? frames : [startup, ...frames]), random);
      }
      outcomes[run(input, random, typed)]++;
    }
    t.ok(outcomes.ok > 1000, `some inputs were accepted (${outcomes.ok})`);
    t.ok(outcomes['protocol-error'] > 1000, `some inputs were refused (${outcomes['protocol-error']})`);
  },
);

t.test(
  '5,000 mutated DataRows: field access only ever throws ProtocolError and stays in bounds',
  async (t) => {
    const random = prng(42);
    const base = dataRow(['1', 'alice@example.com', null, '', '4111 1111 1111 1111']).subarray(5);
    const fields = dataRowFieldIndex(8);
    let accepted = 0;
    for (let i = 0; i < 5_000; i++) {
      const body = mutate(Buffer.from(base), random);
      try {
        const count = readDataRowFields(body, fields);
        for (let f = 0; f < count; f++) {
          const offset = fields[2 * f] as number;
          const length = fields[2 * f + 1] as number;
          if (offset < 0 || offset + Math.max(length, 0) > body.length)
            throw new Error('field out of bounds');
        }
        const rebuilt = rebuildDataRow(body, fields, count, ['x']);
        if (rebuilt.readInt32BE(1) !== rebuilt.length - 1) throw new Error('rebuilt length is wrong');
        accepted++;
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
      }
    }
    t.ok(accepted > 0, `some rows were accepted (${accepted})`);
  },
);
