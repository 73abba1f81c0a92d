import { canonicalJson, canonicalRow, isPlainRow } from './canonical.js';
import type { EncodedDataRows } from './encoded-data-rows.js';

/**
 * Room kept before the rows for the event's leading members, `{"offset":<n>,"prevHash":"<64 hex>",
 * "rows":` (at most 112 bytes), so that sealing writes them in place instead of copying the rows
 * into a new buffer.
 */
const HEAD_ROOM = 128;

/** What a batch starts with: a one-row result fits (and comes from Node's 8 KiB slab). */
const SMALL_BYTES = 2048;

/**
 * Row-batch buffers handed back once their event is in the store, for the next batches. Fresh
 * memory is costly to touch (a page fault per 4 KiB, several µs each on a VM); a reused buffer is
 * not. At most `keep` buffers are kept, so an idle recorder holds `keep × size` bytes.
 */
export class BatchBufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    /** Bytes a batch starts with (room before the rows included). */
    readonly size: number,
    private readonly keep = 8,
  ) {}

  /** A buffer for a batch expecting up to `rowBytes` bytes of rows. */
  static sizeFor(rowBytes: number): number {
    return HEAD_ROOM + Math.max(64, rowBytes);
  }

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(this.size);
  }

  give(buffer: Buffer): void {
    // A batch that outgrew its buffer gives back the grown one: kept only if it is the usual size.
    // Never a view of Node's shared slab (other buffers live there).
    if (
      buffer.length === this.size &&
      buffer.buffer.byteLength === this.size &&
      this.free.length < this.keep
    ) {
      this.free.push(buffer);
    }
  }
}

/** What a `result.rows` event carries besides its rows; the members of its envelope. */
export interface RowsEnvelope {
  prevHash: string;
  seq: number;
  session: string;
  ts: number;
}

/**
 * Rows gathered for one `result.rows` event, kept as the UTF-8 bytes of their canonical JSON array
 * in one growing buffer that becomes the event's body: the rows are encoded once, straight into
 * the buffer, and sealing writes the members around them in place (no join, no copy).
 *
 * The members of a `result.rows` event, in canonical (sorted) order, are
 * `offset, prevHash, rows, seq, session, statementId, ts, type`: all but `offset` and `prevHash`
 * follow the rows, so the body is `head ‖ rows ‖ tail` with the head written right-aligned into
 * the room kept before the rows.
 */
export class RowBatch {
  private buffer: Buffer;
  /** End of the rows written so far (the closing bracket is written when the batch is sealed). */
  private end = HEAD_ROOM + 1;
  count = 0;

  constructor(
    readonly statementId: string,
    /** Index (0-based) of the batch's first row within its result. */
    readonly offset: number,
    private readonly pool: BatchBufferPool,
  ) {
    // Most results are a few rows: start in a small buffer (cut from Node's shared slab), and
    // move to a full-size pooled one only when the rows outgrow it.
    this.buffer = Buffer.allocUnsafe(SMALL_BYTES);
    this.buffer[HEAD_ROOM] = 0x5b; // [
  }

  /** Hands the buffer back to the pool: the sealed body is not read again. */
  release(): void {
    this.pool.give(this.buffer);
  }

  /** Bytes of row JSON gathered so far. */
  get bytes(): number {
    return this.end - HEAD_ROOM;
  }

  /** Appends `rows[start..end)` in canonical form. */
  append(rows: readonly unknown[][], start: number, end: number): void {
    let plain = true;
    for (let i = start; i < end && plain; i++) plain = isPlainRow(rows[i] ?? []);
    if (plain) {
      // JSON.stringify writes rows of plain values canonically, in one native call.
      this.appendArray(JSON.stringify(start === 0 && end === rows.length ? rows : rows.slice(start, end)));
    } else {
      for (let i = start; i < end; i++) this.appendArray(`[${canonicalRow(rows[i] ?? [])}]`);
    }
    this.count += end - start;
  }

  /** Appends rows [from, to) of `rows`, already in canonical form: one copy of their bytes. */
  appendEncoded(rows: EncodedDataRows, from: number, to: number): void {
    // Each row has a leading comma; the batch's first row goes after its own bracket instead.
    const start = rows.endOf(from) + (this.end === HEAD_ROOM + 1 ? 1 : 0);
    const end = rows.endOf(to);
    this.reserve(end - start);
    this.end += rows.bytes.copy(this.buffer, this.end, start, end);
    this.count += to - from;
  }

  /**
   * Appends the elements of a non-empty JSON array text `[a,b]`. It is written whole at the end
   * of the rows, over the separator's place: its opening bracket is then overwritten with a comma
   * (or is the batch's own opening bracket) and its closing bracket is dropped, so no substring is
   * ever made.
   */
  private appendArray(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.reserve(text.length * 3);
    const at = this.end === HEAD_ROOM + 1 ? HEAD_ROOM : this.end;
    const written = this.buffer.write(text, at, 'utf8');
    if (at !== HEAD_ROOM) this.buffer[at] = 0x2c; // ,
    this.end = at + written - 1;
  }

  private reserve(bytes: number): void {
    if (this.end + bytes <= this.buffer.length) return;
    const needed = this.end + bytes;
    const grown =
      this.buffer.length === SMALL_BYTES && needed <= this.pool.size
        ? this.pool.take()
        : Buffer.allocUnsafe(Math.max(this.buffer.length * 2, needed));
    this.buffer.copy(grown, 0, 0, this.end);
    this.buffer = grown;
  }

  /**
   * The canonical body of the `result.rows` event (without its hash), written around the rows in
   * place. The view is valid until the batch is dropped; the batch takes no more rows.
   */
  seal(envelope: RowsEnvelope): Buffer {
    const head = `{"offset":${canonicalJson(this.offset)},"prevHash":${canonicalJson(envelope.prevHash)},"rows":`;
    const tail =
      `],"seq":${canonicalJson(envelope.seq)},"session":${canonicalJson(envelope.session)}` +
      `,"statementId":${canonicalJson(this.statementId)},"ts":${canonicalJson(envelope.ts)}` +
      ',"type":"result.rows"}';
    this.reserve(tail.length * 3);
    const end = this.end + this.buffer.write(tail, this.end, 'utf8');
    // The head is ASCII unless prevHash is not a hash (it always is): fall back to a copy then.
    if (head.length > HEAD_ROOM || Buffer.byteLength(head) !== head.length) {
      return Buffer.concat([Buffer.from(head, 'utf8'), this.buffer.subarray(HEAD_ROOM, end)]);
    }
    const start = HEAD_ROOM - head.length;
    this.buffer.write(head, start, 'latin1');
    return this.buffer.subarray(start, end);
  }
}
