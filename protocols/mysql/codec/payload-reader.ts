import { MysqlProtocolError } from '../errors.js';

/**
 * A bounded cursor over one packet payload. Every read checks the payload's end first and throws
 * ERR_PACKET_MALFORMED rather than reading past it; nothing here trusts a length the peer sent.
 */
export class PayloadReader {
  readonly #payload: Buffer;
  #offset: number;

  constructor(payload: Buffer, offset = 0) {
    this.#payload = payload;
    this.#offset = offset;
  }

  get offset(): number {
    return this.#offset;
  }

  get remaining(): number {
    return this.#payload.length - this.#offset;
  }

  #need(bytes: number, what: string): void {
    if (bytes < 0 || this.#offset + bytes > this.#payload.length) {
      throw new MysqlProtocolError(
        'ERR_PACKET_MALFORMED',
        `payload ends before ${what} (needs ${bytes} bytes at offset ${this.#offset}, has ${this.remaining})`,
      );
    }
  }

  u8(what = 'a byte'): number {
    this.#need(1, what);
    return this.#payload[this.#offset++] as number;
  }

  u16(what = 'a 2-byte integer'): number {
    this.#need(2, what);
    const value = this.#payload.readUInt16LE(this.#offset);
    this.#offset += 2;
    return value;
  }

  u24(what = 'a 3-byte integer'): number {
    this.#need(3, what);
    const value = this.#payload.readUIntLE(this.#offset, 3);
    this.#offset += 3;
    return value;
  }

  u32(what = 'a 4-byte integer'): number {
    this.#need(4, what);
    const value = this.#payload.readUInt32LE(this.#offset);
    this.#offset += 4;
    return value;
  }

  u64(what = 'an 8-byte integer'): bigint {
    this.#need(8, what);
    const value = this.#payload.readBigUInt64LE(this.#offset);
    this.#offset += 8;
    return value;
  }

  i64(what = 'an 8-byte integer'): bigint {
    this.#need(8, what);
    const value = this.#payload.readBigInt64LE(this.#offset);
    this.#offset += 8;
    return value;
  }

  /**
   * A length-encoded integer. Values beyond 2^53 cannot be a length we would honour anyway; they
   * are rejected rather than silently rounded. 0xfb (NULL) and 0xff (ERR) are not integers here.
   */
  lenencInt(what = 'a length-encoded integer'): number {
    const first = this.u8(what);
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.u16(what);
    if (first === 0xfd) return this.u24(what);
    if (first === 0xfe) {
      const value = this.u64(what);
      if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new MysqlProtocolError('ERR_PACKET_MALFORMED', `${what} is too large (${value})`);
      }
      return Number(value);
    }
    throw new MysqlProtocolError('ERR_PACKET_MALFORMED', `${what} starts with 0x${first.toString(16)}`);
  }

  bytes(length: number, what = 'bytes'): Buffer {
    this.#need(length, what);
    const value = this.#payload.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }

  lenencBytes(what = 'a length-encoded string'): Buffer {
    return this.bytes(this.lenencInt(what), what);
  }

  lenencString(what = 'a length-encoded string'): string {
    return this.lenencBytes(what).toString('utf8');
  }

  /** Bytes up to a NUL, which is consumed. Missing NUL is malformed. */
  nulBytes(what = 'a NUL-terminated string'): Buffer {
    const end = this.#payload.indexOf(0, this.#offset);
    if (end === -1) throw new MysqlProtocolError('ERR_PACKET_MALFORMED', `${what} has no terminating NUL`);
    const value = this.#payload.subarray(this.#offset, end);
    this.#offset = end + 1;
    return value;
  }

  nulString(what = 'a NUL-terminated string'): string {
    return this.nulBytes(what).toString('utf8');
  }

  /** Everything left in the payload. */
  rest(): Buffer {
    const value = this.#payload.subarray(this.#offset);
    this.#offset = this.#payload.length;
    return value;
  }

  skip(bytes: number, what = 'reserved bytes'): void {
    this.#need(bytes, what);
    this.#offset += bytes;
  }
}
