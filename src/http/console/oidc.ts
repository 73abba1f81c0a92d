import { createHash, randomBytes } from 'node:crypto';
import type { Config } from '../../config/load.js';
import { requireKeyUrl } from '../../identity/discovery.js';
import { AuthError } from '../../identity/errors.js';
import { createOidcVerifier, DEFAULT_JWKS_CACHE, type OidcVerifier } from '../../identity/oidc.js';
import type { Identity } from '../../identity/types.js';

/** How long a browser has to come back from the identity provider. */
const PENDING_MS = 10 * 60_000;
const MAX_PENDING = 1_000;

interface ProviderEndpoints {
  authorization: URL;
  token: URL;
}

interface PendingSignIn {
  verifier: string;
  nonce: string;
  createdAt: number;
}

export interface ConsoleOidcOptions {
  config: Config;
  fetch?: typeof fetch;
  clock?: () => number;
  timeoutMs?: number;
}

/** Why a code-flow sign-in failed; the message is safe to show on the sign-in page. */
export class SignInError extends Error {
  readonly code = 'ERR_SIGN_IN';
}

const b64url = (buf: Buffer) => buf.toString('base64url');

/**
 * The console's OpenID Connect sign-in: the authorization-code flow with PKCE (S256), a `state`
 * bound to the browser by a cookie and used once, and a `nonce` checked in the ID token. The ID
 * token is verified by the same verifier as API tokens of that issuer, with the console's client
 * id as the audience, so its groups decide access exactly as a token's do.
 */
export class ConsoleOidc {
  readonly issuer: string;
  readonly #clientId: string;
  readonly #clientSecret: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #timeoutMs: number;
  readonly #verifier: OidcVerifier;
  readonly #pending = new Map<string, PendingSignIn>();
  #endpoints: ProviderEndpoints | undefined;

  constructor(options: ConsoleOidcOptions) {
    const { config } = options;
    const clientId = config.console.clientId;
    const issuerConfig =
      config.identity.oidc.find((i) => i.issuer === config.console.issuer) ?? config.identity.oidc[0];
    if (clientId === undefined || issuerConfig === undefined) {
      throw new AuthError('ERR_AUTH_CONFIG', 'console.clientId: sign-in needs an issuer in identity.oidc');
    }
    this.issuer = issuerConfig.issuer;
    this.#clientId = clientId;
    this.#clientSecret = config.console.clientSecret?.reveal();
    this.#fetch = options.fetch ?? fetch;
    this.#now = options.clock ?? Date.now;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#verifier = createOidcVerifier({ ...issuerConfig, audience: clientId }, 'console', {
      fetch: this.#fetch,
      clock: this.#now,
      jwks: DEFAULT_JWKS_CACHE,
    });
  }

  /** Starts a sign-in: the provider URL to send the browser to, and the state for its cookie. */
  async begin(redirectUri: string): Promise<{ location: string; state: string }> {
    const endpoints = await this.#discover();
    this.#sweep();
    const state = b64url(randomBytes(24));
    const verifier = b64url(randomBytes(32));
    const nonce = b64url(randomBytes(24));
    this.#pending.set(state, { verifier, nonce, createdAt: this.#now() });
    const url = new URL(endpoints.authorization);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', this.#clientId);
    url.searchParams.set('redirect_uri', redirectUri);
    url.searchParams.set('scope', 'openid profile email');
    url.searchParams.set('state', state);
    url.searchParams.set('nonce', nonce);
    url.searchParams.set('code_challenge', b64url(createHash('sha256').update(verifier).digest()));
    url.searchParams.set('code_challenge_method', 'S256');
    return { location: url.href, state };
  }

  /** Completes a sign-in from the provider's redirect; `cookieState` is the state cookie's value. */
  async complete(
    params: URLSearchParams,
    cookieState: string | undefined,
    redirectUri: string,
  ): Promise<Identity> {
    const error = params.get('error');
    if (error !== null) {
      throw new SignInError(`the identity provider refused the sign-in: ${error.slice(0, 100)}`);
    }
    const state = params.get('state') ?? '';
    const code = params.get('code') ?? '';
    const pending = this.#pending.get(state);
    // A state used once, that this browser started, within its time: nothing else is accepted.
    if (pending === undefined || state === '' || cookieState !== state) {
      throw new SignInError('the sign-in expired or was not started here; start again');
    }
    this.#pending.delete(state);
    if (this.#now() - pending.createdAt > PENDING_MS)
      throw new SignInError('the sign-in expired; start again');
    if (code === '') throw new SignInError('the identity provider sent no code');
    const endpoints = await this.#discover();
    const body = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: pending.verifier,
      client_id: this.#clientId,
    });
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if (this.#clientSecret !== undefined) {
      const pair = `${encodeURIComponent(this.#clientId)}:${encodeURIComponent(this.#clientSecret)}`;
      headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
    }
    let response: Response;
    try {
      response = await this.#fetch(endpoints.token, {
        method: 'POST',
        headers,
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw new SignInError(
        `the identity provider's token endpoint did not answer: ${(err as Error).message}`,
      );
    }
    const answer = (await response.json().catch(() => undefined)) as { id_token?: unknown } | undefined;
    if (response.status !== 200 || typeof answer?.id_token !== 'string') {
      throw new SignInError(
        `the identity provider's token endpoint answered HTTP ${response.status} without an ID token`,
      );
    }
    let identity: Identity;
    try {
      identity = await this.#verifier.verify(answer.id_token);
    } catch (err) {
      const message = err instanceof AuthError ? err.publicMessage : 'the ID token could not be verified';
      throw new SignInError(`the ID token was refused: ${message}`);
    }
    if (identity.claims?.nonce !== pending.nonce)
      throw new SignInError('the ID token was refused: nonce mismatch');
    return identity;
  }

  async #discover(): Promise<ProviderEndpoints> {
    if (this.#endpoints !== undefined) return this.#endpoints;
    const url = requireKeyUrl(
      `${this.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
      'discovery URL',
    );
    let document: { issuer?: unknown; authorization_endpoint?: unknown; token_endpoint?: unknown };
    try {
      const response = await this.#fetch(url, {
        redirect: 'error',
        signal: AbortSignal.timeout(this.#timeoutMs),
        headers: { accept: 'application/json' },
      });
      if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
      document = (await response.json()) as typeof document;
    } catch (err) {
      throw new SignInError(
        `the identity provider's discovery ${url.href} failed: ${(err as Error).message}`,
      );
    }
    // As for the key set: the document must be the issuer's own (OIDC Discovery 1.0, 4.3).
    if (document.issuer !== this.issuer) throw new SignInError(`discovery ${url.href} names another issuer`);
    if (typeof document.authorization_endpoint !== 'string' || typeof document.token_endpoint !== 'string') {
      throw new SignInError(`discovery ${url.href} has no authorization or token endpoint`);
    }
    try {
      this.#endpoints = {
        authorization: requireKeyUrl(document.authorization_endpoint, 'authorization_endpoint'),
        token: requireKeyUrl(document.token_endpoint, 'token_endpoint'),
      };
    } catch (err) {
      throw new SignInError((err as Error).message);
    }
    return this.#endpoints;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [state, p] of this.#pending) if (now - p.createdAt > PENDING_MS) this.#pending.delete(state);
    while (this.#pending.size >= MAX_PENDING) {
      const oldest = this.#pending.keys().next().value;
      if (oldest === undefined) break;
      this.#pending.delete(oldest);
    }
  }
}
