import t from 'tap';
import {
  decodeText,
  decoderFor,
  parseTextArray,
  PgConnection,
  typeName,
  TypeOid,
} from '../../../protocols/postgres/client/index.js';
import { PG_HOST, PG_PORT, PG_SUPERUSER } from '../../support/postgres.js';

t.test('type names of common builtins come from their OIDs', async (t) => {
  t.equal(typeName(23), 'int4');
  t.equal(typeName(25), 'text');
  t.equal(typeName(1043), 'varchar');
  t.equal(typeName(1184), 'timestamptz');
  t.equal(typeName(1007), '_int4');
  t.equal(typeName(3802), 'jsonb');
  t.equal(typeName(999_999), undefined);
});

t.test('text arrays parse quoted, NULL, nested and bounded forms', async (t) => {
  t.same(parseTextArray('{}'), []);
  t.same(parseTextArray('{1,2,NULL}'), ['1', '2', null]);
  t.same(parseTextArray('{"a b","c\\"d","e\\\\f","NULL"}'), ['a b', 'c"d', 'e\\f', 'NULL']);
  t.same(parseTextArray('{{1,2},{3,4}}'), [
    ['1', '2'],
    ['3', '4'],
  ]);
  t.same(parseTextArray('[0:1]={7,8}'), ['7', '8']);
  t.same(parseTextArray('{(1,2);(3,4)}', ';'), ['(1,2)', '(3,4)']);
  t.equal(parseTextArray('not an array'), undefined);
  t.equal(parseTextArray('{"unterminated'), undefined);
  t.equal(parseTextArray('{1,2'), undefined);
  t.equal(parseTextArray('{1}trailing'), undefined);
  t.equal(parseTextArray('[0:1]'), undefined);
});

t.test('decoders turn text into JS values without losing digits', async (t) => {
  t.equal(decodeText(TypeOid.int4, '42'), 42);
  t.equal(decodeText(TypeOid.float8, 'Infinity'), Infinity);
  t.equal(decodeText(TypeOid.int8, '9223372036854775807'), '9223372036854775807');
  t.equal(decodeText(TypeOid.numeric, '1.10'), '1.10');
  t.equal(decodeText(TypeOid.bool, 'f'), false);
  t.equal(decodeText(TypeOid.text, null), null);
  t.equal(decodeText(TypeOid.bytea, '\\x00ff'), Buffer.from([0, 255]).toString('base64'));
  t.equal(decodeText(TypeOid.bytea, 'abc'), 'abc', 'escape-format bytea stays text');
  t.equal(decodeText(TypeOid.timestamptz, 'infinity'), 'infinity');
  t.equal(decodeText(TypeOid.timestamp, '0044-03-15 12:00:00 BC'), '0044-03-15 12:00:00 BC');
  t.equal(decodeText(TypeOid._int4, 'garbage'), 'garbage', 'an unparsable array stays text');
  t.equal(decoderFor(TypeOid.uuid)('x'), 'x');
});

t.test('values from the server decode by column type', async (t) => {
  const conn = await PgConnection.connect({
    host: PG_HOST,
    port: PG_PORT,
    user: PG_SUPERUSER,
    database: 'postgres',
    tls: 'disable',
    params: { TimeZone: 'Asia/Kolkata' },
  });
  t.teardown(() => conn.close());
  const sql = `SELECT
      1::int2, 2::int4, 3::oid, 1.5::float4, 2.25::float8,
      9007199254740993::int8, 12345678901234567890.123::numeric,
      true, false,
      '{"a":[1,null,"x"]}'::json, '{"b":{"c":2}}'::jsonb,
      '2024-02-29 13:14:15.123456'::timestamp,
      '2024-02-29 13:14:15.5+00'::timestamptz,
      '2024-02-29'::date,
      '\\x00010aff'::bytea,
      ARRAY[1,NULL,3]::int4[], ARRAY['a b','c"d',NULL]::text[], ARRAY[[1.5,2],[3,4]]::float8[],
      ARRAY[true,false]::bool[], ARRAY['{"k":1}']::jsonb[], ARRAY['2024-01-01']::date[], ARRAY[5]::int8[],
      'abc'::varchar(5), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '1 day'::interval, NULL::text`;
  let columns: number[] = [];
  let decoded: unknown[] = [];
  await conn.query(sql, {
    columns: (fields) => void (columns = fields.map((f) => f.typeOid)),
    row: (values) => void (decoded = values.map((v, i) => decodeText(columns[i] ?? 0, v))),
  });
  t.same(decoded, [
    1,
    2,
    3,
    1.5,
    2.25,
    '9007199254740993',
    '12345678901234567890.123',
    true,
    false,
    { a: [1, null, 'x'] },
    { b: { c: 2 } },
    '2024-02-29T13:14:15.123456',
    '2024-02-29T18:44:15.5+05:30',
    '2024-02-29',
    Buffer.from([0, 1, 10, 255]).toString('base64'),
    [1, null, 3],
    ['a b', 'c"d', null],
    [
      [1.5, 2],
      [3, 4],
    ],
    [true, false],
    [{ k: 1 }],
    ['2024-01-01'],
    ['5'],
    'abc',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    '1 day',
    null,
  ]);
});

t.test('a timestamptz in UTC gets a full +00:00 offset', async (t) => {
  t.equal(decodeText(TypeOid.timestamptz, '2024-01-02 03:04:05+00'), '2024-01-02T03:04:05+00:00');
  t.equal(decodeText(TypeOid.timestamptz, '2024-01-02 03:04:05-03:30'), '2024-01-02T03:04:05-03:30');
});
