import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/load.js';
import { parseDuration, formatDuration } from '../config/duration.js';
import type { Authenticator } from '../identity/authenticator.js';
import { claimPathsOf } from '../guard/row-filters/template.js';
import { readClaim } from '../identity/claims.js';
import { AuthError } from '../identity/errors.js';
import type { ClaimValue } from '../identity/gateway-tokens.js';
import { reachableTargets } from '../identity/policies.js';
import type { Identity } from '../identity/types.js';
import { BodyError, readJsonBody } from './body.js';
import { sendJson } from './respond.js';

/** RFC 6750 section 2.1: `Bearer` (any case), one or more spaces, then a b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
/** A token exchange request is two short fields; anything bigger is not one. */
const MAX_EXCHANGE_BODY = 4096;

/** The bearer token of a request's Authorization header, or undefined. Query-string tokens are not accepted. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  return BEARER.exec(header)?.[1];
}

/** OAuth 2.0 Protected Resource Metadata (RFC 9728) for the MCP endpoint. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers?: string[];
  bearer_methods_supported: ['header'];
  resource_name: string;
}

export function protectedResourceMetadata(config: Config, baseUrl: string): ProtectedResourceMetadata {
  const issuers = config.identity.oidc.map((i) => i.issuer);
  return {
    resource: `${trimSlash(baseUrl)}/mcp`,
    ...(issuers.length > 0 ? { authorization_servers: issuers } : {}),
    bearer_methods_supported: ['header'],
    resource_name: 'Sluice',
  };
}

export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

/**
 * The `WWW-Authenticate` challenge of a 401 (RFC 6750 section 3, RFC 9728 section 5.1). MCP clients
 * follow `resource_metadata` to find the authorization server. `error` is set only when a token was
 * presented and refused; the reason is never put in the header.
 */
export function wwwAuthenticate(baseUrl: string | undefined, error?: BearerErrorCode): string {
  const params: string[] = [];
  if (baseUrl !== undefined && baseUrl !== '') {
    params.push(
      `resource_metadata=${quote(`${trimSlash(baseUrl)}/.well-known/oauth-protected-resource/mcp`)}`,
    );
  }
  if (error !== undefined) params.push(`error=${quote(error)}`);
  return params.length === 0 ? 'Bearer' : `Bearer ${params.join(', ')}`;
}

export interface TokenExchangeOptions {
  /** The public base URL, for the challenge of a 401; defaults to server.publicUrl. */
  baseUrl?: string;
  /** Epoch milliseconds; defaults to Date.now. */
  clock?: () => number;
}

/** The body of a successful `POST /api/tokens`. */
export interface TokenExchangeResponse {
  token: string;
  /** ISO 8601. */
  expiresAt: string;
  subject: string;
  groups: string[];
  target: string | null;
}

/**
 * `POST /api/tokens`: trades a valid OIDC token for a short-lived Sluice token, optionally bound to
 * one target. Body: `{ target?: string, ttl?: string }` (a duration such as `5m`).
 *
 * - Only an IdP token is accepted: a Sluice token cannot mint another, or a stolen one could be
 *   renewed forever without the IdP ever being asked again.
 * - The new token never outlives the configured TTL nor the IdP token it came from, so revoking
 *   someone at the IdP takes effect within one TTL.
 * - A target must be one the identity's policies reach; an unknown target gets the same answer as
 *   a forbidden one, so the endpoint does not reveal which targets exist.
 */
