import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { PgClientError, PgConnection, PgServerError } from '../../../protocols/postgres/client/index.js';

/** A typed backend message, built independently of the code under test. */
function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

const authOk = message('R', Buffer.from([0, 0, 0, 0]));
const ready = message('Z', Buffer.from('I'));
const TYPES = 'RSKZTDCEN123nstIGHdcAv';

/** Random bytes, or a run of well-framed messages with random types and bodies (reaches deeper). */
function noise(): Buffer {
  if (Math.random() < 0.3) return randomBytes(1 + Math.floor(Math.random() * 64));
  const parts: Buffer[] = [];
  for (let i = 0; i < 1 + Math.random() * 4; i++) {
    const type = TYPES[Math.floor(Math.random() * TYPES.length)] ?? 'Z';
    parts.push(message(type, randomBytes(Math.floor(Math.random() * 24))));
  }
  return Buffer.concat(parts);
}

/** Serves each connection with `script`, then closes it, so no case waits on a timeout. */
async function scriptedServer(t: { teardown(fn: () => unknown): void }, script: (socket: Socket) => void) {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    script(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as AddressInfo).port;
}

function typed(err: unknown): boolean {
  return err instanceof PgClientError || err instanceof PgServerError;
}

t.test('random bytes during startup end in a typed error, never a hang or a crash', async (t) => {
  const port = await scriptedServer(t, (socket) => {
    socket.once('data', () => socket.end(noise()));
  });
  const untyped: string[] = [];
  for (let i = 0; i < 150; i++) {
    const outcome = await PgConnection.connect({
      host: '127.0.0.1',
      port,
      user: 'u',
      database: 'd',
      tls: 'disable',
      password: 'p',
      connectTimeoutMs: 2000,
    }).then(
      (conn) => {
        conn.destroy();
        return null;
      },
      (err: unknown) => err,
    );
    if (outcome !== null && !typed(outcome)) untyped.push(String(outcome));
  }
  t.same(untyped, [], 'every failure is a PgClientError or a PgServerError');
});

t.test('random bytes in answer to a query end in a typed error, never a hang or a crash', async (t) => {
  const port = await scriptedServer(t, (socket) => {
    let step = 0;
    socket.on('data', () => {
      step++;
      if (step === 1) socket.write(Buffer.concat([authOk, ready]));
      else socket.end(noise());
    });
  });
  const untyped: string[] = [];
  for (let i = 0; i < 150; i++) {
    const conn = await PgConnection.connect({
      host: '127.0.0.1',
      port,
      user: 'u',
      database: 'd',
      tls: 'disable',
    });
    const outcome = await conn
      .query('SELECT 1', { columns: () => undefined, row: () => undefined }, { timeoutMs: 2000 })
      .then(
        () => null,
        (err: unknown) => err,
      );
    if (outcome !== null && !typed(outcome)) untyped.push(String(outcome));
    conn.destroy();
  }
  t.same(untyped, [], 'every failure is a PgClientError or a PgServerError');
});
