import t from 'tap';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { PgClientError, PgConnection, type PgTlsMode } from '../../../protocols/postgres/client/index.js';
import { ensureServerTls, PG_HOST, PG_PORT, PG_SUPERUSER } from '../../support/postgres.js';

const tls = await ensureServerTls();

function open(mode: PgTlsMode, extra: { host?: string; port?: number; ca?: string } = {}) {
  return PgConnection.connect({
    host: extra.host ?? PG_HOST,
    port: extra.port ?? PG_PORT,
    user: PG_SUPERUSER,
    database: 'postgres',
    tls: mode,
    ...(extra.ca !== undefined ? { ca: extra.ca } : {}),
  });
}

async function serverSeesSsl(conn: PgConnection): Promise<string | null | undefined> {
  let ssl: string | null | undefined;
  await conn.query('SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()', {
    row: (v) => void (ssl = v[0]),
  });
  return ssl;
}

t.test('require encrypts without checking the certificate', async (t) => {
  const conn = await open('require');
  t.teardown(() => conn.close());
  t.equal(conn.encrypted, true);
  t.equal(await serverSeesSsl(conn), 'true');
});

t.test('verify-full with the right CA connects over TLS to 127.0.0.1 and localhost', async (t) => {
  for (const host of ['127.0.0.1', 'localhost']) {
    const conn = await open('verify-full', { host, ca: tls.caPem });
    t.equal(conn.encrypted, true);
    t.equal(await serverSeesSsl(conn), 'true');
    await conn.close();
  }
});

t.test('verify-full with a wrong CA fails with ERR_PG_TLS', async (t) => {
  const err = await open('verify-full', { ca: tls.wrongCaPem }).catch((e: unknown) => e);
  t.ok(err instanceof PgClientError);
  t.equal((err as PgClientError).code, 'ERR_PG_TLS');
});

t.test('verify-full fails when the host name is not in the certificate', async (t) => {
  // A pass-through on 127.0.0.3 reaches the same server, whose certificate names only 127.0.0.1 and localhost.
  const port = await proxy(t, null, '127.0.0.3');
  const plain = await open('require', { host: '127.0.0.3', port });
  t.equal(plain.encrypted, true, 'the path itself works');
  await plain.close();
  const err = await open('verify-full', { host: '127.0.0.3', port, ca: tls.caPem }).catch((e: unknown) => e);
  t.equal((err as PgClientError).code, 'ERR_PG_TLS');
  t.match((err as Error).message, /127\.0\.0\.3/);
});

t.test('verify-full without a CA is refused', async (t) => {
  const err = await open('verify-full').catch((e: unknown) => e);
  t.equal((err as PgClientError).code, 'ERR_PG_TLS');
});

t.test('prefer uses TLS when the server offers it', async (t) => {
  const conn = await open('prefer');
  t.teardown(() => conn.close());
  t.equal(conn.encrypted, true);
  t.equal(await serverSeesSsl(conn), 'true');
});

t.test('disable stays in plain TCP', async (t) => {
  const conn = await open('disable');
  t.teardown(() => conn.close());
  t.equal(conn.encrypted, false);
  t.equal(await serverSeesSsl(conn), 'false');
});

/**
 * A proxy in front of the real server. With an `answer`, it answers an SSLRequest itself with it
 * and then passes everything through, as a server without TLS would behave; with null it only
 * passes bytes through.
 */
async function proxy(
  t: { teardown(fn: () => unknown): void },
  answer: Buffer | null,
  host = '127.0.0.1',
): Promise<number> {
  const sockets: Socket[] = [];
  const server = createServer((client) => {
    sockets.push(client);
    client.once('data', (first) => {
      const isSslRequest = answer !== null && first.length === 8 && first.readInt32BE(4) === 80877103;
      const upstream = connect(PG_PORT, PG_HOST);
      sockets.push(upstream);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      if (isSslRequest) client.write(answer);
      else upstream.write(first);
      client.pipe(upstream).pipe(client);
    });
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  t.teardown(() => {
    sockets.forEach((s) => s.destroy());
    return new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as AddressInfo).port;
}

t.test('prefer falls back to plain TCP when the server answers N', async (t) => {
  const port = await proxy(t, Buffer.from('N'));
  const conn = await open('prefer', { port });
  t.teardown(() => conn.close());
  t.equal(conn.encrypted, false);
  t.equal(await serverSeesSsl(conn), 'false');
});

t.test('require fails with ERR_PG_TLS when the server answers N', async (t) => {
  const port = await proxy(t, Buffer.from('N'));
  const err = await open('require', { port }).catch((e: unknown) => e);
  t.equal((err as PgClientError).code, 'ERR_PG_TLS');
  t.match((err as Error).message, /does not accept TLS/);
});

t.test('bytes injected after the SSLRequest answer are refused (CVE-2021-23222)', async (t) => {
  const port = await proxy(t, Buffer.from('Sxxxx'));
  const err = await open('require', { port }).catch((e: unknown) => e);
  t.equal((err as PgClientError).code, 'ERR_PG_PROTOCOL');
});

t.test('an answer other than S or N is a protocol error', async (t) => {
  const port = await proxy(t, Buffer.from('E'));
  const err = await open('prefer', { port }).catch((e: unknown) => e);
  t.equal((err as PgClientError).code, 'ERR_PG_PROTOCOL');
});
