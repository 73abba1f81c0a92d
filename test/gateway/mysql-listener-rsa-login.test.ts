/**
 * Logins without TLS (`allowPlaintextAuth`) with a stock client's defaults: caching_sha2_password
 * full authentication, the token encrypted with the listener's RSA key (made on first use in the
 * state directory), never sent in clear. Against MariaDB, with mysql2, the mariadb CLI and a
 * client written by hand for what a stock client would not send.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { constants, publicEncrypt, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import { assembleGateway } from '../../src/cli/assemble.js';
import { parseConfigText } from '../../src/config/load.js';
import { startMysqlListener } from '../../src/gateway/mysql/index.js';
import { PASSWORD_KEY_FILE } from '../../src/gateway/mysql/password-key.js';

const database = `sluice_myrsa_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${database}`);
await admin.query(`CREATE TABLE ${database}.notes (id INT PRIMARY KEY, body VARCHAR(40))`);
await admin.query(`INSERT INTO ${database}.notes VALUES (1, 'one')`);

const dir = mkdtempSync(join(tmpdir(), 'sluice-mysql-rsa-'));
const config = parseConfigText(
  `
server: { mysql: { listen: 127.0.0.1:0, allowPlaintextAuth: true } }
targets:
  shop: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${database}, user: root, tls: disable }
policies:
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
    statements: { default: deny, allow: [read] }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  { baseDir: dir, env: {} },
);
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
const listener = await startMysqlListener(parts, config, logger, { handshakeTimeoutMs: 2000 });
t.teardown(async () => {
  await listener.close();
  await parts.close();
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});
const port = listener.address.port;
const token = await parts.authenticator.mint({ subject: 'agent-1', groups: ['ai-agents'] });
const keyPath = join(dir, 'state', PASSWORD_KEY_FILE);

t.test('mysql2 with its defaults logs in without TLS; the key is made once, mode 0600', async (t) => {
  // The listener makes the key as it starts; a login that arrives first waits for it, and that
  // wait does not count against the client's handshake time.
  const started = Date.now();
  const first = await mysql.createConnection({
    host: '127.0.0.1',
    port,
    user: 'agent-1',
    password: token,
    database: 'shop',
    connectTimeout: 60_000,
  });
  t.teardown(() => first.end());
  t.comment(`first login with key creation: ${Date.now() - started} ms`);
  const [rows] = await first.query('SELECT body FROM notes');
  t.same(rows, [{ body: 'one' }]);
  t.equal(statSync(keyPath).mode & 0o777, 0o600, 'the private key is readable by its owner only');
  t.equal(logLines.filter((l) => l.includes('mysql.password_key_created')).length, 1);
  const second = await mysql.createConnection({
    host: '127.0.0.1',
    port,
    user: 'agent-1',
    password: token,
    database: 'shop',
  });
  t.teardown(() => second.end());
  const [again] = await second.query('SELECT body FROM notes');
  t.same(again, [{ body: 'one' }], 'the key is reused');
  t.equal(logLines.filter((l) => l.includes('mysql.password_key_created')).length, 1, 'made once');
  t.notOk(logLines.join('').includes(token), 'the token is never logged');
  const forged = mysql.createConnection({
    host: '127.0.0.1',
    port,
    user: 'agent-1',
    password: `${token.slice(0, -4)}AAAA`,
  });
  await t.rejects(
    forged,
    { errno: 1045, message: "Access denied for user 'agent-1'" },
    'a wrong token encrypted is still a wrong token',
  );
});

t.test('the mariadb CLI without TLS fetches the key and logs in', async (t) => {
  const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      'mariadb',
      [
        '-h127.0.0.1',
        `-P${port}`,
        '-uagent-1',
        `--password=${token}`,
        '--skip-ssl',
        'shop',
        '-N',
        '-e',
        'SELECT body FROM notes',
      ],
      { timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
  t.equal(out.code, 0, out.stderr);
  t.equal(out.stdout, 'one\n');
});

/** A client written by hand: greeting, a response naming mysql_native_password, then the switch. */
async function rawSha2(): Promise<{
  socket: Socket;
  scramble: Buffer;
  next(): Promise<Buffer>;
  send(payload: Buffer): void;
  closed: Promise<void>;
}> {
  const socket = netConnect(port, '127.0.0.1');
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  let buffered = Buffer.alloc(0);
  let sequence = 0;
  const waiting: ((packet: Buffer) => void)[] = [];
  const queued: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const length = buffered.readUIntLE(0, 3);
      if (buffered.length < 4 + length) break;
      sequence = (buffered[3] as number) + 1;
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
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no packet in 30 s')), 30_000);
      waiting.push((p) => {
        clearTimeout(timer);
        resolve(p);
      });
    });
  };
  const send = (payload: Buffer): void => {
    const header = Buffer.alloc(4);
    header.writeUIntLE(payload.length, 0, 3);
    header[3] = sequence;
    socket.write(Buffer.concat([header, payload]));
  };
  await next(); // HandshakeV10
  const capabilities = 0x00000200 | 0x00008000 | 0x00080000 | 0x00000008 | 0x00200000;
  send(
    Buffer.concat([
      Buffer.from(Uint32Array.of(capabilities).buffer),
      Buffer.from(Uint32Array.of(16 * 1024 * 1024).buffer),
      Buffer.from([45]),
      Buffer.alloc(23),
      Buffer.from('agent-1\0'),
      Buffer.from([20]),
      randomBytes(20),
      Buffer.from('shop\0'),
      Buffer.from('mysql_native_password\0'),
    ]),
  );
  const change = await next();
  if (change[0] !== 0xfe) throw new Error(`expected an auth switch, got ${change.toString('latin1')}`);
  const nameEnd = change.indexOf(0, 1);
  const plugin = change.subarray(1, nameEnd).toString('latin1');
  if (plugin !== 'caching_sha2_password') throw new Error(`switched to ${plugin}`);
  const scramble = change.subarray(nameEnd + 1, nameEnd + 21);
  send(randomBytes(32)); // a scramble the server cannot check: the password is a token
  const more = await next();
  if (more[0] !== 0x01 || more[1] !== 0x04) throw new Error('expected "perform full authentication"');
  return { socket, scramble, next, send, closed };
}

