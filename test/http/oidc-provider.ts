/**
 * A small OpenID Connect provider on loopback for the console's code-flow tests: discovery, JWKS,
 * an authorization endpoint that signs in `nextUser` at once (no login page) and a token endpoint
 * that checks the client secret, the code, the redirect URI and the PKCE verifier before it signs
 * an ID token.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export interface ProviderUser {
  sub: string;
  groups: string[];
}

interface IssuedCode {
  clientId: string;
  redirectUri: string;
  challenge: string;
  nonce: string;
  user: ProviderUser;
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Who the next sign-in is. */
  nextUser: ProviderUser;
  /** Replaces the nonce in the next ID token (a replayed or forged token). */
  forgeNonce: string | undefined;
  /** Token requests refused, with the reason. */
  refusals: string[];
  close(): Promise<void>;
}

export async function startProvider(
  clientId = 'sluice-console',
  clientSecret = 'console-secret',
): Promise<TestProvider> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const codes = new Map<string, IssuedCode>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', provider.issuer);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(200, {
        issuer: provider.issuer,
        jwks_uri: `${provider.issuer}/jwks`,
        authorization_endpoint: `${provider.issuer}/authorize`,
        token_endpoint: `${provider.issuer}/token`,
        code_challenge_methods_supported: ['S256'],
      });
    }
    if (url.pathname === '/jwks') return json(200, { keys: [jwk] });
    if (url.pathname === '/authorize') {
      const p = url.searchParams;
      if (
        p.get('response_type') !== 'code' ||
        p.get('client_id') !== clientId ||
        p.get('code_challenge_method') !== 'S256' ||
        !p.get('code_challenge') ||
        !p.get('scope')?.split(' ').includes('openid')
      ) {
        return json(400, { error: 'invalid_request' });
      }
      const code = randomBytes(16).toString('hex');
      codes.set(code, {
        clientId,
        redirectUri: p.get('redirect_uri') ?? '',
        challenge: p.get('code_challenge') ?? '',
        nonce: p.get('nonce') ?? '',
        user: provider.nextUser,
      });
      const back = new URL(p.get('redirect_uri') ?? '');
      back.searchParams.set('code', code);
      back.searchParams.set('state', p.get('state') ?? '');
      res.writeHead(302, { location: back.href });
      res.end();
      return;
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        const refuse = (reason: string) => {
          provider.refusals.push(reason);
          json(400, { error: 'invalid_grant', error_description: reason });
        };
        const basic = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
        if (req.headers.authorization !== basic) return refuse('client authentication');
        const issued = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        if (issued === undefined) return refuse('unknown or used code');
        if (form.get('redirect_uri') !== issued.redirectUri) return refuse('redirect_uri');
        const verifier = form.get('code_verifier') ?? '';
        if (createHash('sha256').update(verifier).digest('base64url') !== issued.challenge)
          return refuse('pkce');
        void new SignJWT({
          sub: issued.user.sub,
          groups: issued.user.groups,
          nonce: provider.forgeNonce ?? issued.nonce,
        })
          .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
          .setIssuer(provider.issuer)
          .setAudience(clientId)
          .setIssuedAt()
          .setExpirationTime('10m')
          .sign(privateKey)
          .then((idToken) => {
            provider.forgeNonce = undefined;
            json(200, { access_token: 'opaque', token_type: 'Bearer', id_token: idToken, expires_in: 600 });
          });
      });
      return;
    }
    json(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const provider: TestProvider = {
    issuer: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    clientId,
    clientSecret,
    nextUser: { sub: 'alice', groups: ['dba'] },
    forgeNonce: undefined,
    refusals: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return provider;
}
