import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  bindComplete,
  closeComplete,
  commandComplete,
  dataRow,
  emptyQueryResponse,
  noData,
  parameterDescription,
  parseComplete,
  readyForQuery,
  rowDescription,
} from '../../../protocols/postgres/codec/index.js';
import type { FieldDescription, FrontendTypedMessage } from '../../../protocols/postgres/codec/index.js';
import { PgServerConnection } from '../../../protocols/postgres/server/index.js';
import type {
  AuthenticationRequest,
  PgServerConnectionOptions,
  PgServerError,
} from '../../../protocols/postgres/server/index.js';

const PASSWORD = 'open sesame';

// A self-signed certificate for the TLS tests, made with openssl in a temporary directory.
const certDir = mkdtempSync(join(tmpdir(), 'sluice-pg-server-'));
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-keyout',
    join(certDir, 'key.pem'),
    '-out',
    join(certDir, 'cert.pem'),
  ],
  { stdio: 'ignore' },
);
const tlsOptions = {
  key: readFileSync(join(certDir, 'key.pem')),
  cert: readFileSync(join(certDir, 'cert.pem')),
};
t.teardown(() => rmSync(certDir, { recursive: true, force: true }));

interface EchoServer {
  port: number;
  server: Server;
  errors: PgServerError[];
  logins: Omit<AuthenticationRequest, 'password'>[];
  messages: string[];
  connections: PgServerConnection[];
}

/**
 * A tiny server on PgServerConnection. Simple query `SELECT 1` answers one int4 row; any other
 * simple query answers its own text in a column `echo`. The extended protocol echoes the bound
 * parameters back as text columns p1..pn.
 */
