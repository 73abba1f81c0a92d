import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Identity } from '../../identity/types.js';

/** A signed-in console user: the identity their token or ID token proved, and their CSRF token. */
export interface ConsoleSession {
  id: string;
  identity: Identity;
  /** Sent back by the page with every state-changing request (header or form field). */
  csrf: string;
  createdAt: number;
  expiresAt: number;
}

/** At most this many signed-in sessions are kept; the oldest goes first past it. */
const MAX_SESSIONS = 10_000;

/**
 * Console sign-ins, kept in the memory of the process that serves HTTP (the only one that does,
 * also with several workers). A restart signs everyone out, which is the safe direction. The
 * cookie holds only a random id; the identity never leaves the server.
 */
export class ConsoleSessions {
  readonly #sessions = new Map<string, ConsoleSession>();
  readonly #now: () => number;

  constructor(clock: () => number = Date.now) {
    this.#now = clock;
  }

  /**
   * Signs `identity` in until `ttlMs` from now; with `boundByCredential`, never past the expiry of
   * the credential it came from (a pasted token gives no longer access than the token itself). An
   * OIDC sign-in is not bound so: an ID token's own lifetime (often minutes) is about the token,
   * and the provider is asked again at the next sign-in.
   */
  create(identity: Identity, ttlMs: number, options: { boundByCredential: boolean }): ConsoleSession {
    this.#sweep();
    const now = this.#now();
    const cap = options.boundByCredential ? (identity.expiresAt ?? Infinity) : Infinity;
    const session: ConsoleSession = {
      id: randomBytes(32).toString('base64url'),
      identity,
      csrf: randomBytes(32).toString('base64url'),
      createdAt: now,
      expiresAt: Math.min(now + ttlMs, cap),
    };
    this.#sessions.set(session.id, session);
    while (this.#sessions.size > MAX_SESSIONS) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest);
    }
    return session;
  }

  get(id: string | undefined): ConsoleSession | undefined {
    if (id === undefined || id === '') return undefined;
    const session = this.#sessions.get(id);
    if (session === undefined) return undefined;
    if (this.#now() >= session.expiresAt) {
      this.#sessions.delete(id);
      return undefined;
    }
    return session;
  }

  delete(id: string): void {
    this.#sessions.delete(id);
  }

  #sweep(): void {
    const now = this.#now();
    for (const [id, s] of this.#sessions) if (now >= s.expiresAt) this.#sessions.delete(id);
  }
}

/** Compares a presented CSRF token with the session's in constant time. */
export function csrfMatches(session: ConsoleSession, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}
