import t from 'tap';
import mysql from 'mysql2/promise';
import { encodeBinaryRow } from '../../../protocols/mysql/codec/binary-row.js';
import { ColumnFlag, ColumnType } from '../../../protocols/mysql/codec/column-types.js';
import { decodeExecuteParams, type ParamValue } from '../../../protocols/mysql/codec/commands.js';
import type { ColumnDefinition, TextValue } from '../../../protocols/mysql/codec/resultset.js';
import { startTinyServer } from './fixtures/tiny-server.js';

const columns: ColumnDefinition[] = [
  { name: 'id', type: ColumnType.Long },
  { name: 'big', type: ColumnType.LongLong, flags: ColumnFlag.Unsigned },
  { name: 'neg', type: ColumnType.LongLong },
  { name: 'tiny', type: ColumnType.Tiny },
  { name: 'small', type: ColumnType.Short },
  { name: 'ratio', type: ColumnType.Double },
  { name: 'name', type: ColumnType.VarString },
  { name: 'born', type: ColumnType.Date },
  { name: 'at', type: ColumnType.DateTime },
  { name: 'ts', type: ColumnType.Timestamp },
  { name: 'dur', type: ColumnType.Time },
  { name: 'raw', type: ColumnType.Blob },
  { name: 'nothing', type: ColumnType.VarString },
  { name: 'price', type: ColumnType.NewDecimal },
  { name: 'midnight', type: ColumnType.DateTime },
  { name: 'f', type: ColumnType.Float },
];

const row: TextValue[] = [
  '42',
  '18446744073709551615',
  '-9007199254740993',
  '-5',
  '300',
  '2.5',
  'ada',
  '1815-12-10',
  '2024-01-02 03:04:05',
  '2024-01-02T03:04:05.123456Z',
  '-26:03:04.5',
  Buffer.from([0, 1, 2]),
  null,
  '12.50',
  '2024-01-02 00:00:00',
  '1.5',
];

t.test(
  'a prepared statement executed by mysql2 gets binary rows it decodes to the same values',
  async (t) => {
    const received: ParamValue[][] = [];
    const server = await startTinyServer(t, {
      allowPlaintextAuth: true,
      handler: {
        async command(command, reply) {
          if (command.kind === 'stmt-prepare') {
            return reply.prepared({
              statementId: 7,
              params: [{ name: '?', type: ColumnType.VarString }],
              columns,
            });
          }
          if (command.kind === 'stmt-execute') {
            received.push(decodeExecuteParams(command.parameterBlock, 1).values);
            const rows = reply.resultSet(columns, { binary: true });
            await rows.row(row);
            rows.end();
            return;
          }
          if (command.kind === 'stmt-close') return reply.none();
          reply.ok();
        },
      },
    });
    const conn = await mysql.createConnection({
      host: '127.0.0.1',
      port: server.port,
      user: 'alice',
      password: 'TOKEN',
      enableCleartextPlugin: true,
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
    });
    t.teardown(() => conn.destroy());
    const [rows] = await conn.execute({ sql: 'SELECT * FROM people WHERE name = ?', rowsAsArray: true }, [
      'ada',
    ]);
    t.same(received, [['ada']], 'the parameter arrived');
    t.same(rows, [
      [
        42,
        '18446744073709551615',
        '-9007199254740993',
        -5,
        300,
        2.5,
        'ada',
        '1815-12-10',
        '2024-01-02 03:04:05',
        '2024-01-02 03:04:05.123456',
        '-26:03:04.5',
        Buffer.from([0, 1, 2]),
        null,
        '12.50',
        '2024-01-02 00:00:00',
        1.5,
      ],
    ]);
  },
);

t.test('values that do not fit their column type are refused, not sent wrong', async (t) => {
  const one =
    (type: number, value: string, flags = 0) =>
    () =>
      encodeBinaryRow([{ type, flags }], [value]);
  t.throws(one(ColumnType.Long, 'abc'), { code: 'ERR_VALUE_ENCODING' });
  t.throws(one(ColumnType.Tiny, '128'), { code: 'ERR_VALUE_ENCODING' });
  t.throws(one(ColumnType.Tiny, '-1', ColumnFlag.Unsigned), { code: 'ERR_VALUE_ENCODING' });
  t.throws(one(ColumnType.Double, ''), { code: 'ERR_VALUE_ENCODING' });
  t.throws(one(ColumnType.Double, 'x'), { code: 'ERR_VALUE_ENCODING' });
  t.throws(one(ColumnType.Date, '2024/01/02'), { code: 'ERR_VALUE_ENCODING' });
  t.throws(one(ColumnType.Time, '1 day'), { code: 'ERR_VALUE_ENCODING' });
  t.throws(() => encodeBinaryRow([{ type: ColumnType.Long }], []), { code: 'ERR_VALUE_ENCODING' });
  t.same(
    encodeBinaryRow([{ type: ColumnType.Tiny, flags: ColumnFlag.Unsigned }], ['255']),
    Buffer.from([0, 0, 255]),
  );
  t.same(
    encodeBinaryRow([{ type: ColumnType.Long }, { type: ColumnType.Long }], [null, '-1']),
    Buffer.from([0, 0b100, 0xff, 0xff, 0xff, 0xff]),
    'NULL bitmap bits start at offset 2',
  );
  t.same(
    encodeBinaryRow([{ type: ColumnType.Time }], ['10:00:00']),
    Buffer.from([0, 0, 8, 0, 0, 0, 0, 0, 10, 0, 0]),
  );
});
