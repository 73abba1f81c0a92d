import { AuthError } from './errors.js';

/**
 * The only JWS algorithms an OIDC issuer may use. All are asymmetric: the gateway holds only
 * public keys, so it can verify but never forge. `none` is absent by construction, and HS* is
 * refused even when configured: with HMAC the "key" would be whatever bytes we hold for the
 * issuer, and an attacker who signs with the issuer's *public* key bytes would pass (the classic
 * algorithm-confusion attack).
 */
const ASYMMETRIC_ALGORITHMS = new Set([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]);

/** Validates a configured allow-list; throws ERR_AUTH_CONFIG naming the key and the bad value. */
export function allowedAlgorithms(configured: readonly string[], keyPath: string): string[] {
  if (configured.length === 0) {
    throw new AuthError('ERR_AUTH_CONFIG', `${keyPath}: at least one algorithm is required`);
  }
  for (const alg of configured) {
    if (!ASYMMETRIC_ALGORITHMS.has(alg)) {
      const why = /^HS/i.test(alg)
        ? 'symmetric algorithms are refused (a public key could be used as the HMAC secret)'
        : alg.toLowerCase() === 'none'
          ? 'unsigned tokens are refused'
          : `expected one of ${[...ASYMMETRIC_ALGORITHMS].join(', ')}`;
      throw new AuthError('ERR_AUTH_CONFIG', `${keyPath}: "${alg}" is not allowed: ${why}`);
    }
  }
  return [...new Set(configured)];
}