async function echoServer(overrides: Partial<PgServerConnectionOptions> = {}): Promise<EchoServer> {
  const state: Omit<EchoServer, 'port'> = {
    server: createServer(),
    errors: [],
    logins: [],
    messages: [],
    connections: [],
  };
  state.server.on('connection', (socket) => {
    const statements = new Map<string, number>();
    let params: (Buffer | null)[] = [];
    const columns = (n: number): FieldDescription[] =>
      Array.from({ length: n }, (_, i) => ({ name: `p${i + 1}`, typeOid: 25 }));
    const connection = new PgServerConnection(socket, {
      allowPlaintextAuth: true,
      tls: tlsOptions,
      authenticate: async ({ password, ...who }) => {
        state.logins.push(who);
        if (password !== PASSWORD) return { ok: false };
        return {
          ok: true,
          parameterStatus: [
            ['server_version', '15.0'],
            ['server_encoding', 'UTF8'],
            ['client_encoding', 'UTF8'],
            ['DateStyle', 'ISO, MDY'],
            ['integer_datetimes', 'on'],
            ['standard_conforming_strings', 'on'],
          ],
          backendKey: { processId: 4242, secretKey: 77 },
        };
      },
      onMessage: (message: FrontendTypedMessage, _frame, c) => {
        state.messages.push(message.name);
        switch (message.name) {
          case 'Query':
            if (message.sql.trim() === '') c.write(emptyQueryResponse);
            else if (/^select 1;?$/i.test(message.sql.trim())) {
              c.write(rowDescription([{ name: '?column?', typeOid: 23, typeSize: 4 }]));
              c.write(dataRow(['1']));
              c.write(commandComplete('SELECT 1'));
            } else {
              c.write(rowDescription([{ name: 'echo', typeOid: 25 }]));
              c.write(dataRow([message.sql]));
              c.write(commandComplete('SELECT 1'));
            }
            c.write(readyForQuery('I'));
            return;
          case 'Parse':
            statements.set(message.statement, (message.sql.match(/\$\d+/g) ?? []).length);
            c.write(parseComplete);
            return;
          case 'Bind':
            params = message.params.map((p) => (p === null ? null : Buffer.from(p)));
            c.write(bindComplete);
            return;
          case 'Describe':
            if (message.target === 'S') {
              const n = statements.get(message.statementOrPortal) ?? 0;
              c.write(parameterDescription(Array.from({ length: n }, () => 25)));
              c.write(n > 0 ? rowDescription(columns(n)) : noData);
            } else c.write(params.length > 0 ? rowDescription(columns(params.length)) : noData);
            return;
          case 'Execute':
            if (params.length > 0) c.write(dataRow(params));
            c.write(commandComplete(`SELECT ${params.length > 0 ? 1 : 0}`));
            return;
          case 'Close':
            c.write(closeComplete);
            return;
          case 'Sync':
            c.write(readyForQuery('I'));
            return;
          default:
            return;
        }
      },
      onError: (error) => state.errors.push(error),
      ...overrides,
    });
    state.connections.push(connection);
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  const port = (state.server.address() as AddressInfo).port;
  return { ...state, port };
}

function stop(s: EchoServer): Promise<void> {
  for (const c of s.connections) c.close();
  return new Promise((resolve) => s.server.close(() => resolve()));
}

interface PsqlResult {
  code: number;
  stdout: string;
  stderr: string;
}

function psql(port: number, sslmode: string, sql: string, password = PASSWORD): Promise<PsqlResult> {
  return new Promise((resolve) => {
    execFile(
      'psql',
      ['-X', '-At', '-h', '127.0.0.1', '-p', String(port), '-U', 'agent', '-d', 'orders', '-c', sql],
      {
        env: {
          ...process.env,
          PGPASSWORD: password,
          PGSSLMODE: sslmode,
          PGCONNECT_TIMEOUT: '5',
          PGGSSENCMODE: 'disable',
        },
        timeout: 10_000,
      },
      (error, stdout, stderr) => resolve({ code: error ? ((error.code as number) ?? 1) : 0, stdout, stderr }),
    );
  });
}

function pgClient(port: number): pg.Client {
  return new pg.Client({ host: '127.0.0.1', port, user: 'agent', database: 'orders', password: PASSWORD });
}

/** A raw socket that collects what the server sends. */
class RawClient {
  readonly socket: Socket;
  received = Buffer.alloc(0);
  closed: Promise<void>;
  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => (this.received = Buffer.concat([this.received, chunk])));
    this.socket.on('error', () => {});
    this.closed = new Promise((resolve) => this.socket.on('close', () => resolve()));
  }
  async until(predicate: (received: Buffer) => boolean, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate(this.received)) {
      if (Date.now() > deadline) throw new Error('timed out waiting for the server');
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  /** Backend message types received so far. */
  types(): string[] {
    const out: string[] = [];
    for (let i = 0; i + 5 <= this.received.length; i += 1 + this.received.readInt32BE(i + 1)) {
      out.push(String.fromCharCode(this.received[i] as number));
    }
    return out;
  }
  /** The SQLSTATE of the first ErrorResponse. */
  sqlState(): string | undefined {
    const at = this.received.indexOf(Buffer.from([0x43]), this.received.indexOf(0x45));
    return at < 0 ? undefined : this.received.toString('latin1', at + 1, at + 6);
  }
}

function startupPacket(params: Record<string, string>): Buffer {
  const body = Buffer.concat([
    Buffer.from([0, 3, 0, 0]),
    ...Object.entries(params).map(([k, v]) => Buffer.from(`${k}\0${v}\0`)),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(4);
  head.writeInt32BE(body.length + 4);
  return Buffer.concat([head, body]);
}

function typed(letter: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = letter.charCodeAt(0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** A raw client that is through startup and authentication. */
async function rawSession(port: number): Promise<RawClient> {
  const raw = new RawClient(port);
  raw.socket.write(startupPacket({ user: 'agent', database: 'orders' }));
  await raw.until((r) => r.length >= 9);
  raw.socket.write(typed('p', Buffer.from(`${PASSWORD}\0`)));
  await raw.until((r) => r.includes(Buffer.from([0x5a, 0, 0, 0, 5, 0x49])));
  raw.received = Buffer.alloc(0);
  return raw;
}

t.test('psql over plaintext (allowPlaintextAuth) logs in with a password and runs SELECT 1', async (t) => {
  const s = await echoServer();
  t.teardown(() => stop(s));
  const result = await psql(s.port, 'disable', 'SELECT 1');
  t.equal(result.code, 0, result.stderr);
  t.equal(result.stdout.trim(), '1');
  t.match(s.logins[0], { user: 'agent', database: 'orders', tls: false });
  t.equal(s.logins[0]?.parameters.get('application_name'), 'psql');
});

t.test('psql with sslmode=require runs over TLS and the callback is told so', async (t) => {
  const s = await echoServer({ allowPlaintextAuth: false });
  t.teardown(() => stop(s));
  const result = await psql(s.port, 'require', 'select 42 as answer');
  t.equal(result.code, 0, result.stderr);
  t.equal(result.stdout.trim(), 'select 42 as answer');
  t.match(s.logins[0], { user: 'agent', tls: true });
  t.equal(s.connections[0]?.tls, true);
});

t.test(
  'without TLS and without allowPlaintextAuth, no password is asked and the client is told why',
  async (t) => {
    const s = await echoServer({ allowPlaintextAuth: false });
    t.teardown(() => stop(s));
    const result = await psql(s.port, 'disable', 'SELECT 1');
    t.not(result.code, 0);
    t.match(result.stderr, /password authentication requires an encrypted connection \(sslmode=require\)/);
    t.equal(s.logins.length, 0, 'authenticate was never called');
    t.match(s.errors[0], { code: 'ERR_PG_TLS_REQUIRED', sqlState: '28000' });
  },
);

t.test('a wrong password is refused with 28P01 and the connection closed', async (t) => {
  const s = await echoServer();
  t.teardown(() => stop(s));
  const result = await psql(s.port, 'disable', 'SELECT 1', 'wrong');
  t.not(result.code, 0);
  t.match(result.stderr, /password authentication failed for user "agent"/);
  t.match(s.errors[0], { code: 'ERR_PG_AUTH_FAILED', sqlState: '28P01' });
});

t.test(
  'SSLRequest is answered N when no TLS is configured, and psql sslmode=prefer falls back',
  async (t) => {
    const s = await echoServer({ tls: undefined });
    t.teardown(() => stop(s));
    const raw = new RawClient(s.port);
    raw.socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]));
    await raw.until((r) => r.length >= 1);
    t.equal(raw.received.toString(), 'N');
    raw.socket.destroy();
    const result = await psql(s.port, 'prefer', 'SELECT 1');
    t.equal(result.stdout.trim(), '1', result.stderr);
  },
);

t.test('GSSENCRequest is answered N and startup goes on', async (t) => {
  const s = await echoServer();
  t.teardown(() => stop(s));
  const raw = new RawClient(s.port);
  raw.socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]));
  await raw.until((r) => r.length >= 1);
  t.equal(raw.received.toString(), 'N');
  raw.socket.write(startupPacket({ user: 'agent' }));
  await raw.until((r) => r.length >= 10);
  t.equal(raw.received.toString('latin1', 0, 2), 'NR', 'N, then an Authentication request');
  t.equal(raw.received.readInt32BE(6), 3, 'the request is for a cleartext password');
  raw.socket.destroy();
});

