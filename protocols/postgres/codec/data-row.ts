import { BackendCode } from './codes.js';
import { ProtocolError } from './errors.js';

/**
 * DataRow field access for masking, the hot path: locate fields without copying, and rebuild a
 * row where only some fields change with one allocation.
 *
 * A row is given as `source` with its body (the bytes after the length field) in [start, end):
 * by default the whole of `source`, but a forwarding loop can pass the received chunk and the
 * body's bounds, and create no view per row.
 *
 * A field index is an Int32Array of [valueOffset, valueLength] pairs, one pair per column.
 * `valueOffset` is an index into `source` just past the field's own 4-byte length;
 * `valueLength` is -1 for SQL NULL.
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

function fieldSize(length: number): number {
  return length > 0 ? length : 0;
}

function malformed(why: string): ProtocolError {
  return new ProtocolError('ERR_PG_MALFORMED', `malformed DataRow message: ${why}`);
}

/**
 * Fills `fields` with the [offset, length] pair of each field of the DataRow body in
 * `source[start, end)` and returns the field count. A row with more fields than the index holds
 * disagrees with its RowDescription and is refused like any other malformed row.
 */
export function readDataRowFields(
  source: Buffer,
  fields: Int32Array,
  start = 0,
  end: number = source.length,
): number {
  if (start < 0 || end > source.length || end - start < 2) throw malformed('no field count');
  const count = ((source[start] as number) << 8) | (source[start + 1] as number);
  if (count > 0x7fff) throw malformed('negative field count');
  if (count * 2 > fields.length) {
    throw malformed(`${count} fields, the row description has ${fields.length / 2}`);
  }
  let offset = start + 2;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > end) throw malformed('field runs past the end');
    const length = int32At(source, offset);
    offset += 4;
    if (length < -1 || offset + fieldSize(length) > end) throw malformed('field runs past the end');
    fields[2 * i] = offset;
    fields[2 * i + 1] = length;
    offset += fieldSize(length);
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
 * Size in bytes of the DataRow message (type byte and length included) that `writeRebuiltDataRow`
 * produces for these replacements: what to reserve in an output buffer.
 */
export function rebuiltDataRowLength(
  source: Buffer,
  fields: Int32Array,
  count: number,
  replacements: readonly FieldReplacement[],
  start = 0,
  end: number = source.length,
): number {
  let length = 5 + end - start;
  for (let i = 0; i < count; i++) {
    const replacement = replacements[i];
    if (replacement === undefined) continue;
    length -= fieldSize(fields[2 * i + 1] as number);
    if (replacement === null) continue;
    length += typeof replacement === 'string' ? textLength(replacement) : replacement.length;
  }
  return length;
}

/**
 * Writes at `at` in `out` a complete DataRow message equal to the row in `source[start, end)` except
 * for the fields that `replacements` sets, and returns the offset after it. `fields` and `count`
 * come from `readDataRowFields` on the same row; `length` from `rebuiltDataRowLength` (the caller
 * reserved that much). Runs of kept fields are copied at once; nothing is allocated.
 */
export function writeRebuiltDataRow(
  out: Buffer,
  at: number,
  length: number,
  source: Buffer,
  fields: Int32Array,
  count: number,
  replacements: readonly FieldReplacement[],
  start = 0,
  end: number = source.length,
): number {
  out[at] = BackendCode.DataRow;
  putInt32(out, at + 1, length - 1);
  let target = at + 5;
  let runStart = start; // the first byte of the row not yet copied (the field count first)
  for (let i = 0; i < count; i++) {
    const replacement = replacements[i];
    if (replacement === undefined) continue;
    const valueOffset = fields[2 * i] as number;
    target += copyRange(source, runStart, valueOffset - 4, out, target);
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
    runStart = valueOffset + fieldSize(fields[2 * i + 1] as number);
  }
  return target + copyRange(source, runStart, end, out, target);
}

/**
 * A new DataRow message equal to the row in `source[start, end)` except for the fields that
 * `replacements` sets: the length is computed first and the message allocated once.
 */
export function rebuildDataRow(
  source: Buffer,
  fields: Int32Array,
  count: number,
  replacements: readonly FieldReplacement[],
  start = 0,
  end: number = source.length,
): Buffer {
  const length = rebuiltDataRowLength(source, fields, count, replacements, start, end);
  const out = Buffer.allocUnsafe(length);
  writeRebuiltDataRow(out, 0, length, source, fields, count, replacements, start, end);
  return out;
}
