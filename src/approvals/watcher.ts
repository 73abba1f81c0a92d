import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Wakes local waiters when any gateway changes a request: the service publishes the request id on
 * one channel inside the same Lua script that changes the state. Pub/sub is a hint, not the source
 * of truth: a waiter always re-reads the request after waking, and also polls, so a message lost
 * during a reconnect costs at most one poll interval.
 */
export class ApprovalWatcher {
  readonly #subscriber: Redis;
  readonly #channel: string;
  readonly #logger: Logger;
  readonly #waiters = new Map<string, Set<() => void>>();
  #subscribed: Promise<void> | undefined;
  #closed = false;

  /** `subscriber` is a dedicated connection: it is put in subscriber mode. The caller closes it. */
  constructor(subscriber: Redis, channel: string, logger: Logger) {
    this.#subscriber = subscriber;
    this.#channel = channel;
    this.#logger = logger;
    this.#subscriber.on('message', this.#onMessage);
  }

  /**
   * Subscribes once; later calls share the subscription. Resolves after at most `withinMs` even
   * when the subscription is not confirmed yet: waiters then rely on polling until it is.
   */
  ready(withinMs = 1_000): Promise<void> {
    this.#subscribed ??= this.#subscriber.subscribe(this.#channel).then(
      () => undefined,
      (err: unknown) => {
        this.#subscribed = undefined;
        this.#logger.warn({ err }, 'approvals: cannot subscribe to request changes; falling back to polling');
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, withinMs);
    });
    return Promise.race([this.#subscribed, late]).finally(() => clearTimeout(timer));
  }

  /** Resolves when request `id` changes, after `ms`, or when `signal` aborts, whichever is first. */
  wait(id: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (this.#closed || signal?.aborted) {
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        const set = this.#waiters.get(id);
        set?.delete(done);
        if (set?.size === 0) this.#waiters.delete(id);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
      let set = this.#waiters.get(id);
      if (!set) {
        set = new Set();
        this.#waiters.set(id, set);
      }
      set.add(done);
    });
  }

  /** Wakes every waiter and stops listening. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#subscriber.off('message', this.#onMessage);
    for (const set of [...this.#waiters.values()]) for (const wake of [...set]) wake();
    if (this.#subscribed && this.#subscriber.status === 'ready') {
      await this.#subscriber.unsubscribe(this.#channel).catch(() => undefined);
    }
  }

  readonly #onMessage = (channel: string, id: string): void => {
    if (channel !== this.#channel) return;
    const set = this.#waiters.get(id);
    if (set) for (const wake of [...set]) wake();
  };
}
