import type { Logger } from 'pino';
import type { SessionContext } from '../gateway/types.js';
import { RecordingQueue, type QueueOptions } from './queue.js';
import { BatchBufferPool } from './row-batch.js';
import { ChainedSessionRecorder, type SessionLimits } from './session-recorder.js';
import type { EventStore } from './store.js';
import type { Recorder, SessionRecorder } from './types.js';

export interface ChainedRecorderOptions {
  queue: QueueOptions;
  session: SessionLimits;
  /** How long close() waits for the queue to drain before giving up on what is left. */
  closeTimeoutMs: number;
  clock?: () => number;
}

/** A Recorder that seals events into per-session hash chains and writes them through a queue. */
export class ChainedRecorder implements Recorder {
  private readonly queue: RecordingQueue;
  private readonly live = new Set<ChainedSessionRecorder>();
  private readonly clock: () => number;
  private readonly buffers: BatchBufferPool;
  private closed = false;

  constructor(
    private readonly store: EventStore,
    private readonly options: ChainedRecorderOptions,
    private readonly logger: Logger,
  ) {
    this.queue = new RecordingQueue(store, options.queue, logger);
    this.clock = options.clock ?? Date.now;
    this.buffers = new BatchBufferPool(BatchBufferPool.sizeFor(options.session.batchBytes + 64 * 1024));
  }

  startSession(info: { session: SessionContext; startedAt?: number }): SessionRecorder {
    const recorder = new ChainedSessionRecorder(
      info.session,
      info.startedAt ?? this.clock(),
      this.queue,
      this.options.session,
      this.clock,
      (ended) => this.live.delete(ended),
      this.buffers,
    );
    this.live.add(recorder);
    return recorder;
  }

  ready(): { ok: true } | { ok: false; reason: string } {
    if (this.closed) return { ok: false, reason: 'recording is closed' };
    return this.queue.ready();
  }

  /** Seals rows still being gathered, then waits until everything is in the store. */
  flush(): Promise<void> {
    for (const session of this.live) session.flushRows();
    return this.queue.flush();
  }

  stats(): { queued: number; queuedBytes: number; written: number; dropped: number; sessions: number } {
    return { ...this.queue.stats(), sessions: this.live.size };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const session of this.live) session.flushRows();
    const { unwritten } = await this.queue.close(this.options.closeTimeoutMs);
    if (unwritten > 0) {
      this.logger.error({ unwritten }, 'recording closed with events the store never acknowledged');
    }
    await this.store.close();
  }
}
