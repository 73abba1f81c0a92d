import t from 'tap';
import { FrameReader } from '../../../protocols/postgres/client/frame-reader.js';
import { dataRowFields, dataRowText } from '../../../protocols/postgres/client/data-row.js';
import { PgClientError } from '../../../protocols/postgres/client/errors.js';
import { toWireParam } from '../../../protocols/postgres/client/params.js';
import { rowCountOf } from '../../../protocols/postgres/client/query-run.js';

/** Builds a backend message independently of the code under test. */
function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function dataRow(values: (string | null)[]): Buffer {
  const parts: Buffer[] = [Buffer.from([values.length >> 8, values.length & 0xff])];
  for (const v of values) {
    const len = Buffer.alloc(4);
    if (v === null) {
      len.writeInt32BE(-1);
      parts.push(len);
    } else {
      const bytes = Buffer.from(v, 'utf8');
      len.writeInt32BE(bytes.length);
      parts.push(len, bytes);
    }
  }
  return message('D', Buffer.concat(parts));
}

t.test('frames split at every byte offset come out whole and in order', async (t) => {
  const stream = Buffer.concat([
    dataRow(['1', 'héllo', null]),
    message('C', Buffer.from('SELECT 1\0')),
    dataRow(['x'.repeat(300)]),
    message('Z', Buffer.from('I')),
  ]);
  for (let cut = 0; cut <= stream.length; cut++) {
    for (const step of [1, 7]) {
      const reader = new FrameReader(1 << 20);
      const out: Buffer[] = [];
      const pieces = [stream.subarray(0, cut)];
      for (let at = cut; at < stream.length; at += step)
        pieces.push(stream.subarray(at, Math.min(at + step, stream.length)));
      for (const piece of pieces) {
        reader.push(piece);
        for (let f = reader.next(); f; f = reader.next()) out.push(Buffer.from(f));
      }
      if (!Buffer.concat(out).equals(stream) || out.length !== 4) {
        t.fail(`split at ${cut} step ${step} gave ${out.length} frames`);
        return;
      }
    }
  }
  t.pass('every split reassembles to the same four frames');
});

t.test('a handed-out frame keeps its bytes when later chunks arrive', async (t) => {
  const reader = new FrameReader(1 << 20);
  const first = dataRow(['keep me']);
  const big = dataRow(['y'.repeat(10_000)]);
  reader.push(Buffer.concat([first, big.subarray(0, 100)]));
  const frame = reader.next() as Buffer;
  t.equal(reader.next(), undefined);
  t.ok(reader.buffered > 0);
  reader.push(big.subarray(100, 5000));
  reader.push(Buffer.concat([big.subarray(5000), first]));
  t.same(dataRowText(frame), ['keep me']);
  t.same(dataRowText(reader.next() as Buffer), ['y'.repeat(10_000)]);
  t.same(dataRowText(reader.next() as Buffer), ['keep me']);
  t.equal(reader.next(), undefined);
  t.equal(reader.buffered, 0);
});

t.test('a frame over the size cap or under the minimum length is refused before buffering', async (t) => {
  const reader = new FrameReader(64);
  reader.push(Buffer.from([0x44, 0, 0, 1, 0]));
  t.throws(() => reader.next(), { code: 'ERR_PG_PROTOCOL' });
  const tiny = new FrameReader(64);
  tiny.push(Buffer.from([0x44, 0, 0, 0, 3]));
  t.throws(() => tiny.next(), PgClientError);
});

t.test('DataRow fields are read as text or as byte views; a lying length is refused', async (t) => {
  const frame = dataRow(['a', null, 'ü']);
  t.same(dataRowText(frame), ['a', null, 'ü']);
  t.same(
    dataRowFields(frame).map((f) => (f === null ? null : f.toString('utf8'))),
    ['a', null, 'ü'],
  );
  const lying = Buffer.from(frame);
  lying.writeInt32BE(1000, 7);
  t.throws(() => dataRowText(lying), { code: 'ERR_PG_PROTOCOL' });
  t.throws(() => dataRowFields(lying), { code: 'ERR_PG_PROTOCOL' });
  const short = frame.subarray(0, 9);
  t.throws(() => dataRowText(short), { code: 'ERR_PG_PROTOCOL' });
});

t.test('parameters get their text form; bytes stay binary', async (t) => {
  t.equal(toWireParam(null, 0), null);
  t.equal(toWireParam(undefined, 0), null);
  t.equal(toWireParam(12n, 0), '12');
  t.equal(toWireParam(false, 0), 'false');
  t.equal(toWireParam(new Date('2024-01-02T03:04:05Z'), 0), '2024-01-02T03:04:05.000Z');
  t.same(toWireParam(new Uint8Array([1, 2]), 0), Buffer.from([1, 2]));
  t.equal(toWireParam({ a: 1 }, 0), '{"a":1}');
  t.equal(toWireParam([['a"b', null], [Buffer.from([255])]], 0), '{{"a\\"b",NULL},{"\\\\xff"}}');
  t.throws(() => toWireParam(Symbol('x'), 2), { code: 'ERR_PG_PARAMETER', message: /\$3/ });
});

t.test('row counts come from the last number of the command tag', async (t) => {
  t.equal(rowCountOf('INSERT 0 5'), 5);
  t.equal(rowCountOf('SELECT 12'), 12);
  t.equal(rowCountOf('CREATE TABLE'), 0);
});
