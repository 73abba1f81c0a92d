import t from 'tap';
import {
  dataRow,
  dataRowFieldIndex,
  readDataRowFields,
  rebuildDataRow,
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
