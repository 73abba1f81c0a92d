import { connect } from 'node:net';

/** How long the listener waits for a target's greeting when it starts. */
const GREETING_TIMEOUT_MS = 2_000;

/**
 * The server version a MySQL or MariaDB server announces in its greeting (the initial handshake
 * packet: protocol 10, then the version as a NUL-terminated string). Read without logging in: the
 * greeting comes before any credential. Undefined when the server cannot be reached in time or
 * sends something else.
 */
export function readServerVersion(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    const done = (version: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(version);
    };
    const timer = setTimeout(() => done(undefined), GREETING_TIMEOUT_MS);
    timer.unref();
    socket.on('error', () => done(undefined));
    socket.on('close', () => done(undefined));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 5) return;
      const length = received.readUIntLE(0, 3);
      if (received.length < 4 + length) return;
      const payload = received.subarray(4, 4 + length);
      const end = payload.indexOf(0, 1);
      if (payload[0] !== 10 || end < 2) return done(undefined);
      const version = payload.toString('latin1', 1, end);
      done(/^[\x20-\x7e]{1,60}$/.test(version) ? version : undefined);
    });
  });
}
