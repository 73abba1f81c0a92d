import { FrontendCode, StartupCode } from './codes.js';
import { ProtocolError } from './errors.js';

/** One message from a client, as bytes. Decode it with `decodeFrontendMessage` when needed. */
export interface FrontendFrame {
  /** The type byte of a typed message, or the request code (`StartupCode`) of a startup packet. */
  readonly type: number;
  /** The bytes after the length field (for a startup packet this starts with the request code). */
  readonly body: Buffer;
  /** The whole message as received (type byte, length, body), for forwarding untouched. */
  readonly raw: Buffer;
}

export interface FrontendReaderOptions {
  /** Largest body (after the length field) accepted for Query, Parse, Bind, FunctionCall, CopyData. */
  maxMessageBody?: number;
  /** Capacity of the first receive buffer; it grows geometrically up to the largest frame allowed. */
  initialCapacity?: number;
}

export type FrontendReaderPhase = 'startup' | 'typed';

/** Postgres (and pgx) refuse startup packets above 10,000 bytes; so do we. */
export const MAX_STARTUP_PACKET = 10_000;
/** Postgres' limit for messages that carry no payload of the user's choosing. */
const SMALL_MESSAGE_BODY = 10_000;
/** Postgres' limit for one authentication token (password, SASL message). */
const AUTH_MESSAGE_BODY = 65_535;
const DEFAULT_MAX_BODY = 16 * 1024 * 1024;
const DEFAULT_CAPACITY = 8 * 1024;
const UNKNOWN = -1;

const TYPED_HEADER = 5;
const STARTUP_HEADER = 4;

/**
 * Splits the bytes a client sends into frames. Pure and synchronous: `push` chunks as they arrive,
 * then call `next` until it returns undefined.
 *
 * A frame that lies whole inside a pushed chunk is returned as a view of that chunk (no copy).
 * Only a frame split across chunks is assembled in the receive buffer, and only after its header
 * has been checked: the announced length is compared with the cap for its type before a single
 * body byte is buffered, because the client may be hostile.
 *
 * Returned frames are never overwritten later (the buffer is replaced, not reused, when it is full),
 * so a frame may be written to a socket as is and stay valid while the write is queued.
 */
export class FrontendReader {
  private phaseNow: FrontendReaderPhase = 'startup';
  /** Body cap per type byte; UNKNOWN for bytes the frontend protocol does not define. */
  private readonly bodyLimits: Int32Array;
  /** When set, the only type bytes accepted (checked from the header, like the caps). */
  private allowedTypes: readonly number[] | undefined;

  private readonly chunks: Buffer[] = [];
  private chunkIndex = 0;
  private chunkPos = 0;

  /** Receive buffer for a frame split across chunks: bytes [partStart, partEnd), `partTotal` when known. */
  private store: Buffer;
  private partStart = 0;
  private partEnd = 0;
  private partTotal = 0;

  constructor(options: FrontendReaderOptions = {}) {
    const maxBody = options.maxMessageBody ?? DEFAULT_MAX_BODY;
    this.store = Buffer.allocUnsafe(options.initialCapacity ?? DEFAULT_CAPACITY);
    this.bodyLimits = compileBodyLimits(maxBody);
  }

  /** 'startup' until a StartupMessage has been read; SSLRequest and GSSENCRequest keep it there. */
  get phase(): FrontendReaderPhase {
    return this.phaseNow;
  }

  /** Size of the receive buffer (for tests and metrics). */
  get capacity(): number {
    return this.store.length;
  }

  /** Bytes received and not yet returned as frames. */
  get bufferedBytes(): number {
    let n = this.partEnd - this.partStart;
    for (let i = this.chunkIndex; i < this.chunks.length; i++) n += (this.chunks[i] as Buffer).length;
    return n - this.chunkPos;
  }

  /**
   * Accept only these message types until called again with undefined. A server waiting for a
   * password uses it so that an unauthenticated client cannot make it buffer a large Query.
   */
  restrictTypes(types: readonly number[] | undefined): void {
    this.allowedTypes = types;
  }

  push(chunk: Buffer): void {
    if (chunk.length > 0) this.chunks.push(chunk);
  }

  /** The next complete frame, or undefined when more bytes are needed. Throws only ProtocolError. */
  next(): FrontendFrame | undefined {
    for (;;) {
      if (this.partEnd > this.partStart) return this.continuePartial();
      const chunk = this.chunks[this.chunkIndex];
      if (chunk === undefined) {
        this.chunks.length = 0;
        this.chunkIndex = 0;
        this.chunkPos = 0;
        return undefined;
      }
      const available = chunk.length - this.chunkPos;
      if (available === 0) {
        this.chunkIndex++;
        this.chunkPos = 0;
        continue;
      }
      const header = this.phaseNow === 'startup' ? STARTUP_HEADER : TYPED_HEADER;
      if (available < header) {
        this.beginPartial(chunk, available, 0);
        continue;
      }
      const total = this.frameTotal(chunk, this.chunkPos);
      if (available >= total) {
        const raw = chunk.subarray(this.chunkPos, this.chunkPos + total);
        this.chunkPos += total;
        return this.frame(raw);
      }
      this.beginPartial(chunk, available, total);
    }
  }

