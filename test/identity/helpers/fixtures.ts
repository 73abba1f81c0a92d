import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { pino, type Logger } from 'pino';
import type { TAP } from 'tap';
import { parseConfigText, type Config } from '../../../src/config/load.js';
import { AuthError, type AuthErrorCode } from '../../../src/identity/errors.js';

interface IdpKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** A real OIDC provider on loopback: discovery document, JWKS, and a signer for test tokens. */
export interface TestIdp {
  issuer: string;
  jwksUri: string;
  /** Paths requested, in order. */
  requests: string[];
  /** Overrides the `issuer` the discovery document announces. */
  announcedIssuer: string | undefined;
  addKey(kid: string, alg?: string): Promise<IdpKey>;
  removeKey(kid: string): void;
  key(kid: string): IdpKey;
  sign(
    payload: JWTPayload,
    opts?: { kid?: string; alg?: string; header?: Record<string, unknown> },
  ): Promise<string>;
  close(): Promise<void>;
}

export async function startIdp(realm = 'main'): Promise<TestIdp> {
  const keys = new Map<string, IdpKey>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(path);
    if (path === `/realms/${realm}/.well-known/openid-configuration`) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: idp.announcedIssuer ?? idp.issuer, jwks_uri: idp.jwksUri }));
      return;
    }
    if (path === `/realms/${realm}/jwks.json`) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [...keys.values()].map((k) => k.publicJwk) }));
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}/realms/${realm}`;
  let first: string | undefined;

  const idp: TestIdp = {
    issuer: base,
    jwksUri: `${base}/jwks.json`,
    requests,
    announcedIssuer: undefined,
    async addKey(kid, alg = 'ES256') {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
      const key = { kid, alg, privateKey, publicJwk };
      keys.set(kid, key);
      first ??= kid;
      return key;
    },
    removeKey(kid) {
      keys.delete(kid);
    },
    key(kid) {
      const key = keys.get(kid);
      if (!key) throw new Error(`no key ${kid}`);
      return key;
    },
    async sign(payload, opts = {}) {
      const kid = opts.kid ?? first;
      if (kid === undefined) throw new Error('no key');
      const key = idp.key(kid);
      return new SignJWT(payload)
        .setProtectedHeader({ alg: opts.alg ?? key.alg, kid, ...opts.header })
        .sign(key.privateKey);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  await idp.addKey('key-1');
  return idp;
}

/** A pino logger whose lines land in `lines` (parsed), so tests can assert the audit trail. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[]; text: () => string } {
  const raw: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'trace' },
    {
      write(chunk: string) {
        raw.push(chunk);
        lines.push(JSON.parse(chunk) as Record<string, unknown>);
      },
    },
  );
  return { logger, lines, text: () => raw.join('') };
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'sluice-identity-'));
}

/** A config with two targets and policies; `identity` is YAML placed under `identity:`. */
export function makeConfig(
  identity: string,
  opts: { baseDir?: string; env?: NodeJS.ProcessEnv } = {},
): Config {
  const text = `
targets:
  orders: { engine: postgres, host: 127.0.0.1, port: 5432, database: orders, user: reader }
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: legacy, user: reporter }
  hr: { engine: postgres, host: 127.0.0.1, port: 5432, database: hr, user: reader }
policies:
  - name: agents
    when: { groups: [ai-agents], targets: [orders, legacy] }
  - name: dbas
    when: { groups: [dba], targets: ['*'] }
  - name: agents-everywhere-else
    when: { groups: [ai-agents, analysts], targets: ['*'] }
identity:
${identity
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
`;
  return parseConfigText(text, { baseDir: opts.baseDir ?? tempDir(), env: opts.env ?? {} });
}

/** Epoch seconds for a clock value in milliseconds. */
export const seconds = (ms: number): number => Math.floor(ms / 1000);

/** The parts of a tap test that `expectRefusal` uses. */
type Asserts = Pick<TAP, 'ok' | 'equal'>;

/** Asserts that `promise` rejects with an AuthError of `code`, and returns that error. */
export async function expectRefusal(
  t: Asserts,
  promise: Promise<unknown>,
  code: AuthErrorCode,
): Promise<AuthError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof AuthError, `refused with an AuthError (${code})`);
  t.equal((err as AuthError | undefined)?.code, code, `refused with ${code}`);
  return err as AuthError;
}
