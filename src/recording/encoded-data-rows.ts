import { NEEDS_ROOM, NOT_UTF8, jsonStringBound, writeJsonHexString, writeJsonString } from './json-bytes.js';

/** What a set starts with (from Node's shared slab: a one-row result fits). */
const FIRST_BYTES = 2048;

/**
 * Rows of one Postgres result, encoded for the record as their DataRow messages arrive: each row
 * as the canonical JSON array of its fields, written straight from the received bytes (no JS
 * string per field, no second copy of the message). A recorder (`onDataRows`) then appends them
 * to its batch with a copy of bytes.
 *
 * A row is exactly what `canonicalJson` writes for the row decoded as the string path decodes it:
 * text-format fields as their UTF-8 text (`toString('utf8')`, U+FFFD for what is not UTF-8),
 * binary-format fields as `\x` and lowercase hex (what bytea looks like, so a reader can tell it is
 * not text), NULL as null.
 *
 * Rows are kept back to back, each with a leading comma (`,[..],[..]`), so that any run of them
 * is one slice a batch can copy as is (dropping the first comma when it starts the batch).
 */
export class EncodedDataRows {
  #buffer: Buffer = Buffer.allocUnsafe(FIRST_BYTES);
  #view = viewOf(this.#buffer);
  #end = 0;
  /** Where each row's JSON ends in the buffer. */
  #ends: number[] = [];
  /** The buffer the last row arrived in, and a view of it (rows come many to a received chunk). */
  #source: Buffer | undefined;
  #sourceView: DataView | undefined;
  readonly #allText: boolean;
  readonly #allBinary: boolean;

  constructor(
    /** Format code per column (0 text, 1 binary); one code applies to all columns; none means text. */
    private readonly formats: readonly number[],
  ) {
    this.#allText = formats.length === 0 || (formats.length === 1 && formats[0] !== 1);
    this.#allBinary = formats.length === 1 && formats[0] === 1;
  }

  /** Rows held. */
  get count(): number {
    return this.#ends.length;
  }

  /** The encoded rows, `,[..],[..]` (a view, valid until the next `add` or `clear`). */
  get bytes(): Buffer {
    return this.#buffer;
  }

  /** Where rows [0, i) end in `bytes` (0 for none). */
  endOf(i: number): number {
    return i === 0 ? 0 : (this.#ends[i - 1] as number);
  }

  /** Drops the rows held (the buffer is kept for the next ones). */
  clear(): void {
    this.#end = 0;
    this.#ends.length = 0;
  }

  /**
   * Encodes the DataRow message at buf[start, end) (type byte at `start`). Throws a RangeError,
   * before keeping anything of the row, when a field runs past the message.
   */
  add(buf: Buffer, start: number, end: number): void {
    let from = this.#sourceView;
    if (buf !== this.#source || from === undefined) {
      from = this.#sourceView = viewOf(buf);
      this.#source = buf;
    }
    const fields = from.getInt16(start + 5);
    if (fields < 0) throw new RangeError('DataRow with a negative field count');
    // Room for the row without escapes: no field takes more than its length, its 4-byte length
    // and a comma, except binary ones (two hex digits a byte); escapes ask for more as they come.
    let to = this.#room(this.#end, 2 * (end - start) + 8);
    let limit = to.byteLength;
    let o = this.#end;
    const allText = this.#allText;
    to.setUint16(o, 0x2c5b); // ,[
    o += 2;
    let p = start + 7;
    for (let i = 0; i < fields; i++) {
      if (i > 0) to.setUint8(o++, 0x2c); // ,
      if (p + 4 > end) throw new RangeError('DataRow field runs past its message');
      const length = from.getInt32(p);
      p += 4;
      if (length < 0) {
        to.setUint32(o, 0x6e756c6c); // null
        o += 4;
        continue;
      }
      const valueEnd = p + length;
      if (valueEnd > end) throw new RangeError('DataRow field runs past its message');
      if (!allText && this.#isBinary(i)) {
        o = writeJsonHexString(from, p, valueEnd, to, o);
      } else {
        // What the rest of the row may take stays free: escapes here cannot eat into it.
        const rest = 2 * (end - valueEnd) + 4;
        let written = writeJsonString(from, p, valueEnd, to, o, limit - rest);
        if (written === NEEDS_ROOM) {
          to = this.#room(o, jsonStringBound(length) + rest);
          limit = to.byteLength;
          written = writeJsonString(from, p, valueEnd, to, o, limit - rest);
        }
        if (written === NOT_UTF8) {
          // Decoded as the string path decodes it (U+FFFD for what is not UTF-8), then written.
          const text = JSON.stringify(buf.toString('utf8', p, valueEnd));
          to = this.#room(o, 3 * text.length + rest);
          limit = to.byteLength;
          written = o + this.#buffer.write(text, o, 'utf8');
        }
        o = written;
      }
      p = valueEnd;
    }
    to.setUint8(o++, 0x5d); // ]
    this.#end = o;
    this.#ends.push(o);
  }

  #isBinary(column: number): boolean {
    return this.#allBinary || (column < this.formats.length && this.formats[column] === 1);
  }

  /** A view of the buffer with room for `bytes` more bytes after `at` (what is before `at` kept). */
  #room(at: number, bytes: number): DataView {
    if (at + bytes <= this.#buffer.length) return this.#view;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.#buffer.length, at + bytes));
    this.#buffer.copy(grown, 0, 0, at);
    this.#buffer = grown;
    return (this.#view = viewOf(grown));
  }
}

function viewOf(buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}
