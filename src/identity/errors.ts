/**
 * Authentication errors. The `code` is stable (a closed union) so callers branch on it, never on
 * text. `message` carries the detailed reason for the audit log; `publicMessage` is all a caller
 * ever sees, because telling an attacker *why* a forged token failed (which key, which claim) helps
 * them refine the next attempt.
 */
export type AuthErrorCode =
  | 'ERR_TOKEN_MISSING'
  | 'ERR_TOKEN_MALFORMED'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_TOKEN_NOT_YET_VALID'
  | 'ERR_TOKEN_ISSUER'
  | 'ERR_TOKEN_AUDIENCE'
  | 'ERR_TOKEN_KEY_UNKNOWN'
  | 'ERR_TOKEN_ALGORITHM'
  | 'ERR_TOKEN_SIGNATURE'
  | 'ERR_TOKEN_CLAIMS'
  | 'ERR_IDP_UNAVAILABLE'
  | 'ERR_MINT_REQUEST'
  | 'ERR_AUTH_CONFIG';

const PUBLIC_MESSAGES: Record<AuthErrorCode, string> = {
  ERR_TOKEN_MISSING: 'a bearer token is required',
  ERR_TOKEN_MALFORMED: 'the token is malformed',
  ERR_TOKEN_EXPIRED: 'the token has expired',
  ERR_TOKEN_NOT_YET_VALID: 'the token is not valid yet',
  ERR_TOKEN_ISSUER: 'invalid token',
  ERR_TOKEN_AUDIENCE: 'invalid token',
  ERR_TOKEN_KEY_UNKNOWN: 'the token is signed by a key this gateway does not know',
  ERR_TOKEN_ALGORITHM: 'invalid token',
  ERR_TOKEN_SIGNATURE: 'invalid token',
  ERR_TOKEN_CLAIMS: 'invalid token',
  ERR_IDP_UNAVAILABLE: 'the identity provider cannot be reached; try again later',
  ERR_MINT_REQUEST: 'the token request is invalid',
  ERR_AUTH_CONFIG: 'authentication is not configured correctly',
};

export class AuthError extends Error {
  readonly code: AuthErrorCode;
  /** The only text a caller may see. Generic on purpose (see the file comment). */
  readonly publicMessage: string;

  constructor(code: AuthErrorCode, reason: string, options?: { cause?: unknown; publicMessage?: string }) {
    super(reason, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AuthError';
    this.code = code;
    this.publicMessage = options?.publicMessage ?? PUBLIC_MESSAGES[code];
  }
}
