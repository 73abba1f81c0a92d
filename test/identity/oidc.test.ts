import t from 'tap';
import { createHmac } from 'node:crypto';
import { createAuthenticator } from '../../src/identity/authenticator.js';
import type { AuthError, AuthErrorCode } from '../../src/identity/errors.js';
import type { Authenticator } from '../../src/identity/authenticator.js';
import {
  captureLogger,
  expectRefusal,
  makeConfig,
  seconds,
  startIdp,
  type TestIdp,
} from './fixtures/index.js';

const NOW = Date.UTC(2026, 10, 24, 12, 0, 0);
const clock = () => NOW;

let idp: TestIdp;
t.before(async () => {
  idp = await startIdp();
});
t.teardown(() => idp.close());

const oidcConfig = (extra = '') =>
  makeConfig(`oidc:
  - issuer: ${idp.issuer}
    audience: sluice
    groupsClaim: realm_access.roles
    clockSkew: 30s
${extra}`);

const claims = (overrides: Record<string, unknown> = {}) => ({
  iss: idp.issuer,
  aud: 'sluice',
  sub: 'agent-7',
  iat: seconds(NOW) - 10,
  exp: seconds(NOW) + 300,
  realm_access: { roles: ['ai-agents', 'readers'] },
  ...overrides,
});

async function setup(extra = '') {
  const log = captureLogger();
  const auth = await createAuthenticator(oidcConfig(extra), {
    logger: log.logger,
    clock,
    jwks: { cooldownMs: 0 },
  });
  return { auth, log };
}

const refused = (
  t: Parameters<typeof expectRefusal>[0],
  auth: Authenticator,
  token: string,
  code: AuthErrorCode,
): Promise<AuthError> => expectRefusal(t, auth.authenticate(token, { channel: 'test' }), code);

t.test('a valid token is accepted with groups read from a nested claim path', async (t) => {
  const { auth, log } = await setup();
  const token = await idp.sign(claims());
  const identity = await auth.authenticate(token, { channel: 'mcp-http', remote: '10.0.0.5' });
  const { claims: payload, ...rest } = identity;
  t.same(rest, {
    subject: 'agent-7',
    groups: ['ai-agents', 'readers'],
    issuer: idp.issuer,
    via: 'oidc',
    expiresAt: (seconds(NOW) + 300) * 1000,
  });
  t.match(payload, { sub: 'agent-7', iss: idp.issuer }, 'the verified payload is the claims');
  const success = log.lines.find((l) => l['event'] === 'auth.success');
  t.match(success, {
    subject: 'agent-7',
    issuer: idp.issuer,
    channel: 'mcp-http',
    remote: '10.0.0.5',
    via: 'oidc',
  });
  t.notMatch(log.text(), token, 'the token itself is never logged');
});

t.test('discovery reads the jwks_uri from the issuer document; a configured jwksUri skips it', async (t) => {
  const before = idp.requests.length;
  const { auth } = await setup();
  await auth.authenticate(await idp.sign(claims()), { channel: 'test' });
  t.same(idp.requests.slice(before), [
    '/realms/main/.well-known/openid-configuration',
    '/realms/main/jwks.json',
  ]);

  const direct = await setup(`    jwksUri: ${idp.jwksUri}`);
  const mark = idp.requests.length;
  await direct.auth.authenticate(await idp.sign(claims()), { channel: 'test' });
  t.same(idp.requests.slice(mark), ['/realms/main/jwks.json']);
});

t.test('a discovery document announcing another issuer is refused', async (t) => {
  idp.announcedIssuer = 'https://evil.example.com';
  t.teardown(() => {
    idp.announcedIssuer = undefined;
  });
  const { auth, log } = await setup();
  const err = await refused(t, auth, await idp.sign(claims()), 'ERR_IDP_UNAVAILABLE');
  t.match(err.message, /names issuer "https:\/\/evil\.example\.com"/);
  t.notMatch(err.publicMessage, /evil/);
  t.match(log.lines.at(-1), { event: 'auth.failure', code: 'ERR_IDP_UNAVAILABLE' });
});

