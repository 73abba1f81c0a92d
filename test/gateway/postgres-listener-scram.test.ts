/**
 * SCRAM-SHA-256 on the Postgres listener: the user name is a Sluice token without its signature,
 * the password is the token, and the token never crosses the wire. Over TLS the exchange is bound
 * to the listener's certificate (SCRAM-SHA-256-PLUS, tls-server-end-point), so clients that refuse
 * a cleartext password (libpq channel_binding=require) log in. Wrong, forged and expired tokens,
 * downgrades and malformed exchanges are refused, and the listener goes on serving.
 */
import { connect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import pg from 'pg';
import { serialize } from 'pg-protocol/dist/serializer';
import t from 'tap';
import { startHarness, SUBJECT } from './postgres-listener-harness.js';

const h = await startHarness(t, { allowPlaintextAuth: true });
const unsigned = (token: string) => token.slice(0, token.lastIndexOf('.'));
const scramUser = unsigned(h.token);

t.test('psql with channel_binding=require logs in over TLS and runs as the subject', async (t) => {
  const out = await h.psql(['-U', scramUser, '-At', '-c', 'SELECT id FROM notes ORDER BY id'], {
    PGSSLMODE: 'require',
    PGCHANNELBINDING: 'require',
  });
  t.equal(out.code, 0, out.stderr);
  t.equal(out.stdout, '1\n2\n');
  const sessions = await h.recordings(SUBJECT);
  const statements = sessions.flat().filter((e) => e.type === 'statement');
  t.ok(
    statements.some((e) => e.sql === 'SELECT id FROM notes ORDER BY id'),
    'the statement is recorded in a session of the subject',
  );
});

t.test('psql with channel_binding=require refuses the cleartext login of a plain user name', async (t) => {
  const out = await h.psql(['-At', '-c', 'SELECT 1'], { PGSSLMODE: 'require', PGCHANNELBINDING: 'require' });
  t.not(out.code, 0);
  t.match(out.stderr, /channel binding required/);
});

t.test('node-postgres: SCRAM-SHA-256-PLUS over TLS, SCRAM-SHA-256 without', async (t) => {
  for (const options of [
    { ssl: { rejectUnauthorized: false }, enableChannelBinding: true },
    { ssl: { rejectUnauthorized: false } },
    { ssl: false as const },
  ]) {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: h.port,
      user: scramUser,
      password: h.token,
      database: 'shop',
      ...options,
    });
    await client.connect();
    t.same((await client.query('SELECT body FROM notes WHERE id = 1')).rows, [{ body: 'first' }]);
    t.same((await client.query('SELECT email FROM customers WHERE id = 1')).rows, [
      { email: '****@example.com' },
    ]);
    await client.end();
  }
});

