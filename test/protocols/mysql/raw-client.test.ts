import t from 'tap';
import { connect, type Socket } from 'node:net';
import { PacketReader, type MysqlPacket } from '../../../protocols/mysql/codec/packet-reader.js';
import { PacketWriter } from '../../../protocols/mysql/codec/packet-writer.js';
import { PayloadReader } from '../../../protocols/mysql/codec/payload-reader.js';
import { startTinyServer } from './fixtures/tiny-server.js';

const u32 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
const str = (s: string) => [...Buffer.from(s)];
const CLIENT = 0x200 | 0x8000 | 0x80000 | 0x200000 | 0x8;

/** A bare protocol client, to send what drivers rarely send and read exactly what comes back. */
class RawClient {
  readonly socket: Socket;
  readonly #reader = new PacketReader({ maxPacketSize: 1 << 24 });
  readonly #queue: MysqlPacket[] = [];
  #waiting: ((packet: MysqlPacket | undefined) => void) | undefined;
  readonly writer = new PacketWriter();

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => {
      this.#reader.push(chunk);
      for (let p = this.#reader.next(); p; p = this.#reader.next()) this.#deliver(p);
    });
    this.socket.on('close', () => this.#waiting?.(undefined));
  }

  #deliver(packet: MysqlPacket): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting) waiting(packet);
    else this.#queue.push(packet);
  }

  read(): Promise<MysqlPacket | undefined> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  send(payload: Buffer, sequenceId: number): void {
    this.writer.reset(sequenceId);
    this.socket.write(this.writer.frame(payload));
  }

  /** Handshake with mysql_clear_password chosen up front (plaintext server). */
  async login(user: string, password: string): Promise<MysqlPacket | undefined> {
    await this.read();
    const response = Buffer.from([
      ...u32(CLIENT),
      ...u32(1 << 24),
      45,
      ...new Array<number>(23).fill(0),
      ...str(user),
      0,
      password.length + 1,
      ...str(password),
      0,
      ...str('shop'),
      0,
      ...str('mysql_clear_password'),
      0,
    ]);
    this.send(response, 1);
    return this.read();
  }
}

t.test('a client that picks mysql_clear_password itself is authenticated without a switch', async (t) => {
  const server = await startTinyServer(t, { allowPlaintextAuth: true });
  const client = new RawClient(server.port);
  t.teardown(() => client.socket.destroy());
  const ok = await client.login('alice', 'TOKEN');
  t.equal(ok?.payload[0], 0x00, 'OK');
  t.equal(ok?.sequenceId, 2);
});

t.test('COM_FIELD_LIST is answered with column definitions and EOF', async (t) => {
  const server = await startTinyServer(t, { allowPlaintextAuth: true });
  const client = new RawClient(server.port);
  t.teardown(() => client.socket.destroy());
  await client.login('alice', 'TOKEN');
  client.send(Buffer.from([0x04, ...str('customers'), 0]), 0);
  const definition = await client.read();
  const reader = new PayloadReader(definition?.payload ?? Buffer.alloc(0));
  t.same(
    [
      reader.lenencString(),
      reader.lenencString(),
      reader.lenencString(),
      reader.lenencString(),
      reader.lenencString(),
    ],
    ['def', '', 'customers', 'customers', 'id'],
  );
  t.equal(definition?.sequenceId, 1);
  const eof = await client.read();
  t.equal(eof?.payload[0], 0xfe);
  t.equal(eof?.sequenceId, 2);
});

t.test('a malformed command gets an error and the connection stays usable; QUIT closes it', async (t) => {
  const server = await startTinyServer(t, { allowPlaintextAuth: true });
  const client = new RawClient(server.port);
  t.teardown(() => client.socket.destroy());
  await client.login('alice', 'TOKEN');
  client.send(Buffer.from([0x19, 1]), 0); // COM_STMT_CLOSE with a truncated id
  const err = await client.read();
  t.equal(err?.payload[0], 0xff);
  t.equal(err?.payload.readUInt16LE(1), 1835);
  client.send(Buffer.from([0x0e]), 0); // COM_PING
  t.equal((await client.read())?.payload[0], 0x00, 'ping still answered');
  client.send(Buffer.alloc(0), 0); // empty command
  t.equal((await client.read())?.payload[0], 0xff);
  client.send(Buffer.from([0x01]), 0); // COM_QUIT
  t.equal(await client.read(), undefined, 'the server closed the connection');
});

t.test('a command over the post-auth cap ends the connection with 1153', async (t) => {
  const server = await startTinyServer(t, { allowPlaintextAuth: true, maxPacketSize: 1024 });
  const client = new RawClient(server.port);
  t.teardown(() => client.socket.destroy());
  await client.login('alice', 'TOKEN');
  client.send(Buffer.concat([Buffer.from([0x03]), Buffer.alloc(2000, 0x20)]), 0);
  const err = await client.read();
  t.equal(err?.payload.readUInt16LE(1), 1153);
  t.equal(await client.read(), undefined);
});

t.test('authenticate that throws is reported as a failed login, not a crash', async (t) => {
  const server = await startTinyServer(t, {
    allowPlaintextAuth: true,
    authenticate: async () => {
      throw new Error('identity provider down');
    },
  });
  const client = new RawClient(server.port);
  t.teardown(() => client.socket.destroy());
  const err = await client.login('alice', 'TOKEN');
  t.equal(err?.payload.readUInt16LE(1), 1045);
  t.notMatch(err?.payload.toString('utf8') ?? '', /identity provider/);
  t.match(server.errors, [{ message: 'identity provider down' }]);
});

t.test('an SSLRequest to a server without TLS is refused', async (t) => {
  const server = await startTinyServer(t);
  const client = new RawClient(server.port);
  t.teardown(() => client.socket.destroy());
  await client.read();
  client.send(
    Buffer.from([...u32(CLIENT | 0x800), ...u32(1 << 24), 45, ...new Array<number>(23).fill(0)]),
    1,
  );
  const err = await client.read();
  t.equal(err?.payload[0], 0xff);
  t.match(server.errors, [{ code: 'ERR_HANDSHAKE' }]);
});

t.test('commands without a response stay silent even when the handler fails them', async (t) => {
  const server = await startTinyServer(t, {
    allowPlaintextAuth: true,
    handler: {
      async command(command, reply) {
        if (command.kind === 'stmt-send-long-data') throw new Error('long data not supported');
        if (command.kind === 'stmt-close') return; // forgets to call none()
        reply.ok({ info: command.kind });
      },
    },
  });
  const client = new RawClient(server.port);
  t.teardown(() => client.socket.destroy());
  await client.login('alice', 'TOKEN');
  client.send(Buffer.from([0x18, ...u32(1), 0, 0, 0x61]), 0);
  client.send(Buffer.from([0x19, ...u32(1)]), 0);
  client.send(Buffer.from([0x0e]), 0);
  client.send(Buffer.from([0x03, ...str('SELECT 1')]), 0);
  const next = await client.read();
  t.equal(next?.payload[0], 0x00, 'the first packet back answers the ping');
  const query = await client.read();
  t.match(query?.payload.toString('utf8'), /query$/, 'then the query, in order');
  t.match(server.errors, [{ message: 'long data not supported' }]);
});
