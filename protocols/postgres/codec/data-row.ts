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

/**
 * Below this many bytes a JS loop beats a native `copy`/`write` call (the call itself costs about
 * as much as copying a few dozen bytes), and masked fields and runs between them are mostly short.
 */
const NATIVE_MIN = 48;

function copyRange(source: Buffer, start: number, end: number, target: Buffer, at: number): number {
  const n = end - start;
  if (n >= NATIVE_MIN) return source.copy(target, at, start, end);
  for (let i = 0; i < n; i++) target[at + i] = source[start + i] as number;
  return n;
}

/** UTF-8 length of a string, without a native call for short ASCII text. */
function textLength(text: string): number {
  if (text.length >= NATIVE_MIN) return Buffer.byteLength(text, 'utf8');
  for (let i = 0; i < text.length; i++)
    if (text.charCodeAt(i) >= 0x80) return Buffer.byteLength(text, 'utf8');
  return text.length;
}

/** Writes a string as UTF-8 at `at`; `byteLength` is `textLength(text)`. */
function writeText(target: Buffer, at: number, text: string, byteLength: number): void {
  if (byteLength !== text.length || byteLength >= NATIVE_MIN) {
    target.write(text, at, byteLength, 'utf8');
    return;
  }
  for (let i = 0; i < byteLength; i++) target[at + i] = text.charCodeAt(i);
}

/** Big-endian int32 at `at`; the caller has checked that 4 bytes are there. */
function int32At(buf: Buffer, at: number): number {
  return (
    ((buf[at] as number) << 24) |
    ((buf[at + 1] as number) << 16) |
    ((buf[at + 2] as number) << 8) |
    (buf[at + 3] as number)
  );
}

function putInt32(buf: Buffer, at: number, value: number): number {
  buf[at] = value >>> 24;
  buf[at + 1] = value >>> 16;
  buf[at + 2] = value >>> 8;
  buf[at + 3] = value;
  return at + 4;
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
    const length = int32At(body, offset);
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
    length += typeof replacement === 'string' ? textLength(replacement) : replacement.length;
  }
  const out = Buffer.allocUnsafe(5 + length);
  out[0] = BackendCode.DataRow;
  putInt32(out, 1, 4 + length);
  let target = 5;
  let runStart = 0; // start of the bytes of `body` not yet copied (the field count first)
  for (let i = 0; i < count; i++) {
    const replacement = replacements[i];
    if (replacement === undefined) continue;
    const valueOffset = fields[2 * i] as number;
    const old = fields[2 * i + 1] as number;
    target += copyRange(body, runStart, valueOffset - 4, out, target);
    if (replacement === null) {
      target = putInt32(out, target, -1);
    } else if (typeof replacement === 'string') {
      const n = textLength(replacement);
      target = putInt32(out, target, n);
      writeText(out, target, replacement, n);
      target += n;
    } else {
      target = putInt32(out, target, replacement.length);
      target += copyRange(replacement, 0, replacement.length, out, target);
    }
    runStart = valueOffset + (old > 0 ? old : 0);
  }
  copyRange(body, runStart, body.length, out, target);
  return out;
}
