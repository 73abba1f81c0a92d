import type { SessionRecorder } from '../../recording/types.js';

/** Rows go to the recorder in batches: one call per batch, not per row. */
const BATCH_ROWS = 100;

/**
 * Records the rows of one result as the client received them (after masking): each DataRow is
 * decoded to strings, text fields as UTF-8, binary fields as `\x` and hex (what bytea looks like,
 * so a reader can tell it is not text), NULL as null.
 */
export class RowRecording {
  #batch: (string | null)[][] = [];
  #rows = 0;

  constructor(
    private readonly recording: SessionRecorder,
    private readonly statementId: string,
    /** Format code per column (0 text, 1 binary); empty means all text. */
    private readonly formats: readonly number[],
  ) {}

  get rows(): number {
    return this.#rows;
  }

  /** Decodes the DataRow message at buf[start, end) (type byte at `start`). */
  add(buf: Buffer, start: number, end: number): void {
    const count = buf.readInt16BE(start + 5);
    const row = new Array<string | null>(count);
    let pos = start + 7;
    for (let i = 0; i < count; i++) {
      const length = buf.readInt32BE(pos);
      pos += 4;
      if (length < 0) {
        row[i] = null;
        continue;
      }
      const valueEnd = pos + length;
      if (valueEnd > end) throw new RangeError('DataRow field runs past its message');
      const format = this.formats.length === 1 ? this.formats[0] : this.formats[i];
      row[i] =
        format === 1 ? `\\x${buf.toString('hex', pos, valueEnd)}` : buf.toString('utf8', pos, valueEnd);
      pos = valueEnd;
    }
    this.#batch.push(row);
    this.#rows++;
    if (this.#batch.length >= BATCH_ROWS) this.flush();
  }

  flush(): void {
    if (this.#batch.length === 0) return;
    this.recording.onRows(this.statementId, this.#batch);
    this.#batch = [];
  }
}