t.test('node-postgres runs a parameterised query through the extended protocol', async (t) => {
  const s = await echoServer();
  t.teardown(() => stop(s));
  const client = pgClient(s.port);
  await client.connect();
  t.teardown(() => client.end());
  const result = await client.query('SELECT $1::text, $2::text, $3::text', ['héllo', null, '']);
  t.same(result.rows, [{ p1: 'héllo', p2: null, p3: '' }]);
  t.same(s.messages, ['Parse', 'Bind', 'Describe', 'Execute', 'Sync']);
  const named = await client.query({ name: 'q1', text: 'SELECT $1::text', values: ['a'] });
  t.same(named.rows, [{ p1: 'a' }]);
});

t.test(
  'pipelined queries are handled one at a time, in order, each after the previous settled',
  async (t) => {
    const order: string[] = [];
    let inFlight = 0;
    const base = await echoServer({
      onMessage: async (message, frame, c) => {
        inFlight++;
        t.equal(inFlight, 1, 'never two messages in the handler at once');
        await new Promise((r) => setTimeout(r, 5));
        if (message.name === 'Query') order.push(message.sql);
        inFlight--;
        c.write(rowDescription([{ name: 'echo', typeOid: 25 }]));
        c.write(dataRow([message.name === 'Query' ? message.sql : '']));
        c.write(commandComplete('SELECT 1'));
        c.write(readyForQuery('I'));
        t.ok(frame.raw.length > 5);
      },
    });
    t.teardown(() => stop(base));
    const raw = await rawSession(base.port);
    const queries = ['one', 'two', 'three', 'four'];
    raw.socket.write(Buffer.concat(queries.map((q) => typed('Q', Buffer.from(`${q}\0`)))));
    await raw.until((r) => raw.types().filter((x) => x === 'Z').length === 4 && r.length > 0);
    t.same(order, queries);
    raw.socket.destroy();
  },
);