export async function handleTokenExchange(
  req: IncomingMessage,
  res: ServerResponse,
  authenticator: Authenticator,
  config: Config,
  options: TokenExchangeOptions = {},
): Promise<void> {
  const clock = options.clock ?? Date.now;
  const baseUrl = options.baseUrl ?? config.server.publicUrl;
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: 'method_not_allowed', message: 'use POST' }, { allow: 'POST' });
    return;
  }
  const token = bearerToken(req);
  if (token === undefined) {
    sendJson(
      res,
      401,
      { error: 'invalid_request', message: 'a bearer token from the identity provider is required' },
      { 'www-authenticate': wwwAuthenticate(baseUrl) },
    );
    return;
  }
  let identity: Identity;
  try {
    identity = await authenticator.authenticate(token, {
      channel: 'api-tokens',
      ...(req.socket.remoteAddress === undefined ? {} : { remote: req.socket.remoteAddress }),
    });
  } catch (err) {
    if (!(err instanceof AuthError)) throw err;
    const status = err.code === 'ERR_IDP_UNAVAILABLE' ? 503 : 401;
    sendJson(
      res,
      status,
      { error: status === 503 ? 'temporarily_unavailable' : 'invalid_token', message: err.publicMessage },
      status === 401 ? { 'www-authenticate': wwwAuthenticate(baseUrl, 'invalid_token') } : {},
    );
    return;
  }
  if (identity.via !== 'oidc') {
    sendJson(res, 403, {
      error: 'forbidden',
      message: 'a token from the identity provider is required; a Sluice token cannot mint another',
    });
    return;
  }

  const request = await readExchangeRequest(req, config.identity.gatewayTokens.ttl);
  if ('problem' in request) {
    sendJson(res, request.status, { error: request.error, message: request.problem });
    return;
  }
  const reachable = reachableTargets(config, identity);
  if (request.target === undefined ? reachable.length === 0 : !reachable.includes(request.target)) {
    sendJson(res, 403, {
      error: 'forbidden',
      message:
        request.target === undefined
          ? 'no policy gives this identity access to any target'
          : `target "${request.target}" is not reachable for this identity`,
    });
    return;
  }
  const remainingMs = identity.expiresAt === undefined ? Infinity : identity.expiresAt - clock();
  const ttlMs = Math.min(request.ttlMs ?? config.identity.gatewayTokens.ttl, remainingMs);
  if (ttlMs < 1000) {
    sendJson(
      res,
      401,
      { error: 'invalid_token', message: 'the token has expired' },
      { 'www-authenticate': wwwAuthenticate(baseUrl, 'invalid_token') },
    );
    return;
  }
  const claims = carriedClaims(config, identity);
  let issued;
  try {
    issued = await authenticator.issue({
      subject: identity.subject,
      groups: identity.groups,
      ...(request.target === undefined ? {} : { target: request.target }),
      ...(claims === undefined ? {} : { claims }),
      ttlMs: Math.floor(ttlMs),
    });
  } catch (err) {
    // The IdP's subject or groups do not fit a Sluice token (control characters, too many groups).
    if (!(err instanceof AuthError)) throw err;
    sendJson(res, 403, {
      error: 'forbidden',
      message: `this identity cannot be given a token: ${err.message}`,
    });
    return;
  }
  const body: TokenExchangeResponse = {
    token: issued.token,
    expiresAt: new Date(issued.expiresAt).toISOString(),
    subject: issued.subject,
    groups: issued.groups,
    target: issued.target ?? null,
  };
  sendJson(res, 200, body);
}

/**
 * The identity provider's claims that the configuration's row filters read (`{claims.tenant}`),
 * carried into the Sluice token under the same path, so that the filters see in its sessions
 * what they would see with the IdP token. Claims nothing reads stay behind.
 */
function carriedClaims(config: Config, identity: Identity): Record<string, ClaimValue> | undefined {
  const paths = new Set(
    config.policies.flatMap((p) => (p.rowFilters ?? []).flatMap((f) => claimPathsOf(f.where))),
  );
  const claims: Record<string, ClaimValue> = {};
  for (const path of paths) {
    // The Sluice token carries its subject as `sub` already.
    if (path === 'sub') continue;
    const value = readClaim(identity.claims ?? {}, path);
    if (value !== undefined) claims[path] = value as ClaimValue;
  }
  return Object.keys(claims).length > 0 ? claims : undefined;
}

type ExchangeRequest =
  | { target: string | undefined; ttlMs: number | undefined }
  | { status: number; error: string; problem: string };

async function readExchangeRequest(req: IncomingMessage, maxTtlMs: number): Promise<ExchangeRequest> {
  let body: unknown;
  try {
    body = await readJsonBody(req, MAX_EXCHANGE_BODY);
  } catch (err) {
    if (!(err instanceof BodyError)) throw err;
    return { status: err.status, error: 'invalid_request', problem: err.message };
  }
  if (body === undefined) return { target: undefined, ttlMs: undefined };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { status: 400, error: 'invalid_request', problem: 'the body must be a JSON object' };
  }
  const fields = body as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (key !== 'target' && key !== 'ttl') {
      return {
        status: 400,
        error: 'invalid_request',
        problem: `${key}: unknown field (expected target, ttl)`,
      };
    }
  }
  const { target, ttl } = fields;
  if (target !== undefined && (typeof target !== 'string' || target === '')) {
    return { status: 400, error: 'invalid_request', problem: 'target: must be a target name' };
  }
  let ttlMs: number | undefined;
  if (ttl !== undefined) {
    ttlMs = typeof ttl === 'string' ? parseDuration(ttl) : undefined;
    if (ttlMs === undefined) {
      return { status: 400, error: 'invalid_request', problem: 'ttl: expected a duration such as 5m' };
    }
    if (ttlMs < 1000 || ttlMs > maxTtlMs) {
      return {
        status: 400,
        error: 'invalid_request',
        problem: `ttl: must be between 1s and ${formatDuration(maxTtlMs)}`,
      };
    }
  }
  return { target, ttlMs };
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** An RFC 7230 quoted-string. */
function quote(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
