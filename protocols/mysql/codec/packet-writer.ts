import { HEADER_SIZE, MAX_FRAGMENT } from './packet-reader.js';

/**
 * Frames payloads into packets with consecutive sequence ids. A payload of 16 MiB or more is split
 * into MAX_FRAGMENT-sized fragments, ending with a shorter (possibly empty) one, as the protocol
 * requires. The sequence restarts at 0 with each command (`reset`).
 */
export class PacketWriter {
  #sequenceId = 0;

  get sequenceId(): number {
    return this.#sequenceId;
  }

  /** Sets the id the next packet gets (the last received id + 1 when replying). */
  reset(sequenceId = 0): void {
    this.#sequenceId = sequenceId & 0xff;
  }

  /** One payload as framed bytes. */
  frame(payload: Buffer): Buffer {
    const fragments = Math.floor(payload.length / MAX_FRAGMENT) + 1;
    const out = Buffer.allocUnsafe(payload.length + fragments * HEADER_SIZE);
    this.#writeInto(out, 0, payload);
    return out;
  }

  /** Several payloads framed into one buffer, for one socket write. */
  frameAll(payloads: readonly Buffer[]): Buffer {
    let size = 0;
    for (const p of payloads) size += p.length + (Math.floor(p.length / MAX_FRAGMENT) + 1) * HEADER_SIZE;
    const out = Buffer.allocUnsafe(size);
    let offset = 0;
    for (const p of payloads) offset = this.#writeInto(out, offset, p);
    return out;
  }

  #writeInto(out: Buffer, offset: number, payload: Buffer): number {
    let from = 0;
    for (;;) {
      const length = Math.min(MAX_FRAGMENT, payload.length - from);
      out.writeUIntLE(length, offset, 3);
      out[offset + 3] = this.#sequenceId;
      this.#sequenceId = (this.#sequenceId + 1) & 0xff;
      payload.copy(out, offset + HEADER_SIZE, from, from + length);
      offset += HEADER_SIZE + length;
      from += length;
      if (length < MAX_FRAGMENT) return offset;
    }
  }
}
