import {
  BINARY_CHARSET,
  ColumnFlag,
  ColumnType,
  UTF8MB4_CHARSET,
  type ColumnDefinition,
  type TextValue,
} from '../../../protocols/mysql/server/index.js';
import type { DeliveredColumn } from '../pipeline.js';

/** Turns one delivered (decoded, maybe masked) value back into its wire form for the client. */
export type WireValueEncoder = (value: unknown) => TextValue;

/** How one result column travels back to a MySQL client. */
export interface WireColumn {
  definition: ColumnDefinition;
  encode: WireValueEncoder;
}

/** NOT_FIXED_DEC: floats carry no fixed scale, so clients print what they get. */
const FLOATING_DECIMALS = 31;

/** Any value in its text form; objects (parsed JSON) back to JSON text. */
const asText: WireValueEncoder = (value) => {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  return JSON.stringify(value);
};

/** The engine hands binary values over as base64; the client gets the bytes back. */
const fromBase64: WireValueEncoder = (value) =>
  typeof value === 'string' ? Buffer.from(value, 'base64') : asText(value);

/** The engine writes DATETIME as ISO (`T`, and `Z` for TIMESTAMP); MySQL clients expect a space. */
const dateTimeText: WireValueEncoder = (value) => {
  if (typeof value !== 'string') return asText(value);
  const text = value.endsWith('Z') ? value.slice(0, -1) : value;
  return text.replace('T', ' ');
};

const text = (type: ColumnType, characterSet = UTF8MB4_CHARSET): Omit<ColumnDefinition, 'name'> => ({
  type,
  characterSet,
});

const bytes = (type: ColumnType): Omit<ColumnDefinition, 'name'> => ({
  type,
  characterSet: BINARY_CHARSET,
  flags: ColumnFlag.Binary,
});

/**
 * Integer types, as announced in text results and (one size up) in binary results. The pipeline
 * delivers the type name without its UNSIGNED flag, so a binary result announces the next wider
 * signed type: an INT UNSIGNED value (up to 2^32-1) then always fits, and a value that does not
 * fit is refused by the row encoder rather than sent wrong.
 */
const INTEGERS: Record<string, { text: ColumnType; binary: ColumnType }> = {
  tinyint: { text: ColumnType.Tiny, binary: ColumnType.Short },
  smallint: { text: ColumnType.Short, binary: ColumnType.Long },
  mediumint: { text: ColumnType.Int24, binary: ColumnType.Long },
  int: { text: ColumnType.Long, binary: ColumnType.LongLong },
  bigint: { text: ColumnType.LongLong, binary: ColumnType.LongLong },
  year: { text: ColumnType.Year, binary: ColumnType.Short },
};

function describe(
  type: string,
  binary: boolean,
): { shape: Omit<ColumnDefinition, 'name'>; encode: WireValueEncoder } {
  const integer = INTEGERS[type];
  if (integer)
    return {
      shape: { type: binary ? integer.binary : integer.text, characterSet: BINARY_CHARSET },
      encode: asText,
    };
  switch (type) {
    case 'float':
      return {
        shape: { type: ColumnType.Float, characterSet: BINARY_CHARSET, decimals: FLOATING_DECIMALS },
        encode: asText,
      };
    case 'double':
      return {
        shape: { type: ColumnType.Double, characterSet: BINARY_CHARSET, decimals: FLOATING_DECIMALS },
        encode: asText,
      };
    case 'decimal':
      return { shape: { type: ColumnType.NewDecimal, characterSet: BINARY_CHARSET }, encode: asText };
    case 'bit':
      // The engine turns BIT into a number; it goes back as an unsigned integer, not bytes.
      return {
        shape: { type: ColumnType.LongLong, characterSet: BINARY_CHARSET, flags: ColumnFlag.Unsigned },
        encode: asText,
      };
    case 'date':
      return { shape: { type: ColumnType.Date, characterSet: BINARY_CHARSET }, encode: asText };
    case 'time':
      return { shape: { type: ColumnType.Time, characterSet: BINARY_CHARSET }, encode: asText };
    case 'datetime':
      return { shape: { type: ColumnType.DateTime, characterSet: BINARY_CHARSET }, encode: dateTimeText };
    case 'timestamp':
      return { shape: { type: ColumnType.Timestamp, characterSet: BINARY_CHARSET }, encode: dateTimeText };
    case 'null':
      return { shape: { type: ColumnType.Null, characterSet: BINARY_CHARSET }, encode: asText };
    case 'char':
    case 'enum':
    case 'set':
      return { shape: text(ColumnType.String), encode: asText };
    case 'tinytext':
    case 'text':
    case 'mediumtext':
    case 'longtext':
    case 'json':
      // A text BLOB (MariaDB's JSON is LONGTEXT too): clients read it as a string by its collation.
      return { shape: text(ColumnType.Blob), encode: asText };
    case 'binary':
      return { shape: bytes(ColumnType.String), encode: fromBase64 };
    case 'varbinary':
      return { shape: bytes(ColumnType.VarString), encode: fromBase64 };
    case 'tinyblob':
    case 'blob':
    case 'mediumblob':
    case 'longblob':
      return { shape: bytes(ColumnType.Blob), encode: fromBase64 };
    case 'geometry':
      return { shape: bytes(ColumnType.Geometry), encode: fromBase64 };
    default:
      // varchar, and anything else (MariaDB's uuid, inet6, ...): text.
      return { shape: text(ColumnType.VarString), encode: asText };
  }
}

/**
 * The MySQL column definitions for a result the pipeline delivers. A masked column is always
 * announced as text: its values are replacements ('***', a hash, a partial string) that need not
 * fit the original type, and a binary row encoder would refuse them.
 */
export function wireColumns(columns: readonly DeliveredColumn[], options: { binary: boolean }): WireColumn[] {
  return columns.map((column) => {
    const { shape, encode } = column.masked
      ? { shape: text(ColumnType.VarString), encode: asText }
      : describe(column.type, options.binary);
    return { definition: { name: column.name, ...shape }, encode };
  });
}

/** One delivered row in wire form. */
export function wireRow(columns: readonly WireColumn[], values: readonly unknown[]): TextValue[] {
  const out: TextValue[] = new Array<TextValue>(columns.length);
  for (let i = 0; i < columns.length; i++) {
    out[i] = (columns[i] as WireColumn).encode(values[i]);
  }
  return out;
}
