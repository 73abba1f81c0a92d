import t from 'tap';
import { createServer, type AddressInfo } from 'node:net';
import { PgClientError, PgConnection, PgServerError } from '../../../protocols/postgres/client/index.js';
import { createRole, PG_HOST, PG_PORT, type AuthMethod } from '../../support/postgres.js';

function connectAs(user: string, password: string | (() => string) | undefined) {
  return PgConnection.connect({
    host: PG_HOST,
    port: PG_PORT,
    user,
    database: 'postgres',
    tls: 'disable',
    password,
  });
}

async function whoami(conn: PgConnection): Promise<string | null | undefined> {
  let user: string | null | undefined;
  await conn.query('SELECT current_user', { row: (v) => void (user = v[0]) });
  return user;
}

for (const auth of ['scram-sha-256', 'md5', 'password'] as const satisfies readonly AuthMethod[]) {
  t.test(`${auth} authentication succeeds with the right password`, async (t) => {
    const role = await createRole(t, { auth });
    const conn = await connectAs(role.user, role.password);
    t.teardown(() => conn.close());
    t.equal(await whoami(conn), role.user);
  });

  t.test(
    `${auth} authentication with a wrong password fails with 28P01 and never echoes the password`,
    async (t) => {
      const role = await createRole(t, { auth });
      const wrong = `wrong-${role.password}`;
      const err = await connectAs(role.user, wrong).catch((e: unknown) => e);
      t.ok(err instanceof PgServerError);
      t.equal((err as PgServerError).code, '28P01');
      t.notMatch(JSON.stringify(err) + String(err) + (err as Error).stack, wrong);
    },
  );
}

t.test('the password function is called only when the server asks for it', async (t) => {
  const scram = await createRole(t, { auth: 'scram-sha-256' });
  let calls = 0;
  const conn = await connectAs(scram.user, () => {
    calls++;
    return scram.password;
  });
  t.teardown(() => conn.close());
  t.ok(calls >= 1);
  const trust = await createRole(t, { auth: 'trust' });
  let trustCalls = 0;
  const plain = await connectAs(trust.user, () => {
    trustCalls++;
    return 'unused';
  });
  t.teardown(() => plain.close());
  t.equal(trustCalls, 0);
});

t.test('a password request without a configured password fails with ERR_PG_PASSWORD_REQUIRED', async (t) => {
  for (const auth of ['scram-sha-256', 'md5'] as const) {
    const role = await createRole(t, { auth });
    const err = await connectAs(role.user, undefined).catch((e: unknown) => e);
    t.ok(err instanceof PgClientError);
    t.equal((err as PgClientError).code, 'ERR_PG_PASSWORD_REQUIRED');
  }
});

t.test('SCRAM passwords are SASLprep-normalised like libpq does', async (t) => {
  // U+00A0 (no-break space) maps to a plain space in SASLprep, on both sides.
  const role = await createRole(t, { auth: 'scram-sha-256', password: 'a\u00a0b' });
  const conn = await connectAs(role.user, 'a b');
  t.teardown(() => conn.close());
  t.equal(await whoami(conn), role.user);
});

t.test('an unknown database fails with 3D000', async (t) => {
  const err = await PgConnection.connect({
    host: PG_HOST,
    port: PG_PORT,
    user: 'postgres',
    database: 'sluice_no_such_db_ever',
    tls: 'disable',
  }).catch((e: unknown) => e);
  t.ok(err instanceof PgServerError);
  t.equal((err as PgServerError).code, '3D000');
});

t.test('an unreachable port fails with ERR_PG_UNREACHABLE naming host and port', async (t) => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  const err = await PgConnection.connect({
    host: '127.0.0.1',
    port,
    user: 'x',
    database: 'x',
    tls: 'disable',
  }).catch((e: unknown) => e);
  t.ok(err instanceof PgClientError);
  t.equal((err as PgClientError).code, 'ERR_PG_UNREACHABLE');
  t.match((err as Error).message, `127.0.0.1:${port}`);
});

