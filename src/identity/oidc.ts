import { createRemoteJWKSet, customFetch, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { ParsedConfig } from '../config/schema.js';
import type { Identity } from './types.js';
import { allowedAlgorithms } from './algorithms.js';
import { readGroups, readStringClaim } from './claims.js';
import { discoverJwksUri, requireKeyUrl } from './discovery.js';
import { AuthError } from './errors.js';
import { fromJoseError } from './jose-errors.js';

export type OidcIssuerConfig = ParsedConfig['identity']['oidc'][number];

/** How remote key sets are cached. See createRemoteJWKSet in jose. */
export interface JwksCachePolicy {
  /** After a fetch, how long an unknown `kid` waits before it may trigger another fetch. */
  cooldownMs: number;
  /**
   * How long a fetched key set is trusted. This bounds how long a key the IdP has removed
   * (rotated out, or revoked after a leak) still verifies tokens here.
   */
  cacheMaxAgeMs: number;
  /** Timeout of one discovery or JWKS request. */
  timeoutMs: number;
}

export const DEFAULT_JWKS_CACHE: JwksCachePolicy = {
  cooldownMs: 30_000,
  cacheMaxAgeMs: 5 * 60_000,
  timeoutMs: 5_000,
};

/** A wider skew would keep expired tokens alive; the schema does not bound it, so we do. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** After a failed discovery, how long to answer from the failure before asking the IdP again. */
const DISCOVERY_RETRY_MS = 5_000;

export interface OidcVerifier {
  readonly issuer: string;
  verify(token: string): Promise<Identity>;
}

export function createOidcVerifier(
  config: OidcIssuerConfig,
  keyPath: string,
  opts: { fetch: typeof fetch; clock: () => number; jwks: JwksCachePolicy },
): OidcVerifier {
  const algorithms = allowedAlgorithms(config.algorithms, `${keyPath}.algorithms`);
  if (config.clockSkew > MAX_CLOCK_SKEW_MS) {
    throw new AuthError('ERR_AUTH_CONFIG', `${keyPath}.clockSkew: at most 5m is allowed`);
  }
  const audience = config.audience;
  if ((Array.isArray(audience) ? audience : [audience]).some((a) => a === '') || audience.length === 0) {
    throw new AuthError('ERR_AUTH_CONFIG', `${keyPath}.audience: must not be empty`);
  }
  const configuredJwks =
    config.jwksUri === undefined ? undefined : requireKeyUrl(config.jwksUri, `${keyPath}.jwksUri`);

  // The key set is resolved on first use, so the gateway starts (and `sluice token` works)
  // while an IdP is down; tokens of that issuer are refused until it answers.
  let keySet: JWTVerifyGetKey | undefined;
  let pending: Promise<JWTVerifyGetKey> | undefined;
  let lastFailure: { at: number; error: AuthError } | undefined;

  const resolveKeySet = async (): Promise<JWTVerifyGetKey> => {
    const jwksUri = configuredJwks ?? (await discoverJwksUri(config.issuer, opts.fetch, opts.jwks.timeoutMs));
    return createRemoteJWKSet(jwksUri, {
      cooldownDuration: opts.jwks.cooldownMs,
      cacheMaxAge: opts.jwks.cacheMaxAgeMs,
      timeoutDuration: opts.jwks.timeoutMs,
      [customFetch]: (url, init) => opts.fetch(url, init),
    });
  };

  const keys = async (): Promise<JWTVerifyGetKey> => {
    if (keySet) return keySet;
    if (lastFailure && opts.clock() - lastFailure.at < DISCOVERY_RETRY_MS) throw lastFailure.error;
    pending ??= resolveKeySet().then(
      (resolved) => {
        keySet = resolved;
        lastFailure = undefined;
        return resolved;
      },
      (err: unknown) => {
        const error = fromJoseError(err);
        lastFailure = { at: opts.clock(), error };
        throw error;
      },
    );
    try {
      return await pending;
    } finally {
      pending = undefined;
    }
  };

  return {
    issuer: config.issuer,
    async verify(token: string): Promise<Identity> {
      const getKey = await keys();
      let payload;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          issuer: config.issuer,
          audience,
          algorithms,
          clockTolerance: Math.floor(config.clockSkew / 1000),
          currentDate: new Date(opts.clock()),
          // A token without exp would never expire: refuse it.
          requiredClaims: ['exp'],
        }));
      } catch (err) {
        throw fromJoseError(err);
      }
      const subject = readStringClaim(payload, config.subjectClaim);
      if (subject === undefined) {
        throw new AuthError(
          'ERR_TOKEN_CLAIMS',
          `claim ${config.subjectClaim} (subject) is missing or not a string`,
        );
      }
      return {
        subject,
        groups: readGroups(payload, config.groupsClaim),
        issuer: config.issuer,
        via: 'oidc',
        claims: payload,
        ...(payload.exp === undefined ? {} : { expiresAt: payload.exp * 1000 }),
      };
    },
  };
}
