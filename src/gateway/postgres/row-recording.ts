import { EncodedDataRows } from '../../recording/encoded-data-rows.js';
import { nullSessionRecorder } from '../../recording/null-recorder.js';
import type { SessionRecorder } from '../../recording/types.js';

/** Rows go to the recorder in batches: one call per batch, not per row. */
const BATCH_ROWS = 100;

/**
 * Records the rows of one result as the client received them (after masking): text fields as
 * their UTF-8 text, binary fields as `\x` and hex (what bytea looks like, so a reader can tell it
 * is not text), NULL as null.
 *
 * A recorder that takes encoded rows (`onDataRows`) gets each DataRow written into its record
 * form straight from the received bytes, as it arrives (the relay's receive buffer is reused
 * once `add` returns); any other recorder gets each DataRow decoded to strings, through `onRows`.
 * Both record the same bytes.
 */
export class RowRecording {
  #rows = 0;
  /** The bytes path: the rows gathered, encoded. */
  readonly #encoded: EncodedDataRows | undefined;
  /** The string path: the rows gathered, decoded. */
  #decoded: (string | null)[][] = [];
  /** Recording is off: rows are only counted. */
  readonly #discards: boolean;

  constructor(
    private readonly recording: SessionRecorder,
    private readonly statementId: string,
    /** Format code per column (0 text, 1 binary); empty means all text. */
    private readonly formats: readonly number[],
  ) {
    this.#discards = recording === nullSessionRecorder;
    if (typeof recording.onDataRows === 'function') this.#encoded = new EncodedDataRows(formats);
  }

  get rows(): number {
    return this.#rows;
  }

  /** Records the DataRow message at buf[start, end) (type byte at `start`). */
  add(buf: Buffer, start: number, end: number): void {
    if (this.#discards) {
      this.#rows++;
      return;
    }
    const encoded = this.#encoded;
    if (encoded !== undefined) {
      encoded.add(buf, start, end);
      this.#rows++;
      if (encoded.count >= BATCH_ROWS) this.flush();
    } else {
      this.#decoded.push(decodeDataRow(buf, start, end, this.formats));
      this.#rows++;
      if (this.#decoded.length >= BATCH_ROWS) this.flush();
    }
  }

  /** Records the `count` whole DataRow messages of buf[start, end). */
  addRun(buf: Buffer, start: number, end: number, count: number): void {
    if (this.#discards) {
      this.#rows += count;
      return;
    }
    for (let r = start; r < end;) {
      const next = r + 1 + buf.readInt32BE(r + 1);
      this.add(buf, r, next);
      r = next;
    }
  }

  flush(): void {
    const encoded = this.#encoded;
    if (encoded !== undefined) {
      if (encoded.count === 0) return;
      this.recording.onDataRows?.(this.statementId, encoded);
      encoded.clear();
    } else if (this.#decoded.length > 0) {
      const rows = this.#decoded;
      this.#decoded = [];
      this.recording.onRows(this.statementId, rows);
    }
  }
}

/**
 * The DataRow at buf[start, end) as strings: text fields as UTF-8, binary fields as `\x` and hex,
 * NULL as null. What `onDataRows` must record the same as.
 */
export function decodeDataRow(
  buf: Buffer,
  start: number,
  end: number,
  formats: readonly number[],
): (string | null)[] {
  const count = buf.readInt16BE(start + 5);
  const row = new Array<string | null>(count);
  let pos = start + 7;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > end) throw new RangeError('DataRow field runs past its message');
    const length = buf.readInt32BE(pos);
    pos += 4;
    if (length < 0) {
      row[i] = null;
      continue;
    }
    const valueEnd = pos + length;
    if (valueEnd > end) throw new RangeError('DataRow field runs past its message');
    const format = formats.length === 1 ? formats[0] : formats[i];
    row[i] = format === 1 ? `\\x${buf.toString('hex', pos, valueEnd)}` : buf.toString('utf8', pos, valueEnd);
    pos = valueEnd;
  }
  return row;
}
