import { decodeJwt, type JWTPayload } from 'jose';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import type { Identity } from './types.js';
import { AuthError } from './errors.js';
import { loadGatewaySigningKey } from './gateway-key.js';
import { createGatewayTokens, type IssuedToken, type MintClaims, type ScramLogin } from './gateway-tokens.js';
import { createOidcVerifier, DEFAULT_JWKS_CACHE, type JwksCachePolicy, type OidcVerifier } from './oidc.js';

/** Larger than any real IdP token with a long group list; bounds the work a garbage header costs. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
/** Claimed (unverified) values are cut to this length before they reach a log line. */
const MAX_LOGGED_CLAIM = 256;

export interface AuthContext {
  /** Remote address of the caller, for the audit log. */
  remote?: string;
  /** The way the token arrived: mcp-http, postgres, mysql, api, ... */
  channel: string;
}

export interface Authenticator {
  /** The `iss` of Sluice tokens. */
  readonly gatewayIssuer: string;
  /** Verifies an OIDC token or a Sluice token; throws AuthError. Logs one audit event either way. */
  authenticate(token: string, context: AuthContext): Promise<Identity>;
  /** Mints a Sluice token; throws AuthError ERR_MINT_REQUEST on bad claims. */
  mint(claims: MintClaims): Promise<string>;
  /** Like mint, with the expiry and jti of the token. */
  issue(claims: MintClaims): Promise<IssuedToken>;
  /**
   * For a SCRAM-SHA-256 login whose user name is a Sluice token's header and payload (the token
   * without its signature): the token, which is the password the client must prove it knows, a
   * salt, and the subject. Undefined when the name is not one of ours, or the gateway key is
   * not Ed25519 (a P-256 signature cannot be made again).
   */
  scramLogin(user: string): ScramLogin | undefined;
}

export interface AuthenticatorOptions {
  logger: Logger;
  /** Epoch milliseconds; defaults to Date.now. Governs exp/nbf/iat checks and minting. */
  clock?: () => number;
  /** Used for discovery and JWKS requests; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Remote key set caching; see JwksCachePolicy. */
  jwks?: Partial<JwksCachePolicy>;
}

export type { MintClaims, IssuedToken };

/**
 * Builds the one authenticator of the gateway. Throws AuthError ERR_AUTH_CONFIG when the identity
 * configuration cannot be used safely (an HS* algorithm, an issuer used twice, an unusable key).
 */
export async function createAuthenticator(
  config: Config,
  opts: AuthenticatorOptions,
): Promise<Authenticator> {
  const clock = opts.clock ?? Date.now;
  const fetchImpl = opts.fetch ?? fetch;
  const jwks: JwksCachePolicy = { ...DEFAULT_JWKS_CACHE, ...opts.jwks };
  const logger = opts.logger;

  const gatewayIssuer = config.identity.gatewayTokens.issuer;
  const issuers = new Map<string, OidcVerifier>();
  config.identity.oidc.forEach((issuerConfig, i) => {
    const keyPath = `identity.oidc.${i}`;
    // Tokens are routed by `iss`; two configurations for one issuer, or an IdP that shares the
    // gateway's issuer name, would make that routing ambiguous.
    if (issuerConfig.issuer === gatewayIssuer) {
      throw new AuthError('ERR_AUTH_CONFIG', `${keyPath}.issuer: equals identity.gatewayTokens.issuer`);
    }
    if (issuers.has(issuerConfig.issuer)) {
      throw new AuthError('ERR_AUTH_CONFIG', `${keyPath}.issuer: ${issuerConfig.issuer} is configured twice`);
    }
    issuers.set(
      issuerConfig.issuer,
      createOidcVerifier(issuerConfig, keyPath, { fetch: fetchImpl, clock, jwks }),
    );
  });

  const key = await loadGatewaySigningKey(config, logger);
  const gatewayTokens = createGatewayTokens(config, key, clock);

  const verify = async (token: string, claimed: JWTPayload): Promise<Identity> => {
    const iss = claimed.iss;
    // The unverified `iss` only chooses which verifier runs; that verifier then checks the
    // signature and every claim (including `iss` again) against its own configuration.
    if (iss === gatewayIssuer) return gatewayTokens.verify(token);
    const verifier = iss === undefined ? undefined : issuers.get(iss);
    if (verifier === undefined) {
      const shown = typeof iss === 'string' ? JSON.stringify(loggable(iss)) : `of type ${typeof iss}`;
      throw new AuthError('ERR_TOKEN_ISSUER', `issuer ${shown} is not configured`);
    }
    return verifier.verify(token);
  };

  const authenticate = async (presented: string, context: AuthContext): Promise<Identity> => {
    let claimed: JWTPayload = {};
    try {
      // Whitespace is never part of a JWT; a token read from a file or an env var often ends in a newline.
      const token = typeof presented === 'string' ? presented.trim() : presented;
      claimed = decodeClaims(token);
      const identity = await verify(token, claimed);
      logger.info(
        {
          event: 'auth.success',
          subject: identity.subject,
          groups: identity.groups,
          issuer: identity.issuer,
          via: identity.via,
          target: identity.target,
          expiresAt: identity.expiresAt,
          channel: context.channel,
          remote: context.remote,
        },
        'authenticated',
      );
      return identity;
    } catch (err) {
      const error =
        err instanceof AuthError
          ? err
          : new AuthError('ERR_TOKEN_MALFORMED', `unexpected error: ${String(err)}`, { cause: err });
      // The claimed issuer and subject are unverified, hence cut short; the token never appears.
      logger.warn(
        {
          event: 'auth.failure',
          code: error.code,
          reason: error.message,
          issuer: loggable(claimed.iss),
          subject: loggable(claimed.sub),
          channel: context.channel,
          remote: context.remote,
        },
        'authentication refused',
      );
      throw error;
    }
  };

  const issue = async (claims: MintClaims): Promise<IssuedToken> => {
    const issued = await gatewayTokens.issue(claims);
    logger.info(
      {
        event: 'token.minted',
        subject: issued.subject,
        groups: issued.groups,
        target: issued.target,
        jti: issued.jti,
        expiresAt: issued.expiresAt,
      },
      'gateway token minted',
    );
    return issued;
  };

  return {
    gatewayIssuer,
    authenticate,
    issue,
    mint: async (claims) => (await issue(claims)).token,
    scramLogin: gatewayTokens.scramLogin,
  };
}

/** Reads the claims without verifying them, only to route the token. */
function decodeClaims(token: string): JWTPayload {
  if (typeof token !== 'string' || token === '') throw new AuthError('ERR_TOKEN_MISSING', 'no token');
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new AuthError('ERR_TOKEN_MALFORMED', `token longer than ${MAX_TOKEN_LENGTH} characters`);
  }
  try {
    return decodeJwt(token);
  } catch (err) {
    throw new AuthError('ERR_TOKEN_MALFORMED', `not a signed JWT: ${(err as Error).message}`, { cause: err });
  }
}

function loggable(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  return value.length > MAX_LOGGED_CLAIM ? `${value.slice(0, MAX_LOGGED_CLAIM)}…` : value;
}
