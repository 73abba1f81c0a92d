import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { noticeResponse } from '../../../protocols/postgres/codec/index.js';
import type { FrontendFrame, FrontendTypedMessage } from '../../../protocols/postgres/codec/index.js';
import type { RelayLink } from '../../../protocols/postgres/client/relay-link.js';
import { PgServerConnection, PgServerError } from '../../../protocols/postgres/server/index.js';
import type { WireSession } from '../gateway.js';
import { BackendRelay } from './backend-relay.js';
import { ExpectationQueue } from './expectation-queue.js';
import { FrontendGate, type PreparedRegistry } from './frontend-gate.js';
import { SessionCursors } from './session-cursors.js';
import { terminateMessage } from './frontend-messages.js';
import type { StatementRun } from './session-state.js';
import { StatementClock } from './statement-clock.js';
import type { WireMasking } from './wire-masking.js';

export interface ClientSessionParts {
  connection: PgServerConnection;
  wire: WireSession;
  link: RelayLink;
  masking: WireMasking;
  prepared: PreparedRegistry | undefined;
  approvalWaitMs: number;
  approvalInstructions?: (requestId: string) => string;
  /** Asks the target to cancel what this session runs there. */
  cancelTarget: () => void;
  /** Resolves when the recorder has written everything it was given so far. */
  flushRecording: () => Promise<void>;
  logger: Logger;
  now: () => number;
}

/**
 * One authenticated client relayed to its own target connection: the gate (client → target) and
 * the relay (target → client) around one expectation queue, the statement timer, and the
 * clean-up when either side goes away.
 */
export class ClientSession {
  readonly wire: WireSession;
  readonly #parts: ClientSessionParts;
  readonly #queue = new ExpectationQueue();
  readonly #gate: FrontendGate;
  readonly #relay: BackendRelay;
  readonly #clock: StatementClock;
  readonly #abort = new AbortController();
  readonly #targetSocket: Socket;
  #copyIn = false;
  #targetCorked = false;
  #closed = false;
  /** The FATAL the target sent before closing, when it sent one. */
  #targetEnded: { code: string; message: string } | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;

