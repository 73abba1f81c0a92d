import { ProtocolError } from './errors.js';

/**
 * Reads the fields of one frame body. Every read is checked against the end of the body, so a
 * frame that lies about a count or a length gives a ProtocolError, never a read into the next
 * message or past the buffer.
 */
export class FrameFields {
  private position = 0;

  constructor(
    private readonly body: Buffer,
    /** Message name for error text. */
    private readonly what: string,
  ) {}

  int16(): number {
    this.need(2);
    const value = this.body.readInt16BE(this.position);
    this.position += 2;
    return value;
  }

  int32(): number {
    this.need(4);
    const value = this.body.readInt32BE(this.position);
    this.position += 4;
    return value;
  }

  uint32(): number {
    this.need(4);
    const value = this.body.readUInt32BE(this.position);
    this.position += 4;
    return value;
  }

  byte(): number {
    this.need(1);
    return this.body[this.position++] as number;
  }

  /** A count field (int16) that may not be negative. */
  count(field: string): number {
    const n = this.int16();
    if (n < 0) throw this.malformed(`negative ${field} count`);
    return n;
  }

  /** A NUL-terminated string. Bounded by the body: `indexOf` runs on the body's own subarray. */
  cstring(): string {
    const end = this.body.indexOf(0, this.position);
    if (end === -1) throw this.malformed('string without terminator');
    const value = this.body.toString('utf8', this.position, end);
    this.position = end + 1;
    return value;
  }

  /** `length` bytes as a view into the body (no copy). */
  bytes(length: number): Buffer {
    this.need(length);
    const view = this.body.subarray(this.position, this.position + length);
    this.position += length;
    return view;
  }

  /** A frame with bytes after its last field is as suspect as one that is too short. */
  end(): void {
    if (this.position !== this.body.length) throw this.malformed('trailing bytes');
  }

  malformed(why: string): ProtocolError {
    return new ProtocolError('ERR_PG_MALFORMED', `malformed ${this.what} message: ${why}`);
  }

  private need(n: number): void {
    if (n < 0 || this.position + n > this.body.length) throw this.malformed('field runs past the end');
  }
}
