import t from 'tap';
import { connect } from 'node:net';
import { decodeCommand, decodeExecuteParams } from '../../../protocols/mysql/codec/commands.js';
import { decodeHandshakeResponse } from '../../../protocols/mysql/codec/handshake.js';
import { PacketReader } from '../../../protocols/mysql/codec/packet-reader.js';
import { PacketWriter } from '../../../protocols/mysql/codec/packet-writer.js';
import { MysqlProtocolError } from '../../../protocols/mysql/errors.js';
import { startTinyServer } from './fixtures/tiny-server.js';

/** A small seeded PRNG (mulberry32) so a failure can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const u32 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
const str = (s: string) => [...Buffer.from(s)];

/** Real packets of each kind the server decodes, to mutate. */
const corpus: Buffer[] = [
  Buffer.from([
    ...u32(0x3aa20f),
    ...u32(16777216),
    45,
    ...new Array<number>(23).fill(0),
    ...str('alice'),
    0,
    20,
    ...new Array<number>(20).fill(9),
    ...str('shop'),
    0,
    ...str('mysql_native_password'),
    0,
    16,
    3,
    ...str('_os'),
    5,
    ...str('Linux'),
    3,
    ...str('pid'),
    3,
    ...str('123'),
  ]),
  Buffer.from([...u32(0x3aaa0f), ...u32(16777216), 45, ...new Array<number>(23).fill(0)]),
  Buffer.from([0x03, ...str('SELECT 1')]),
  Buffer.from([0x16, ...str('SELECT ? + ?')]),
  Buffer.from([
    0x17,
    ...u32(1),
    0,
    ...u32(1),
    0,
    1,
    0x08,
    0,
    0xfd,
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    3,
    0x61,
    0x62,
    0x63,
  ]),
  Buffer.from([0x04, ...str('customers'), 0, ...str('%')]),
  Buffer.from([0x19, ...u32(3)]),
  Buffer.from([0x02, ...str('shop')]),
];

function mutate(next: () => number, input: Buffer): Buffer {
  const bytes = [...input];
  const edits = 1 + Math.floor(next() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(next() * (bytes.length + 1));
    const choice = next();
    if (choice < 0.35 && bytes.length > 0) bytes[at % bytes.length] = Math.floor(next() * 256);
    else if (choice < 0.5 && bytes.length > 0) bytes[at % bytes.length] = 0xfb + Math.floor(next() * 5);
    else if (choice < 0.7) bytes.splice(at, Math.floor(next() * 8));
    else if (choice < 0.85) bytes.splice(at, 0, Math.floor(next() * 256));
    else bytes.length = Math.min(bytes.length, at);
  }
  return Buffer.from(bytes);
}

function randomBytes(next: () => number, max: number): Buffer {
  const out = Buffer.alloc(Math.floor(next() * max));
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(next() * 256);
  return out;
}

/** Runs fn; returns the error if it threw one that is not ours. */
function untyped(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof MysqlProtocolError ? undefined : err;
  }
}

function decodeAll(payload: Buffer, next: () => number): unknown {
  return (
    untyped(() => decodeCommand(payload)) ??
    untyped(() => decodeHandshakeResponse(payload)) ??
    untyped(() => decodeExecuteParams(payload, Math.floor(next() * 6), next() < 0.5 ? [0x03, 0xfd] : []))
  );
}

t.test('20k random and mutated inputs produce only typed errors', async (t) => {
  const seed = 0x5eed;
  const next = prng(seed);
  const writer = new PacketWriter();
  let failures = 0;
  let decoded = 0;
  for (let i = 0; i < 20_000 && failures === 0; i++) {
    const mutated = next() < 0.6;
    const payload = mutated
      ? mutate(next, corpus[Math.floor(next() * corpus.length)] as Buffer)
      : randomBytes(next, 120);
    const failure = decodeAll(payload, next);
    if (failure !== undefined) {
      failures++;
      t.fail(`iteration ${i} (seed ${seed}) threw an untyped error: ${String(failure)}`);
    }
    // The same bytes through the reader: framed properly and as a raw stream, in random chunks.
    const stream = next() < 0.5 ? writer.frame(payload) : payload;
    const reader = new PacketReader({ maxPacketSize: 64 });
    const readFailure = untyped(() => {
      let offset = 0;
      while (offset < stream.length) {
        const size = 1 + Math.floor(next() * 16);
        reader.push(stream.subarray(offset, offset + size));
        offset += size;
        for (let packet = reader.next(), guard = 0; packet !== undefined; packet = reader.next(), guard++) {
          if (guard > stream.length) throw new Error('reader loops without consuming input');
          decoded++;
          const inner = decodeAll(packet.payload, next);
          if (inner !== undefined) throw inner;
        }
      }
    });
    if (readFailure !== undefined) {
      failures++;
      t.fail(`iteration ${i} (seed ${seed}) reader failed: ${String(readFailure)}`);
    }
  }
  t.equal(failures, 0, 'no untyped error in 20k iterations');
  t.ok(decoded > 1000, `the reader produced ${decoded} packets to decode`);
});

t.test('a server fed mutated handshakes always closes the connection, never hangs', async (t) => {
  const server = await startTinyServer(t, { handshakeTimeoutMs: 400 });
  const next = prng(0xbeef);
  const writer = new PacketWriter();
  const attempts = 120;
  const outcomes = await Promise.all(
    Array.from({ length: attempts }, () => {
      const payload = mutate(next, corpus[Math.floor(next() * 2)] as Buffer);
      writer.reset(1);
      const bytes = next() < 0.7 ? writer.frame(payload) : payload;
      return new Promise<number>((resolve) => {
        const started = Date.now();
        const socket = connect(server.port, '127.0.0.1');
        socket.once('data', () => socket.write(bytes));
        socket.on('error', () => {});
        socket.once('close', () => resolve(Date.now() - started));
      });
    }),
  );
  t.equal(outcomes.length, attempts);
  t.ok(Math.max(...outcomes) < 6000, `every connection closed (slowest ${Math.max(...outcomes)} ms)`);
  t.ok(
    server.errors.every((e) => e instanceof MysqlProtocolError),
    'the server saw only typed protocol errors',
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(server.sockets.size, 0, 'no socket is left open');
});
