import type { MysqlColumn } from './client.js';

/** Turns one driver value of a column into a JSON-friendly value. */
export type ValueConverter = (value: unknown) => unknown;

/** Buffers (BLOB, BINARY, BIT, GEOMETRY) travel as base64; everything else as it came. */
const passOrBase64: ValueConverter = (value) => (Buffer.isBuffer(value) ? value.toString('base64') : value);

/** A date-time the server printed (`2024-01-02 03:04:05.678`) in ISO 8601 form, with a suffix. */
function isoDateTime(suffix: string): ValueConverter {
  return (value) => {
    if (typeof value !== 'string') return passOrBase64(value);
    // Zero dates ('0000-00-00 00:00:00') have no ISO form; keep the server's text.
    if (value.startsWith('0000-')) return value;
    const space = value.indexOf(' ');
    return space === -1 ? value : `${value.slice(0, space)}T${value.slice(space + 1)}${suffix}`;
  };
}

/**
 * MariaDB's JSON is LONGTEXT with a `json` format hint, so the driver hands us text; MySQL's JSON
 * the driver has already parsed. Text that does not parse stays text rather than failing the row.
 */
const parseJson: ValueConverter = (value) => {
  if (typeof value !== 'string') return passOrBase64(value);
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
};

/** BIT(n) as a number (a string past 2^53), so BIT(1) flags read as 0 and 1, not base64. */
const bitValue: ValueConverter = (value) => {
  if (!Buffer.isBuffer(value)) return value;
  let n = 0n;
  for (const byte of value) n = (n << 8n) | BigInt(byte);
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
};

/**
 * One converter per column, chosen once per result set so the row path is an array walk.
 * The client sets the session time zone to UTC, so TIMESTAMP gets a `Z`; DATETIME has no zone.
 * In `wire` form (for a client that reads the MySQL protocol) values keep the target's own text:
 * dates as printed, JSON as sent, BIT as its bytes; only bytes become base64, as everywhere.
 */
export function valueConverters(
  columns: readonly MysqlColumn[],
  form: 'json' | 'wire' = 'json',
): ValueConverter[] {
  return columns.map((column) => {
    if (form === 'wire') return passOrBase64;
    switch (column.type) {
      case 'timestamp':
        return isoDateTime('Z');
      case 'datetime':
        return isoDateTime('');
      case 'json':
        return parseJson;
      case 'bit':
        return bitValue;
      default:
        return passOrBase64;
    }
  });
}

/** Applies the converters to a row in place and returns it. */
export function convertRow(row: unknown[], converters: readonly ValueConverter[]): unknown[] {
  for (let i = 0; i < row.length; i++) {
    const value = row[i];
    if (value === null || value === undefined) {
      row[i] = null;
      continue;
    }
    const convert = converters[i];
    if (convert !== undefined) row[i] = convert(value);
  }
  return row;
}
