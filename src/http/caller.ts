import type { IncomingMessage } from 'node:http';
import type { Authenticator } from '../identity/authenticator.js';
import { AuthError } from '../identity/errors.js';
import type { Identity } from '../identity/types.js';
import { bearerToken } from './auth.js';
import { readCookie } from './cookies.js';
import { csrfMatches, type ConsoleSession, type ConsoleSessions } from './console/sessions.js';

/** The console's session cookie: a random id, HttpOnly. */
export const SESSION_COOKIE = 'sluice_console';
/** The header a page sends its CSRF token in. */
export const CSRF_HEADER = 'x-csrf-token';

/** Who sent a request: by a bearer token (scripts) or by the console's session cookie (a browser). */
export interface Caller {
  identity: Identity;
  /** Set when the cookie authenticated the request: state changes then need the CSRF token. */
  session?: ConsoleSession;
}

export type CallerOutcome =
  { kind: 'caller'; caller: Caller } | { kind: 'anonymous' } | { kind: 'refused'; message: string };

/**
 * A bearer token wins over the cookie: a script that sends one is judged by it alone. A cookie
 * that names no live session counts as none.
 */
export async function identifyCaller(
  req: IncomingMessage,
  authenticator: Authenticator,
  sessions: ConsoleSessions,
  channel: string,
): Promise<CallerOutcome> {
  const token = bearerToken(req);
  if (token !== undefined) {
    try {
      const identity = await authenticator.authenticate(token, {
        channel,
        ...(req.socket.remoteAddress ? { remote: req.socket.remoteAddress } : {}),
      });
      return { kind: 'caller', caller: { identity } };
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      return { kind: 'refused', message: err.publicMessage };
    }
  }
  const session = sessions.get(readCookie(req, SESSION_COOKIE));
  if (session === undefined) return { kind: 'anonymous' };
  return { kind: 'caller', caller: { identity: session.identity, session } };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Why a state-changing request that rides on the session cookie is refused, or undefined when it
 * may go on. Two checks, each enough against a cross-site form or fetch: the Origin must be this
 * console's, and the request must carry the session's CSRF token (which a page of another site
 * cannot read). Bearer requests carry no ambient credential and need neither.
 */
export function csrfProblem(
  req: IncomingMessage,
  caller: Caller,
  baseUrl: string,
  formToken?: string,
): string | undefined {
  if (SAFE_METHODS.has(req.method ?? 'GET') || caller.session === undefined) return undefined;
  if (!originAllowed(req, baseUrl)) return 'the request comes from another origin';
  const header = req.headers[CSRF_HEADER];
  const presented = typeof header === 'string' ? header : formToken;
  if (!csrfMatches(caller.session, presented)) return 'the CSRF token is missing or wrong';
  return undefined;
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Whether the request's Origin is this server's: the configured public URL's origin, or the
 * origin the browser used to reach it when that is a loopback name or the public URL's host
 * (another port or scheme of it, behind a proxy). A missing Origin is refused: browsers send one
 * with every POST.
 */
export function originAllowed(req: IncomingMessage, baseUrl: string): boolean {
  const origin = req.headers.origin;
  if (typeof origin !== 'string' || origin === 'null') return false;
  let base: URL | undefined;
  try {
    base = new URL(baseUrl);
  } catch {
    base = undefined;
  }
  if (base !== undefined && origin === base.origin) return true;
  const host = req.headers.host;
  if (typeof host !== 'string') return false;
  let seen: URL;
  try {
    seen = new URL(origin);
  } catch {
    return false;
  }
  if (seen.host !== host) return false;
  return LOOPBACK_NAMES.has(seen.hostname) || seen.hostname === base?.hostname;
}

/**
 * Whether the request comes straight from this machine. A request relayed by a proxy (it says so
 * in Forwarded / X-Forwarded-For) is not, whatever address it arrives from: behind a proxy on the
 * same host every client would look local.
 */
export function fromLoopback(req: IncomingMessage): boolean {
  if (
    req.headers.forwarded !== undefined ||
    req.headers['x-forwarded-for'] !== undefined ||
    req.headers['x-real-ip'] !== undefined
  ) {
    return false;
  }
  const address = req.socket.remoteAddress ?? '';
  return address === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}

/** Whether the browser reached the console over TLS (directly, or as the public URL says). */
export function overTls(req: IncomingMessage, baseUrl: string): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true || baseUrl.startsWith('https:');
}
