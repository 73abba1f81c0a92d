import { PgClientError } from './errors.js';

/**
 * The wire form of one Bind parameter: text for everything except bytes, which go as binary (a
 * Buffer, which pg-protocol's Bind marks with format code 1), and null for SQL NULL. The server
 * infers each parameter's type from the statement, so the text form is what a literal would be.
 */
export function toWireParam(value: unknown, index: number): string | Buffer | null {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'bigint':
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (Buffer.isBuffer(value)) return value;
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      if (value instanceof Date) return value.toISOString();
      if (Array.isArray(value)) return arrayLiteral(value, index);
      return JSON.stringify(value);
    default:
      throw new PgClientError(
        'ERR_PG_PARAMETER',
        `parameter $${index + 1} (${typeof value}) has no text form`,
      );
  }
}

/** A JS array as a Postgres array literal: `{1,2,NULL}`, `{"a b","c\"d"}`, nested for nested arrays. */
function arrayLiteral(items: readonly unknown[], index: number): string {
  const parts = items.map((item) => {
    if (item === null || item === undefined) return 'NULL';
    if (Array.isArray(item)) return arrayLiteral(item, index);
    const text = toWireParam(item, index);
    const asText = Buffer.isBuffer(text) ? `\\x${text.toString('hex')}` : (text ?? '');
    // Quoting every element is always valid and avoids deciding which characters need it.
    return `"${asText.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  });
  return `{${parts.join(',')}}`;
}
