/** MySQL column type codes as sent in a column definition (include/mysql_com.h, enum_field_types). */
export const enum ColumnType {
  Decimal = 0x00,
  Tiny = 0x01,
  Short = 0x02,
  Long = 0x03,
  Float = 0x04,
  Double = 0x05,
  Null = 0x06,
  Timestamp = 0x07,
  LongLong = 0x08,
  Int24 = 0x09,
  Date = 0x0a,
  Time = 0x0b,
  DateTime = 0x0c,
  Year = 0x0d,
  NewDate = 0x0e,
  VarChar = 0x0f,
  Bit = 0x10,
  Json = 0xf5,
  NewDecimal = 0xf6,
  Enum = 0xf7,
  Set = 0xf8,
  TinyBlob = 0xf9,
  MediumBlob = 0xfa,
  LongBlob = 0xfb,
  Blob = 0xfc,
  VarString = 0xfd,
  String = 0xfe,
  Geometry = 0xff,
}

/** Column definition flags we look at (include/mysql_com.h). */
export const enum ColumnFlag {
  NotNull = 0x0001,
  PrimaryKey = 0x0002,
  Unsigned = 0x0020,
  Binary = 0x0080,
  Enum = 0x0100,
  Set = 0x0800,
}

/** The `binary` collation: a string column with it holds bytes, not text. */
export const BINARY_CHARSET = 63;
/** utf8mb4_general_ci, what we announce and use for text we send. */
export const UTF8MB4_CHARSET = 45;

export interface ColumnTypeInput {
  type: number;
  flags: number;
  characterSet: number;
  /** MariaDB extended metadata (uuid, inet6, ...), when the server sent it. */
  extendedTypeName?: string | undefined;
  /** MariaDB extended format (json), when the server sent it. */
  extendedFormat?: string | undefined;
}

const byteOrText = (binary: boolean, bytes: string, text: string): string => (binary ? bytes : text);

/**
 * The SQL type name of a column, as a person writes it in DDL: `varchar`, `int`, `datetime`, ...
 * Blob and string codes are shared by text and binary columns; the character set tells them apart.
 */
export function columnTypeName(column: ColumnTypeInput): string {
  if (column.extendedFormat === 'json') return 'json';
  if (column.extendedTypeName) return column.extendedTypeName;
  const binary = column.characterSet === BINARY_CHARSET;
  switch (column.type) {
    case ColumnType.Decimal:
    case ColumnType.NewDecimal:
      return 'decimal';
    case ColumnType.Tiny:
      return 'tinyint';
    case ColumnType.Short:
      return 'smallint';
    case ColumnType.Long:
      return 'int';
    case ColumnType.Float:
      return 'float';
    case ColumnType.Double:
      return 'double';
    case ColumnType.Null:
      return 'null';
    case ColumnType.Timestamp:
      return 'timestamp';
    case ColumnType.LongLong:
      return 'bigint';
    case ColumnType.Int24:
      return 'mediumint';
    case ColumnType.Date:
    case ColumnType.NewDate:
      return 'date';
    case ColumnType.Time:
      return 'time';
    case ColumnType.DateTime:
      return 'datetime';
    case ColumnType.Year:
      return 'year';
    case ColumnType.VarChar:
    case ColumnType.VarString:
      return byteOrText(binary, 'varbinary', 'varchar');
    case ColumnType.Bit:
      return 'bit';
    case ColumnType.Json:
      return 'json';
    case ColumnType.Enum:
      return 'enum';
    case ColumnType.Set:
      return 'set';
    case ColumnType.TinyBlob:
      return byteOrText(binary, 'tinyblob', 'tinytext');
    case ColumnType.MediumBlob:
      return byteOrText(binary, 'mediumblob', 'mediumtext');
    case ColumnType.LongBlob:
      return byteOrText(binary, 'longblob', 'longtext');
    case ColumnType.Blob:
      return byteOrText(binary, 'blob', 'text');
    case ColumnType.String:
      // ENUM and SET travel as STRING with a flag.
      if (column.flags & ColumnFlag.Enum) return 'enum';
      if (column.flags & ColumnFlag.Set) return 'set';
      return byteOrText(binary, 'binary', 'char');
    case ColumnType.Geometry:
      return 'geometry';
    default:
      return 'unknown';
  }
}
