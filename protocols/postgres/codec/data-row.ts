import { BackendCode } from './codes.js';
import { ProtocolError } from './errors.js';

/**
 * DataRow field access for masking, the hot path: locate fields without copying, and rebuild a
 * row where only some fields change with one allocation.
 *
 * A field index is an Int32Array of [valueOffset, valueLength] pairs, one pair per column.
 * `valueOffset` is relative to the DataRow body (the bytes after the length field) and points just
 * past the field's own 4-byte length; `valueLength` is -1 for SQL NULL.
 */

/** A reusable field index for rows of `columns` columns (size it from the RowDescription). */
export function dataRowFieldIndex(columns: number): Int32Array {
  return new Int32Array(columns * 2);
}

function malformed(why: string): ProtocolError {
  return new ProtocolError('ERR_PG_MALFORMED', `malformed DataRow message: ${why}`);
}

/**
 * Fills `fields` with the [offset, length] pair of each field of a DataRow body and returns the
 * field count. A row with more fields than the index holds disagrees with its RowDescription and
 * is refused like any other malformed row.
 */
export function readDataRowFields(body: Buffer, fields: Int32Array): number {
  const end = body.length;
  if (end < 2) throw malformed('no field count');
  const count = body.readInt16BE(0);
  if (count < 0) throw malformed('negative field count');
  if (count * 2 > fields.length)
    throw malformed(`${count} fields, the row description has ${fields.length / 2}`);
  let offset = 2;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > end) throw malformed('field runs past the end');
    const length = body.readInt32BE(offset);
    offset += 4;
    if (length < -1 || offset + (length > 0 ? length : 0) > end) {
      throw malformed('field runs past the end');
    }
    fields[2 * i] = offset;
    fields[2 * i + 1] = length;
    if (length > 0) offset += length;
  }
  if (offset !== end) throw malformed('trailing bytes');
  return count;
}

/**
 * What to put in a field: `undefined` keeps the original bytes, `null` writes SQL NULL, a string is
 * written as UTF-8 text, a Buffer as is.
 */
export type FieldReplacement = Buffer | string | null | undefined;

/**
 * A complete DataRow message (type byte and length included) equal to the row in `body` except for
 * the fields that `replacements` sets. `fields` and `count` come from `readDataRowFields` on the same
 * body. The output length is computed first, the message is allocated once, and each run of kept
 * fields is copied with a single `copy`.
 */
export function rebuildDataRow(
  body: Buffer,
  fields: Int32Array,
  count: number,
  replacements: readonly FieldReplacement[],
): Buffer {
  let length = body.length;
  for (let i = 0; i < count; i++) {
    const replacement = replacements[i];
    if (replacement === undefined) continue;
    const old = fields[2 * i + 1] as number;
    if (old > 0) length -= old;
    if (replacement === null) continue;
    length += typeof replacement === 'string' ? Buffer.byteLength(replacement, 'utf8') : replacement.length;
  }
  const out = Buffer.allocUnsafe(5 + length);
  out[0] = BackendCode.DataRow;
  out.writeInt32BE(4 + length, 1);
  let target = 5;
  let runStart = 0; // start of the bytes of `body` not yet copied (the field count first)
  for (let i = 0; i < count; i++) {
    const replacement = replacements[i];
    if (replacement === undefined) continue;
    const valueOffset = fields[2 * i] as number;
    const old = fields[2 * i + 1] as number;
    target += body.copy(out, target, runStart, valueOffset - 4);
    if (replacement === null) {
      target = out.writeInt32BE(-1, target);
    } else if (typeof replacement === 'string') {
      const written = out.write(replacement, target + 4, 'utf8');
      out.writeInt32BE(written, target);
      target += 4 + written;
    } else {
      out.writeInt32BE(replacement.length, target);
      target += 4 + replacement.copy(out, target + 4);
    }
    runStart = valueOffset + (old > 0 ? old : 0);
  }
  body.copy(out, target, runStart);
  return out;
}
