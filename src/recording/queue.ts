import type { Logger } from 'pino';
import type { DeferredSealing } from './session-recorder.js';
import type { EventStore } from './store.js';
import type { SealedEvent } from './types.js';

export type StoreFailurePolicy = 'refuse' | 'continue';

export interface QueueOptions {
  policy: StoreFailurePolicy;
  /** Bound of the queue, in events and in bytes of event JSON. */
  maxEvents: number;
  maxBytes: number;
  /** Most events, and most bytes of event bodies, written in one store round trip (one socket write). */
  batchEvents: number;
  batchBytes: number;
  /**
   * How long an event may wait to be gathered with later ones (of any session) into one write,
   * unless `batchEvents` or `batchBytes` are reached first. 0 writes after the current tick.
   * `flush()` never waits for it.
   */
  lingerMs: number;
  /** Delay before retrying after a failed write; doubles up to `maxRetryDelayMs`. */
  retryDelayMs: number;
  maxRetryDelayMs: number;
}

export const DEFAULT_QUEUE_OPTIONS: Omit<QueueOptions, 'policy'> = {
  maxEvents: 100_000,
  maxBytes: 256 * 1024 * 1024,
  batchEvents: 512,
  batchBytes: 4 * 1024 * 1024,
  lingerMs: 2,
  retryDelayMs: 100,
  maxRetryDelayMs: 2_000,
};

type QueueState =
  | { kind: 'idle' }
  | { kind: 'lingering'; cancel: () => void }
  | { kind: 'writing' }
  | { kind: 'waiting-retry'; timer: NodeJS.Timeout };

/**
 * The bounded queue between the data path and the store. Events leave it only once the store has
 * acknowledged them, always from the head and in order, so a store outage delays events but never
 * reorders or loses the ones that were accepted. Under `continue`, a full queue refuses new events
 * (`accepting()` is false) and the session recorder counts them as dropped: they are never sealed,
 * so the chain stays valid and a gap event records how many were lost.
 */
export class RecordingQueue {
  private readonly events: SealedEvent[] = [];
  private head = 0;
  private bytes = 0;
  private state: QueueState = { kind: 'idle' };
  private lastFailure: string | undefined;
  private retryDelay: number;
  private enqueuedTotal = 0;
  private writtenTotal = 0;
  private droppedTotal = 0;
  private alerted = false;
  private outageAlerted = false;
  private closed = false;
  private readonly waiters: { target: number; resolve: () => void }[] = [];
  /** Session recorders holding events to seal after this turn (see defer). */
  private readonly deferred = new Set<DeferredSealing>();
  /** Events recorded and not sealed yet: they count against the bound like queued ones. */
  private unsealed = 0;
  private sealScheduled = false;

  constructor(
    private readonly store: EventStore,
    private readonly options: QueueOptions,
    private readonly logger: Logger,
  ) {
    this.retryDelay = options.retryDelayMs;
    store.onReachable(() => this.resumeNow());
  }

  /** Sealed events waiting for the store. */
  get length(): number {
    return this.events.length - this.head;
  }

  /** Events accepted and not yet written: queued, or recorded and still to be sealed. */
  private get waiting(): number {
    return this.length + this.unsealed;
  }

  stats(): { queued: number; queuedBytes: number; written: number; dropped: number } {
    return {
      queued: this.waiting,
      queuedBytes: this.bytes,
      written: this.writtenTotal,
      dropped: this.droppedTotal,
    };
  }

  private full(): boolean {
    return this.waiting >= this.options.maxEvents || this.bytes >= this.options.maxBytes;
  }

  /** False only under `continue` with a full queue: the caller must then drop (and count) the event. */
  accepting(): boolean {
    return this.options.policy === 'refuse' || !this.full();
  }

  noteDropped(count = 1): void {
    if (!this.alerted) {
      this.logger.error(
        { queued: this.waiting, bound: this.options.maxEvents },
        'recording queue is full: events are being dropped (onStoreFailure: continue)',
      );
      this.alerted = true;
    }
    this.droppedTotal += count;
  }

  ready(): { ok: true } | { ok: false; reason: string } {
    const health = this.store.health();
    if (this.options.policy === 'continue') {
      if (!health.ok) this.alertOutage(health.reason);
      return { ok: true };
    }
    if (!health.ok) return { ok: false, reason: `recording store unreachable: ${health.reason}` };
    if (this.lastFailure !== undefined)
      return { ok: false, reason: `recording store unreachable: ${this.lastFailure}` };
    if (this.full()) {
      return {
        ok: false,
        reason: `recording queue is full: ${this.waiting} events are waiting for the store`,
      };
    }
    return { ok: true };
  }

  /**
   * Has `recorder` seal its pending events after the current turn (setImmediate), once the
   * turn's socket writes are out: a statement reaches the target, and a result the client, before
   * the events that record them are encoded and hashed. Everything deferred is sealed before a
   * flush counts what it waits for, so flush() and close() still cover every event recorded.
   */
  defer(recorder: DeferredSealing): void {
    this.unsealed++;
    this.deferred.add(recorder);
    if (this.sealScheduled) return;
    this.sealScheduled = true;
    setImmediate(this.sealDeferred);
  }

