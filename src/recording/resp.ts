import { Command } from 'ioredis';

/**
 * Redis commands encoded by hand (RESP2 arrays of bulk strings) into one reusable buffer, so a
 * store round trip costs one copy of each event body into memory that is already mapped, instead
 * of ioredis's two copies (per command, then per pipeline) into fresh buffers.
 */
export class RespEncoder {
  private buffer: Buffer;
  private end = 0;
  /** [start, end) of each command since the last reset. */
  private readonly bounds: number[] = [];

  constructor(initialBytes = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** Starts a new round trip; views of the previous one must no longer be in use. */
  reset(): void {
    this.end = 0;
    this.bounds.length = 0;
  }

  get commands(): number {
    return this.bounds.length / 2;
  }

  /** Encodes one command: `*<n>\r\n` then `$<len>\r\n<arg>\r\n` per argument. */
  command(args: readonly (string | Buffer)[]): void {
    const start = this.end;
    this.ascii(`*${args.length}\r\n`);
    for (const arg of args) {
      if (typeof arg === 'string') {
        const length = Buffer.byteLength(arg);
        this.ascii(`$${length}\r\n`);
        this.reserve(length + 2);
        this.end += this.buffer.write(arg, this.end, 'utf8');
      } else {
        this.ascii(`$${arg.length}\r\n`);
        this.reserve(arg.length + 2);
        this.end += arg.copy(this.buffer, this.end);
      }
      this.buffer[this.end++] = 0x0d; // \r
      this.buffer[this.end++] = 0x0a; // \n
    }
    this.bounds.push(start, this.end);
  }

  /** The bytes of every command since the last reset, in order (a view, valid until the next reset). */
  all(): Buffer {
    return this.buffer.subarray(0, this.end);
  }

  /** The bytes of command `i` (a view, valid until the next reset). */
  bytesOf(i: number): Buffer {
    return this.buffer.subarray(this.bounds[2 * i], this.bounds[2 * i + 1]);
  }

  private ascii(text: string): void {
    this.reserve(text.length);
    this.end += this.buffer.write(text, this.end, 'latin1');
  }

  private reserve(bytes: number): void {
    if (this.end + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.end + bytes));
    this.buffer.copy(grown, 0, 0, this.end);
    this.buffer = grown;
  }
}

/**
 * An ioredis command whose wire bytes are already encoded: ioredis still queues it and matches its
 * reply (so connection state, errors and reconnects stay ioredis's business), but writes the bytes
 * as they are.
 */
export class EncodedCommand extends Command {
  constructor(
    name: string,
    private readonly bytes: Buffer,
  ) {
    super(name, [], { replyEncoding: null });
  }

  override toWritable(): Buffer {
    return this.bytes;
  }
}
