import { errors } from 'jose';
import { AuthError } from './errors.js';

/**
 * Turns whatever jose (or the JWKS fetch underneath it) threw into an AuthError. Anything not
 * recognised becomes a refusal too: an unexpected error must never let a token through.
 */
export function fromJoseError(err: unknown): AuthError {
  if (err instanceof AuthError) return err;
  if (err instanceof errors.JWTExpired)
    return new AuthError('ERR_TOKEN_EXPIRED', err.message, { cause: err });
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'nbf':
        return new AuthError('ERR_TOKEN_NOT_YET_VALID', err.message, { cause: err });
      case 'iss':
        return new AuthError('ERR_TOKEN_ISSUER', err.message, { cause: err });
      case 'aud':
        return new AuthError('ERR_TOKEN_AUDIENCE', err.message, { cause: err });
      default:
        return new AuthError('ERR_TOKEN_CLAIMS', `${err.message} (claim ${err.claim})`, { cause: err });
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return new AuthError('ERR_TOKEN_ALGORITHM', err.message, { cause: err });
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return new AuthError('ERR_TOKEN_KEY_UNKNOWN', err.message, { cause: err });
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return new AuthError('ERR_TOKEN_SIGNATURE', err.message, { cause: err });
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) {
    return new AuthError('ERR_TOKEN_MALFORMED', err.message, { cause: err });
  }
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) {
    return new AuthError('ERR_IDP_UNAVAILABLE', `key set: ${err.message}`, { cause: err });
  }
  if (err instanceof errors.JOSEError) {
    // The remaining generic JOSEError comes from the JWKS fetch (non-200, unparsable JSON).
    return new AuthError('ERR_IDP_UNAVAILABLE', `key set: ${err.message}`, { cause: err });
  }
  if (err instanceof TypeError) {
    // fetch() rejects with a TypeError when the connection fails.
    return new AuthError('ERR_IDP_UNAVAILABLE', `key set: ${err.message}`, { cause: err });
  }
  const text = err instanceof Error ? err.message : String(err);
  return new AuthError('ERR_TOKEN_MALFORMED', `unexpected verification error: ${text}`, { cause: err });
}
