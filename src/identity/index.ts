export { AuthError, type AuthErrorCode } from './errors.js';
export {
  createAuthenticator,
  MAX_TOKEN_LENGTH,
  type AuthContext,
  type Authenticator,
  type AuthenticatorOptions,
  type IssuedToken,
  type MintClaims,
} from './authenticator.js';
export { selectPolicy, reachableTargets } from './policies.js';
export { GATEWAY_KEY_FILE } from './gateway-key.js';
export { GATEWAY_TOKEN_TYPE, GATEWAY_TOKEN_USE } from './gateway-tokens.js';
export { DEFAULT_JWKS_CACHE, MAX_CLOCK_SKEW_MS, type JwksCachePolicy } from './oidc.js';
export type { Identity } from './types.js';
