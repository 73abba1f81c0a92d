import { serialize } from 'pg-protocol/dist/serializer';
import type { AuthRequest } from './auth-request.js';
import { PgClientError } from './errors.js';
import { md5PasswordResponse } from './md5.js';
import { ScramExchange } from './scram.js';

/** Supplies the password at the moment it is sent, so callers can keep it sealed until then. */
export type PasswordSource = string | (() => string);

/**
 * The authentication dialogue after StartupMessage: answers each request of the server and
 * remembers whether a SCRAM exchange is under way, so that AuthenticationOk is accepted only after
 * the server has proved itself (a server that skips SASLFinal is refused).
 */
export class Authenticator {
  readonly #user: string;
  readonly #password: PasswordSource | undefined;
  readonly #send: (bytes: Buffer) => void;
  #scram: ScramExchange | null = null;
  #done = false;

  constructor(user: string, password: PasswordSource | undefined, send: (bytes: Buffer) => void) {
    this.#user = user;
    this.#password = password;
    this.#send = send;
  }

  /** Whether AuthenticationOk was received. */
  get authenticated(): boolean {
    return this.#done;
  }

  async answer(request: AuthRequest): Promise<void> {
    if (this.#done)
      throw new PgClientError('ERR_PG_PROTOCOL', 'authentication request after AuthenticationOk');
    switch (request.kind) {
      case 'ok':
        if (this.#scram !== null && !this.#scram.verified) {
          throw new PgClientError(
            'ERR_PG_AUTH_FAILED',
            'server ended SCRAM without proving it knows the password',
          );
        }
        this.#done = true;
        return;
      case 'cleartext':
        this.#send(serialize.password(this.#revealPassword()));
        return;
      case 'md5':
        this.#send(serialize.password(md5PasswordResponse(this.#user, this.#revealPassword(), request.salt)));
        return;
      case 'sasl': {
        if (!request.mechanisms.includes('SCRAM-SHA-256')) {
          throw new PgClientError(
            'ERR_PG_AUTH_UNSUPPORTED',
            `server offers SASL mechanisms ${request.mechanisms.join(', ')}; supported: SCRAM-SHA-256`,
          );
        }
        this.#revealPassword(); // fail before starting when there is none
        this.#scram = new ScramExchange(['SCRAM-SHA-256']);
        this.#send(
          serialize.sendSASLInitialResponseMessage(this.#scram.mechanism, this.#scram.initialResponse),
        );
        return;
      }
      case 'sasl-continue': {
        const scram = this.#expectScram();
        const final = await this.#scramStep(() => scram.respond(request.data, this.#revealPassword()));
        this.#send(serialize.sendSCRAMClientFinalMessage(final));
        return;
      }
      case 'sasl-final': {
        const scram = this.#expectScram();
        await this.#scramStep(async () => scram.finish(request.data));
        return;
      }
    }
  }

  #expectScram(): ScramExchange {
    if (this.#scram === null)
      throw new PgClientError('ERR_PG_PROTOCOL', 'SASL message before SASL was started');
    return this.#scram;
  }

  /** SCRAM helper errors are plain Errors with text only; give them our code. */
  async #scramStep<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (err) {
      if (err instanceof PgClientError) throw err;
      throw new PgClientError('ERR_PG_AUTH_FAILED', (err as Error).message);
    }
  }

  #revealPassword(): string {
    const password = typeof this.#password === 'function' ? this.#password() : this.#password;
    if (password === undefined || password === '') {
      throw new PgClientError(
        'ERR_PG_PASSWORD_REQUIRED',
        `server asks for a password for user "${this.#user}" and none is set`,
      );
    }
    return password;
  }
}