const encrypt = (pem: string, password: string, scramble: Buffer): Buffer => {
  const plain = Buffer.from(`${password}\0`);
  for (let i = 0; i < plain.length; i++)
    plain[i] = (plain[i] as number) ^ (scramble[i % scramble.length] as number);
  return publicEncrypt({ key: pem, padding: constants.RSA_PKCS1_OAEP_PADDING }, plain);
};

const errorOf = (packet: Buffer): { errno: number; message: string } => ({
  errno: packet.readUInt16LE(1),
  message: packet.subarray(9).toString('utf8'),
});

t.test('by hand: the public key on request, then the encrypted token; a clear one is refused', async (t) => {
  const client = await rawSha2();
  t.teardown(() => client.socket.destroy());
  client.send(Buffer.from([0x02]));
  const key = await client.next();
  t.equal(key[0], 0x01, 'AuthMoreData');
  const pem = key.subarray(1).toString('latin1');
  t.match(pem, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
  client.send(encrypt(pem, token, client.scramble));
  t.equal((await client.next())[0], 0x00, 'OK: logged in');
  client.send(Buffer.concat([Buffer.from([0x03]), Buffer.from('SELECT body FROM notes')]));
  t.equal((await client.next())[0], 1, 'a result set with one column');

  const clear = await rawSha2();
  const sessionsBefore = parts.gateway.openSessions;
  clear.send(Buffer.from(`${token}\0`));
  const refused = errorOf(await clear.next());
  t.equal(refused.errno, 1045);
  t.match(refused.message, /encrypted with the server's RSA public key/);
  t.notOk(refused.message.includes(token));
  await clear.closed;
  t.equal(parts.gateway.openSessions, sessionsBefore, 'no session for a token sent in clear');

  const garbage = await rawSha2();
  garbage.send(Buffer.from([0x02]));
  const size = (await garbage.next()).length;
  t.ok(size > 1);
  garbage.send(randomBytes(768));
  t.equal(errorOf(await garbage.next()).errno, 1045, 'a ciphertext of the right size but not ours');
  await garbage.closed;

  // Encrypted with the right key but xored with another scramble: not the token.
  const replayed = await rawSha2();
  replayed.send(encrypt(pem, token, randomBytes(20)));
  t.equal(errorOf(await replayed.next()).errno, 1045, 'a ciphertext made for another scramble');
  await replayed.closed;

  const after = await mysql.createConnection({
    host: '127.0.0.1',
    port,
    user: 'agent-1',
    password: token,
    database: 'shop',
  });
  t.teardown(() => after.end());
  const [rows] = await after.query('SELECT body FROM notes');
  t.same(rows, [{ body: 'one' }], 'the listener goes on serving');
});
