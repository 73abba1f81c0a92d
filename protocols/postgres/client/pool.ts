import type { PgConnection } from './connection.js';
import { PgClientError } from './errors.js';

export interface PgPoolOptions {
  /** Opens one new connection (PgConnection.connect with the target's options). */
  connect: () => Promise<PgConnection>;
  /** Most connections open at once, busy and idle together. */
  max: number;
  /** Idle connections older than this are closed. Default 30 s; 0 keeps them. */
  idleTimeoutMs?: number;
}

interface Waiter {
  resolve: (connection: PgConnection) => void;
  reject: (error: Error) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

interface IdleEntry {
  connection: PgConnection;
  timer: NodeJS.Timeout | undefined;
}

type PoolState = 'open' | 'closed';

/**
 * At most `max` connections to one target. Idle connections are reused most recently used first;
 * a connection that is broken, inside a transaction, carrying session state, or that had a cancel
 * sent is closed on release rather than handed to the next caller (see PgConnection.reusable).
 * Waiters are served in arrival order.
 */
export class PgPool {
  readonly #options: PgPoolOptions;
  readonly #idle: IdleEntry[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #busy = new Set<PgConnection>();
  /** Connections being opened, counted against `max`. */
  #opening = 0;
  #state: PoolState = 'open';

  constructor(options: PgPoolOptions) {
    if (!Number.isInteger(options.max) || options.max < 1)
      throw new RangeError('pool max must be a positive integer');
    this.#options = options;
  }

  get size(): number {
    return this.#busy.size + this.#idle.length + this.#opening;
  }

  get idleCount(): number {
    return this.#idle.length;
  }

  get waitingCount(): number {
    return this.#waiters.length;
  }

  /** An idle connection, a new one if under `max`, or the next one released. */
  acquire(signal?: AbortSignal): Promise<PgConnection> {
    if (this.#state === 'closed') return Promise.reject(closedError());
    if (signal?.aborted)
      return Promise.reject(
        new PgClientError('ERR_PG_QUERY_CANCELLED', 'aborted while waiting for a connection'),
      );
    const idle = this.#takeIdle();
    if (idle !== undefined) {
      this.#busy.add(idle);
      return Promise.resolve(idle);
    }
    if (this.size < this.#options.max) return this.#open();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const at = this.#waiters.indexOf(waiter);
          if (at >= 0) this.#waiters.splice(at, 1);
          reject(new PgClientError('ERR_PG_QUERY_CANCELLED', 'aborted while waiting for a connection'));
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Gives a connection back; it is kept for reuse only when it is clean (PgConnection.reusable). */
  release(connection: PgConnection): void {
    if (!this.#busy.delete(connection)) return;
    if (this.#state === 'open' && connection.reusable) {
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) {
        this.#hand(waiter, connection);
        return;
      }
      this.#keepIdle(connection);
      return;
    }
    void connection.close().catch(() => undefined);
    this.#serveWaiter();
  }

  /** Acquires, runs `work`, and releases whatever happened. */
  async use<T>(work: (connection: PgConnection) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const connection = await this.acquire(signal);
    try {
      return await work(connection);
    } finally {
      this.release(connection);
    }
  }

  /** Rejects waiters, closes idle connections now and busy ones when they are released. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    for (const waiter of this.#waiters.splice(0)) {
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.reject(closedError());
    }
    const idle = this.#idle.splice(0);
    await Promise.all(
      idle.map((entry) => {
        clearTimeout(entry.timer);
        return entry.connection.close().catch(() => undefined);
      }),
    );
  }

  #takeIdle(): PgConnection | undefined {
    for (let entry = this.#idle.pop(); entry !== undefined; entry = this.#idle.pop()) {
      clearTimeout(entry.timer);
      if (entry.connection.reusable) return entry.connection;
      entry.connection.destroy();
    }
    return undefined;
  }

  #keepIdle(connection: PgConnection): void {
    const idleMs = this.#options.idleTimeoutMs ?? 30_000;
    const entry: IdleEntry = { connection, timer: undefined };
    if (idleMs > 0) {
      entry.timer = setTimeout(() => {
        const at = this.#idle.indexOf(entry);
        if (at >= 0) this.#idle.splice(at, 1);
        void connection.close().catch(() => undefined);
      }, idleMs);
      entry.timer.unref();
    }
    this.#idle.push(entry);
  }

  #open(): Promise<PgConnection> {
    this.#opening++;
    return this.#options.connect().then(
      (connection) => {
        this.#opening--;
        if (this.#state === 'closed') {
          void connection.close().catch(() => undefined);
          throw closedError();
        }
        this.#busy.add(connection);
        return connection;
      },
      (err: unknown) => {
        this.#opening--;
        // The slot is free again: a waiter may get a connection (or the same error) on its own try.
        this.#serveWaiter();
        throw err;
      },
    );
  }

  /** A slot was freed: open a connection for the first waiter, if any. */
  #serveWaiter(): void {
    if (this.#state === 'closed' || this.size >= this.#options.max) return;
    const waiter = this.#waiters.shift();
    if (waiter === undefined) return;
    waiter.signal?.removeEventListener('abort', waiter.onAbort);
    this.#open().then(waiter.resolve, waiter.reject);
  }

  #hand(waiter: Waiter, connection: PgConnection): void {
    waiter.signal?.removeEventListener('abort', waiter.onAbort);
    this.#busy.add(connection);
    waiter.resolve(connection);
  }
}

function closedError(): PgClientError {
  return new PgClientError('ERR_PG_POOL_CLOSED', 'the connection pool is closed');
}
