import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { FrontendCode } from '../codec/codes.js';
import { ProtocolError, SqlState } from '../codec/errors.js';
import { FrontendReader } from '../codec/frontend-reader.js';
import type { FrontendFrame } from '../codec/frontend-reader.js';
import {
  decodeFrontendMessage,
  decodePassword,
  decodeSASLInitialResponse,
} from '../codec/frontend-messages.js';
import type { FrontendTypedMessage, StartupMessage } from '../codec/frontend-messages.js';
import {
  authenticationCleartextPassword,
  authenticationOk,
  authenticationSASL,
  authenticationSASLContinue,
  authenticationSASLFinal,
  backendKeyData,
  errorResponse,
  negotiateProtocolVersion,
  parameterStatus,
  readyForQuery,
} from '../codec/backend-writer.js';
import { PgServerError, callbackFailure } from './errors.js';
import type { AuthenticationResult, PgServerConnectionOptions, StartupInfo } from './options.js';
import { ScramRefusal, ScramServer } from './scram.js';

/**
 * startup         waiting for SSLRequest / GSSENCRequest / CancelRequest / StartupMessage
 * tls-handshake   answered 'S' to SSLRequest, TLS handshake in progress
 * password        asked for a cleartext password
 * sasl            in a SCRAM-SHA-256 exchange (the caller's `scram` knows the password)
 * authenticating  the caller's `authenticate` is deciding
 * ready           authenticated; messages go to `onMessage`
 * closed          nothing more is read or written
 */
export type PgServerState =
  'startup' | 'tls-handshake' | 'password' | 'sasl' | 'authenticating' | 'ready' | 'closed';

const SSL_ACCEPT = Buffer.from('S');
const SSL_REFUSE = Buffer.from('N');
const DEFAULT_STARTUP_TIMEOUT = 10_000;
const PASSWORD_ONLY: readonly number[] = [FrontendCode.AuthenticationResponse];
/** How long a closing socket may linger before it is destroyed (a peer that never reads). */
const CLOSE_GRACE = 2_000;

/**
 * The server side of one Postgres session: TLS negotiation, startup, cleartext password
 * authentication through the caller's callback, then every frontend message to a handler, in
 * order, with backpressure both ways. Errors end the session with a FATAL ErrorResponse when the
 * client can still read one, and are reported to `onError`; nothing is thrown from socket events.
 */
export class PgServerConnection {
  private stateNow: PgServerState = 'startup';
  private socket: Socket;
  private readonly raw: Socket;
  private readonly reader: FrontendReader;
  private encrypted = false;
  private info: StartupInfo | undefined;
  private scram: { server: ScramServer; password: string } | undefined;
  /** A callback's promise is pending: deliver nothing more until it settles. */
  private busy = false;
  /** The socket's write buffer is full: read nothing more until 'drain'. */
  private writeBlocked = false;
  private pumping = false;
  private corked = false;
  private startupTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private lastActivity = 0;
  private closeNotified = false;

  constructor(
    socket: Socket,
    private readonly options: PgServerConnectionOptions,
  ) {
    this.raw = socket;
    this.socket = socket;
    this.reader = new FrontendReader(
      options.maxMessageBody === undefined ? {} : { maxMessageBody: options.maxMessageBody },
    );
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
    this.startupTimer = setTimeout(
      this.onStartupTimeout,
      options.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT,
    );
  }

  get state(): PgServerState {
    return this.stateNow;
  }

  /** Whether the session runs over TLS. */
  get tls(): boolean {
    return this.encrypted;
  }

  /** User, database and parameters, once the StartupMessage has arrived. */
  get startup(): StartupInfo | undefined {
    return this.info;
  }

  /**
   * Queues a message for the client. Writes made in one tick go out together (cork/uncork).
   * Returns false when the socket's buffer is full; reading then pauses until it drains.
   * `written` is called once the socket is done with `message` (written, or the socket failed),
   * so its buffer may be used again; not at all when the connection is already closed.
   */
  write(message: Buffer, written?: () => void): boolean {
    if (this.stateNow === 'closed') return false;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    const ok =
      written === undefined ? this.socket.write(message) : this.socket.write(message, () => written());
    if (!ok && !this.writeBlocked) {
      this.writeBlocked = true;
      this.socket.once('drain', this.onDrain);
      this.updateFlow();
    }
    return ok;
  }

