import { PgClientError } from './errors.js';

const EMPTY = Buffer.alloc(0);
/** Type byte plus the Int32 length. */
const HEADER = 5;

/**
 * Splits the backend byte stream into whole messages (type byte, length, body).
 *
 * Frames are handed out as `subarray`s of the received chunks, never copied, and the memory behind
 * a frame that was handed out is never written again: a caller may keep a frame (a raw DataRow to
 * forward later) without it changing underneath. A frame that spans chunks is reserved at its full
 * announced size once, so a large row costs one copy, not one concatenation per chunk.
 *
 * Pull-based: `push` stores bytes, `next` yields one frame at a time, so the connection can stop
 * pulling while a consumer applies backpressure.
 */
export class FrameReader {
  readonly #maxFrameSize: number;
  #buf: Buffer = EMPTY;
  #off = 0;
  /** A frame being filled across chunks, allocated at its full size. */
  #partial: Buffer | null = null;
  #filled = 0;
  /** A frame completed by the last push, to be returned before anything in `#buf`. */
  #completed: Buffer | null = null;

  constructor(maxFrameSize: number) {
    this.#maxFrameSize = maxFrameSize;
  }

  /** Bytes received but not yet returned as frames. */
  get buffered(): number {
    return this.#buf.length - this.#off + this.#filled + (this.#completed?.length ?? 0);
  }

  push(chunk: Buffer): void {
    if (this.#partial !== null) {
      const n = Math.min(this.#partial.length - this.#filled, chunk.length);
      chunk.copy(this.#partial, this.#filled, 0, n);
      this.#filled += n;
      if (this.#filled < this.#partial.length) return;
      this.#completed = this.#partial;
      this.#partial = null;
      this.#filled = 0;
      chunk = chunk.subarray(n);
      if (chunk.length === 0) return;
    }
    if (this.#off >= this.#buf.length) {
      this.#buf = chunk;
    } else {
      // Only when a consumer stalled with frames still unread, or a header was split: rare and small.
      this.#buf = Buffer.concat([this.#buf.subarray(this.#off), chunk]);
    }
    this.#off = 0;
  }

  /** The next whole frame, or undefined when more bytes are needed. Throws ERR_PG_PROTOCOL on a bad length. */
  next(): Buffer | undefined {
    if (this.#completed !== null) {
      const frame = this.#completed;
      this.#completed = null;
      return frame;
    }
    const available = this.#buf.length - this.#off;
    if (available < HEADER) return undefined;
    const length = this.#buf.readInt32BE(this.#off + 1);
    // The length counts itself; anything below 4 or above the cap is a broken or hostile stream,
    // checked before a byte of the body is buffered.
    if (length < 4 || length + 1 > this.#maxFrameSize) {
      throw new PgClientError(
        'ERR_PG_PROTOCOL',
        `backend message of ${length} bytes is outside the allowed 4..${this.#maxFrameSize - 1}`,
      );
    }
    const size = length + 1;
    if (size <= available) {
      const frame = this.#buf.subarray(this.#off, this.#off + size);
      this.#off += size;
      if (this.#off === this.#buf.length) {
        this.#buf = EMPTY;
        this.#off = 0;
      }
      return frame;
    }
    this.#partial = Buffer.allocUnsafe(size);
    this.#buf.copy(this.#partial, 0, this.#off);
    this.#filled = available;
    this.#buf = EMPTY;
    this.#off = 0;
    return undefined;
  }
}
