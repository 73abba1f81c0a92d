import type { SealedEvent } from './types.js';

/** The write side of a recording store, behind the queue. */
export interface EventStore {
  /**
   * Writes events in the order given. Rejects when some may not have been written; the queue then
   * retries the same events, so writing an event twice must leave one copy (stores are idempotent
   * by session and seq).
   */
  append(events: readonly SealedEvent[]): Promise<void>;
  /**
   * True when nothing reads an event's body any more once `append` has resolved (the store copied
   * or wrote it out): the queue then hands row-batch buffers back for reuse. A store that keeps
   * the bodies it was given must leave this unset.
   */
  readonly copiesBodies?: boolean;
  /** Whether the store is reachable as far as the client knows; a reason when it is not. */
  health(): { ok: true } | { ok: false; reason: string };
  /** Called when the store becomes reachable again, so the queue can resume at once. */
  onReachable(listener: () => void): void;
  close(): Promise<void>;
}
