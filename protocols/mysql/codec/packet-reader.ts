import { MysqlProtocolError } from '../errors.js';

/** Bytes of a packet header: 3-byte little-endian payload length, 1-byte sequence id. */
export const HEADER_SIZE = 4;
/** A payload of exactly this length continues in the next packet (payloads ≥ 16 MiB are split). */
export const MAX_FRAGMENT = 0xffffff;

/** One logical packet: its payload joined across fragments, and the last fragment's sequence id. */
export interface MysqlPacket {
  sequenceId: number;
  payload: Buffer;
}

/**
 * Splits a byte stream into MySQL packets. Pure and synchronous: bytes in, packets out.
 *
 * The announced length of every fragment is checked against `maxPacketSize` as soon as its header
 * is visible and before its body is kept, so a peer announcing a huge packet costs us at most the
 * chunk that carried the header. Returned payloads are views into the receive buffer; consumed
 * space is never written over (a full buffer is replaced, not compacted in place), so a payload
 * stays valid after later pushes.
 */
export class PacketReader {
  /** Largest logical payload accepted; lower it during the handshake, raise it after. */
  maxPacketSize: number;
  #buffer: Buffer = Buffer.alloc(0);
  #start = 0;
  #end = 0;
  /** Fragments of a split payload received so far (each already counted against the cap). */
  #fragments: Buffer[] = [];
  #fragmentBytes = 0;
  #lastSequenceId = -1;

  constructor(options: { maxPacketSize: number }) {
    this.maxPacketSize = options.maxPacketSize;
  }

  /** Bytes received and not yet returned as packets. */
  get buffered(): number {
    return this.#end - this.#start + this.#fragmentBytes;
  }

  /**
   * Takes the bytes received past the last complete packet, leaving the reader empty. Used when
   * the stream switches to TLS: what follows an SSLRequest belongs to the TLS handshake.
   */
  takeUnread(): Buffer {
    if (this.#fragments.length > 0) {
      throw new MysqlProtocolError('ERR_PACKET_MALFORMED', 'stream switched in the middle of a split packet');
    }
    const unread = Buffer.from(this.#buffer.subarray(this.#start, this.#end));
    this.#start = this.#end;
    return unread;
  }

  /** Adds received bytes. Throws ERR_PACKET_TOO_LARGE when the pending packet announces too much. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.#start === this.#end) {
      // Nothing pending: adopt the chunk itself, no copy.
      this.#buffer = chunk;
      this.#start = 0;
      this.#end = chunk.length;
    } else {
      this.#append(chunk);
    }
    this.#checkPendingHeader();
  }

  /** The next complete packet, or undefined until more bytes arrive. */
  next(): MysqlPacket | undefined {
    for (;;) {
      const available = this.#end - this.#start;
      if (available < HEADER_SIZE) return undefined;
      const length = this.#checkPendingHeader();
      if (available < HEADER_SIZE + length) return undefined;
      const sequenceId = this.#buffer[this.#start + 3] as number;
      const bodyStart = this.#start + HEADER_SIZE;
      const body = this.#buffer.subarray(bodyStart, bodyStart + length);
      this.#start = bodyStart + length;
      if (this.#fragments.length > 0 && sequenceId !== ((this.#lastSequenceId + 1) & 0xff)) {
        throw new MysqlProtocolError(
          'ERR_PACKET_SEQUENCE',
          `packet fragment has sequence id ${sequenceId}, expected ${(this.#lastSequenceId + 1) & 0xff}`,
        );
      }
      this.#lastSequenceId = sequenceId;
      if (length === MAX_FRAGMENT) {
        this.#fragments.push(body);
        this.#fragmentBytes += length;
        continue;
      }
      if (this.#fragments.length === 0) return { sequenceId, payload: body };
      this.#fragments.push(body);
      const payload = Buffer.concat(this.#fragments, this.#fragmentBytes + length);
      this.#fragments = [];
      this.#fragmentBytes = 0;
      return { sequenceId, payload };
    }
  }

  /** Validates the header at the read position, if complete; returns its payload length. */
  #checkPendingHeader(): number {
    if (this.#end - this.#start < HEADER_SIZE) return 0;
    const length = this.#buffer.readUIntLE(this.#start, 3);
    if (this.#fragmentBytes + length > this.maxPacketSize) {
      throw new MysqlProtocolError(
        'ERR_PACKET_TOO_LARGE',
        `packet of ${this.#fragmentBytes + length} bytes exceeds the limit of ${this.maxPacketSize}`,
      );
    }
    return length;
  }

  #append(chunk: Buffer): void {
    const pending = this.#end - this.#start;
    if (this.#buffer.length - this.#end >= chunk.length) {
      chunk.copy(this.#buffer, this.#end);
      this.#end += chunk.length;
      return;
    }
    // Grow geometrically; the old buffer stays intact for payloads already handed out.
    const size = Math.max(4096, (pending + chunk.length) * 2);
    const next = Buffer.allocUnsafe(size);
    this.#buffer.copy(next, 0, this.#start, this.#end);
    chunk.copy(next, pending);
    this.#buffer = next;
    this.#start = 0;
    this.#end = pending + chunk.length;
  }
}
