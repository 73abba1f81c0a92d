import t, { type TAP } from 'tap';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAuthenticator } from '../../src/identity/authenticator.js';
import {
  bearerToken,
  handleTokenExchange,
  protectedResourceMetadata,
  wwwAuthenticate,
} from '../../src/http/auth.js';
import { captureLogger, makeConfig, seconds, startIdp, type TestIdp } from '../identity/fixtures/index.js';

const NOW = Date.UTC(2026, 10, 24, 12, 0, 0);

let idp: TestIdp;
t.before(async () => {
  idp = await startIdp();
});
t.teardown(() => idp.close());

const request = (authorization?: string) =>
  ({ headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage;

t.test('bearerToken reads only a well-formed Authorization: Bearer header', async (t) => {
  t.equal(bearerToken(request('Bearer abc.DEF-_~+/.x==')), 'abc.DEF-_~+/.x==');
  t.equal(bearerToken(request('bearer   abc')), 'abc', 'the scheme is case-insensitive');
  t.equal(bearerToken(request()), undefined);
  t.equal(bearerToken(request('Basic dXNlcjpwdw==')), undefined);
  t.equal(bearerToken(request('Bearer')), undefined);
  t.equal(bearerToken(request('Bearer a b')), undefined);
  t.equal(bearerToken(request('Bearer a"b')), undefined);
});

t.test('protected resource metadata names the MCP resource and the configured issuers', async (t) => {
  const config = makeConfig(`oidc:
  - { issuer: 'https://idp.example.com/realms/main', audience: sluice }
  - { issuer: 'https://login.example.org', audience: sluice }`);
  t.same(protectedResourceMetadata(config, 'https://sluice.example.com/'), {
    resource: 'https://sluice.example.com/mcp',
    authorization_servers: ['https://idp.example.com/realms/main', 'https://login.example.org'],
    bearer_methods_supported: ['header'],
    resource_name: 'Sluice',
  });
  const none = protectedResourceMetadata(makeConfig('oidc: []'), 'http://127.0.0.1:8080');
  t.notOk('authorization_servers' in none, 'no authorization servers are announced when none is configured');
});

t.test('the WWW-Authenticate challenge points at the metadata and flags refused tokens', async (t) => {
  t.equal(
    wwwAuthenticate('https://sluice.example.com/'),
    'Bearer resource_metadata="https://sluice.example.com/.well-known/oauth-protected-resource/mcp"',
  );
  t.equal(
    wwwAuthenticate('http://127.0.0.1:8080', 'invalid_token'),
    'Bearer resource_metadata="http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp", error="invalid_token"',
  );
  t.equal(wwwAuthenticate(undefined, 'invalid_token'), 'Bearer error="invalid_token"');
  t.equal(wwwAuthenticate(undefined), 'Bearer');
  t.match(wwwAuthenticate('http://x/"q'), /resource_metadata="http:\/\/x\/\\"q\//, 'quotes are escaped');
});

async function exchangeServer(t: Pick<TAP, 'teardown'>, fetchImpl?: typeof fetch, agentRowFilters?: string) {
  let now = NOW;
  const log = captureLogger();
  const config = makeConfig(
    `oidc:
  - issuer: ${idp.issuer}
    audience: sluice
gatewayTokens: { ttl: 10m }`,
    agentRowFilters === undefined ? {} : { agentRowFilters },
  );
  const auth = await createAuthenticator(config, {
    logger: log.logger,
    clock: () => now,
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
  const server = createServer((req, res) => {
    handleTokenExchange(req, res, auth, config, {
      baseUrl: 'https://sluice.example.com',
      clock: () => now,
    }).catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/tokens`;
  const post = async (token: string | undefined, body?: unknown, method = 'POST') => {
    const response = await fetch(url, {
      method,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        'content-type': 'application/json',
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return {
      status: response.status,
      challenge: response.headers.get('www-authenticate'),
      cache: response.headers.get('cache-control'),
      json: (await response.json()) as Record<string, unknown>,
    };
  };
  const idpToken = (groups: string[], exp = seconds(NOW) + 3600, extra: Record<string, unknown> = {}) =>
    idp.sign({ iss: idp.issuer, aud: 'sluice', sub: 'ana', groups, exp, ...extra });
  return {
    auth,
    log,
    post,
    idpToken,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

t.test('an OIDC token is exchanged for a Sluice token bound to a reachable target', async (t) => {
  const { auth, post, idpToken } = await exchangeServer(t);
  const reply = await post(await idpToken(['ai-agents']), { target: 'orders', ttl: '5m' });
  t.equal(reply.status, 200);
  t.equal(reply.cache, 'no-store', 'a response carrying a token is not cached');
  t.match(reply.json, {
    token: String,
    subject: 'ana',
    groups: ['ai-agents'],
    target: 'orders',
    expiresAt: new Date(NOW + 5 * 60_000).toISOString(),
  });
  const identity = await auth.authenticate(String(reply.json['token']), { channel: 'test' });
  t.match(identity, { subject: 'ana', via: 'gateway', target: 'orders', expiresAt: NOW + 5 * 60_000 });

  const unbound = await post(await idpToken(['ai-agents']));
  t.equal(unbound.status, 200, 'an empty body mints an unbound token with the configured TTL');
  t.match(unbound.json, { target: null, expiresAt: new Date(NOW + 10 * 60_000).toISOString() });
});

t.test('the claims row filters read are carried into the Sluice token, and no others', async (t) => {
  const filters =
    "[{ table: orders, where: 'tenant = {claims.tenant}' }, { table: notes, where: 'org = {claims.org.id} AND owner = {claims.sub}' }, { table: teams, where: 'team = ANY({claims.https://example.com/teams})' }]";
  const { auth, post, idpToken } = await exchangeServer(t, undefined, filters);
  const token = await idpToken(['ai-agents'], undefined, {
    tenant: 'acme',
    org: { id: 7, name: 'Acme' },
    'https://example.com/teams': ['red', 'blue'],
    email: 'ana@example.com',
  });
  const reply = await post(token, { target: 'orders' });
  t.equal(reply.status, 200, JSON.stringify(reply.json));
  const identity = await auth.authenticate(String(reply.json['token']), { channel: 'test' });
  t.same(identity.claims, {
    tenant: 'acme',
    'org.id': 7,
    'https://example.com/teams': ['red', 'blue'],
    sub: 'ana',
  });
  const missing = await post(await idpToken(['ai-agents']), { target: 'orders' });
  t.equal(missing.status, 200, 'a claim the IdP did not send is not made up');
  const bare = await auth.authenticate(String(missing.json['token']), { channel: 'test' });
  t.same(bare.claims, { sub: 'ana' });
  const odd = await post(await idpToken(['ai-agents'], undefined, { tenant: { nested: true } }), {});
  t.equal(odd.status, 403, 'a claim no row filter can compare is refused, with the reason');
  t.match(odd.json['message'], /claims\.tenant: must be a string, number or boolean/);
});

t.test('the Sluice token never outlives the OIDC token it came from', async (t) => {
  const { post, idpToken } = await exchangeServer(t);
  const reply = await post(await idpToken(['ai-agents'], seconds(NOW) + 120));
  t.equal(reply.status, 200);
  t.equal(reply.json['expiresAt'], new Date(NOW + 120_000).toISOString());
  const justExpired = await post(await idpToken(['ai-agents'], seconds(NOW) - 10));
  t.match(
    justExpired,
    { status: 401, json: { message: 'the token has expired' } },
    'accepted within skew, but no time left to mint',
  );
});

t.test(
  'a missing or refused token gets 401 with the discovery challenge and a generic message',
  async (t) => {
    const { post, log, idpToken } = await exchangeServer(t);
    const missing = await post(undefined, {});
    t.equal(missing.status, 401);
    t.equal(
      missing.challenge,
      'Bearer resource_metadata="https://sluice.example.com/.well-known/oauth-protected-resource/mcp"',
    );
    const forged = (await idpToken(['dba'])).slice(0, -4) + 'AAAA';
    const refused = await post(forged, {});
    t.equal(refused.status, 401);
    t.match(refused.challenge, /error="invalid_token"/);
    t.same(refused.json, { error: 'invalid_token', message: 'invalid token' });
    t.match(log.lines.at(-1), { event: 'auth.failure', code: 'ERR_TOKEN_SIGNATURE', channel: 'api-tokens' });
    const expired = await post(await idpToken(['ai-agents'], seconds(NOW) - 3600), {});
    t.same(expired.json, { error: 'invalid_token', message: 'the token has expired' });
  },
);

t.test('a Sluice token cannot be exchanged for another', async (t) => {
  const { auth, post } = await exchangeServer(t);
  const sluiceToken = await auth.mint({ subject: 'ana', groups: ['dba'] });
  const reply = await post(sluiceToken, {});
  t.equal(reply.status, 403);
  t.match(reply.json, { error: 'forbidden', message: /Sluice token cannot mint another/ });
});

t.test('a target the identity may not reach, or that does not exist, is refused alike', async (t) => {
  const { post, idpToken } = await exchangeServer(t);
  const nobody = await idpToken(['nobody']);
  t.match(await post(nobody, {}), { status: 403, json: { message: /no policy gives this identity access/ } });
  t.match(await post(nobody, { target: 'orders' }), {
    status: 403,
    json: { error: 'forbidden', message: 'target "orders" is not reachable for this identity' },
  });
  t.match(await post(await idpToken(['ai-agents']), { target: 'nowhere' }), {
    status: 403,
    json: { message: 'target "nowhere" is not reachable for this identity' },
  });
});

t.test('bad request bodies are refused with 400 naming the field', async (t) => {
  const { post, idpToken } = await exchangeServer(t);
  const token = await idpToken(['ai-agents']);
  t.match(await post(token, { ttl: '1h' }), {
    status: 400,
    json: { message: 'ttl: must be between 1s and 10m' },
  });
  t.match(await post(token, { ttl: 'soon' }), { status: 400, json: { message: /ttl: expected a duration/ } });
  t.match(await post(token, { ttl: 300 }), { status: 400, json: { message: /ttl: expected a duration/ } });
  t.match(await post(token, { target: 5 }), {
    status: 400,
    json: { message: 'target: must be a target name' },
  });
  t.match(await post(token, { scope: 'admin' }), { status: 400, json: { message: /scope: unknown field/ } });
  t.match(await post(token, '[1]'), { status: 400, json: { message: 'the body must be a JSON object' } });
  t.match(await post(token, '{not json'), { status: 400, json: { error: 'invalid_request' } });
  t.match(await post(token, JSON.stringify({ target: 'x'.repeat(5000) })), { status: 413 });
});

t.test('an identity whose subject cannot go into a Sluice token is refused with 403', async (t) => {
  const { post } = await exchangeServer(t);
  const token = await idp.sign({
    iss: idp.issuer,
    aud: 'sluice',
    sub: 'ana\u0000admin',
    groups: ['ai-agents'],
    exp: seconds(NOW) + 600,
  });
  t.match(await post(token, {}), { status: 403, json: { error: 'forbidden', message: /subject/ } });
});

t.test('only POST is accepted', async (t) => {
  const { post, idpToken } = await exchangeServer(t);
  t.match(await post(await idpToken(['ai-agents']), undefined, 'GET'), {
    status: 405,
    json: { error: 'method_not_allowed' },
  });
});

t.test('an unreachable identity provider answers 503, not 401', async (t) => {
  const { post, idpToken } = await exchangeServer(t, async () => {
    throw new TypeError('fetch failed');
  });
  t.match(await post(await idpToken(['ai-agents']), {}), {
    status: 503,
    challenge: null,
    json: { error: 'temporarily_unavailable' },
  });
});
