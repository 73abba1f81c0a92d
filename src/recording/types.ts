import type { DecisionAction, SessionContext, ShadowDecision } from '../gateway/types.js';
import type { EncodedDataRows } from './encoded-data-rows.js';

/**
 * The recorder as the gateway sees it. Every `on*` call is synchronous and cheap: it seals an
 * event into the hash chain and enqueues it; the store is written in the background. The gateway
 * never awaits the recorder per row.
 */
export interface Recorder {
  startSession(info: { session: SessionContext; startedAt?: number }): SessionRecorder;
  /**
   * Whether the gateway may start a new statement. Not ok under `onStoreFailure: refuse` while the
   * store is unreachable or the queue is over its bound: an unrecorded statement must not run.
   */
  ready(): { ok: true } | { ok: false; reason: string };
  /** Resolves once every event acknowledged so far is in the store (or rejects if it cannot be). */
  flush(): Promise<void>;
  /** Flushes what it can, then releases the store. */
  close(): Promise<void>;
  /** Queue counters, for metrics. */
  stats?(): { queued: number; queuedBytes: number; written: number; dropped: number; sessions: number };
}

export type ApprovalState = 'requested' | 'notified' | 'approved' | 'denied' | 'expired' | 'executed';

export interface RecordedColumn {
  name: string;
  type: string;
  masked: boolean;
}

export interface SessionRecorder {
  onStatement(e: { statementId: string; sql: string; params?: unknown[] }): void;
  onDecision(e: {
    statementId: string;
    action: DecisionAction;
    reason: string;
    rule: string;
    effects: string[];
    objects: string[];
    /** A shadow-mode policy's decision, not enforced. */
    shadow?: ShadowDecision;
    /** The text that ran in place of the statement's: the policy's row filters rewrote it. */
    rewritten?: string;
  }): void;
  onApproval(e: {
    statementId: string;
    requestId: string;
    state: ApprovalState;
    by?: string;
    reason?: string;
  }): void;
  onColumns(e: { statementId: string; columns: RecordedColumn[] }): void;
  /** Rows as the caller received them (masked). The recorder copies them before returning. */
  onRows(statementId: string, rows: unknown[][]): void;
  /**
   * Rows of a Postgres result as the client received them (masked), already encoded from their
   * DataRow bytes: recorded exactly as `onRows` records the same rows decoded to strings (see
   * EncodedDataRows), without a string per field. The recorder copies them before returning; the
   * caller may then clear and reuse `rows`. Optional: a recorder without it gets decoded rows
   * through `onRows`.
   */
  onDataRows?(statementId: string, rows: EncodedDataRows): void;
  onResultEnd(e: {
    statementId: string;
    rowCount: number;
    truncated: boolean;
    command: string;
    durationMs: number;
  }): void;
  onError(e: { statementId?: string; code: string; message: string }): void;
  onSessionEnd(e: { reason: string }): void;
}

export const EVENT_TYPES = [
  'session.start',
  'statement',
  'decision',
  'approval',
  'result.columns',
  'result.rows',
  'result.end',
  'error',
  'session.end',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * One recorded event as stored and exported. `hash = sha256hex(prevHash + canonical(event without
 * hash))`; see chain.ts for the exact definition.
 */
export interface RecordingEvent {
  seq: number;
  ts: number;
  session: string;
  type: EventType;
  prevHash: string;
  hash: string;
  [field: string]: unknown;
}

/** A sealed event ready for a store: its JSON text and what the store indexes it by. */
export interface SealedEvent {
  session: string;
  seq: number;
  type: EventType;
  ts: number;
  hash: string;
  /**
   * UTF-8 of the canonical event without its hash: what the hash covers, and what stores write
   * (next to the hash), so the event is encoded once. `storedJson()` joins the two.
   */
  body: Buffer;
  /** Set on `session.start`: what the listing indexes. */
  start?: SessionSummaryStart;
  /**
   * Set on a row batch whose buffer may be reused: the queue calls it once the store acknowledged
   * the event, if the store `copiesBodies`. `body` must not be read after.
   */
  release?: () => void;
}

export interface SessionSummaryStart {
  subject: string;
  groups: string[];
  issuer: string;
  target: string;
  channel: string;
  dialect: string;
  remote?: string;
  startedAt: number;
}

/** One session in a listing. */
export interface SessionSummary extends SessionSummaryStart {
  id: string;
  endedAt?: number;
  /** Events written so far (the last seq). */
  events: number;
  lastHash?: string;
}

export interface SessionFilter {
  session?: string;
  identity?: string;
  target?: string;
  /** Epoch ms, inclusive, on the session start time. */
  since?: number;
  until?: number;
}

/** Read access to a store, for list / show / replay / export / verify. */
export interface RecordingReader {
  listSessions(filter: SessionFilter): Promise<SessionSummary[]>;
  /** The session's events in seq order, as stored (parsed JSON). */
  readEvents(sessionId: string): AsyncIterable<RecordingEvent>;
  close(): Promise<void>;
}
