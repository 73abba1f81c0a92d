import t from 'tap';
import {
  dataRow,
  dataRowFieldIndex,
  readDataRowFields,
  rebuildDataRow,
  rebuiltDataRowLength,
  writeRebuiltDataRow,
} from '../../../protocols/postgres/codec/index.js';
import type { FieldReplacement } from '../../../protocols/postgres/codec/index.js';

/** A DataRow written by hand (not by the codec): full message and its body. */
function row(values: (string | null)[]): { message: Buffer; body: Buffer } {
  const parts: Buffer[] = [];
  const count = Buffer.alloc(2);
  count.writeInt16BE(values.length);
  parts.push(count);
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
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head[0] = 0x44;
  head.writeInt32BE(body.length + 4, 1);
  return { message: Buffer.concat([head, body]), body };
}

t.test('field offsets and lengths point at each value without copying', async (t) => {
  const values = ['1', 'alice@example.com', null, '', 'zoë'];
  const { body } = row(values);
  const fields = dataRowFieldIndex(8);
  const count = readDataRowFields(body, fields);
  t.equal(count, 5);
  for (const [i, v] of values.entries()) {
    const offset = fields[2 * i] as number;
    const length = fields[2 * i + 1] as number;
    if (v === null) t.equal(length, -1, `field ${i} is NULL`);
    else t.equal(body.toString('utf8', offset, offset + length), v, `field ${i}`);
  }
});

t.test('a row rebuilt with some fields replaced equals the row written with those values', async (t) => {
  const original = ['1', 'alice@example.com', null, '', 'zoë', '123-45-6789'];
  const { body } = row(original);
  const fields = dataRowFieldIndex(original.length);
  const count = readDataRowFields(body, fields);
  const variants: FieldReplacement[][] = [
    [],
    [undefined, 'a***@example.com'],
    ['x', undefined, 'now set', null, undefined, Buffer.from('***-**-****')],
    [null, null, null, null, null, null],
    [undefined, undefined, undefined, undefined, undefined, ''],
    ['', '', '', '', '', ''],
  ];
  for (const replacements of variants) {
    const expected = original.map((v, i) => {
      const r = replacements[i];
      return r === undefined ? v : r === null ? null : r.toString();
    });
    t.same(
      rebuildDataRow(body, fields, count, replacements),
      row(expected).message,
      JSON.stringify(expected),
    );
  }
});

t.test('the writer and the rebuild agree', async (t) => {
  const message = dataRow(['a', null, 'c']);
  const body = message.subarray(5);
  const fields = dataRowFieldIndex(3);
  const count = readDataRowFields(body, fields);
  t.same(rebuildDataRow(body, fields, count, []), message);
  t.same(rebuildDataRow(body, fields, count, [undefined, 'b']), dataRow(['a', 'b', 'c']));
});

t.test('a malformed DataRow gives a typed error', async (t) => {
  const fields = dataRowFieldIndex(2);
  const bad = [
    Buffer.from([0]),
    Buffer.from([0xff, 0xff]),
    Buffer.from([0, 1, 0, 0, 0, 5, 0x61]),
    Buffer.from([0, 1, 0, 0]),
    Buffer.from([0, 1, 0xff, 0xff, 0xff, 0xfe]),
    Buffer.from([0, 1, 0, 0, 0, 1, 0x61, 0x62]),
    row(['a', 'b', 'c']).body,
  ];
  for (const body of bad)
    t.throws(() => readDataRowFields(body, fields), { code: 'ERR_PG_MALFORMED', sqlState: '08P01' });
});

t.test('rows rebuilt into one reserved output buffer equal rows rebuilt one by one', async (t) => {
  const rows = [row(['1', 'a@x.io', null]), row(['2', 'bb@y.io', 'z']), row(['3', '', 'ë'])];
  const fields = dataRowFieldIndex(3);
  const replacements: FieldReplacement[] = [undefined, '***', 'masked'];
  const lengths = rows.map(({ body }) =>
    rebuiltDataRowLength(body, fields, readDataRowFields(body, fields), replacements),
  );
  const out = Buffer.alloc(lengths.reduce((a, b) => a + b, 0) + 3);
  let at = 3; // not at the start, as in a shared output buffer
  for (const [i, { body }] of rows.entries()) {
    const count = readDataRowFields(body, fields);
    const end = writeRebuiltDataRow(out, at, lengths[i] as number, body, fields, count, replacements);
    t.equal(end - at, lengths[i]);
    at = end;
  }
  t.equal(at, out.length);
  t.same(
    out.subarray(3),
    Buffer.concat(
      [row(['1', '***', 'masked']), row(['2', '***', 'masked']), row(['3', '***', 'masked'])].map(
        (r) => r.message,
      ),
    ),
  );
});

t.test('long values and long runs take the native copy path and stay exact', async (t) => {
  const long = 'x'.repeat(200);
  const { body } = row([long, 'é'.repeat(60), long, 'short']);
  const fields = dataRowFieldIndex(4);
  const count = readDataRowFields(body, fields);
  const replacement = 'ü'.repeat(100);
  t.same(
    rebuildDataRow(body, fields, count, [undefined, replacement, undefined, Buffer.from(long)]),
    row([long, replacement, long, long]).message,
  );
});

t.test('a row can be read and rebuilt in place inside a larger chunk, without a view per row', async (t) => {
  const first = row(['1', 'a@x.io']).message;
  const second = row(['2', null]).message;
  const chunk = Buffer.concat([first, second]);
  const fields = dataRowFieldIndex(2);
  const start = first.length + 5;
  const count = readDataRowFields(chunk, fields, start, chunk.length);
  t.equal(count, 2);
  t.equal(chunk.toString('utf8', fields[0], (fields[0] as number) + (fields[1] as number)), '2');
  t.equal(fields[3], -1);
  t.same(rebuildDataRow(chunk, fields, count, ['9'], start, chunk.length), row(['9', null]).message);
  t.throws(() => readDataRowFields(chunk, fields, start, chunk.length + 1), { code: 'ERR_PG_MALFORMED' });
  t.throws(() => readDataRowFields(chunk, fields, 5, chunk.length), { code: 'ERR_PG_MALFORMED' });
});