  constructor(parts: ClientSessionParts, statementTimeoutMs: number) {
    this.#parts = parts;
    this.wire = parts.wire;
    this.#targetSocket = parts.link.socket as Socket;
    const { connection } = parts;
    this.#clock = new StatementClock(statementTimeoutMs, parts.now, () => {
      parts.logger.info({ session: parts.wire.context.id }, 'statement timeout: cancelling on the target');
      parts.cancelTarget();
    });
    const cursors = new SessionCursors();
    this.#gate = new FrontendGate({
      session: parts.wire,
      masking: parts.masking,
      queue: this.#queue,
      cursors,
      prepared: parts.prepared,
      approvalWaitMs: parts.approvalWaitMs,
      ...(parts.approvalInstructions ? { approvalInstructions: parts.approvalInstructions } : {}),
      signal: this.#abort.signal,
      writeTarget: (bytes) => this.#writeTarget(bytes),
      targetDrained: () => new Promise((resolve) => this.#targetSocket.once('drain', resolve)),
      notice: (message) => connection.write(noticeResponse({ severity: 'NOTICE', code: '00000', message })),
      copyInActive: () => this.#copyIn,
      runStarted: (run) => this.#clock.started(run),
      now: parts.now,
    });
    this.#relay = new BackendRelay({
      session: parts.wire,
      masking: parts.masking,
      queue: this.#queue,
      cursors,
      maxRows: parts.wire.policy.limits.maxRows,
      ...(parts.wire.policy.limits.maxBytes !== undefined
        ? { maxBytes: parts.wire.policy.limits.maxBytes }
        : {}),
      writeClient: (bytes, written) => {
        connection.noteActivity();
        return connection.write(bytes, written);
      },
      whenClientDrained: (resume) => clientDrained(connection, resume),
      pauseTarget: () => this.#targetSocket.pause(),
      resumeTarget: () => this.#targetSocket.resume(),
      copyIn: (active) => {
        this.#copyIn = active;
      },
      runEnded: (run: StatementRun) => {
        this.#clock.ended(run);
        run.lease?.release();
        parts.wire.executed(run.verdict);
      },
      fail: (reason) => this.#relayFailed(reason),
      targetEnding: (code, message) => {
        this.#targetEnded = { code, message };
      },
      cancelTarget: parts.cancelTarget,
      recordingWritten: () => boundedWait(parts.flushRecording(), RECORDING_WAIT_MS),
      now: parts.now,
    });
    const target = this.#targetSocket;
    target.on('data', (chunk: Buffer) => this.#relay.push(chunk));
    target.on('error', (err) => this.#afterRelayed(() => this.#targetLost(err)));
    // What the target sent before closing (a FATAL above all) is handled before the session ends.
    target.on('close', () => this.#afterRelayed(() => this.#targetLost()));
    target.resume();
    const expiresAt = parts.wire.context.identity.expiresAt;
    if (expiresAt !== undefined) this.#armExpiry(expiresAt - parts.now());
  }

  /**
   * Whether the target owes the client an answer (a Query, a Sync or the relay's own probe is
   * outstanding): a statement runs or its results are on their way, so the session is not idle.
   * Parse / Bind / Execute sent without a Sync wait for the client, and do not count.
   */
  get working(): boolean {
    if (this.#queue.length === 0) return false;
    return this.#queue
      .pending()
      .some(
        (e) =>
          e.kind === 'query' || e.kind === 'sync' || e.kind === 'probe' || (e.kind === 'refused' && e.query),
      );
  }

  onMessage(message: FrontendTypedMessage, frame: FrontendFrame): Promise<void> | void {
    if (this.#closed) return;
    return this.#gate.handle(message, frame);
  }

  /** The client went away (or the session failed): end everything, once. */
  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort(new Error(reason));
    this.#clock.stop();
    this.#relay.close();
    if (this.#expiryTimer !== undefined) clearTimeout(this.#expiryTimer);
    const target = this.#targetSocket;
    if (!target.destroyed) {
      target.end(terminateMessage);
      setTimeout(() => target.destroy(), 2_000).unref();
    }
    this.wire.close(reason);
  }

  #writeTarget(bytes: Buffer): boolean {
    const target = this.#targetSocket;
    if (target.destroyed) return true;
    // Pipelined messages handled in one tick go out in one segment.
    if (!this.#targetCorked) {
      this.#targetCorked = true;
      target.cork();
      process.nextTick(() => {
        this.#targetCorked = false;
        target.uncork();
      });
    }
    return target.write(bytes);
  }

  #relayFailed(reason: Error): void {
    this.#parts.logger.warn(
      { session: this.wire.context.id, err: reason.message },
      'postgres session ended: the target sent what the relay cannot carry',
    );
    this.#parts.connection.fail(
      new PgServerError(
        'ERR_PG_PROTOCOL',
        '08P01',
        'terminating connection: unexpected data from the database',
        {
          cause: reason,
        },
      ),
    );
    this.close('relay error');
  }

  /**
   * Runs `then` once the relay has handled what the target sent, or after TARGET_END_WAIT_MS when
   * a step it waits on (a masking plan, the recorder) does not settle: the session still ends.
   */
  #afterRelayed(then: () => void): void {
    let done = false;
    const once = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      then();
    };
    const timer = setTimeout(once, TARGET_END_WAIT_MS);
    timer.unref();
    this.#relay.afterPending(once);
  }

  #targetLost(err?: Error): void {
    if (this.#closed) return;
    const ended = this.#targetEnded;
    if (ended !== undefined) {
      // The target said why in a FATAL the client already has: one error, the database's own.
      this.#parts.logger.info(
        { session: this.wire.context.id, code: ended.code, err: ended.message },
        'postgres session ended: the target ended the connection',
      );
      this.#parts.connection.close();
      this.close(`target ended the connection: ${ended.message} (${ended.code})`);
      return;
    }
    this.#parts.logger.info(
      { session: this.wire.context.id, err: err?.message },
      'postgres session ended: the target connection closed',
    );
    this.#parts.connection.fail(
      new PgServerError('ERR_PG_SOCKET', '08006', 'terminating connection: the database connection was lost'),
    );
    this.close('target connection closed');
  }

  /** A session lasts no longer than the token that opened it. */
  #armExpiry(ms: number): void {
    const step = Math.min(Math.max(ms, 0), 2 ** 31 - 1);
    this.#expiryTimer = setTimeout(() => {
      const left = (this.wire.context.identity.expiresAt ?? 0) - this.#parts.now();
      if (left > 0) return this.#armExpiry(left);
      this.#parts.connection.fail(
        new PgServerError('ERR_PG_AUTH_FAILED', '28000', 'terminating connection: the token has expired'),
      );
      this.close('token expired');
    }, step);
    this.#expiryTimer.unref();
  }
}

/** The longest a closed target's last messages may take to reach the client before the session ends. */
const TARGET_END_WAIT_MS = 5_000;

/** The longest a large result waits for the recorder before it carries on (the store may be down). */
const RECORDING_WAIT_MS = 5_000;

function boundedWait(pending: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    pending.then(done, done);
  });
}

/**
 * Calls `resume` when the client's socket has room again. PgServerConnection does not expose its
 * socket (it is replaced by a TLSSocket after SSLRequest); it is reached here until the
 * connection offers a drain hook of its own.
 */
function clientDrained(connection: PgServerConnection, resume: () => void): void {
  const socket = (connection as unknown as { socket: Socket }).socket;
  if (!socket.writableNeedDrain) {
    process.nextTick(resume);
    return;
  }
  socket.once('drain', resume);
}