  /** Starts assembling a frame from the tail of `chunk`; `total` is 0 while its header is incomplete. */
  private beginPartial(chunk: Buffer, available: number, total: number): void {
    // Never reuse bytes of frames already returned: start after them, or in a fresh buffer.
    const room = total > 0 ? total : TYPED_HEADER;
    if (this.store.length - this.partEnd < room) {
      this.store = Buffer.allocUnsafe(this.grownCapacity(room));
      this.partEnd = 0;
    }
    this.partStart = this.partEnd;
    this.partTotal = total;
    chunk.copy(this.store, this.partEnd, this.chunkPos);
    this.partEnd += available;
    this.chunkIndex++;
    this.chunkPos = 0;
  }

  private continuePartial(): FrontendFrame | undefined {
    const header = this.phaseNow === 'startup' ? STARTUP_HEADER : TYPED_HEADER;
    for (;;) {
      const have = this.partEnd - this.partStart;
      if (this.partTotal === 0 && have >= header) {
        this.partTotal = this.frameTotal(this.store, this.partStart);
        if (this.store.length - this.partStart < this.partTotal) this.moveToLargerStore(this.partTotal);
      }
      const want = (this.partTotal === 0 ? header : this.partTotal) - have;
      if (want === 0) {
        const raw = this.store.subarray(this.partStart, this.partEnd);
        this.partStart = this.partEnd;
        return this.frame(raw);
      }
      const chunk = this.chunks[this.chunkIndex];
      if (chunk === undefined) {
        this.chunks.length = 0;
        this.chunkIndex = 0;
        this.chunkPos = 0;
        return undefined;
      }
      const take = Math.min(want, chunk.length - this.chunkPos);
      chunk.copy(this.store, this.partEnd, this.chunkPos, this.chunkPos + take);
      this.partEnd += take;
      this.chunkPos += take;
      if (this.chunkPos === chunk.length) {
        this.chunkIndex++;
        this.chunkPos = 0;
      }
    }
  }

  private moveToLargerStore(total: number): void {
    const next = Buffer.allocUnsafe(this.grownCapacity(total));
    this.store.copy(next, 0, this.partStart, this.partEnd);
    this.partEnd -= this.partStart;
    this.partStart = 0;
    this.store = next;
  }

  /** Geometric growth, never beyond what the frame needs when that is more. */
  private grownCapacity(needed: number): number {
    return needed <= this.store.length ? this.store.length : Math.max(needed, this.store.length * 2);
  }

  /** Checks the header at `pos` against the caps and returns the whole frame's size. */
  private frameTotal(buf: Buffer, pos: number): number {
    if (this.phaseNow === 'startup') {
      const length = buf.readInt32BE(pos);
      if (length < 8 || length > MAX_STARTUP_PACKET) {
        throw new ProtocolError(
          'ERR_PG_STARTUP_LENGTH',
          `invalid length of startup packet: ${length} (allowed 8 to ${MAX_STARTUP_PACKET})`,
        );
      }
      return length;
    }
    const type = buf[pos] as number;
    const limit = this.bodyLimits[type] as number;
    if (limit === UNKNOWN) {
      throw new ProtocolError('ERR_PG_UNKNOWN_MESSAGE', `invalid frontend message type ${type}`);
    }
    if (this.allowedTypes !== undefined && !this.allowedTypes.includes(type)) {
      throw new ProtocolError(
        'ERR_PG_UNEXPECTED_MESSAGE',
        `unexpected message type '${String.fromCharCode(type)}'`,
      );
    }
    const length = buf.readInt32BE(pos + 1);
    if (length < 4) throw new ProtocolError('ERR_PG_BAD_LENGTH', `invalid message length ${length}`);
    if (length - 4 > limit) {
      throw new ProtocolError(
        'ERR_PG_MESSAGE_TOO_LARGE',
        `message of type '${String.fromCharCode(type)}' announces ${length - 4} bytes (limit ${limit})`,
      );
    }
    return length + 1;
  }

  private frame(raw: Buffer): FrontendFrame {
    if (this.phaseNow === 'typed') return { type: raw[0] as number, body: raw.subarray(TYPED_HEADER), raw };
    const code = raw.readUInt32BE(4);
    let type: number;
    if (code === StartupCode.SSLRequest || code === StartupCode.GSSENCRequest) type = code;
    else if (code === StartupCode.CancelRequest) type = code;
    else if (code >>> 16 === 3) {
      type = StartupCode.StartupMessage;
      this.phaseNow = 'typed';
    } else {
      throw new ProtocolError(
        'ERR_PG_UNSUPPORTED_PROTOCOL',
        `unsupported frontend protocol ${code >>> 16}.${code & 0xffff}: server supports 3.0`,
      );
    }
    return { type, body: raw.subarray(STARTUP_HEADER), raw };
  }
}

function compileBodyLimits(maxBody: number): Int32Array {
  const limits = new Int32Array(256).fill(UNKNOWN);
  const large = Math.min(maxBody, 0x7fff_fffb);
  for (const type of [
    FrontendCode.Query,
    FrontendCode.Parse,
    FrontendCode.Bind,
    FrontendCode.FunctionCall,
    FrontendCode.CopyData,
  ]) {
    limits[type] = large;
  }
  for (const type of [
    FrontendCode.Close,
    FrontendCode.Describe,
    FrontendCode.Execute,
    FrontendCode.Flush,
    FrontendCode.Sync,
    FrontendCode.Terminate,
    FrontendCode.CopyDone,
    FrontendCode.CopyFail,
  ]) {
    limits[type] = Math.min(maxBody, SMALL_MESSAGE_BODY);
  }
  limits[FrontendCode.AuthenticationResponse] = Math.min(maxBody, AUTH_MESSAGE_BODY);
  return limits;
}