t.test(
  'a CancelRequest reaches onCancel with the process id and secret, then the socket closes',
  async (t) => {
    const cancels: [number, number][] = [];
    const s = await echoServer({ onCancel: (pid, secret) => cancels.push([pid, secret]) });
    t.teardown(() => stop(s));
    const raw = new RawClient(s.port);
    const packet = Buffer.alloc(16);
    packet.writeInt32BE(16, 0);
    packet.writeInt32BE(80877102, 4);
    packet.writeInt32BE(4242, 8);
    packet.writeInt32BE(77, 12);
    raw.socket.write(packet);
    await raw.closed;
    t.same(cancels, [[4242, 77]]);
    t.equal(raw.received.length, 0, 'nothing is answered to a cancel request');
  },
);

t.test('garbage ends that session with 08P01 while another session goes on', async (t) => {
  const s = await echoServer();
  t.teardown(() => stop(s));
  const client = pgClient(s.port);
  await client.connect();
  t.teardown(() => client.end());
  const raw = await rawSession(s.port);
  raw.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  await raw.closed;
  t.equal(raw.types()[0], 'E');
  t.equal(raw.sqlState(), '08P01');
  t.match(s.errors[0], { code: 'ERR_PG_PROTOCOL', sqlState: '08P01' });
  const after = await client.query('SELECT $1::text', ['still here']);
  t.same(after.rows, [{ p1: 'still here' }]);
});

t.test('garbage instead of a startup packet is closed without an answer, as PostgreSQL does', async (t) => {
  const s = await echoServer();
  t.teardown(() => stop(s));
  const raw = new RawClient(s.port);
  // A TLS ClientHello sent without SSLRequest: its first bytes read as an impossible length.
  raw.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03]));
  await raw.closed;
  t.same(raw.types(), [], 'nothing is sent back (COMMERROR)');
  t.match(s.errors[0], { code: 'ERR_PG_PROTOCOL', message: /invalid length of startup packet/ });
});

t.test('an oversized message is refused with 54000 from its header alone', async (t) => {
  const s = await echoServer({ maxMessageBody: 1024 });
  t.teardown(() => stop(s));
  const raw = await rawSession(s.port);
  raw.socket.write(Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff]));
  await raw.closed;
  t.equal(raw.sqlState(), '54000');
  t.match(s.errors[0], { code: 'ERR_PG_PROTOCOL', sqlState: '54000' });
});

t.test('a client that stops mid-startup is timed out while another session goes on', async (t) => {
  const s = await echoServer({ startupTimeoutMs: 300 });
  t.teardown(() => stop(s));
  const raw = new RawClient(s.port);
  raw.socket.write(startupPacket({ user: 'agent' }).subarray(0, 6));
  const client = pgClient(s.port);
  await client.connect();
  t.teardown(() => client.end());
  await raw.closed;
  t.equal(raw.sqlState(), '08006');
  t.match(s.errors, [{ code: 'ERR_PG_STARTUP_TIMEOUT' }]);
  const after = await client.query('SELECT 1');
  t.same(after.rows, [{ '?column?': 1 }]);
});

t.test('a startup packet without a user is refused with 28000', async (t) => {
  const s = await echoServer();
  t.teardown(() => stop(s));
  const raw = new RawClient(s.port);
  raw.socket.write(startupPacket({ database: 'orders' }));
  await raw.closed;
  t.equal(raw.sqlState(), '28000');
  t.match(s.errors[0], { code: 'ERR_PG_NO_USER' });
});

