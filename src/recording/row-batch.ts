/**
 * Rows gathered for one `result.rows` event, kept as the UTF-8 bytes of their canonical JSON array
 * (`[row,row,...]`) in one growing buffer: no per-batch string joins, nothing for the garbage
 * collector but the buffer itself.
 */
export class RowBatch {
  private buffer: Buffer;
  private length = 1;
  count = 0;

  constructor(
    readonly statementId: string,
    /** Index (0-based) of the batch's first row within its result. */
    readonly offset: number,
    initialBytes: number,
  ) {
    this.buffer = Buffer.allocUnsafe(Math.max(64, initialBytes));
    this.buffer[0] = 0x5b; // [
  }

  get bytes(): number {
    return this.length;
  }

  /** Appends rows already in canonical form, comma-joined. */
  append(canonicalRowsText: string, rows: number): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit; room for a comma and the closing bracket too.
    const worst = canonicalRowsText.length * 3 + 2;
    if (this.length + worst > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + worst));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    if (this.count > 0) this.buffer[this.length++] = 0x2c; // ,
    this.length += this.buffer.write(canonicalRowsText, this.length, 'utf8');
    this.count += rows;
  }

  /** The canonical JSON array of the rows. The view is valid until the batch is dropped. */
  close(): Buffer {
    this.buffer[this.length] = 0x5d; // ]
    return this.buffer.subarray(0, this.length + 1);
  }
}
