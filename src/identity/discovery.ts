import { AuthError } from './errors.js';

/**
 * Keys are fetched only over TLS, except from loopback (a local IdP in development and tests):
 * a JWKS fetched in clear over a network could be swapped for the attacker's keys.
 */
export function requireKeyUrl(text: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new AuthError('ERR_IDP_UNAVAILABLE', `${what} is not a URL: ${JSON.stringify(text)}`);
  }
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new AuthError('ERR_IDP_UNAVAILABLE', `${what} must use https: ${url.href}`);
  }
  return url;
}

/**
 * OpenID Connect discovery: reads `<issuer>/.well-known/openid-configuration` and returns its
 * `jwks_uri`. The document's `issuer` must equal the configured issuer exactly (OIDC Discovery
 * 1.0, section 4.3); otherwise a document served under one issuer could point at keys of another.
 */
export async function discoverJwksUri(
  issuer: string,
  fetchImpl: typeof fetch,
  timeoutMs: number,
): Promise<URL> {
  const url = requireKeyUrl(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, 'discovery URL');
  let response: Response;
  try {
    // Redirects are refused: the discovery document must come from the issuer itself.
    response = await fetchImpl(url, {
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/json' },
    });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new AuthError('ERR_IDP_UNAVAILABLE', `discovery ${url.href} failed: ${reason}`, { cause: err });
  }
  if (response.status !== 200) {
    throw new AuthError('ERR_IDP_UNAVAILABLE', `discovery ${url.href} answered HTTP ${response.status}`);
  }
  let document: unknown;
  try {
    document = await response.json();
  } catch (err) {
    throw new AuthError('ERR_IDP_UNAVAILABLE', `discovery ${url.href} is not JSON`, { cause: err });
  }
  if (typeof document !== 'object' || document === null) {
    throw new AuthError('ERR_IDP_UNAVAILABLE', `discovery ${url.href} is not a JSON object`);
  }
  const fields = document as { issuer?: unknown; jwks_uri?: unknown };
  if (fields.issuer !== issuer) {
    throw new AuthError(
      'ERR_IDP_UNAVAILABLE',
      `discovery ${url.href} names issuer ${JSON.stringify(fields.issuer)}, expected ${JSON.stringify(issuer)}`,
    );
  }
  if (typeof fields.jwks_uri !== 'string') {
    throw new AuthError('ERR_IDP_UNAVAILABLE', `discovery ${url.href} has no jwks_uri`);
  }
  return requireKeyUrl(fields.jwks_uri, 'jwks_uri');
}
