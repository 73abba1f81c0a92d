/**
 * A bare Postgres protocol client for tests of the listener: logs in with a token, then sends the
 * bytes a test builds (pg-protocol's serializer) and reads back typed messages.
 */
import { connect, type Socket } from 'node:net';
import { serialize } from 'pg-protocol/dist/serializer';
import { SUBJECT } from './postgres-listener-harness.js';

/** A bare protocol client: logs in, then sends bytes and reads back typed messages. */
export class RawClient {
  readonly #socket: Socket;
  #buffer = Buffer.alloc(0);
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static async login(port: number, token: string): Promise<RawClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise((r) => socket.once('connect', r));
    const client = new RawClient(socket);
    socket.write(serialize.startup({ user: SUBJECT, database: 'shop' }));
    await client.until('R');
    socket.write(serialize.password(token));
    await client.until('Z');
    return client;
  }

  send(bytes: Buffer): void {
    this.#socket.write(bytes);
  }

  /** Messages until (and including) one of type `last`: [type, body] pairs. */
  async until(last: string): Promise<[string, Buffer][]> {
    const out: [string, Buffer][] = [];
    for (;;) {
      while (this.#buffer.length >= 5) {
        const size = this.#buffer.readInt32BE(1) + 1;
        if (this.#buffer.length < size) break;
        const type = String.fromCharCode(this.#buffer[0] as number);
        out.push([type, this.#buffer.subarray(5, size)]);
        this.#buffer = this.#buffer.subarray(size);
        if (type === last) return out;
      }
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  close(): void {
    this.#socket.end(serialize.end());
  }
}

/** The SQLSTATE (field C) of an ErrorResponse or NoticeResponse body. */
export function sqlstate(body: Buffer): string | undefined {
  return field(body, 'C');
}

/** One field of an ErrorResponse or NoticeResponse body (M message, D detail, W where, ...). */
export function field(body: Buffer, code: string): string | undefined {
  const want = code.charCodeAt(0);
  for (let pos = 0; pos < body.length && body[pos] !== 0;) {
    const end = body.indexOf(0, pos + 1);
    if (body[pos] === want) return body.toString('utf8', pos + 1, end);
    pos = end + 1;
  }
  return undefined;
}
