import t from 'tap';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { importPKCS8, SignJWT, type JWTPayload } from 'jose';
import { createAuthenticator } from '../../src/identity/authenticator.js';
import { GATEWAY_KEY_FILE } from '../../src/identity/gateway-key.js';
import { captureLogger, expectRefusal, makeConfig, seconds, tempDir } from './fixtures/index.js';

const NOW = Date.UTC(2026, 10, 24, 12, 0, 0);

async function setup(identity = 'gatewayTokens: {}', baseDir = tempDir(), env: NodeJS.ProcessEnv = {}) {
  const log = captureLogger();
  let now = NOW;
  const config = makeConfig(identity, { baseDir, env });
  const auth = await createAuthenticator(config, { logger: log.logger, clock: () => now });
  return {
    auth,
    log,
    baseDir,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

t.test(
  'a minted token verifies as a gateway identity with its groups and target, surrounding whitespace ignored',
  async (t) => {
    const { auth, log } = await setup();
    const issued = await auth.issue({ subject: 'ana', groups: ['dba', 'dba', 'analysts'], target: 'orders' });
    t.equal(issued.expiresAt, NOW + 15 * 60_000, 'the default TTL comes from config');
    const identity = await auth.authenticate(issued.token, { channel: 'postgres', remote: '127.0.0.1' });
    t.same(identity, {
      subject: 'ana',
      groups: ['dba', 'analysts'],
      issuer: 'sluice',
      via: 'gateway',
      claims: { sub: 'ana' },
      target: 'orders',
      expiresAt: NOW + 15 * 60_000,
    });
    const withClaims = await auth.issue({
      subject: 'ana',
      groups: ['dba'],
      claims: { tenant: 'acme', n: 2 },
    });
    const claimed = await auth.authenticate(withClaims.token, { channel: 'postgres' });
    t.same(claimed.claims, { tenant: 'acme', n: 2, sub: 'ana' }, 'minted claims come back with sub');
    await t.rejects(auth.issue({ subject: 'ana', groups: ['dba'], claims: { sub: 'bob' } }), {
      code: 'ERR_MINT_REQUEST',
    });
    await t.rejects(auth.issue({ subject: 'ana', groups: ['dba'], claims: { x: { nested: 1 } as never } }), {
      code: 'ERR_MINT_REQUEST',
    });
    t.match(
      log.lines.find((l) => l['event'] === 'token.minted'),
      { subject: 'ana', jti: issued.jti, target: 'orders' },
    );
    t.match(
      log.lines.find((l) => l['event'] === 'auth.success'),
      { subject: 'ana', via: 'gateway', channel: 'postgres' },
    );
    t.notMatch(log.text(), issued.token);
    const unbound = await auth.authenticate(`${await auth.mint({ subject: 'bo', groups: [] })}\n`, {
      channel: 'test',
    });
    t.equal(unbound.target, undefined, 'a token minted without a target is not bound');
  },
);

t.test('the token carries the sluice type, token_use, a jti and the key id', async (t) => {
  const { auth } = await setup();
  const token = await auth.mint({ subject: 'ana', groups: ['dba'] });
  const [header, payload] = token
    .split('.')
    .slice(0, 2)
    .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
  t.match(header, { alg: 'EdDSA', typ: 'sluice+jwt', kid: String });
  t.match(payload, { iss: 'sluice', sub: 'ana', token_use: 'sluice', jti: String, iat: seconds(NOW) });
});

t.test('a token expires after its TTL; a shorter TTL is honoured and a longer one refused', async (t) => {
  const { auth, advance } = await setup('gatewayTokens: { ttl: 10m }');
  const token = await auth.mint({ subject: 'ana', groups: ['dba'], ttlMs: 60_000 });
  await auth.authenticate(token, { channel: 'test' });
  advance(66_000);
  await expectRefusal(t, auth.authenticate(token, { channel: 'test' }), 'ERR_TOKEN_EXPIRED');
  await expectRefusal(t, auth.mint({ subject: 'ana', groups: [], ttlMs: 11 * 60_000 }), 'ERR_MINT_REQUEST');
  await expectRefusal(t, auth.mint({ subject: 'ana', groups: [], ttlMs: 10 }), 'ERR_MINT_REQUEST');
});

t.test('mint refuses an unknown target, an empty or odd subject, and bad groups', async (t) => {
  const { auth } = await setup();
  const err = await expectRefusal(
    t,
    auth.mint({ subject: 'ana', groups: [], target: 'nowhere' }),
    'ERR_MINT_REQUEST',
  );
  t.match(err.message, /target: unknown target "nowhere"/);
  await expectRefusal(t, auth.mint({ subject: ' ', groups: [] }), 'ERR_MINT_REQUEST');
  await expectRefusal(t, auth.mint({ subject: 'a\nb', groups: [] }), 'ERR_MINT_REQUEST');
  await expectRefusal(t, auth.mint({ subject: 'x'.repeat(300), groups: [] }), 'ERR_MINT_REQUEST');
  await expectRefusal(t, auth.mint({ subject: 'ana', groups: [''] }), 'ERR_MINT_REQUEST');
});

t.test('the key is kept in the state directory with mode 0600 and reused by the next start', async (t) => {
  const baseDir = tempDir();
  const first = await setup('gatewayTokens: {}', baseDir);
  const path = join(baseDir, '.sluice', GATEWAY_KEY_FILE);
  t.equal(statSync(path).mode & 0o777, 0o600);
  t.match(readFileSync(path, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
  t.match(
    first.log.lines.find((l) => l['event'] === 'identity.gateway_key_created'),
    { path },
  );
  const token = await first.auth.mint({ subject: 'ana', groups: ['dba'] });
  const second = await setup('gatewayTokens: {}', baseDir);
  t.equal((await second.auth.authenticate(token, { channel: 'test' })).subject, 'ana');
  t.notOk(
    second.log.lines.some((l) => l['event'] === 'identity.gateway_key_created'),
    'no new key on the second start',
  );
});

t.test('two processes starting at once end up with one key', async (t) => {
  const baseDir = tempDir();
  const [a, b] = await Promise.all([
    setup('gatewayTokens: {}', baseDir),
    setup('gatewayTokens: {}', baseDir),
  ]);
  const token = await a.auth.mint({ subject: 'ana', groups: [] });
  t.equal((await b.auth.authenticate(token, { channel: 'test' })).subject, 'ana');
});

t.test('a key file other users can read is refused', async (t) => {
  const baseDir = tempDir();
  await setup('gatewayTokens: {}', baseDir);
  chmodSync(join(baseDir, '.sluice', GATEWAY_KEY_FILE), 0o644);
  await t.rejects(setup('gatewayTokens: {}', baseDir), { code: 'ERR_AUTH_CONFIG', message: /chmod 600/ });
});

t.test('a token signed by another gateway key is refused', async (t) => {
  const ours = await setup();
  const theirs = await setup();
  const foreign = await theirs.auth.mint({ subject: 'mallory', groups: ['dba'] });
  await expectRefusal(t, ours.auth.authenticate(foreign, { channel: 'test' }), 'ERR_TOKEN_KEY_UNKNOWN');
  // Same kid as ours, signed with the other key: the signature check catches it.
  const genuine = await ours.auth.mint({ subject: 'ana', groups: [] });
  const ourKid = JSON.parse(Buffer.from(genuine.split('.')[0] ?? '', 'base64url').toString()).kid as string;
  const pem = readFileSync(join(theirs.baseDir, '.sluice', GATEWAY_KEY_FILE), 'utf8');
  const forged = await new SignJWT({ groups: ['dba'], token_use: 'sluice' })
    .setProtectedHeader({ alg: 'EdDSA', kid: ourKid, typ: 'sluice+jwt' })
    .setIssuer('sluice')
    .setSubject('mallory')
    .setIssuedAt(seconds(NOW))
    .setExpirationTime(seconds(NOW) + 60)
    .setJti('x')
    .sign(await importPKCS8(pem, 'EdDSA'));
  await expectRefusal(t, ours.auth.authenticate(forged, { channel: 'test' }), 'ERR_TOKEN_SIGNATURE');
});

t.test('an HS256 token naming the gateway issuer is refused', async (t) => {
  const { auth } = await setup();
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${enc({ alg: 'HS256', typ: 'sluice+jwt' })}.${enc({ iss: 'sluice', sub: 'x', exp: seconds(NOW) + 60 })}`;
  const mac = createHmac('sha256', 'guess').update(input).digest('base64url');
  await expectRefusal(t, auth.authenticate(`${input}.${mac}`, { channel: 'test' }), 'ERR_TOKEN_ALGORITHM');
});

t.test('a configured P-256 signing key is used, and every Sluice claim is enforced', async (t) => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const { auth, baseDir } = await setup('gatewayTokens: { signingKey: env:SLUICE_KEY }', tempDir(), {
    SLUICE_KEY: pem,
  });
  const token = await auth.mint({ subject: 'ana', groups: ['dba'] });
  t.match(JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()), { alg: 'ES256' });
  t.equal((await auth.authenticate(token, { channel: 'test' })).subject, 'ana');
  t.throws(
    () => statSync(join(baseDir, '.sluice', GATEWAY_KEY_FILE)),
    'no key file is made when one is configured',
  );

  const kid = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()).kid as string;
  const key = await importPKCS8(pem, 'ES256');
  const craft = async (payload: JWTPayload, typ = 'sluice+jwt', iat = seconds(NOW)) =>
    new SignJWT({ token_use: 'sluice', groups: [], ...payload })
      .setProtectedHeader({ alg: 'ES256', kid, typ })
      .setIssuer('sluice')
      .setSubject('ana')
      .setIssuedAt(iat)
      .setExpirationTime(seconds(NOW) + 60)
      .setJti('j')
      .sign(key);
  t.equal(
    (await auth.authenticate(await craft({}), { channel: 'test' })).subject,
    'ana',
    'the crafted baseline passes',
  );
  const authn = (token: string) => auth.authenticate(token, { channel: 'test' });
  await expectRefusal(t, authn(await craft({ token_use: 'id' })), 'ERR_TOKEN_CLAIMS');
  await expectRefusal(t, authn(await craft({}, 'JWT')), 'ERR_TOKEN_CLAIMS');
  await expectRefusal(t, authn(await craft({ groups: 'dba' })), 'ERR_TOKEN_CLAIMS');
  await expectRefusal(t, authn(await craft({ target: 7 })), 'ERR_TOKEN_CLAIMS');
  await expectRefusal(t, authn(await craft({}, 'sluice+jwt', seconds(NOW) - 3600)), 'ERR_TOKEN_EXPIRED');
});

t.test('an unusable configured signing key stops start-up without printing it', async (t) => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  });
  await t.rejects(setup('gatewayTokens: { signingKey: env:K }', tempDir(), { K: rsa.toString() }), {
    code: 'ERR_AUTH_CONFIG',
    message: /identity\.gatewayTokens\.signingKey: expected an Ed25519 or P-256 private key/,
  });
  const err = await setup('gatewayTokens: { signingKey: env:K }', tempDir(), { K: 'not-a-pem-secret' }).catch(
    (e: unknown) => e as Error,
  );
  t.match(err, { code: 'ERR_AUTH_CONFIG', message: /not a PEM private key/ });
  t.notMatch(String((err as Error).message), /not-a-pem-secret/);
});

t.test('a state directory that cannot hold the key stops start-up, naming the path', async (t) => {
  const baseDir = tempDir();
  writeFileSync(join(baseDir, 'not-a-dir'), '');
  const config = { ...makeConfig('gatewayTokens: {}', { baseDir }), state: { dir: 'not-a-dir/state' } };
  await t.rejects(createAuthenticator(config, { logger: captureLogger().logger }), {
    code: 'ERR_AUTH_CONFIG',
    message: /not-a-dir\/state\/gateway-key\.pem: cannot be (read|written) \(ENOTDIR\)/,
  });
});

t.test(
  'a gateway token is refused from the second it expires: no clock skew on its own expiry',
  async (t) => {
    const { auth, advance } = await setup();
    const issued = await auth.issue({ subject: 'ana', groups: ['dba'], ttlMs: 60_000 });
    advance(59_000);
    t.equal((await auth.authenticate(issued.token, { channel: 'test' })).subject, 'ana', 'valid until exp');
    advance(1_000);
    await expectRefusal(t, auth.authenticate(issued.token, { channel: 'test' }), 'ERR_TOKEN_EXPIRED');
    advance(3_000);
    await expectRefusal(t, auth.authenticate(issued.token, { channel: 'test' }), 'ERR_TOKEN_EXPIRED');
  },
);