t.test('expiry and not-before are checked with the configured clock skew', async (t) => {
  const { auth } = await setup();
  await refused(t, auth, await idp.sign(claims({ exp: seconds(NOW) - 31 })), 'ERR_TOKEN_EXPIRED');
  const withinSkew = await auth.authenticate(await idp.sign(claims({ exp: seconds(NOW) - 20 })), {
    channel: 'test',
  });
  t.equal(withinSkew.subject, 'agent-7', 'a token expired 20s ago passes a 30s skew');
  await refused(t, auth, await idp.sign(claims({ nbf: seconds(NOW) + 120 })), 'ERR_TOKEN_NOT_YET_VALID');
});

t.test('a token without exp or without a subject is refused', async (t) => {
  const { auth } = await setup();
  await refused(t, auth, await idp.sign(claims({ exp: undefined })), 'ERR_TOKEN_CLAIMS');
  await refused(t, auth, await idp.sign(claims({ sub: undefined })), 'ERR_TOKEN_CLAIMS');
});

t.test('an unknown issuer and a wrong audience are refused', async (t) => {
  const { auth, log } = await setup();
  const err = await refused(
    t,
    auth,
    await idp.sign(claims({ iss: 'https://other.example.com' })),
    'ERR_TOKEN_ISSUER',
  );
  t.equal(err.publicMessage, 'invalid token');
  t.match(log.lines.at(-1), {
    event: 'auth.failure',
    code: 'ERR_TOKEN_ISSUER',
    issuer: 'https://other.example.com',
    subject: 'agent-7',
    reason: /not configured/,
  });
  await refused(t, auth, await idp.sign(claims({ aud: 'another-service' })), 'ERR_TOKEN_AUDIENCE');
  const noIss = await refused(t, auth, await idp.sign(claims({ iss: undefined })), 'ERR_TOKEN_ISSUER');
  t.match(noIss.message, /issuer of type undefined/);
  const long = await refused(t, auth, await idp.sign(claims({ iss: 'x'.repeat(5000) })), 'ERR_TOKEN_ISSUER');
  t.ok(long.message.length < 400, 'a huge claimed issuer is cut short in the reason');
});

t.test('a token signed with a key the IdP does not publish is refused as an unknown key', async (t) => {
  const { auth } = await setup();
  const stray = await startIdp('stray');
  t.teardown(() => stray.close());
  await stray.addKey('not-published');
  await refused(t, auth, await stray.sign(claims(), { kid: 'not-published' }), 'ERR_TOKEN_KEY_UNKNOWN');
});

t.test('key rotation: a new key is fetched on first sight; a removed key stops verifying', async (t) => {
  const rotating = await startIdp('rotating');
  t.teardown(() => rotating.close());
  const log = captureLogger();
  const auth = await createAuthenticator(
    makeConfig(`oidc:
  - issuer: ${rotating.issuer}
    audience: sluice`),
    { logger: log.logger, clock, jwks: { cooldownMs: 0 } },
  );
  const base = { iss: rotating.issuer, aud: 'sluice', sub: 'svc', exp: seconds(NOW) + 60 };
  const oldToken = await rotating.sign(base, { kid: 'key-1' });
  await auth.authenticate(oldToken, { channel: 'test' });

  await rotating.addKey('key-2', 'RS256');
  rotating.removeKey('key-1');
  const newIdentity = await auth.authenticate(await rotating.sign(base, { kid: 'key-2' }), {
    channel: 'test',
  });
  t.equal(newIdentity.subject, 'svc', 'the rotated-in key verifies after a refetch');
  await refused(t, auth, oldToken, 'ERR_TOKEN_KEY_UNKNOWN');
});

t.test('a removed key stops verifying once the cache ages out, even without an unknown kid', async (t) => {
  const rotating = await startIdp('aging');
  t.teardown(() => rotating.close());
  const auth = await createAuthenticator(
    makeConfig(`oidc:
  - issuer: ${rotating.issuer}
    audience: sluice`),
    { logger: captureLogger().logger, clock, jwks: { cooldownMs: 60_000, cacheMaxAgeMs: 50 } },
  );
  const token = await rotating.sign({
    iss: rotating.issuer,
    aud: 'sluice',
    sub: 'svc',
    exp: seconds(NOW) + 60,
  });
  await auth.authenticate(token, { channel: 'test' });
  rotating.removeKey('key-1');
  await new Promise((resolve) => setTimeout(resolve, 80));
  await refused(t, auth, token, 'ERR_TOKEN_KEY_UNKNOWN');
});

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

