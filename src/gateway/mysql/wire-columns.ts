import {
  BINARY_CHARSET,
  ColumnType,
  UTF8MB4_CHARSET,
  type ColumnDefinition,
  type TextValue,
} from '../../../protocols/mysql/server/index.js';
import { UTF8MB4, type ClientCharset } from '../../../protocols/mysql/codec/charsets.js';
import type { DeliveredColumn } from '../pipeline.js';

/** Turns one delivered (decoded, maybe masked) value back into its wire form for the client. */
export type WireValueEncoder = (value: unknown) => TextValue;

/** How one result column travels back to a MySQL client. */
export interface WireColumn {
  definition: ColumnDefinition;
  encode: WireValueEncoder;
}

/** Any value in its text form (numbers from binary rows as their shortest exact decimal). */
const asText: WireValueEncoder = (value) => {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  return JSON.stringify(value);
};

/** The engine hands bytes over as base64; the client gets the bytes back. */
const fromBase64: WireValueEncoder = (value) =>
  typeof value === 'string' ? Buffer.from(value, 'base64') : asText(value);

/**
 * Column types whose values the engine reads as text or numbers whatever their collation; any
 * other type with the binary collation (BINARY, VARBINARY, BLOB, BIT, GEOMETRY) holds bytes.
 */
const READ_AS_VALUES = new Set<number>([
  ColumnType.Decimal,
  ColumnType.NewDecimal,
  ColumnType.Tiny,
  ColumnType.Short,
  ColumnType.Long,
  ColumnType.Int24,
  ColumnType.LongLong,
  ColumnType.Float,
  ColumnType.Double,
  ColumnType.Null,
  ColumnType.Year,
  ColumnType.Date,
  ColumnType.NewDate,
  ColumnType.DateTime,
  ColumnType.Timestamp,
  ColumnType.Time,
  ColumnType.Json,
]);

const carriesBytes = (definition: ColumnDefinition): boolean =>
  definition.characterSet === BINARY_CHARSET && !READ_AS_VALUES.has(definition.type);

/** Masked values are replacements ('***', a hash, part of a string): at least this long. */
const MASKED_LENGTH = 1024;

/** The largest column length a definition holds (LONGTEXT, LONGBLOB): not scaled. */
const MAX_LENGTH = 0xffffffff;

/**
 * A text column's length in the client's set: the target speaks utf8mb4 to Sluice (4 bytes a
 * character at most), a cp1251 client reads one byte a character.
 */
function lengthIn(charset: ClientCharset, utf8mb4Length: number): number {
  if (charset === UTF8MB4 || utf8mb4Length >= MAX_LENGTH) return utf8mb4Length;
  return Math.floor(utf8mb4Length / 4) * charset.maxBytes;
}

/** Text the client reads in its own character set (UTF-8 needs nothing done). */
function inCharset(charset: ClientCharset, encode: WireValueEncoder): WireValueEncoder {
  if (charset.utf8) return encode;
  return (value) => {
    const wire = encode(value);
    return typeof wire === 'string' ? charset.encode(wire) : wire;
  };
}

/** The collation text columns are announced with: the target's for UTF-8, else the client's set. */
const textCollation = (charset: ClientCharset): number =>
  charset === UTF8MB4 ? UTF8MB4_CHARSET : charset.collation;

/**
 * A masked column keeps its names (a client still sees which table it came from) but is
 * announced as text with no flags: its values need not fit the original type (a binary row
 * encoder would refuse them), and NOT NULL, key or UNSIGNED flags would describe what is hidden.
 */
function maskedDefinition(column: DeliveredColumn, charset: ClientCharset): ColumnDefinition {
  const source = column.mysql;
  return {
    ...(source
      ? { schema: source.schema, table: source.table, orgTable: source.orgTable, orgName: source.orgName }
      : {}),
    name: column.name,
    type: ColumnType.VarString,
    characterSet: textCollation(charset),
    columnLength: lengthIn(charset, Math.max(source?.columnLength ?? 0, MASKED_LENGTH)),
  };
}

/**
 * The MySQL column definitions for a result the pipeline delivers: the target's own definitions
 * (names, types, flags, lengths, collations), so values are relayed in the form the target sent
 * them; masked columns as text. A column the gateway made itself (no target definition) is text.
 * For a client of another character set, text columns are announced and sent in that set, as a
 * server converts them to the client's `character_set_results`.
 */
export function wireColumns(
  columns: readonly DeliveredColumn[],
  charset: ClientCharset = UTF8MB4,
): WireColumn[] {
  const text = inCharset(charset, asText);
  return columns.map((column) => {
    if (column.masked) return { definition: maskedDefinition(column, charset), encode: text };
    const source = column.mysql;
    if (source === undefined)
      return {
        definition: { name: column.name, type: ColumnType.VarString, characterSet: textCollation(charset) },
        encode: text,
      };
    if (source.characterSet === BINARY_CHARSET || charset === UTF8MB4)
      return {
        definition: { ...source, name: column.name },
        encode: carriesBytes(source) ? fromBase64 : asText,
      };
    return {
      definition: {
        ...source,
        name: column.name,
        characterSet: textCollation(charset),
        columnLength: lengthIn(charset, source.columnLength ?? 0),
      },
      encode: text,
    };
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
