import type { SessionContext } from '../gateway/types.js';
import { GENESIS_HASH, sealBytes, sealText, type Sealed } from './chain.js';
import type { EncodedDataRows } from './encoded-data-rows.js';
import { EVENT_LAYOUTS } from './event-layout.js';
import { BatchBufferPool, RowBatch } from './row-batch.js';
import type { EventType, SealedEvent, SessionRecorder, SessionSummaryStart } from './types.js';

/** Where a session recorder puts sealed events (the queue). */
export interface EventSink {
  accepting(): boolean;
  enqueue(event: SealedEvent): void;
  noteDropped(count?: number): void;
  /**
   * Called once for each event a recorder numbers and keeps to seal later: the sink has it
   * `sealPending()` soon (after the current turn's I/O, and in any case before the sink flushes),
   * and counts the event against its bound meanwhile. A sink without it has every event sealed at
   * once.
   */
  defer?(recorder: DeferredSealing): void;
}

/** A recorder that holds numbered events to seal later, in order. */
export interface DeferredSealing {
  sealPending(): void;
}

/** An event numbered and timed when it happened, sealed later (see EventSink.defer). */
interface NumberedEvent {
  type: EventType;
  payload: Record<string, unknown> | undefined;
  ts: number;
  seq: number;
  rows: RowBatch | undefined;
}

export interface SessionLimits {
  /** Beyond this many events, result rows are no longer recorded (statements still are). */
  maxEvents: number;
  /** A `result.rows` event is sealed at this many rows or this many bytes of row JSON. */
  batchRows: number;
  batchBytes: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  maxEvents: 1_000_000,
  batchRows: 1_000,
  batchBytes: 512 * 1024,
};

/** Rows serialized per native call; also how far a batch may overshoot batchBytes. */
const ROWS_PER_CHUNK = 32;

export const TRUNCATED_CODE = 'RECORDING_TRUNCATED';
export const GAP_CODE = 'RECORDING_GAP';

/**
 * Records one session as a hash chain. Each event is numbered and timed the moment it happens;
 * it is sealed (serialized, hashed) and handed to the queue then too, or, when the queue defers
 * sealing, right after the turn that recorded it, so that the statement and its result reach
 * their destination before the recording work is done. Payloads are built from copies and rows
 * are serialized on arrival, so a caller that reuses its arrays afterwards cannot change what is
 * recorded.
 */
export class ChainedSessionRecorder implements SessionRecorder, DeferredSealing {
  /** The number of the last event numbered (sealed or not). */
  private seq = 0;
  private unsealed: NumberedEvent[] = [];
  private prevHash = GENESIS_HASH;
  private pending: RowBatch | undefined;
  /** Rows seen per statement so far, so each batch says where it starts. */
  private rowsSeen = new Map<string, number>();
  private rowsTruncated = false;
  private dropped = 0;
  private ended = false;

  constructor(
    readonly session: SessionContext,
    startedAt: number,
    private readonly sink: EventSink,
    private readonly limits: SessionLimits,
    private readonly clock: () => number,
    private readonly onEnd: (recorder: ChainedSessionRecorder) => void,
    /** Where row batches take their buffers (shared by the sessions of one recorder). */
    private readonly buffers = new BatchBufferPool(BatchBufferPool.sizeFor(limits.batchBytes + 64 * 1024), 0),
  ) {
    const start: SessionSummaryStart = {
      subject: session.identity.subject,
      groups: session.identity.groups,
      issuer: session.identity.issuer,
      target: session.target,
      channel: session.channel,
      dialect: session.dialect,
      remote: session.remote,
      startedAt,
    };
    // session.start is never dropped: every chain must begin with it.
    this.seal(
      {
        type: 'session.start',
        payload: { ...start, via: session.identity.via },
        ts: startedAt,
        seq: ++this.seq,
        rows: undefined,
      },
      start,
    );
  }

  get eventCount(): number {
    return this.seq;
  }

  onStatement(e: { statementId: string; sql: string; params?: unknown[] }): void {
    this.flushRows();
    this.emit('statement', { statementId: e.statementId, sql: e.sql, params: e.params });
  }

  onDecision(e: {
    statementId: string;
    action: string;
    reason: string;
    rule: string;
    effects: string[];
    objects: string[];
    shadow?: { action: string; reason: string; rule: string };
    rewritten?: string;
  }): void {
    this.flushRows();
    this.emit('decision', {
      statementId: e.statementId,
      action: e.action,
      reason: e.reason,
      rule: e.rule,
      effects: e.effects,
      objects: e.objects,
      shadow: e.shadow,
      rewritten: e.rewritten,
    });
  }

  onApproval(e: {
    statementId: string;
    requestId: string;
    state: string;
    by?: string;
    reason?: string;
  }): void {
    this.flushRows();
    this.emit('approval', {
      statementId: e.statementId,
      requestId: e.requestId,
      state: e.state,
      by: e.by,
      reason: e.reason,
    });
  }

  onColumns(e: { statementId: string; columns: { name: string; type: string; masked: boolean }[] }): void {
    this.flushRows();
    this.rowsSeen.set(e.statementId, 0);
    this.emit('result.columns', {
      statementId: e.statementId,
      columns: e.columns.map((c) => ({ name: c.name, type: c.type, masked: c.masked })),
    });
  }