/** A server that accepts TCP and then answers with the given bytes (or nothing). */
async function fakeServer(t: { teardown(fn: () => unknown): void }, answer: (data: Buffer) => Buffer | null) {
  const server = createServer((socket) => {
    socket.on('data', (data) => {
      const reply = answer(data);
      if (reply) socket.write(reply);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  t.teardown(() => void server.unref());
  return (server.address() as AddressInfo).port;
}

t.test('a server that never answers hits the connect timeout with ERR_PG_CONNECT_TIMEOUT', async (t) => {
  const sockets: import('node:net').Socket[] = [];
  const server = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    sockets.forEach((s) => s.destroy());
    return new Promise<void>((r) => server.close(() => r()));
  });
  const port = (server.address() as AddressInfo).port;
  const started = Date.now();
  const err = await PgConnection.connect({
    host: '127.0.0.1',
    port,
    user: 'x',
    database: 'x',
    tls: 'disable',
    connectTimeoutMs: 200,
  }).catch((e: unknown) => e);
  t.equal((err as PgClientError).code, 'ERR_PG_CONNECT_TIMEOUT');
  t.ok(Date.now() - started < 2000);
});

function authRequest(code: number, extra: Buffer = Buffer.alloc(0)): Buffer {
  const body = Buffer.concat([Buffer.alloc(4), extra]);
  body.writeInt32BE(code, 0);
  const header = Buffer.alloc(5);
  header[0] = 0x52;
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

t.test('an authentication method the client does not know is refused, never taken as success', async (t) => {
  // 7 = GSSAPI: pg-protocol alone would report it as AuthenticationOk.
  const port = await fakeServer(t, () => authRequest(7));
  const err = await PgConnection.connect({
    host: '127.0.0.1',
    port,
    user: 'x',
    database: 'x',
    tls: 'disable',
  }).catch((e: unknown) => e);
  t.equal((err as PgClientError).code, 'ERR_PG_AUTH_UNSUPPORTED');
});

t.test('a server that skips the SCRAM final message is refused', async (t) => {
  // SASL offered, then AuthenticationOk straight after the client's first message.
  let step = 0;
  const port = await fakeServer(t, () => {
    step++;
    if (step === 1) return authRequest(10, Buffer.from('SCRAM-SHA-256\0\0'));
    return authRequest(0);
  });
  const err = await PgConnection.connect({
    host: '127.0.0.1',
    port,
    user: 'x',
    database: 'x',
    tls: 'disable',
    password: 'secret',
  }).catch((e: unknown) => e);
  t.equal((err as PgClientError).code, 'ERR_PG_AUTH_FAILED');
});

t.test('a SASL offer without SCRAM-SHA-256 is refused with ERR_PG_AUTH_UNSUPPORTED', async (t) => {
  const port = await fakeServer(t, () => authRequest(10, Buffer.from('SCRAM-SHA-256-PLUS\0\0')));
  const err = await PgConnection.connect({
    host: '127.0.0.1',
    port,
    user: 'x',
    database: 'x',
    tls: 'disable',
    password: 'secret',
  }).catch((e: unknown) => e);
  t.equal((err as PgClientError).code, 'ERR_PG_AUTH_UNSUPPORTED');
});

t.test('a message with an impossible length is a protocol error', async (t) => {
  const port = await fakeServer(t, () => Buffer.from([0x52, 0, 0, 0, 2]));
  const err = await PgConnection.connect({
    host: '127.0.0.1',
    port,
    user: 'x',
    database: 'x',
    tls: 'disable',
  }).catch((e: unknown) => e);
  t.equal((err as PgClientError).code, 'ERR_PG_PROTOCOL');
});

t.test('a message type the client does not know is a protocol error, not a server error', async (t) => {
  const port = await fakeServer(t, () => Buffer.from([0x7e, 0, 0, 0, 4]));
  const err = await PgConnection.connect({
    host: '127.0.0.1',
    port,
    user: 'x',
    database: 'x',
    tls: 'disable',
  }).catch((e: unknown) => e);
  t.equal((err as PgClientError).code, 'ERR_PG_PROTOCOL');
  t.match((err as Error).message, /unknown backend message/);
});