t.test('alg none is refused', async (t) => {
  const { auth } = await setup();
  const token = `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims())}.`;
  await refused(t, auth, token, 'ERR_TOKEN_ALGORITHM');
});

t.test('HS256 signed with the public key bytes (algorithm confusion) is refused', async (t) => {
  const { auth, log } = await setup();
  const publicJwk = idp.key('key-1').publicJwk;
  const signingInput = `${encode({ alg: 'HS256', kid: 'key-1' })}.${encode(claims())}`;
  for (const secret of [JSON.stringify(publicJwk), String(publicJwk.x)]) {
    const mac = createHmac('sha256', secret).update(signingInput).digest('base64url');
    const err = await refused(t, auth, `${signingInput}.${mac}`, 'ERR_TOKEN_ALGORITHM');
    t.equal(err.publicMessage, 'invalid token');
  }
  t.match(log.lines.at(-1), { event: 'auth.failure', code: 'ERR_TOKEN_ALGORITHM' });
});

t.test('HS* or none in the configured algorithms stops start-up', async (t) => {
  for (const alg of ['HS256', 'none', 'XY999']) {
    const err = await createAuthenticator(oidcConfig(`    algorithms: [ES256, ${alg}]`), {
      logger: captureLogger().logger,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.match(err, {
      code: 'ERR_AUTH_CONFIG',
      message: new RegExp(`identity\\.oidc\\.0\\.algorithms: "${alg}"`),
    });
  }
  const empty = await createAuthenticator(oidcConfig('    algorithms: []'), {
    logger: captureLogger().logger,
  }).catch((e: unknown) => e);
  t.match(empty, { code: 'ERR_AUTH_CONFIG' });
});

t.test('an algorithm outside the issuer allow-list is refused', async (t) => {
  const { auth } = await setup('    algorithms: [RS256]');
  await refused(t, auth, await idp.sign(claims()), 'ERR_TOKEN_ALGORITHM');
});

t.test('a tampered payload fails the signature check', async (t) => {
  const { auth } = await setup();
  const [header, , signature] = (await idp.sign(claims())).split('.');
  const forged = `${header}.${encode(claims({ realm_access: { roles: ['dba'] } }))}.${signature}`;
  const err = await refused(t, auth, forged, 'ERR_TOKEN_SIGNATURE');
  t.notMatch(err.publicMessage, /signature/);
});

t.test('truncated, garbage and oversized tokens are refused as malformed', async (t) => {
  const { auth, log } = await setup();
  const token = await idp.sign(claims());
  const [header, payload] = token.split('.');
  await refused(t, auth, `${header}.${payload}`, 'ERR_TOKEN_MALFORMED');
  await refused(t, auth, token.slice(0, token.indexOf('.') + 12), 'ERR_TOKEN_MALFORMED');
  await refused(t, auth, 'not-a-token', 'ERR_TOKEN_MALFORMED');
  await refused(t, auth, `${encode({ alg: 'ES256' })}.%%%.abc`, 'ERR_TOKEN_MALFORMED');
  await refused(t, auth, 'a'.repeat(20_000), 'ERR_TOKEN_MALFORMED');
  await refused(t, auth, '', 'ERR_TOKEN_MISSING');
  const failures = log.lines.filter((l) => l['event'] === 'auth.failure');
  t.equal(failures.length, 6, 'each refusal is one audit line');
  t.ok(
    failures.every((l) => typeof l['reason'] === 'string' && l['channel'] === 'test'),
    'each line has a reason',
  );
  t.notMatch(log.text(), payload, 'no part of the token reaches the log');
});

t.test(
  'an unreachable IdP refuses tokens with a retryable code, retries after a pause, and recovers',
  async (t) => {
    let now = NOW;
    let idpUp = false;
    let calls = 0;
    const flakyFetch: typeof fetch = async (input, init) => {
      calls += 1;
      if (!idpUp) throw new TypeError('fetch failed: connect ECONNREFUSED');
      return fetch(input, init);
    };
    const auth = await createAuthenticator(oidcConfig(), {
      logger: captureLogger().logger,
      clock: () => now,
      fetch: flakyFetch,
    });
    const token = await idp.sign(claims());
    const err = await refused(t, auth, token, 'ERR_IDP_UNAVAILABLE');
    t.equal(err.publicMessage, 'the identity provider cannot be reached; try again later');
    t.match(err.message, /ECONNREFUSED/);
    now += 1000;
    await refused(t, auth, token, 'ERR_IDP_UNAVAILABLE');
    t.equal(calls, 1, 'within the retry pause the IdP is not asked again');
    idpUp = true;
    now += 5000;
    const identity = await auth.authenticate(token, { channel: 'test' });
    t.equal(identity.subject, 'agent-7', 'once the IdP answers, tokens verify');
  },
);

t.test('an IdP answering with an error or a non-JSON document refuses tokens', async (t) => {
  for (const response of [new Response('nope', { status: 500 }), new Response('<html>', { status: 200 })]) {
    const auth = await createAuthenticator(oidcConfig(), {
      logger: captureLogger().logger,
      clock,
      fetch: async () => response,
    });
    await refused(t, auth, await idp.sign(claims()), 'ERR_IDP_UNAVAILABLE');
  }
  const noJwks = await createAuthenticator(oidcConfig(), {
    logger: captureLogger().logger,
    clock,
    fetch: async () => Response.json({ issuer: idp.issuer }),
  });
  const err = await refused(t, noJwks, await idp.sign(claims()), 'ERR_IDP_UNAVAILABLE');
  t.match(err.message, /no jwks_uri/);
  const badKeys = await createAuthenticator(oidcConfig(`    jwksUri: ${idp.jwksUri}`), {
    logger: captureLogger().logger,
    clock,
    fetch: async () => new Response('oops', { status: 503 }),
  });
  await refused(t, badKeys, await idp.sign(claims()), 'ERR_IDP_UNAVAILABLE');
});

t.test('two issuers at once: each token is verified against its own issuer', async (t) => {
  const second = await startIdp('second');
  t.teardown(() => second.close());
  const log = captureLogger();
  const auth = await createAuthenticator(
    makeConfig(`oidc:
  - issuer: ${idp.issuer}
    audience: sluice
    groupsClaim: realm_access.roles
  - issuer: ${second.issuer}
    audience: [gateway, sluice-prod]
    groupsClaim: roles
    subjectClaim: email`),
    { logger: log.logger, clock },
  );
  const a = await auth.authenticate(await idp.sign(claims()), { channel: 'test' });
  t.equal(a.issuer, idp.issuer);
  const b = await auth.authenticate(
    await second.sign({
      iss: second.issuer,
      aud: 'sluice-prod',
      sub: 'x1',
      email: 'ana@example.com',
      roles: 'dba',
      exp: seconds(NOW) + 60,
    }),
    { channel: 'test' },
  );
  t.same([b.issuer, b.subject, b.groups], [second.issuer, 'ana@example.com', ['dba']]);
  // A token claiming the second issuer but signed by the first issuer's key is refused: both
  // IdPs publish a kid "key-1", so the second issuer's key is chosen and the signature fails.
  const crossed = await idp.sign({
    iss: second.issuer,
    aud: 'sluice-prod',
    sub: 'x',
    exp: seconds(NOW) + 60,
  });
  await refused(t, auth, crossed, 'ERR_TOKEN_SIGNATURE');
});

t.test('an issuer configured twice, or named like the gateway, stops start-up', async (t) => {
  const twice = makeConfig(`oidc:
  - { issuer: ${idp.issuer}, audience: a }
  - { issuer: ${idp.issuer}, audience: b }`);
  await t.rejects(createAuthenticator(twice, { logger: captureLogger().logger }), {
    code: 'ERR_AUTH_CONFIG',
    message: /identity\.oidc\.1\.issuer: .* configured twice/,
  });
  const clash = makeConfig(`oidc:
  - { issuer: 'https://idp.example.com', audience: a }
gatewayTokens: { issuer: 'https://idp.example.com' }`);
  await t.rejects(createAuthenticator(clash, { logger: captureLogger().logger }), {
    code: 'ERR_AUTH_CONFIG',
  });
  const skew = makeConfig(`oidc:
  - { issuer: 'https://idp.example.com', audience: a, clockSkew: 1h }`);
  await t.rejects(createAuthenticator(skew, { logger: captureLogger().logger }), {
    message: /clockSkew: at most 5m/,
  });
  const plain = makeConfig(`oidc:
  - { issuer: 'https://idp.example.com', audience: a, jwksUri: 'http://keys.example.com/jwks' }`);
  await t.rejects(createAuthenticator(plain, { logger: captureLogger().logger }), {
    message: /jwksUri must use https/,
  });
});