  onRows(statementId: string, rows: unknown[][]): void {
    if (this.ended || rows.length === 0) return;
    let at = 0;
    this.gatherRows(statementId, rows.length, (batch, count) => {
      batch.append(rows, at, at + count);
      at += count;
    });
  }

  onDataRows(statementId: string, rows: EncodedDataRows): void {
    if (this.ended || rows.count === 0) return;
    let at = 0;
    this.gatherRows(statementId, rows.count, (batch, n) => {
      batch.appendEncoded(rows, at, at + n);
      at += n;
    });
  }

  /**
   * Adds `count` rows to the pending batch, `append` writing the next `n` of them into the batch
   * given. Rows go in chunks of a few: a batch overshoots batchBytes by at most one chunk, and
   * both row paths seal their batches at the same rows.
   */
  private gatherRows(statementId: string, count: number, append: (batch: RowBatch, n: number) => void): void {
    if (this.pending !== undefined && this.pending.statementId !== statementId) this.flushRows();
    const seen = this.rowsSeen.get(statementId) ?? 0;
    this.rowsSeen.set(statementId, seen + count);
    if (this.rowsTruncated) return;
    for (let i = 0; i < count;) {
      let pending = this.pending;
      if (pending === undefined) {
        pending = new RowBatch(statementId, seen + i, this.buffers);
        this.pending = pending;
      }
      const n = Math.min(count - i, ROWS_PER_CHUNK, this.limits.batchRows - pending.count);
      append(pending, n);
      i += n;
      if (pending.count >= this.limits.batchRows || pending.bytes >= this.limits.batchBytes) {
        this.flushRows();
        if (this.rowsTruncated) return;
      }
    }
  }

  onResultEnd(e: {
    statementId: string;
    rowCount: number;
    truncated: boolean;
    command: string;
    durationMs: number;
  }): void {
    this.flushRows();
    this.rowsSeen.delete(e.statementId);
    this.emit('result.end', {
      statementId: e.statementId,
      rowCount: e.rowCount,
      truncated: e.truncated,
      command: e.command,
      durationMs: e.durationMs,
    });
  }

  onError(e: { statementId?: string; code: string; message: string }): void {
    this.flushRows();
    if (e.statementId !== undefined) this.rowsSeen.delete(e.statementId);
    this.emit('error', { statementId: e.statementId, code: e.code, message: e.message });
  }

  onSessionEnd(e: { reason: string }): void {
    if (this.ended) return;
    this.flushRows();
    this.emit('session.end', { reason: e.reason, events: this.seq + 1 });
    this.ended = true;
    this.onEnd(this);
  }

  /** Seals the rows gathered so far into one `result.rows` event. */
  flushRows(): void {
    const pending = this.pending;
    if (pending === undefined) return;
    this.pending = undefined;
    if (this.seq + 1 >= this.limits.maxEvents) {
      // Keep the statements, decisions and approvals (small, and what an auditor needs most);
      // stop the rows, which are what can grow without bound.
      this.rowsTruncated = true;
      this.emit('error', {
        statementId: pending.statementId,
        code: TRUNCATED_CODE,
        message: `the recording reached maxEventsPerSession (${this.limits.maxEvents}): result rows are no longer recorded in this session`,
      });
      return;
    }
    this.emit('result.rows', undefined, pending);
  }

  /** `rows`: the batch a `result.rows` event carries (its payload). */
  private emit(type: EventType, payload: Record<string, unknown> | undefined, rows?: RowBatch): void {
    if (this.ended) return;
    if (!this.sink.accepting()) {
      this.dropped++;
      this.sink.noteDropped();
      return;
    }
    if (this.dropped > 0) {
      const count = this.dropped;
      this.dropped = 0;
      this.record(
        'error',
        {
          code: GAP_CODE,
          message: `${count} events were not recorded: the recording queue was full while the store was unreachable`,
          dropped: count,
        },
        undefined,
      );
    }
    this.record(type, payload, rows);
  }

  /** Numbers and times an event now; seals it now or, when the sink defers, after this turn. */
  private record(
    type: EventType,
    payload: Record<string, unknown> | undefined,
    rows: RowBatch | undefined,
  ): void {
    const event: NumberedEvent = { type, payload, ts: this.clock(), seq: ++this.seq, rows };
    const sink = this.sink;
    if (sink.defer === undefined) {
      this.seal(event);
      return;
    }
    this.unsealed.push(event);
    sink.defer(this);
  }

  /** Seals the events numbered so far, in order (the sink calls it; see EventSink.defer). */
  sealPending(): void {
    const events = this.unsealed;
    this.unsealed = [];
    for (const event of events) this.seal(event);
  }

  /** Encodes and hashes a numbered event (a payload, or a row batch for `result.rows`) and hands it on. */
  private seal({ type, payload, ts, seq, rows }: NumberedEvent, start?: SessionSummaryStart): void {
    const envelope = { prevHash: this.prevHash, seq, session: this.session.id, ts, type };
    const { hash, body }: Sealed =
      rows !== undefined
        ? sealBytes(envelope.prevHash, rows.seal(envelope))
        : sealText(envelope.prevHash, EVENT_LAYOUTS[type].encode(payload ?? {}, envelope));
    this.prevHash = hash;
    const sealed: SealedEvent = { session: this.session.id, seq, type, ts, hash, body };
    if (start !== undefined) sealed.start = start;
    if (rows !== undefined) sealed.release = () => rows.release();
    this.sink.enqueue(sealed);
  }
}