t.test('bytes sent after SSLRequest before the answer are refused (no injection into TLS)', async (t) => {
  const s = await echoServer();
  t.teardown(() => stop(s));
  const raw = new RawClient(s.port);
  raw.socket.write(
    Buffer.concat([Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]), startupPacket({ user: 'x' })]),
  );
  await raw.closed;
  t.equal(raw.sqlState(), '08P01');
  t.match(s.errors[0], { code: 'ERR_PG_PROTOCOL', message: /unencrypted data after SSLRequest/ });
});

t.test('an idle session is closed with 57P05 after idleTimeoutMs', async (t) => {
  const s = await echoServer({ idleTimeoutMs: 150 });
  t.teardown(() => stop(s));
  const raw = await rawSession(s.port);
  await raw.closed;
  t.equal(raw.sqlState(), '57P05');
  t.match(s.errors[0], { code: 'ERR_PG_IDLE_TIMEOUT' });
});

t.test('a handler that throws ends the session with XX000 and reports the cause', async (t) => {
  const s = await echoServer({
    onMessage: () => {
      throw new Error('secret detail');
    },
  });
  t.teardown(() => stop(s));
  const raw = await rawSession(s.port);
  raw.socket.write(typed('Q', Buffer.from('SELECT 1\0')));
  await raw.closed;
  t.equal(raw.sqlState(), 'XX000');
  t.notMatch(raw.received.toString('latin1'), /secret detail/, 'the cause stays on the server');
  t.match(s.errors[0], { code: 'ERR_PG_CALLBACK', cause: { message: 'secret detail' } });
});

t.test('Terminate closes the session without an error', async (t) => {
  const closed: string[] = [];
  const s = await echoServer({ onClose: () => closed.push('closed') });
  t.teardown(() => stop(s));
  const raw = await rawSession(s.port);
  raw.socket.write(typed('X', Buffer.alloc(0)));
  await raw.closed;
  t.equal(s.errors.length, 0);
  t.equal(s.connections[0]?.state, 'closed');
  await new Promise((r) => setTimeout(r, 20));
  t.same(closed, ['closed']);
});

t.test('a slow reader pauses the session until the socket drains, and every row arrives', async (t) => {
  const rows = 20_000;
  const blocked: boolean[] = [];
  const s = await echoServer({
    onMessage: async (message, _frame, c) => {
      if (message.name !== 'Query') return;
      c.write(rowDescription([{ name: 'n', typeOid: 25 }]));
      for (let i = 0; i < rows; i++) {
        if (!c.write(dataRow([String(i).padStart(100, '0')]))) {
          blocked.push(true);
          await new Promise((r) => setTimeout(r, 1));
        }
      }
      c.write(commandComplete(`SELECT ${rows}`));
      c.write(readyForQuery('I'));
    },
  });
  t.teardown(() => stop(s));
  const client = pgClient(s.port);
  await client.connect();
  t.teardown(() => client.end());
  const result = await client.query('anything');
  t.equal(result.rowCount, rows);
  t.ok(blocked.length > 0, 'write reported a full socket at least once');
});

t.test('before authentication only a password message is accepted, refused from its header', async (t) => {
  const s = await echoServer();
  t.teardown(() => stop(s));
  const raw = new RawClient(s.port);
  raw.socket.write(startupPacket({ user: 'agent' }));
  await raw.until((r) => r.length >= 9);
  raw.received = Buffer.alloc(0);
  raw.socket.write(Buffer.from([0x51, 0x00, 0xa0, 0x00, 0x00])); // Q announcing 10 MiB
  await raw.closed;
  t.equal(raw.sqlState(), '08P01');
  t.equal(s.logins.length, 0);
  t.match(s.errors[0], { code: 'ERR_PG_PROTOCOL', cause: { code: 'ERR_PG_UNEXPECTED_MESSAGE' } });
});

