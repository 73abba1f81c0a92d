import t from 'tap';
import type { MysqlColumn } from '../../../protocols/mysql/client.js';
import { convertRow, valueConverters } from '../../../protocols/mysql/values.js';

const column = (type: string): MysqlColumn => ({
  name: type,
  type,
  typeCode: 0,
  flags: 0,
  characterSet: 45,
  decimals: 0,
  orgSchema: '',
  orgTable: '',
  orgName: '',
  table: '',
  columnLength: 0,
});

t.test('values become JSON-friendly per column type', async (t) => {
  const converters = valueConverters(
    ['timestamp', 'datetime', 'json', 'json', 'blob', 'datetime', 'int'].map(column),
  );
  const row = convertRow(
    [
      '2024-05-06 07:08:09.5',
      '0000-00-00 00:00:00',
      '{"a":1}',
      'not json {',
      Buffer.from('hi'),
      '2024-05-06',
      undefined,
    ],
    converters,
  );
  t.same(row, [
    '2024-05-06T07:08:09.5Z',
    '0000-00-00 00:00:00',
    { a: 1 },
    'not json {',
    'aGk=',
    '2024-05-06',
    null,
  ]);
});

t.test('already-decoded values pass through the date and json converters', async (t) => {
  const converters = valueConverters(['json', 'timestamp'].map(column));
  t.same(convertRow([{ already: true }, Buffer.from([1])], converters), [{ already: true }, 'AQ==']);
  t.same(convertRow([1, 2, 3], []), [1, 2, 3], 'columns without a converter keep their values');
});

t.test('BIT values become numbers, or strings when too large for one', async (t) => {
  const converters = valueConverters(['bit', 'bit', 'bit'].map(column));
  t.same(convertRow([Buffer.from([1]), Buffer.from([1, 0]), Buffer.alloc(8, 0xff)], converters), [
    1,
    256,
    '18446744073709551615',
  ]);
  t.same(convertRow([7], converters), [7]);
});