  /** Ends the session: flushes what was written, then closes the socket. */
  close(): void {
    if (this.stateNow === 'closed') return;
    this.stateNow = 'closed';
    this.clearTimers();
    this.uncork();
    this.socket.end();
    const socket = this.socket;
    setTimeout(() => {
      socket.destroy();
      this.raw.destroy();
    }, CLOSE_GRACE).unref();
  }

  /** Ends the session with a FATAL ErrorResponse (when the client can read one) and reports why. */
  fail(error: PgServerError, tellClient = true): void {
    if (this.stateNow === 'closed') return;
    if (tellClient && this.stateNow !== 'tls-handshake') {
      this.write(errorResponse({ severity: 'FATAL', code: error.sqlState, message: error.message }));
    }
    this.close();
    this.report(error);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.lastActivity = Date.now();
    this.reader.push(chunk);
    this.pump();
  };

  /** Delivers buffered frames until one needs to wait (a pending callback or a full socket). */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (
        !this.busy &&
        !this.writeBlocked &&
        (this.stateNow === 'startup' ||
          this.stateNow === 'password' ||
          this.stateNow === 'sasl' ||
          this.stateNow === 'ready')
      ) {
        const frame = this.reader.next();
        if (frame === undefined) break;
        const pending = this.dispatch(frame);
        if (pending !== undefined) this.waitFor(pending);
      }
    } catch (error) {
      this.fail(
        error instanceof ProtocolError
          ? new PgServerError('ERR_PG_PROTOCOL', error.sqlState, error.message, { cause: error })
          : error instanceof PgServerError
            ? error
            : callbackFailure(error),
        // What is not a startup packet at all (a typed message such as Terminate sent first, a
        // garbled length) gets no answer, as from PostgreSQL (COMMERROR): it is logged, the
        // connection closed.
        !(error instanceof ProtocolError && error.code === 'ERR_PG_STARTUP_LENGTH'),
      );
    } finally {
      this.pumping = false;
    }
    this.updateFlow();
  }

  /** Holds further messages (and reading) until `pending` settles. */
  private waitFor(pending: Promise<void>): void {
    this.busy = true;
    pending.then(
      () => {
        this.busy = false;
        this.lastActivity = Date.now();
        if (this.stateNow !== 'closed') this.pump();
      },
      (error: unknown) => {
        this.busy = false;
        this.fail(error instanceof PgServerError ? error : callbackFailure(error));
      },
    );
  }

  private dispatch(frame: FrontendFrame): Promise<void> | void {
    switch (this.stateNow) {
      case 'startup':
        return this.onStartupPacket(frame);
      case 'password':
        return this.onPassword(frame);
      case 'sasl':
        return this.onSasl(frame);
      default:
        return this.onReadyMessage(frame);
    }
  }

  private onStartupPacket(frame: FrontendFrame): void {
    const message = decodeFrontendMessage(frame);
    switch (message.name) {
      case 'SSLRequest':
        return this.onSSLRequest();
      case 'GSSENCRequest':
        if (this.encrypted) throw unexpected('GSSENCRequest on an encrypted connection');
        this.writeNow(SSL_REFUSE);
        return;
      case 'CancelRequest':
        this.close();
        this.callSafely(() => this.options.onCancel?.(message.processId, message.secretKey));
        return;
      case 'StartupMessage':
        return this.onStartupMessage(message);
      default:
        throw unexpected(`${message.name} before startup`);
    }
  }

  private onSSLRequest(): void {
    if (this.encrypted) throw unexpected('SSLRequest on an encrypted connection');
    // Bytes sent after SSLRequest, before our answer, would be taken as if they came over TLS
    // (CVE-2021-23214): the client must wait for 'S' or 'N'.
    if (this.reader.bufferedBytes > 0) throw unexpected('unencrypted data after SSLRequest');
    if (this.options.tls === undefined) {
      this.writeNow(SSL_REFUSE);
      return;
    }
    this.writeNow(SSL_ACCEPT);
    this.stateNow = 'tls-handshake';
    this.raw.removeListener('data', this.onData);
    const secure = new TLSSocket(this.raw, { ...this.options.tls, isServer: true });
    this.socket = secure;
    secure.on('error', this.onSocketError);
    secure.on('close', this.onSocketClose);
    secure.once('secure', () => {
      if (this.stateNow !== 'tls-handshake') return;
      this.encrypted = true;
      this.stateNow = 'startup';
      secure.on('data', this.onData);
    });
  }

  private onStartupMessage(message: StartupMessage): void {
    const user = message.parameters.get('user');
    if (user === undefined || user === '') {
      throw new PgServerError(
        'ERR_PG_NO_USER',
        SqlState.InvalidAuthorizationSpecification,
        'no PostgreSQL user name specified in startup packet',
      );
    }
    this.info = {
      user,
      database: message.parameters.get('database') || user,
      parameters: message.parameters,
      tls: this.encrypted,
    };
    this.options.onStartup?.(this.info);
    // Protocol 3.2 and `_pq_.` options are extensions we do not speak; say so, and carry on in 3.0.
    const unknownOptions = [...message.parameters.keys()].filter((key) => key.startsWith('_pq_.'));
    if (message.protocolMinor > 0 || unknownOptions.length > 0)
      this.write(negotiateProtocolVersion(0, unknownOptions));
    // A cleartext password over plaintext TCP can be read by anyone on the path: refuse to ask.
    if (!this.encrypted && this.options.allowPlaintextAuth !== true) {
      throw new PgServerError(
        'ERR_PG_TLS_REQUIRED',
        SqlState.InvalidAuthorizationSpecification,
        'password authentication requires an encrypted connection (sslmode=require)',
      );
    }
    this.reader.restrictTypes(PASSWORD_ONLY);
    const scram = this.options.scram?.(this.info);
    if (scram !== undefined) {
      const endPoint = this.encrypted ? this.options.tlsServerEndPoint : undefined;
      this.scram = {
        server: new ScramServer(scram.password, scram.salt, endPoint),
        password: scram.password,
      };
      this.info = { ...this.info, user: scram.user };
      this.stateNow = 'sasl';
      this.write(authenticationSASL(this.scram.server.mechanisms));
      return;
    }
    this.stateNow = 'password';
    this.write(authenticationCleartextPassword);
  }

  /** SASLInitialResponse, then SASLResponse: the client proves it knows the password. */
  private onSasl(frame: FrontendFrame): Promise<void> | void {
    const { server, password } = this.scram as { server: ScramServer; password: string };
    const info = this.info as StartupInfo;
    const refused = (error: unknown): never => {
      if (!(error instanceof ScramRefusal)) throw error;
      throw error.kind === 'proof'
        ? new PgServerError(
            'ERR_PG_AUTH_FAILED',
            SqlState.InvalidPassword,
            `password authentication failed for user "${info.user}"`,
          )
        : new PgServerError('ERR_PG_PROTOCOL', SqlState.ProtocolViolation, error.message);
    };
    if (server.awaitingInitial) {
      try {
        const { mechanism, response } = decodeSASLInitialResponse(frame.body);
        this.write(authenticationSASLContinue(server.first(mechanism, response)));
      } catch (error) {
        refused(error);
      }
      return;
    }
    // The frame is a view of received bytes: the exchange reads it before the first await.
    return server.final(frame.body).then((serverFinal) => {
      if (this.stateNow !== 'sasl') return;
      this.write(authenticationSASLFinal(serverFinal));
      this.scram = undefined;
      this.stateNow = 'authenticating';
      return this.options.authenticate({ ...info, password }).then((result) => this.onAuthenticated(result));
    }, refused);
  }

  private onPassword(frame: FrontendFrame): Promise<void> {
    const password = decodePassword(frame.body);
    const info = this.info as StartupInfo;
    this.stateNow = 'authenticating';
    return this.options.authenticate({ ...info, password }).then((result) => this.onAuthenticated(result));
  }

  private onAuthenticated(result: AuthenticationResult): void {
    if (this.stateNow !== 'authenticating') return;
    if (!result.ok) {
      const user = (this.info as StartupInfo).user;
      throw new PgServerError(
        'ERR_PG_AUTH_FAILED',
        result.sqlState ?? SqlState.InvalidPassword,
        result.message ?? `password authentication failed for user "${user}"`,
      );
    }
    this.write(authenticationOk);
    for (const [name, value] of result.parameterStatus) this.write(parameterStatus(name, value));
    this.write(backendKeyData(result.backendKey.processId, result.backendKey.secretKey));
    this.write(readyForQuery('I'));
    this.stateNow = 'ready';
    this.reader.restrictTypes(undefined);
    if (this.startupTimer !== undefined) clearTimeout(this.startupTimer);
    this.startupTimer = undefined;
    this.armIdleTimer(this.options.idleTimeoutMs ?? 0);
  }

  private onReadyMessage(frame: FrontendFrame): Promise<void> | void {
    const message = decodeFrontendMessage(frame) as FrontendTypedMessage;
    if (message.name === 'Terminate') {
      this.close();
      return undefined;
    }
    if (message.name === 'AuthenticationResponse') throw unexpected('password message after authentication');
    const result = this.options.onMessage(message, frame, this);
    return result instanceof Promise ? result : undefined;
  }

  /** Single-byte answers to SSLRequest/GSSENCRequest go out at once, outside any cork. */
  private writeNow(answer: Buffer): void {
    this.uncork();
    this.socket.write(answer);
  }

  private readonly uncork = (): void => {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  };

  private readonly onDrain = (): void => {
    this.writeBlocked = false;
    this.pump();
  };

  private updateFlow(): void {
    if (this.stateNow === 'closed') return;
    if (this.busy || this.writeBlocked) this.socket.pause();
    else this.socket.resume();
  }

  /**
   * The client could send again, or was just sent something (a statement's results): the idle
   * clock starts over.
   */
  noteActivity(): void {
    this.lastActivity = Date.now();
  }

  private armIdleTimer(ms: number): void {
    if (ms <= 0) return;
    this.idleTimer = setTimeout(() => {
      // A statement that runs or waits (for its target, for an approval) is not idleness.
      if (this.busy || this.options.isWorking?.() === true) {
        this.lastActivity = Date.now();
        return this.armIdleTimer(ms);
      }
      const quiet = Date.now() - this.lastActivity;
      if (quiet < ms) return this.armIdleTimer(ms - quiet);
      this.fail(
        new PgServerError(
          'ERR_PG_IDLE_TIMEOUT',
          SqlState.IdleSessionTimeout,
          'terminating connection due to idle-session timeout',
        ),
      );
    }, ms);
  }

  private readonly onStartupTimeout = (): void => {
    this.startupTimer = undefined;
    this.fail(
      new PgServerError(
        'ERR_PG_STARTUP_TIMEOUT',
        SqlState.ConnectionFailure,
        'startup did not complete in time',
      ),
    );
  };

  private readonly onSocketError = (cause: Error): void => {
    if (this.stateNow === 'closed') return;
    const handshake = this.stateNow === 'tls-handshake';
    const error = handshake
      ? new PgServerError(
          'ERR_PG_TLS_HANDSHAKE',
          SqlState.ConnectionFailure,
          `TLS handshake failed: ${cause.message}`,
          {
            cause,
          },
        )
      : new PgServerError('ERR_PG_SOCKET', SqlState.ConnectionFailure, cause.message, { cause });
    this.stateNow = 'closed';
    this.clearTimers();
    this.socket.destroy();
    this.raw.destroy();
    this.report(error);
  };

  private readonly onSocketClose = (): void => {
    this.stateNow = 'closed';
    this.clearTimers();
    if (this.closeNotified) return;
    this.closeNotified = true;
    this.callSafely(() => this.options.onClose?.());
  };

  private clearTimers(): void {
    if (this.startupTimer !== undefined) clearTimeout(this.startupTimer);
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.startupTimer = undefined;
    this.idleTimer = undefined;
  }

  private report(error: PgServerError): void {
    this.callSafely(() => this.options.onError?.(error));
  }

  /** A throwing observer must not turn into an exception in a socket event. */
  private callSafely(callback: () => void): void {
    try {
      callback();
    } catch {
      // The session is already over; there is nobody left to tell.
    }
  }
}

function unexpected(what: string): ProtocolError {
  return new ProtocolError('ERR_PG_UNEXPECTED_MESSAGE', what);
}