  private readonly sealDeferred = (): void => {
    this.sealScheduled = false;
    for (const recorder of this.deferred) {
      try {
        recorder.sealPending();
      } catch (err) {
        // Sealing runs after the statement's own turn: a failure here has no caller to tell.
        this.logger.error({ err }, 'recording: events could not be sealed');
      }
    }
    this.deferred.clear();
    this.unsealed = 0;
  };

  enqueue(event: SealedEvent): void {
    this.events.push(event);
    this.bytes += event.body.length;
    this.enqueuedTotal++;
    if (this.closed) return;
    if (this.state.kind === 'idle') {
      // Gather what every session records for a moment, so that statements (of all sessions)
      // share one store round trip and one socket write instead of paying one each.
      this.state = { kind: 'lingering', cancel: this.linger() };
    } else if (this.state.kind === 'lingering' && this.batchFull()) {
      this.resumeNow();
    }
  }

  /** Starts the linger; returns how to cancel it. */
  private linger(): () => void {
    const ms = this.options.lingerMs;
    if (ms > 0) {
      const timer = setTimeout(() => this.resumeNow(), ms);
      return () => clearTimeout(timer);
    }
    const immediate = setImmediate(() => this.resumeNow());
    return () => clearImmediate(immediate);
  }

  /** Enough is queued for a full round trip: waiting longer gathers nothing more into it. */
  private batchFull(): boolean {
    return this.length >= this.options.batchEvents || this.bytes >= this.options.batchBytes;
  }

  /** Resolves when every event recorded before the call has been written. */
  flush(): Promise<void> {
    this.sealDeferred();
    const target = this.enqueuedTotal;
    if (this.writtenTotal >= target) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ target, resolve });
      this.resumeNow();
    });
  }

  /** Stops writing after the current round trip; what is still queued is reported, not written. */
  async close(timeoutMs: number): Promise<{ unwritten: number }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([this.flush(), timeout]);
    clearTimeout(timer);
    this.closed = true;
    if (this.state.kind === 'waiting-retry') clearTimeout(this.state.timer);
    if (this.state.kind === 'lingering') this.state.cancel();
    return { unwritten: this.length };
  }

  /** Ends a linger or a retry wait, and writes what is queued. */
  private resumeNow(): void {
    if (this.closed) return;
    if (this.state.kind === 'waiting-retry') clearTimeout(this.state.timer);
    if (this.state.kind === 'lingering') this.state.cancel();
    if (this.state.kind === 'waiting-retry' || this.state.kind === 'lingering') {
      this.state = { kind: 'idle' };
    }
    if (this.state.kind === 'idle' && this.length > 0) {
      this.state = { kind: 'writing' };
      void this.drain();
    }
  }

  private async drain(): Promise<void> {
    while (this.length > 0 && !this.closed) {
      const limit = Math.min(this.events.length, this.head + this.options.batchEvents);
      // At least one event, however large; then as many as fit in batchBytes.
      let end = this.head + 1;
      let bytes = this.events[this.head]?.body.length ?? 0;
      for (; end < limit; end++) {
        bytes += this.events[end]?.body.length ?? 0;
        if (bytes > this.options.batchBytes) break;
      }
      const batch = this.events.slice(this.head, end);
      try {
        await this.store.append(batch);
      } catch (err) {
        this.onWriteFailure(err);
        return;
      }
      this.onWritten(batch);
    }
    this.state = { kind: 'idle' };
  }

  private onWritten(batch: SealedEvent[]): void {
    const release = this.store.copiesBodies === true;
    for (const event of batch) {
      this.bytes -= event.body.length;
      if (release) event.release?.();
    }
    // Let written events (row batches can be large) be collected now, not at the next compaction.
    (this.events as (SealedEvent | undefined)[]).fill(undefined, this.head, this.head + batch.length);
    this.head += batch.length;
    this.writtenTotal += batch.length;
    // Compact now and then rather than shift() per event.
    if (this.head > 4096 && this.head * 2 > this.events.length) {
      this.events.splice(0, this.head);
      this.head = 0;
    }
    if (this.lastFailure !== undefined) {
      this.logger.warn(
        { written: this.writtenTotal, queued: this.length },
        'recording store reachable again',
      );
      this.lastFailure = undefined;
      this.retryDelay = this.options.retryDelayMs;
      this.alerted = false;
    }
    this.outageAlerted = false;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i];
      if (waiter && waiter.target <= this.writtenTotal) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  /** One alert per outage: at error level under continue (statements run unrecorded for now). */
  private alertOutage(reason: string): void {
    if (this.outageAlerted) return;
    this.outageAlerted = true;
    const level = this.options.policy === 'continue' ? 'error' : 'warn';
    this.logger[level](
      { err: reason, queued: this.length, policy: this.options.policy },
      this.options.policy === 'continue'
        ? 'recording store unreachable: serving without recording, events are queued'
        : 'recording store unreachable: new statements are refused until it returns',
    );
  }

  private onWriteFailure(err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    this.alertOutage(reason);
    this.lastFailure = reason;
    const timer = setTimeout(() => {
      this.state = { kind: 'idle' };
      this.resumeNow();
    }, this.retryDelay);
    timer.unref();
    this.state = { kind: 'waiting-retry', timer };
    this.retryDelay = Math.min(this.retryDelay * 2, this.options.maxRetryDelayMs);
  }
}