t.test('a failed TLS handshake is reported and ends only that session', async (t) => {
  const s = await echoServer();
  t.teardown(() => stop(s));
  const raw = new RawClient(s.port);
  raw.socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]));
  await raw.until((r) => r.length >= 1);
  t.equal(raw.received.toString(), 'S');
  raw.socket.write(Buffer.from('this is not a TLS ClientHello, not at all\r\n'));
  await raw.closed;
  t.match(s.errors[0], { code: 'ERR_PG_TLS_HANDSHAKE', sqlState: '08006' });
  const result = await psql(s.port, 'require', 'SELECT 1');
  t.equal(result.stdout.trim(), '1', result.stderr);
});

t.test('startup options the server does not know are declined with NegotiateProtocolVersion', async (t) => {
  const s = await echoServer();
  t.teardown(() => stop(s));
  const raw = new RawClient(s.port);
  raw.socket.write(startupPacket({ user: 'agent', '_pq_.compression': 'on' }));
  await raw.until(() => raw.types().length >= 2);
  t.same(raw.types().slice(0, 2), ['v', 'R']);
  t.equal(raw.received.readInt32BE(5), 0, 'newest minor version: 0');
  t.equal(raw.received.toString('latin1', 13, 13 + '_pq_.compression'.length), '_pq_.compression');
  raw.socket.destroy();
});

t.test('authenticate may refuse with 28000 and its own message', async (t) => {
  const s = await echoServer({
    authenticate: async () => ({ ok: false, sqlState: '28000', message: 'no access to database "orders"' }),
  });
  t.teardown(() => stop(s));
  const result = await psql(s.port, 'disable', 'SELECT 1');
  t.not(result.code, 0);
  t.match(result.stderr, /no access to database "orders"/);
  t.match(s.errors[0], { code: 'ERR_PG_AUTH_FAILED', sqlState: '28000' });
});

t.test('an authenticate callback that rejects ends the session with XX000', async (t) => {
  const s = await echoServer({
    authenticate: async () => {
      throw new Error('identity provider down');
    },
  });
  t.teardown(() => stop(s));
  const result = await psql(s.port, 'disable', 'SELECT 1');
  t.not(result.code, 0);
  t.match(result.stderr, /internal error in the server/);
  t.notMatch(result.stderr, /identity provider down/);
  t.match(s.errors[0], { code: 'ERR_PG_CALLBACK' });
});

t.test('a second SSLRequest inside TLS is a protocol violation', async (t) => {
  const { connect: tlsConnect } = await import('node:tls');
  const s = await echoServer();
  t.teardown(() => stop(s));
  const raw = connect(s.port, '127.0.0.1');
  raw.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]));
  await new Promise<void>((resolve) => raw.once('data', () => resolve()));
  const secure = tlsConnect({ socket: raw, rejectUnauthorized: false });
  await new Promise<void>((resolve) => secure.once('secureConnect', () => resolve()));
  let received = Buffer.alloc(0);
  secure.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
  secure.on('error', () => {});
  secure.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]));
  await new Promise<void>((resolve) => secure.once('close', () => resolve()));
  t.equal(String.fromCharCode(received[0] as number), 'E');
  t.match(s.errors[0], {
    code: 'ERR_PG_PROTOCOL',
    sqlState: '08P01',
    message: /SSLRequest on an encrypted connection/,
  });
});

t.test('postgres.js pipelines extended-protocol queries and gets each answer in order', async (t) => {
  const { default: postgres } = await import('postgres');
  const s = await echoServer();
  t.teardown(() => stop(s));
  const sql = postgres({
    host: '127.0.0.1',
    port: s.port,
    user: 'agent',
    database: 'orders',
    password: PASSWORD,
    ssl: false,
    fetch_types: false,
    max: 1,
    connect_timeout: 5,
  });
  t.teardown(() => sql.end({ timeout: 1 }));
  const results = await Promise.all(['a', 'b', 'c'].map((v) => sql`SELECT ${v}::text`));
  t.same(
    results.map((r) => r[0]),
    [{ p1: 'a' }, { p1: 'b' }, { p1: 'c' }],
  );
  t.ok(s.messages.filter((m) => m === 'Bind').length >= 3, 'every query went through Bind');
});
