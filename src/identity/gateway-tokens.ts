import { createHash, randomUUID, sign } from 'node:crypto';
import { jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { Config } from '../config/load.js';
import type { Identity } from './types.js';
import { AuthError } from './errors.js';
import type { GatewaySigningKey } from './gateway-key.js';
import { fromJoseError } from './jose-errors.js';

/** The header `typ` and claim `token_use` that mark a Sluice token (RFC 8725 section 3.11). */
export const GATEWAY_TOKEN_TYPE = 'sluice+jwt';
export const GATEWAY_TOKEN_USE = 'sluice';

/**
 * Our own clocks may drift a little between `sluice token` on one host and `serve` on another:
 * tolerated for iat and nbf only. Expiry is exact (checked after jose's own checks).
 */
const GATEWAY_CLOCK_SKEW_S = 5;
const MAX_SUBJECT_LENGTH = 256;
const MAX_GROUPS = 256;

export interface MintClaims {
  subject: string;
  groups: string[];
  /** Bind the token to one target: it then reaches that target only. */
  target?: string;
  /** Shorter than the configured TTL, never longer. */
  ttlMs?: number;
  /** Claims policies read (row filters): names to strings, numbers, booleans or lists of them. */
  claims?: Readonly<Record<string, ClaimValue>>;
}

export type ClaimValue = string | number | boolean | readonly (string | number | boolean)[];

export interface IssuedToken {
  token: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  jti: string;
  subject: string;
  groups: string[];
  target: string | undefined;
}

export interface GatewayTokens {
  readonly issuer: string;
  issue(claims: MintClaims): Promise<IssuedToken>;
  verify(token: string): Promise<Identity>;
  /** See Authenticator.scramLogin. */
  scramLogin(signingInput: string): ScramLogin | undefined;
}

/** What a SCRAM login with a Sluice token needs: the token (its password), a salt, the subject. */
export interface ScramLogin {
  password: string;
  salt: Buffer;
  user: string;
}

const SIGNING_INPUT = /^[A-Za-z0-9_-]{1,2048}\.[A-Za-z0-9_-]{1,8192}$/;

export function createGatewayTokens(
  config: Config,
  key: GatewaySigningKey,
  clock: () => number,
): GatewayTokens {
  const { issuer, ttl: maxTtlMs } = config.identity.gatewayTokens;

  const issue = async (claims: MintClaims): Promise<IssuedToken> => {
    const { subject, groups, target } = checkMintClaims(claims, config);
    const extra = checkExtraClaims(claims.claims);
    const ttlMs = claims.ttlMs ?? maxTtlMs;
    if (!Number.isFinite(ttlMs) || ttlMs < 1000) {
      throw new AuthError('ERR_MINT_REQUEST', 'ttl: must be at least 1s');
    }
    if (ttlMs > maxTtlMs) {
      throw new AuthError('ERR_MINT_REQUEST', `ttl: longer than identity.gatewayTokens.ttl (${maxTtlMs}ms)`);
    }
    const now = clock();
    const iat = Math.floor(now / 1000);
    // Rounded down, so the token never outlives the TTL asked for.
    const exp = Math.floor((now + ttlMs) / 1000);
    const jti = randomUUID();
    const payload: JWTPayload = { groups, token_use: GATEWAY_TOKEN_USE };
    if (target !== undefined) payload['target'] = target;
    if (extra !== undefined) payload['claims'] = extra;
    const token = await new SignJWT(payload)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: GATEWAY_TOKEN_TYPE })
      .setIssuer(issuer)
      .setSubject(subject)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(key.privateKey);
    return { token, expiresAt: exp * 1000, jti, subject, groups, target };
  };

  const verify = async (token: string): Promise<Identity> => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(
        token,
        (header) => {
          if (header.kid !== key.kid) {
            throw new AuthError(
              'ERR_TOKEN_KEY_UNKNOWN',
              `kid ${JSON.stringify(header.kid)} is not the gateway key`,
            );
          }
          return key.publicKey;
        },
        {
          issuer,
          // Only the one algorithm of our own key: nothing else can have produced a Sluice token.
          algorithms: [key.alg],
          typ: GATEWAY_TOKEN_TYPE,
          currentDate: new Date(clock()),
          clockTolerance: GATEWAY_CLOCK_SKEW_S,
          maxTokenAge: Math.ceil(maxTtlMs / 1000) + GATEWAY_CLOCK_SKEW_S,
          requiredClaims: ['exp', 'iat', 'jti', 'sub'],
        },
      ));
    } catch (err) {
      throw fromJoseError(err);
    }
    // The skew above is for a token minted on another host (its iat may be a little ahead of this
    // clock); the gateway set the expiry itself, so it holds to the second.
    if (typeof payload.exp === 'number' && clock() >= payload.exp * 1000) {
      throw new AuthError('ERR_TOKEN_EXPIRED', 'the token has expired');
    }
    if (payload['token_use'] !== GATEWAY_TOKEN_USE) {
      throw new AuthError('ERR_TOKEN_CLAIMS', 'token_use is not "sluice"');
    }
    const groups = payload['groups'];
    if (!Array.isArray(groups) || !groups.every((g): g is string => typeof g === 'string')) {
      throw new AuthError('ERR_TOKEN_CLAIMS', 'groups is not a list of strings');
    }
    const target = payload['target'];
    if (target !== undefined && typeof target !== 'string') {
      throw new AuthError('ERR_TOKEN_CLAIMS', 'target is not a string');
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') {
      throw new AuthError('ERR_TOKEN_CLAIMS', 'sub is empty');
    }
    const extra = payload['claims'];
    if (extra !== undefined && (typeof extra !== 'object' || extra === null || Array.isArray(extra))) {
      throw new AuthError('ERR_TOKEN_CLAIMS', 'claims is not an object');
    }
    return {
      subject: payload.sub,
      groups,
      issuer,
      via: 'gateway',
      claims: { ...(extra as Record<string, unknown> | undefined), sub: payload.sub },
      ...(target === undefined ? {} : { target }),
      ...(payload.exp === undefined ? {} : { expiresAt: payload.exp * 1000 }),
    };
  };

  /**
   * Ed25519 signatures are deterministic: the token of a header and payload of ours is known to
   * the gateway from them alone. Nothing of it leaves here: the SCRAM exchange only proves the
   * client holds it, and the token is then verified as any other (expiry, issuer, claims).
   */
  const scramLogin = (signingInput: string): ScramLogin | undefined => {
    if (key.alg !== 'EdDSA' || !SIGNING_INPUT.test(signingInput)) return undefined;
    const [encodedHeader, encodedPayload] = signingInput.split('.') as [string, string];
    let header: unknown;
    let payload: unknown;
    try {
      header = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString('utf8'));
      payload = JSON.parse(Buffer.from(encodedPayload, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    const h = header as Record<string, unknown> | null;
    const p = payload as Record<string, unknown> | null;
    if (h?.['alg'] !== 'EdDSA' || h['kid'] !== key.kid || h['typ'] !== GATEWAY_TOKEN_TYPE) return undefined;
    if (typeof p?.['sub'] !== 'string' || p['sub'] === '' || p['iss'] !== issuer) return undefined;
    const signature = sign(null, Buffer.from(signingInput, 'ascii'), key.privateKey).toString('base64url');
    return {
      password: `${signingInput}.${signature}`,
      // Public, and the same for every login with the token, as a stored verifier's salt is.
      salt: createHash('sha256').update('sluice scram salt\0').update(signingInput).digest().subarray(0, 16),
      user: p['sub'],
    };
  };

  return { issuer, issue, verify, scramLogin };
}

function checkMintClaims(
  claims: MintClaims,
  config: Config,
): { subject: string; groups: string[]; target?: string } {
  const { subject, groups, target } = claims;
  // eslint-disable-next-line no-control-regex
  if (typeof subject !== 'string' || subject.trim() === '' || /[\u0000-\u001f\u007f]/.test(subject)) {
    throw new AuthError('ERR_MINT_REQUEST', 'subject: must be a non-empty string without control characters');
  }
  if (subject.length > MAX_SUBJECT_LENGTH) {
    throw new AuthError('ERR_MINT_REQUEST', `subject: longer than ${MAX_SUBJECT_LENGTH} characters`);
  }
  if (
    !Array.isArray(groups) ||
    groups.length > MAX_GROUPS ||
    groups.some((g) => typeof g !== 'string' || g === '')
  ) {
    throw new AuthError('ERR_MINT_REQUEST', 'groups: must be a list of non-empty names');
  }
  if (target !== undefined && !config.targets.has(target)) {
    throw new AuthError('ERR_MINT_REQUEST', `target: unknown target "${target}"`);
  }
  return { subject, groups: [...new Set(groups)], ...(target === undefined ? {} : { target }) };
}

const MAX_EXTRA_CLAIMS = 64;
const MAX_CLAIM_LENGTH = 1024;

/** The claims a Sluice token carries beyond subject and groups: plain values, bounded in size. */
function checkExtraClaims(
  claims: Readonly<Record<string, ClaimValue>> | undefined,
): Record<string, ClaimValue> | undefined {
  if (claims === undefined) return undefined;
  const entries = Object.entries(claims);
  if (entries.length > MAX_EXTRA_CLAIMS) {
    throw new AuthError('ERR_MINT_REQUEST', `claims: more than ${MAX_EXTRA_CLAIMS}`);
  }
  const plain = (v: unknown): boolean =>
    (typeof v === 'string' && v.length <= MAX_CLAIM_LENGTH) ||
    (typeof v === 'number' && Number.isFinite(v)) ||
    typeof v === 'boolean';
  for (const [name, value] of entries) {
    if (name === '' || name.length > MAX_CLAIM_LENGTH || name === 'sub') {
      throw new AuthError('ERR_MINT_REQUEST', `claims: "${name}" cannot be a claim name`);
    }
    const ok = Array.isArray(value) ? value.length <= MAX_GROUPS && value.every(plain) : plain(value);
    if (!ok) {
      throw new AuthError(
        'ERR_MINT_REQUEST',
        `claims.${name}: must be a string, number or boolean, or a list of them`,
      );
    }
  }
  return Object.fromEntries(entries);
}
