import { BINARY_CHARSET, ColumnType, UTF8MB4_CHARSET } from './column-types.js';
import type { ClientCharset } from './charsets.js';
import { PayloadBuilder } from './payload-builder.js';

/** A column as our server describes it to a client. */
export interface ColumnDefinition {
  name: string;
  type: ColumnType | number;
  schema?: string;
  table?: string;
  orgTable?: string;
  orgName?: string;
  /** Collation id; defaults to utf8mb4 for char/varchar/enum/set/json and binary for the rest (a TEXT column is a Blob with a text collation). */
  characterSet?: number;
  /** Maximum display length. */
  columnLength?: number;
  flags?: number;
  decimals?: number;
  /** MariaDB extended metadata: the type behind a plain wire type (uuid, inet6, point, ...). */
  extendedTypeName?: string | undefined;
  /** MariaDB extended metadata: the format of a text column (json). */
  extendedFormat?: string | undefined;
}

const NULL_VALUE = 0xfb;

/** The column count that starts a result set. */
export function encodeColumnCount(count: number): Buffer {
  return new PayloadBuilder(9).lenencInt(count).build();
}

function isTextual(type: number): boolean {
  return (
    type === ColumnType.VarChar ||
    type === ColumnType.VarString ||
    type === ColumnType.String ||
    type === ColumnType.Enum ||
    type === ColumnType.Set ||
    type === ColumnType.Json
  );
}

/** MariaDB's extended metadata block: (id, lenenc text) pairs, 0 the type name, 1 the format. */
function extendedMetadata(column: ColumnDefinition): Buffer {
  const block = new PayloadBuilder(16);
  if (column.extendedTypeName) block.u8(0).lenencText(column.extendedTypeName);
  if (column.extendedFormat) block.u8(1).lenencText(column.extendedFormat);
  return block.build();
}

/**
 * Column Definition 41; with `extended` (a MariaDB client that asked for it), MariaDB's extended
 * metadata block after the original name.
 */
export function encodeColumnDefinition(
  column: ColumnDefinition,
  extended = false,
  charset?: ClientCharset,
): Buffer {
  const characterSet = column.characterSet ?? (isTextual(column.type) ? UTF8MB4_CHARSET : BINARY_CHARSET);
  const builder = new PayloadBuilder(64)
    .lenencText('def')
    .lenencText(column.schema ?? '', charset)
    .lenencText(column.table ?? '', charset)
    .lenencText(column.orgTable ?? '', charset)
    .lenencText(column.name, charset)
    .lenencText(column.orgName ?? '', charset);
  if (extended) builder.lenencBytes(extendedMetadata(column));
  return builder
    .lenencInt(0x0c)
    .u16(characterSet)
    .u32(column.columnLength ?? 1024)
    .u8(column.type)
    .u16(column.flags ?? 0)
    .u8(column.decimals ?? 0)
    .zeros(2)
    .build();
}

/** A text-protocol row value: text, raw bytes, or SQL NULL. */
export type TextValue = string | Buffer | null;

/** ProtocolText::ResultsetRow: each value length-encoded, NULL as 0xfb. */
export function encodeTextRow(values: readonly TextValue[]): Buffer {
  const builder = new PayloadBuilder(64);
  for (const value of values) {
    if (value === null) builder.u8(NULL_VALUE);
    else if (typeof value === 'string') builder.lenencText(value);
    else builder.lenencBytes(value);
  }
  return builder.build();
}

/** COM_STMT_PREPARE_OK: statement id, column and parameter counts. */
export function encodePrepareOk(fields: {
  statementId: number;
  columnCount: number;
  paramCount: number;
  warnings?: number;
}): Buffer {
  return new PayloadBuilder(12)
    .u8(0)
    .u32(fields.statementId)
    .u16(fields.columnCount)
    .u16(fields.paramCount)
    .u8(0)
    .u16(fields.warnings ?? 0)
    .build();
}
