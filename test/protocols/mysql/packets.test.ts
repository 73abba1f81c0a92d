import t from 'tap';
import {
  PacketReader,
  MAX_FRAGMENT,
  type MysqlPacket,
} from '../../../protocols/mysql/codec/packet-reader.js';
import { PacketWriter } from '../../../protocols/mysql/codec/packet-writer.js';
import { MysqlProtocolError } from '../../../protocols/mysql/errors.js';

/** Frames a payload by hand, independently of PacketWriter. */
function frame(payload: Buffer, sequenceId: number): Buffer {
  const header = Buffer.from([
    payload.length & 0xff,
    (payload.length >> 8) & 0xff,
    (payload.length >> 16) & 0xff,
    sequenceId,
  ]);
  return Buffer.concat([header, payload]);
}

function drain(reader: PacketReader): MysqlPacket[] {
  const out: MysqlPacket[] = [];
  for (let p = reader.next(); p !== undefined; p = reader.next()) out.push(p);
  return out;
}

const payloads = [
  Buffer.from([0x03, ...Buffer.from('SELECT 1')]),
  Buffer.alloc(0),
  Buffer.from([0x0e]),
  Buffer.alloc(300, 0x61),
];
const stream = Buffer.concat(payloads.map((p, i) => frame(p, i)));
const expected = payloads.map((p, i) => ({ sequenceId: i, payload: p }));

t.test('packets split at every byte offset decode the same', async (t) => {
  for (let cut = 0; cut <= stream.length; cut++) {
    const reader = new PacketReader({ maxPacketSize: 1024 });
    reader.push(stream.subarray(0, cut));
    const got = drain(reader);
    reader.push(stream.subarray(cut));
    got.push(...drain(reader));
    if (!t.same(got, expected, `cut at ${cut}`)) break;
    t.equal(reader.buffered, 0);
  }
});

t.test('packets fed one byte at a time decode the same, and payloads stay valid', async (t) => {
  const reader = new PacketReader({ maxPacketSize: 1024 });
  const got: MysqlPacket[] = [];
  for (const byte of stream) {
    reader.push(Buffer.from([byte]));
    got.push(...drain(reader));
  }
  t.same(got, expected);
});

t.test('a packet announcing more than the cap is refused before its body is buffered', async (t) => {
  const reader = new PacketReader({ maxPacketSize: 1000 });
  const header = Buffer.from([0xe9, 0x03, 0x00, 0x00]); // 1001 bytes announced
  const err = t.throws(() => reader.push(header)) as MysqlProtocolError;
  t.ok(err instanceof MysqlProtocolError);
  t.equal(err.code, 'ERR_PACKET_TOO_LARGE');
  t.ok(reader.buffered <= 4, 'only the header was ever held');

  // The cap also covers a header that arrives behind a complete packet in the same chunk.
  const second = new PacketReader({ maxPacketSize: 1000 });
  second.push(Buffer.concat([frame(Buffer.from([0x0e]), 0), Buffer.from([0xff, 0xff, 0xff, 0x00])]));
  t.same(second.next(), { sequenceId: 0, payload: Buffer.from([0x0e]) });
  t.throws(() => second.next(), { code: 'ERR_PACKET_TOO_LARGE' });

  const exact = new PacketReader({ maxPacketSize: 1000 });
  exact.push(frame(Buffer.alloc(1000, 1), 3));
  t.equal(exact.next()?.payload.length, 1000, 'a packet at the cap is accepted');
});

t.test('a payload of 16 MiB or more is joined across fragments, in any chunking', async (t) => {
  const big = Buffer.alloc(MAX_FRAGMENT + 10);
  for (let i = 0; i < big.length; i += 4093) big[i] = i & 0xff;
  const bytes = Buffer.concat([
    frame(big.subarray(0, MAX_FRAGMENT), 5),
    frame(big.subarray(MAX_FRAGMENT), 6),
    frame(Buffer.from([0x01]), 7),
  ]);
  for (const chunkSize of [65536, 1_000_003, bytes.length]) {
    const reader = new PacketReader({ maxPacketSize: 32 * 1024 * 1024 });
    const got: MysqlPacket[] = [];
    for (let i = 0; i < bytes.length; i += chunkSize) {
      reader.push(bytes.subarray(i, i + chunkSize));
      got.push(...drain(reader));
    }
    t.equal(got.length, 2, `chunks of ${chunkSize}`);
    t.equal(got[0]?.sequenceId, 6, 'the last fragment gives the sequence id');
    t.ok(got[0]?.payload.equals(big), 'the payload is joined exactly');
    t.same(got[1], { sequenceId: 7, payload: Buffer.from([0x01]) });
  }
  // The cap counts the whole joined payload, not each fragment.
  const capped = new PacketReader({ maxPacketSize: MAX_FRAGMENT + 5 });
  capped.push(frame(big.subarray(0, MAX_FRAGMENT), 0));
  t.equal(capped.next(), undefined);
  t.throws(() => capped.push(frame(big.subarray(MAX_FRAGMENT), 1)), { code: 'ERR_PACKET_TOO_LARGE' });
});

t.test('a fragment with the wrong sequence id is a typed error', async (t) => {
  const reader = new PacketReader({ maxPacketSize: 64 * 1024 * 1024 });
  reader.push(frame(Buffer.alloc(MAX_FRAGMENT), 0));
  reader.push(frame(Buffer.from([1]), 9));
  t.throws(() => reader.next(), { code: 'ERR_PACKET_SEQUENCE' });
});

t.test('takeUnread hands back what follows the last packet and empties the reader', async (t) => {
  const reader = new PacketReader({ maxPacketSize: 1024 });
  reader.push(Buffer.concat([frame(Buffer.from([1]), 1), Buffer.from([0x16, 0x03, 0x01])]));
  t.same(reader.next(), { sequenceId: 1, payload: Buffer.from([1]) });
  t.same(reader.takeUnread(), Buffer.from([0x16, 0x03, 0x01]));
  t.equal(reader.buffered, 0);
  const split = new PacketReader({ maxPacketSize: 64 * 1024 * 1024 });
  split.push(frame(Buffer.alloc(MAX_FRAGMENT), 0));
  split.next();
  t.throws(() => split.takeUnread(), { code: 'ERR_PACKET_MALFORMED' });
});

t.test('the writer numbers packets and splits large payloads as the reader expects', async (t) => {
  const writer = new PacketWriter();
  writer.reset(3);
  t.same(writer.frame(Buffer.from('ab')), Buffer.from([2, 0, 0, 3, 0x61, 0x62]));
  t.same(writer.frameAll([Buffer.alloc(0), Buffer.from([7])]), Buffer.from([0, 0, 0, 4, 1, 0, 0, 5, 7]));
  writer.reset(255);
  t.same(writer.frame(Buffer.alloc(0)), Buffer.from([0, 0, 0, 255]));
  t.equal(writer.sequenceId, 0, 'sequence ids wrap at 256');

  // Exactly MAX_FRAGMENT bytes must be followed by an empty packet.
  const exact = Buffer.alloc(MAX_FRAGMENT, 0x42);
  writer.reset(0);
  const framed = writer.frame(exact);
  t.equal(framed.length, MAX_FRAGMENT + 8);
  t.same(framed.subarray(MAX_FRAGMENT + 4), Buffer.from([0, 0, 0, 1]));
  const reader = new PacketReader({ maxPacketSize: 32 * 1024 * 1024 });
  reader.push(framed);
  const packet = reader.next();
  t.equal(packet?.sequenceId, 1);
  t.ok(packet?.payload.equals(exact));
});
