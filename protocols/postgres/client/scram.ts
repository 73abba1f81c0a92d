import { createRequire } from 'node:module';

/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) through node-postgres's implementation, which already does
 * SASLprep, nonce checks and the server-signature check. It has no type declarations, so its
 * shape is stated here.
 */
interface ScramSession {
  mechanism: string;
  response: string;
  message: string;
}

interface SaslModule {
  startSession(mechanisms: string[], stream?: unknown): ScramSession;
  continueSession(
    session: ScramSession,
    password: string,
    serverData: string,
    stream?: unknown,
  ): Promise<void>;
  finalizeSession(session: ScramSession, serverData: string): void;
}

const require = createRequire(import.meta.url);
const sasl = require('pg/lib/crypto/sasl.js') as SaslModule;

/**
 * One SCRAM exchange. Channel binding (SCRAM-SHA-256-PLUS) is not offered: we never pass the
 * stream, so the client announces "n" (no binding) and the server cannot demand it.
 */
export class ScramExchange {
  readonly #session: ScramSession;
  #verified = false;

  constructor(mechanisms: string[]) {
    this.#session = sasl.startSession(mechanisms);
  }

  get mechanism(): string {
    return this.#session.mechanism;
  }

  /** client-first-message */
  get initialResponse(): string {
    return this.#session.response;
  }

  /** Computes client-final-message from server-first-message. */
  async respond(serverFirst: string, password: string): Promise<string> {
    await sasl.continueSession(this.#session, password, serverFirst);
    return this.#session.response;
  }

  /** Checks server-final-message: the server proves it knows the password verifier too. */
  finish(serverFinal: string): void {
    sasl.finalizeSession(this.#session, serverFinal);
    this.#verified = true;
  }

  /** Whether the server proved itself; AuthenticationOk before that must not be trusted. */
  get verified(): boolean {
    return this.#verified;
  }
}
