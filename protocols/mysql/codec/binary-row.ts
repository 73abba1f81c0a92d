import { MysqlProtocolError } from '../errors.js';
import { ColumnFlag, ColumnType } from './column-types.js';
import { PayloadBuilder } from './payload-builder.js';
import type { TextValue } from './resultset.js';

/** The column facts binary encoding needs. */
export interface BinaryColumn {
  type: number;
  flags?: number;
}

const INTEGER = /^-?\d+$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?)?Z?$/;
const TIME = /^(-)?(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

function refuse(value: string, column: BinaryColumn): never {
  throw new MysqlProtocolError(
    'ERR_VALUE_ENCODING',
    `value ${JSON.stringify(value.slice(0, 40))} does not fit column type 0x${column.type.toString(16)}`,
  );
}

function integer(value: string, column: BinaryColumn, bits: 8 | 16 | 32 | 64): bigint {
  if (!INTEGER.test(value)) refuse(value, column);
  const n = BigInt(value);
  const unsigned = ((column.flags ?? 0) & ColumnFlag.Unsigned) !== 0;
  const min = unsigned ? 0n : -(1n << BigInt(bits - 1));
  const max = unsigned ? (1n << BigInt(bits)) - 1n : (1n << BigInt(bits - 1)) - 1n;
  if (n < min || n > max) refuse(value, column);
  // Two's complement in `bits` bits, written as unsigned.
  return n < 0n ? (1n << BigInt(bits)) + n : n;
}

const micros = (fraction: string | undefined): number => (fraction ? Number(fraction.padEnd(6, '0')) : 0);

function writeDateTime(builder: PayloadBuilder, value: string, column: BinaryColumn): void {
  const m = DATE_TIME.exec(value);
  if (!m) return refuse(value, column);
  const [, year, month, day, hour, minute, second, fraction] = m;
  const us = micros(fraction);
  const hasTime = hour !== undefined && (Number(hour) | Number(minute) | Number(second)) !== 0;
  const length = us > 0 ? 11 : hasTime ? 7 : 4;
  builder.u8(length).u16(Number(year)).u8(Number(month)).u8(Number(day));
  if (length >= 7) builder.u8(Number(hour)).u8(Number(minute)).u8(Number(second));
  if (length === 11) builder.u32(us);
}

function writeTime(builder: PayloadBuilder, value: string, column: BinaryColumn): void {
  const m = TIME.exec(value);
  if (!m) return refuse(value, column);
  const [, sign, hours, minute, second, fraction] = m;
  const totalHours = Number(hours);
  const us = micros(fraction);
  builder
    .u8(us > 0 ? 12 : 8)
    .u8(sign ? 1 : 0)
    .u32(Math.floor(totalHours / 24))
    .u8(totalHours % 24)
    .u8(Number(minute))
    .u8(Number(second));
  if (us > 0) builder.u32(us);
}

function writeValue(builder: PayloadBuilder, value: string | Buffer, column: BinaryColumn): void {
  if (Buffer.isBuffer(value)) {
    builder.lenencBytes(value);
    return;
  }
  switch (column.type) {
    case ColumnType.Tiny:
      builder.u8(Number(integer(value, column, 8)));
      return;
    case ColumnType.Short:
    case ColumnType.Year:
      builder.u16(Number(integer(value, column, 16)));
      return;
    case ColumnType.Long:
    case ColumnType.Int24:
      builder.u32(Number(integer(value, column, 32)));
      return;
    case ColumnType.LongLong:
      builder.u64(integer(value, column, 64));
      return;
    case ColumnType.Float:
    case ColumnType.Double: {
      const n = Number(value);
      if (value.trim() === '' || Number.isNaN(n)) refuse(value, column);
      const bytes = Buffer.allocUnsafe(column.type === ColumnType.Float ? 4 : 8);
      if (column.type === ColumnType.Float) bytes.writeFloatLE(n);
      else bytes.writeDoubleLE(n);
      builder.bytes(bytes);
      return;
    }
    case ColumnType.Date:
    case ColumnType.NewDate:
    case ColumnType.DateTime:
    case ColumnType.Timestamp:
      writeDateTime(builder, value, column);
      return;
    case ColumnType.Time:
      writeTime(builder, value, column);
      return;
    default:
      builder.lenencText(value);
  }
}

/**
 * ProtocolBinary::ResultsetRow, the row format of COM_STMT_EXECUTE results: 0x00, a NULL bitmap
 * offset by two bits, then each non-NULL value in its column type's binary form. Values come in
 * their text form (what the gateway holds after masking); one that does not fit its column type
 * is refused rather than sent wrong.
 */
export function encodeBinaryRow(columns: readonly BinaryColumn[], values: readonly TextValue[]): Buffer {
  if (values.length !== columns.length) {
    throw new MysqlProtocolError(
      'ERR_VALUE_ENCODING',
      `row has ${values.length} values for ${columns.length} columns`,
    );
  }
  const bitmapLength = (columns.length + 7 + 2) >> 3;
  const row = new PayloadBuilder(16 + columns.length * 8).u8(0).zeros(bitmapLength);
  const nulls = Buffer.alloc(bitmapLength);
  for (let i = 0; i < columns.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) {
      const bit = i + 2;
      nulls[bit >> 3] = (nulls[bit >> 3] as number) | (1 << (bit & 7));
      continue;
    }
    writeValue(row, value, columns[i] as BinaryColumn);
  }
  const payload = row.build();
  nulls.copy(payload, 1);
  return payload;
}
