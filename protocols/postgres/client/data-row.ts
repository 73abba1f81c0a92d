import { PgClientError } from './errors.js';

/** Message type byte of a DataRow ('D'). */
export const DATA_ROW = 0x44;

/**
 * Field values of a DataRow frame (type byte and length included) as UTF-8 text, null for SQL NULL.
 * The connection asks for client_encoding UTF8 at startup, so UTF-8 is the wire encoding.
 */
export function dataRowText(frame: Buffer): (string | null)[] {
  if (frame.length < 7) throw truncated();
  const count = frame.readUInt16BE(5);
  const values = new Array<string | null>(count);
  let at = 7;
  for (let i = 0; i < count; i++) {
    const length = readFieldLength(frame, at);
    at += 4;
    if (length < 0) {
      values[i] = null;
    } else {
      values[i] = frame.toString('utf8', at, at + length);
      at += length;
    }
  }
  return values;
}

/**
 * Field values of a DataRow frame as byte views (no copy, no decoding), null for SQL NULL: for a
 * caller that forwards rows and looks only at the fields it must rewrite.
 */
export function dataRowFields(frame: Buffer): (Buffer | null)[] {
  if (frame.length < 7) throw truncated();
  const count = frame.readUInt16BE(5);
  const fields = new Array<Buffer | null>(count);
  let at = 7;
  for (let i = 0; i < count; i++) {
    const length = readFieldLength(frame, at);
    at += 4;
    if (length < 0) {
      fields[i] = null;
    } else {
      fields[i] = frame.subarray(at, at + length);
      at += length;
    }
  }
  return fields;
}

function readFieldLength(frame: Buffer, at: number): number {
  if (at + 4 > frame.length) throw truncated();
  const length = frame.readInt32BE(at);
  // Every read stays inside the frame: a field may not claim more bytes than the frame holds.
  if (length > frame.length - at - 4) throw truncated();
  return length;
}

function truncated(): PgClientError {
  return new PgClientError('ERR_PG_PROTOCOL', 'DataRow field runs past the end of its message');
}
