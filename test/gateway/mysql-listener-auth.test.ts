import t from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import { assembleGateway } from '../../src/cli/assemble.js';
import { parseConfigText } from '../../src/config/load.js';
import { startMysqlListener } from '../../src/gateway/mysql/index.js';

const database = `sluice_myla_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${database}`);
await admin.query(`CREATE TABLE ${database}.notes (id INT PRIMARY KEY, body VARCHAR(40))`);
await admin.query(`INSERT INTO ${database}.notes VALUES (1, 'one')`);

const dir = mkdtempSync(join(tmpdir(), 'sluice-mysql-auth-'));
const config = parseConfigText(
  `
server: { mysql: { listen: 127.0.0.1:0 } }
targets:
  shop: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${database}, user: root, tls: disable }
  pgshop: { engine: postgres, host: 127.0.0.1, port: 5432, database: postgres, user: postgres, tls: disable }
policies:
  - name: agents
    when: { groups: [ai-agents], targets: [shop, pgshop] }
    statements: { default: deny, allow: [read] }
  - name: sleepers
    when: { groups: [sleepers], targets: [shop] }
    statements: { default: deny, allow: [read, admin] }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  { baseDir: dir, env: {} },
);

/** Every log line, to check that refusals are explained there and that no token ever is. */
const logLines: string[] = [];
const logger = pino(
  { level: 'info' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  }),
);
const parts = await assembleGateway(config, logger);
const listener = await startMysqlListener(parts, config, logger, {
  handshakeTimeoutMs: 400,
  maxPacketSize: 64 * 1024,
});
const plaintextConfig = {
  ...config,
  server: { ...config.server, mysql: { listen: '127.0.0.1:0', allowPlaintextAuth: true, idleTimeout: 0 } },
};
const plaintextListener = await startMysqlListener(parts, plaintextConfig, logger, {
  maxPacketSize: 64 * 1024,
});
const idleConfig = {
  ...config,
  server: { ...config.server, mysql: { listen: '127.0.0.1:0', allowPlaintextAuth: false, idleTimeout: 300 } },
};
const idleListener = await startMysqlListener(parts, idleConfig, logger);
t.teardown(async () => {
  await listener.close();
  await plaintextListener.close();
  await idleListener.close();
  await parts.close();
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});
const port = listener.address.port;
const token = await parts.authenticator.mint({ subject: 'agent-1', groups: ['ai-agents'] });
// SLEEP() counts as an admin effect; this identity may run it, to hold a statement open.
const sleeper = await parts.authenticator.mint({ subject: 'sleeper', groups: ['sleepers'] });
const outsider = await parts.authenticator.mint({ subject: 'outsider', groups: ['nobody'] });

function login(options: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: '127.0.0.1',
    port,
    user: 'agent-1',
    password: token,
    database: 'shop',
    ssl: { rejectUnauthorized: false },
    enableCleartextPlugin: true,
    ...options,
  });
}

function mariadbCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('mariadb', ['-h127.0.0.1', `-P${port}`, ...args], { timeout: 10_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A raw TCP client that reads the greeting and then does what the test says. */
function rawClient(): Promise<{ socket: Socket; greeting: Buffer; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(listener.address.port, '127.0.0.1');
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.once('error', reject);
    socket.once('data', (greeting) => resolve({ socket, greeting, closed }));
  });
}

const within = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`${what} did not happen in ${ms} ms`)), ms),
    ),
  ]);

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 100));
}

t.test('a wrong token gets 1045 with a generic message; the reason is logged, the token never', async (t) => {
  const forged = `${token.slice(0, -4)}AAAA`;
  await t.rejects(login({ password: forged }), {
    errno: 1045,
    sqlState: '28000',
    message: "Access denied for user 'agent-1'",
  });
  const cli = await mariadbCli([
    '-uagent-1',
    `--password=${forged}`,
    '--ssl',
    '--skip-ssl-verify-server-cert',
    '-e',
    'SELECT 1',
    'shop',
  ]);
  t.not(cli.code, 0);
  t.match(cli.stderr, /ERROR 1045 \(28000\): Access denied for user 'agent-1'/);
  t.notMatch(cli.stderr, forged.slice(-20), 'the token is not echoed');
  const log = logLines.join('');
  t.match(log, /mysql login refused: bad token/);
  t.notOk(log.includes(forged), 'the token is not logged');
  t.notOk(log.includes(token), 'nor the real one');
});

t.test('a user name other than the token subject gets 1045', async (t) => {
  await t.rejects(login({ user: 'someone-else' }), {
    errno: 1045,
    message: "Access denied for user 'someone-else'",
  });
  t.match(logLines.join(''), /user is not the token subject/);
});

t.test(
  'a database that is not a MySQL target the identity reaches gets the same 1045; none waits for USE',
  async (t) => {
    for (const db of ['nope', 'pgshop']) {
      await t.rejects(
        login({ database: db }),
        { errno: 1045, message: "Access denied for user 'agent-1'" },
        db,
      );
    }
    // No database at all is a login that waits for USE (#26), holding no session until then.
    const unbound = await login({ database: undefined });
    t.equal(parts.gateway.openSessions, 0, 'logged in without a database: no session yet');
    await unbound.end();
    await t.rejects(login({ user: 'outsider', password: outsider }), {
      errno: 1045,
      message: /Access denied/,
    });
    t.equal(parts.gateway.openSessions, 0, 'no refused login left a session open');
  },
);

t.test(
  'without TLS the listener refuses before the token is sent; with allowPlaintextAuth it accepts',
  async (t) => {
    await t.rejects(login({ ssl: undefined }), { errno: 3159, message: /insecure transport/ });
    const cli = await mariadbCli([
      '-uagent-1',
      `--password=${token}`,
      '--skip-ssl',
      '-e',
      'SELECT 1',
      'shop',
    ]);
    t.not(cli.code, 0);
    t.match(cli.stderr, /3159|insecure transport/);
    const conn = await mysql.createConnection({
      host: '127.0.0.1',
      port: plaintextListener.address.port,
      user: 'agent-1',
      password: token,
      database: 'shop',
      enableCleartextPlugin: true,
    });
    t.teardown(() => conn.destroy());
    const [rows] = await conn.query('SELECT body FROM notes');
    t.same(rows, [{ body: 'one' }]);
  },
);

t.test('a client that stops mid-handshake is disconnected and holds no session', async (t) => {
  await settle();
  const sessionsBefore = parts.gateway.openSessions;
  const silent = await rawClient();
  t.equal(silent.greeting[4], 10, 'the server sent HandshakeV10');
  // Half a HandshakeResponse: a header announcing 100 bytes, and only 10 of them.
  const stalled = await rawClient();
  stalled.socket.write(Buffer.concat([Buffer.from([100, 0, 0, 1]), Buffer.alloc(10)]));
  t.equal(listener.connections, 2);
  await within(Promise.all([silent.closed, stalled.closed]), 3000, 'closing stalled clients');
  await settle();
  t.equal(listener.connections, 0, 'the listener forgot both connections');
  t.equal(parts.gateway.openSessions, sessionsBefore, 'no session was opened');
});

t.test('garbage before login is refused and disconnected; a logged-in client goes on', async (t) => {
  const good = await login();
  t.teardown(() => good.destroy());
  const raw = await rawClient();
  raw.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await within(raw.closed, 3000, 'disconnecting the garbage client');
  const [rows] = await good.query('SELECT body FROM notes');
  t.same(rows, [{ body: 'one' }], 'the other session is unaffected');
});

t.test('an oversized packet after login ends that client only, and closes its session', async (t) => {
  const good = await login();
  t.teardown(() => good.destroy());
  const sessionsBefore = parts.gateway.openSessions;
  const big = await login();
  big.on('error', () => undefined);
  t.equal(parts.gateway.openSessions, sessionsBefore + 1);
  await t.rejects(big.query(`SELECT '${'x'.repeat(100 * 1024)}' AS big`), { message: /.+/ });
  await settle();
  t.equal(
    parts.gateway.openSessions,
    sessionsBefore,
    'the oversized client was disconnected and its session closed',
  );
  t.match(logLines.join(''), /ERR_PACKET_TOO_LARGE/);
  const [rows] = await good.query('SELECT body FROM notes');
  t.same(rows, [{ body: 'one' }], 'the other session is unaffected');
});

/**
 * A client written by hand (plaintext listener): reads packets, sends HandshakeResponse41 with
 * mysql_clear_password, then whatever bytes the test wants.
 */
async function rawLogin(
  characterSet = 45,
): Promise<{ socket: Socket; next(): Promise<Buffer>; closed: Promise<void> }> {
  const socket = netConnect(plaintextListener.address.port, '127.0.0.1');
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  let buffered = Buffer.alloc(0);
  const waiting: ((packet: Buffer) => void)[] = [];
  const queued: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const length = buffered.readUIntLE(0, 3);
      if (buffered.length < 4 + length) break;
      const packet = buffered.subarray(4, 4 + length);
      buffered = buffered.subarray(4 + length);
      const waiter = waiting.shift();
      if (waiter) waiter(packet);
      else queued.push(packet);
    }
  });
  const next = (): Promise<Buffer> => {
    const packet = queued.shift();
    if (packet) return Promise.resolve(packet);
    return within(new Promise<Buffer>((resolve) => waiting.push(resolve)), 3000, 'a packet');
  };
  await next(); // HandshakeV10
  const capabilities = 0x00000200 | 0x00008000 | 0x00080000 | 0x00000008 | 0x00200000;
  const password = Buffer.from(`${token}\0`);
  const body = Buffer.concat([
    Buffer.from(Uint32Array.of(capabilities).buffer),
    Buffer.from(Uint32Array.of(16 * 1024 * 1024).buffer),
    Buffer.from([characterSet]),
    Buffer.alloc(23),
    Buffer.from('agent-1\0'),
    lenencLength(password.length),
    password,
    Buffer.from('shop\0'),
    Buffer.from('mysql_clear_password\0'),
  ]);
  socket.write(frame(body, 1));
  let ok = await next();
  if (ok[0] === 0xfe) {
    // AuthSwitchRequest to mysql_clear_password: the password again, NUL-terminated.
    socket.write(frame(password, 3));
    ok = await next();
  }
  if (ok[0] !== 0) throw new Error(`login failed: ${ok.toString('latin1')}`);
  return { socket, next, closed };
}

function lenencLength(n: number): Buffer {
  if (n < 251) return Buffer.from([n]);
  const out = Buffer.alloc(3);
  out[0] = 0xfc;
  out.writeUInt16LE(n, 1);
  return out;
}

function frame(payload: Buffer, sequenceId = 0): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = sequenceId;
  return Buffer.concat([header, payload]);
}

t.test('malformed and unknown commands get an error and the session goes on', async (t) => {
  const client = await rawLogin();
  t.teardown(() => client.socket.destroy());
  // COM_DEBUG (0x0d): not implemented here.
  client.socket.write(frame(Buffer.from([0x0d])));
  t.equal((await client.next())[0], 0xff, 'ERR for an unknown command');
  // COM_STMT_EXECUTE cut short after the statement id.
  client.socket.write(frame(Buffer.from([0x17, 1, 0, 0, 0])));
  t.equal((await client.next())[0], 0xff, 'ERR for a malformed command');
  // COM_STMT_EXECUTE of a statement never prepared.
  client.socket.write(frame(Buffer.from([0x17, 9, 0, 0, 0, 0, 1, 0, 0, 0])));
  const unknown = await client.next();
  t.equal(unknown.readUInt16LE(1), 1243, 'ER_UNKNOWN_STMT_HANDLER');
  client.socket.write(frame(Buffer.concat([Buffer.from([0x03]), Buffer.from('SELECT body FROM notes')])));
  t.equal((await client.next())[0], 1, 'a result set with one column');
});

t.test('garbage that breaks the framing after login disconnects that client only', async (t) => {
  const good = await login();
  t.teardown(() => good.destroy());
  const sessionsBefore = parts.gateway.openSessions;
  const client = await rawLogin();
  t.equal(parts.gateway.openSessions, sessionsBefore + 1);
  // A header announcing 16 MiB - 1, then noise: past the 64 KiB cap, refused at the header.
  client.socket.write(Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0x00]), randomBytes(64)]));
  await within(client.closed, 3000, 'disconnecting the noisy client');
  await settle();
  t.equal(parts.gateway.openSessions, sessionsBefore, 'its session was closed');
  const [rows] = await good.query('SELECT body FROM notes');
  t.same(rows, [{ body: 'one' }], 'the other session is unaffected');
});

t.test('disconnecting closes the gateway session', async (t) => {
  await settle();
  const before = parts.gateway.openSessions;
  const conn = await login();
  t.equal(parts.gateway.openSessions, before + 1);
  conn.destroy();
  await settle();
  t.equal(parts.gateway.openSessions, before);
});

t.test('an idle client is disconnected after idleTimeout, but a running statement is not cut', async (t) => {
  await settle();
  const before = parts.gateway.openSessions;
  const conn = await login({ port: idleListener.address.port, user: 'sleeper', password: sleeper });
  conn.on('error', () => undefined);
  const stream = (conn as unknown as { connection: { stream: Socket } }).connection.stream;
  const ended = new Promise<void>((resolve) => stream.once('close', () => resolve()));
  const [rows] = await conn.query('SELECT SLEEP(0.6) AS slept');
  t.same(rows, [{ slept: 0 }], 'a statement longer than the idle timeout completes');
  await within(ended, 3000, 'the idle disconnect');
  await settle();
  t.equal(idleListener.connections, 0);
  t.equal(parts.gateway.openSessions, before, 'the idle session was closed');
});

t.test('a character set Sluice cannot convert is refused at login, not garbled', async (t) => {
  // 3 is dec8_swedish_ci, which neither Node nor iconv-lite can encode.
  await t.rejects(
    rawLogin(3),
    /Unknown character set: collation 3 is not one Sluice converts; connect with utf8mb4/,
  );
  const { socket } = await rawLogin(51);
  socket.destroy();
  t.pass('cp1251 logs in');
});

t.test('COM_STATISTICS answers the gateway figures; COM_SET_OPTION turns multi-statements on', async (t) => {
  const { socket, next } = await rawLogin();
  t.teardown(() => socket.destroy());
  socket.write(frame(Buffer.from([0x09]), 0));
  t.match(
    (await next()).toString('utf8'),
    /^Uptime: \d+ {2}Threads: \d+ {2}Questions: \d+ {2}Slow queries: 0/,
  );
  socket.write(frame(Buffer.from([0x1b, 0, 0]), 0));
  t.equal((await next())[0], 0xfe, 'EOF, as a server answers COM_SET_OPTION');
  socket.write(frame(Buffer.concat([Buffer.from([0x03]), Buffer.from('SELECT 1 AS a; SELECT 2 AS b')]), 0));
  const packets: Buffer[] = [];
  for (let i = 0; i < 10; i++) packets.push(await next());
  const status = (eof: Buffer | undefined) => eof?.readUInt16LE(3) ?? 0;
  t.equal(packets[3]?.subarray(1).toString(), '1', 'the first result');
  t.ok(status(packets[4]) & 0x0008, 'more results follow');
  t.equal(packets[8]?.subarray(1).toString(), '2', 'the second result');
  t.notOk(status(packets[9]) & 0x0008, 'the last result');
  socket.write(frame(Buffer.from([0x1b, 9, 0]), 0));
  t.equal((await next())[0], 0xff, 'an unknown option is an error');
});
