import type { ClientCharset } from './charsets.js';
/**
 * Builds one packet payload in a growing buffer. Writers compute nothing twice: strings are
 * encoded once and their byte length used for the length prefix.
 */
export class PayloadBuilder {
  #buffer: Buffer;
  #length = 0;

  constructor(initialSize = 256) {
    this.#buffer = Buffer.allocUnsafe(initialSize);
  }

  #reserve(bytes: number): void {
    if (this.#length + bytes <= this.#buffer.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#length + bytes));
    this.#buffer.copy(next, 0, 0, this.#length);
    this.#buffer = next;
  }

  u8(value: number): this {
    this.#reserve(1);
    this.#buffer[this.#length++] = value & 0xff;
    return this;
  }

  u16(value: number): this {
    this.#reserve(2);
    this.#buffer.writeUInt16LE(value & 0xffff, this.#length);
    this.#length += 2;
    return this;
  }

  u24(value: number): this {
    this.#reserve(3);
    this.#buffer.writeUIntLE(value & 0xffffff, this.#length, 3);
    this.#length += 3;
    return this;
  }

  u32(value: number): this {
    this.#reserve(4);
    this.#buffer.writeUInt32LE(value >>> 0, this.#length);
    this.#length += 4;
    return this;
  }

  u64(value: number | bigint): this {
    this.#reserve(8);
    this.#buffer.writeBigUInt64LE(BigInt(value), this.#length);
    this.#length += 8;
    return this;
  }

  /** A length-encoded integer; a negative one (a signed last insert id) as its 64-bit two's complement. */
  lenencInt(value: number): this {
    if (value < 0) return this.u8(0xfe).u64(BigInt.asUintN(64, BigInt(Math.trunc(value))));
    if (value < 0xfb) return this.u8(value);
    if (value <= 0xffff) return this.u8(0xfc).u16(value);
    if (value <= 0xffffff) return this.u8(0xfd).u24(value);
    return this.u8(0xfe).u64(value);
  }

  bytes(value: Buffer | Uint8Array): this {
    this.#reserve(value.length);
    this.#buffer.set(value, this.#length);
    this.#length += value.length;
    return this;
  }

  /** Text as UTF-8 (or in the client's character set) with no prefix or terminator. */
  text(value: string, charset?: ClientCharset): this {
    if (charset !== undefined && !charset.utf8) return this.bytes(charset.encode(value));
    const length = Buffer.byteLength(value);
    this.#reserve(length);
    this.#buffer.write(value, this.#length, 'utf8');
    this.#length += length;
    return this;
  }

  lenencText(value: string, charset?: ClientCharset): this {
    if (charset !== undefined && !charset.utf8) return this.lenencBytes(charset.encode(value));
    return this.lenencInt(Buffer.byteLength(value)).text(value);
  }

  lenencBytes(value: Buffer): this {
    return this.lenencInt(value.length).bytes(value);
  }

  nulText(value: string): this {
    return this.text(value).u8(0);
  }

  zeros(count: number): this {
    this.#reserve(count);
    this.#buffer.fill(0, this.#length, this.#length + count);
    this.#length += count;
    return this;
  }

  /** The payload built so far (a view; build a new builder for the next payload). */
  build(): Buffer {
    return this.#buffer.subarray(0, this.#length);
  }
}