t.test('wrong, forged and expired tokens are refused with 28P01', async (t) => {
  const login = (user: string, password: string) =>
    new pg.Client({
      host: '127.0.0.1',
      port: h.port,
      user,
      password,
      database: 'shop',
      ssl: { rejectUnauthorized: false },
      enableChannelBinding: true,
    })
      .connect()
      .then(
        () => 'connected',
        (e: Error & { code?: string }) => `${e.code} ${e.message}`,
      );
  const other = await h.mint(SUBJECT);
  t.match(
    await login(scramUser, other),
    /^28P01 password authentication failed/,
    'another token of the subject',
  );
  const [header, payload] = scramUser.split('.') as [string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  const forged = Buffer.from(JSON.stringify({ ...claims, groups: ['dba'] })).toString('base64url');
  t.match(await login(`${header}.${forged}`, h.token), /^28P01/, 'claims changed, the token kept');
  t.match(await login(scramUser, `${h.token}x`), /^28P01/);
  const short = await h.parts.authenticator.mint({ subject: SUBJECT, groups: ['ai-agents'], ttlMs: 1000 });
  await new Promise((r) => setTimeout(r, 2100));
  t.match(await login(unsigned(short), short), /^28P01 .*expired/, 'the proof is right, the token expired');
  const stranger = `${header}.${Buffer.from(JSON.stringify({ ...claims, iss: 'https://idp.example' })).toString('base64url')}`;
  t.match(await login(stranger, h.token), /^28P01|^28000/, 'not our issuer: a cleartext login, refused');
});

/** Reads Postgres messages from a socket: [type, body]. */
function reader(socket: TLSSocket | import('node:net').Socket) {
  let buffer = Buffer.alloc(0);
  const waiters: (() => void)[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (const w of waiters.splice(0)) w();
  });
  socket.on('close', () => {
    closed = true;
    for (const w of waiters.splice(0)) w();
  });
  return async (): Promise<[string, Buffer] | undefined> => {
    for (;;) {
      if (buffer.length >= 5) {
        const size = buffer.readInt32BE(1) + 1;
        if (buffer.length >= size) {
          const message: [string, Buffer] = [
            String.fromCharCode(buffer[0] as number),
            buffer.subarray(5, size),
          ];
          buffer = buffer.subarray(size);
          return message;
        }
      }
      if (closed) return undefined;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
}

async function tlsSession(): Promise<{ socket: TLSSocket; next: ReturnType<typeof reader> }> {
  const raw = connect({ host: '127.0.0.1', port: h.port });
  await new Promise((r) => raw.once('connect', r));
  raw.write(serialize.requestSsl());
  await new Promise<void>((r) => raw.once('data', () => r()));
  const socket = tlsConnect({ socket: raw, rejectUnauthorized: false });
  await new Promise((r) => socket.once('secureConnect', r));
  const next = reader(socket);
  socket.write(serialize.startup({ user: scramUser, database: 'shop' }));
  const offer = await next();
  t.equal(offer?.[0], 'R');
  return { socket, next };
}

function initial(mechanism: string, clientFirst: string): Buffer {
  const name = Buffer.from(`${mechanism}\0`);
  const data = Buffer.from(clientFirst);
  const body = Buffer.alloc(name.length + 4 + data.length);
  name.copy(body);
  body.writeInt32BE(data.length, name.length);
  data.copy(body, name.length + 4);
  const head = Buffer.alloc(5);
  head[0] = 'p'.charCodeAt(0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

const fieldM = (body: Buffer) =>
  body
    .toString('utf8')
    .split('\0')
    .find((f) => f.startsWith('M'))
    ?.slice(1);

t.test('the offer, and exchanges that break SCRAM, end with an error and nothing else', async (t) => {
  const { socket } = await tlsSession();
  socket.destroy();
  t.pass('offered');
  const cases: [string, string, RegExp][] = [
    ['SCRAM-SHA-256', 'y,,n=,r=abcdefgh', /negotiation error/],
    ['SCRAM-SHA-256-PLUS', 'n,,n=,r=abcdefgh', /without channel binding/],
    ['SCRAM-SHA-256-PLUS', 'p=tls-unique,,n=,r=abcdefgh', /unsupported SCRAM channel binding type/],
    ['SCRAM-SHA-256', 'p=tls-server-end-point,,n=,r=abcdefgh', /without SCRAM-SHA-256-PLUS/],
    ['SCRAM-SHA-1', 'n,,n=,r=abcdefgh', /invalid SASL authentication mechanism/],
    ['SCRAM-SHA-256', 'n,a=admin,n=,r=abcdefgh', /authorization identities/],
    ['SCRAM-SHA-256', 'n,,n=,r=', /malformed/],
    ['SCRAM-SHA-256', 'garbage', /malformed/],
  ];
  for (const [mechanism, clientFirst, message] of cases) {
    const session = await tlsSession();
    session.socket.write(initial(mechanism, clientFirst));
    const answer = await session.next();
    t.equal(answer?.[0], 'E', `${mechanism} ${clientFirst}`);
    t.match(fieldM(answer?.[1] ?? Buffer.alloc(0)), message, `${mechanism} ${clientFirst}`);
    t.equal(await session.next(), undefined, 'then the connection closes');
  }
  // A right first message, then a final one with a wrong nonce, a wrong binding, a wrong proof.
  for (const final of [
    (nonce: string) => `c=biws,r=${nonce}x,p=AAAA`,
    (nonce: string) => `c=biws,r=${nonce},p=${Buffer.alloc(32).toString('base64')}`,
    (nonce: string) => `c=eSws,r=${nonce},p=${Buffer.alloc(32).toString('base64')}`,
  ]) {
    const session = await tlsSession();
    session.socket.write(initial('SCRAM-SHA-256', 'n,,n=,r=clientnonce'));
    const first = await session.next();
    t.equal(first?.[0], 'R');
    const serverFirst = first?.[1].subarray(4).toString('utf8') ?? '';
    const nonce = /r=([^,]+)/.exec(serverFirst)?.[1] ?? '';
    t.match(nonce, /^clientnonce./, 'the server nonce extends the client one');
    const data = Buffer.from(final(nonce));
    const head = Buffer.alloc(5);
    head[0] = 'p'.charCodeAt(0);
    head.writeInt32BE(data.length + 4, 1);
    session.socket.write(Buffer.concat([head, data]));
    const answer = await session.next();
    t.equal(answer?.[0], 'E');
    t.match(
      fieldM(answer?.[1] ?? Buffer.alloc(0)),
      /password authentication failed|malformed|binding check failed/,
    );
    t.equal(await session.next(), undefined);
  }
  const after = await h.psql(['-U', scramUser, '-At', '-c', 'SELECT 1'], {
    PGSSLMODE: 'require',
    PGCHANNELBINDING: 'require',
  });
  t.equal(after.stdout, '1\n', 'the listener goes on serving');
});
