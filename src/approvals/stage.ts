import type { Logger } from 'pino';
import type { ApprovalOutcome, ApprovalStage, ApprovalWaitOptions } from '../gateway/approval.js';
import type { GuardVerdict, SessionContext } from '../gateway/types.js';
import type { Identity } from '../identity/types.js';
import type { ApprovalState } from '../recording/types.js';
import type { ApprovalService } from './service.js';
import type { ApprovalRequest, ApprovalStatus } from './types.js';
import type { ApprovalWatcher } from './watcher.js';
import type { WebhookNotifier } from './webhooks.js';

/** One step of a request, for the session's recording. */
export interface ApprovalEvent {
  /** The pipeline's statement id, when the caller passed one in the wait options. */
  statementId?: string;
  requestId: string;
  state: ApprovalState;
  by?: string;
  reason?: string;
}

/**
 * The wait options, plus the statement id the pipeline may pass so each event can be recorded
 * against its statement (SessionRecorder.onApproval needs it).
 */
export type ReviewOptions = ApprovalWaitOptions & { statementId?: string };

export type EstimateRows = (session: SessionContext, sql: string) => Promise<number | undefined>;

export interface RedisApprovalsOptions {
  service: ApprovalService;
  watcher: ApprovalWatcher;
  notifier?: WebhookNotifier;
  logger: Logger;
  clock?: () => number;
  /** Rows the target expects the statement to touch (EXPLAIN); asked once per new request. */
  estimateRows?: EstimateRows;
  /** How long the estimate may take before the request goes out without one; default 2 s. */
  estimateTimeoutMs?: number;
  /** Every step of a request (requested, notified, approved, denied, expired, executed). */
  onEvent?: (session: SessionContext, event: ApprovalEvent) => void;
  /**
   * The first gap between onProgress calls while waiting (the first call comes at once); each gap
   * doubles up to MAX_PROGRESS_GAP_MS. Default 5 s: calls at 0, 5, 15, 35, 75 s, then every minute.
   */
  progressMs?: number;
  /** Re-read interval while waiting, in case a pub/sub message was lost; default 1 s. */
  pollMs?: number;
}

/** The longest gap between two progress calls while a statement waits. */
const MAX_PROGRESS_GAP_MS = 60_000;

/** Rounds of "approval consumed by a twin statement, open a new request" before giving up. */
const MAX_ROUNDS = 3;

type WaitResult = ApprovalOutcome | { state: 'retry' };

/**
 * The approval stage backed by Redis. The approval is for one exact statement text from one
 * identity on one target, and it releases that statement once.
 */
export class RedisApprovals implements ApprovalStage {
  readonly #o: RedisApprovalsOptions;
  readonly #now: () => number;
  readonly #tasks = new Set<Promise<void>>();

  constructor(options: RedisApprovalsOptions) {
    this.#o = options;
    this.#now = options.clock ?? Date.now;
  }

  async review(
    session: SessionContext,
    sql: string,
    verdict: GuardVerdict,
    options: ReviewOptions,
  ): Promise<ApprovalOutcome> {
    try {
      return await this.#review(session, sql, verdict, options);
    } catch (err) {
      // Fail closed: without the approval store nothing that needs approval runs.
      this.#o.logger.error({ err, session: session.id }, 'approvals: review failed');
      const message = err instanceof Error ? err.message : String(err);
      return { state: 'denied', reason: `approval workflow unavailable: ${message}` };
    }
  }

  /** What the MCP tool `approval_status` returns; only to the requester or an approver. */
  approvalStatus(id: string, identity: Identity): Promise<ApprovalStatus> {
    return this.#o.service.status(id, identity);
  }

  /** Waits for notifications still being delivered, and stops listening for changes. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#tasks]);
    await this.#o.watcher.close();
  }

  async #review(
    session: SessionContext,
    sql: string,
    verdict: GuardVerdict,
    options: ReviewOptions,
  ): Promise<ApprovalOutcome> {
    const { service } = this.#o;
    const { identity } = session;
    const grant = await service.findGrant(identity, session.target, verdict.statements);
    if (grant) {
      this.#emit(session, options.statementId, {
        requestId: grant.requestId,
        state: 'approved',
        by: grant.by,
        reason: `time-boxed grant ${grant.id} until ${new Date(grant.expiresAt).toISOString()}`,
      });
      return {
        state: 'approved',
        requestId: grant.requestId,
        by: grant.by,
        reason: `time-boxed grant ${grant.id} until ${new Date(grant.expiresAt).toISOString()}`,
      };
    }
    // A missing or nonsensical wait means "do not wait", never "wait forever".
    const waitMs = Number.isFinite(options.waitMs) ? Math.max(0, options.waitMs) : 0;
    const deadline = this.#now() + waitMs;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const opened = await service.open({
        requester: { subject: identity.subject, issuer: identity.issuer, groups: identity.groups },
        target: session.target,
        channel: session.channel,
        sessionId: session.id,
        sql,
        statements: verdict.statements,
        guard: { reason: verdict.reason, rule: verdict.rule },
      });
      const request = opened.request;
      if (opened.kind === 'executed') {
        // An approval given while the caller was away: the repeated statement consumed it.
        const by = request.decision?.by ?? 'unknown';
        this.#emit(session, options.statementId, { requestId: request.id, state: 'executed', by });
        const reason = request.decision?.reason;
        return { state: 'approved', requestId: request.id, by, ...(reason ? { reason } : {}) };
      }
      try {
        options.onRequested?.(request.id);
      } catch (err) {
        this.#o.logger.warn({ err, requestId: request.id }, 'approvals: onRequested callback failed');
      }
      if (opened.kind === 'created') {
        this.#emit(session, options.statementId, {
          requestId: request.id,
          state: 'requested',
          reason: verdict.reason,
        });
        this.#track(this.#announce(session, options.statementId, request));
      }
      const result = await this.#wait(session, request, deadline, options);
      if (result.state !== 'retry') return result;
    }
    return {
      state: 'denied',
      reason: 'each approval of this statement was used by another execution of it; ask again',
    };
  }

  async #wait(
    session: SessionContext,
    request: ApprovalRequest,
    deadline: number,
    options: ReviewOptions,
  ): Promise<WaitResult> {
    const { service, watcher } = this.#o;
    const id = request.id;
    const progressMs = this.#o.progressMs ?? 5_000;
    const pollMs = this.#o.pollMs ?? 1_000;
    await watcher.ready();
    let nextProgress = this.#now();
    let progressGap = progressMs;
    for (;;) {
      const current = await service.get(id);
      if (!current)
        return { state: 'denied', requestId: id, reason: `approval request ${id} no longer exists` };
      switch (current.state) {
        case 'approved': {
          const by = current.decision?.by ?? 'unknown';
          // Consume the approval before the statement runs; losing this race to a twin
          // statement means this one needs an approval of its own.
          if (!(await service.markExecuted(id))) return { state: 'retry' };
          this.#emit(session, options.statementId, {
            requestId: id,
            state: 'approved',
            by,
            ...(current.decision?.reason ? { reason: current.decision.reason } : {}),
          });
          this.#emit(session, options.statementId, { requestId: id, state: 'executed', by });
          const reason = current.decision?.reason;
          return { state: 'approved', requestId: id, by, ...(reason ? { reason } : {}) };
        }
        case 'executed':
          return { state: 'retry' };
        case 'denied': {
          const by = current.decision?.by ?? 'unknown';
          const why = current.decision?.reason;
          this.#emit(session, options.statementId, {
            requestId: id,
            state: 'denied',
            by,
            ...(why ? { reason: why } : {}),
          });
          return {
            state: 'denied',
            requestId: id,
            reason: `request ${id} denied by ${by}${why ? `: ${why}` : ''}`,
          };
        }
        case 'expired':
          this.#emit(session, options.statementId, { requestId: id, state: 'expired' });
          return { state: 'denied', requestId: id, reason: `approval request ${id} expired` };
        case 'pending':
          break;
      }
      const now = this.#now();
      if (options.signal?.aborted || now >= deadline) {
        return { state: 'pending', requestId: id, expiresAt: current.expiresAt };
      }
      if (options.onProgress && now >= nextProgress) {
        const left = Math.max(0, Math.ceil((current.expiresAt - now) / 1000));
        try {
          options.onProgress(`waiting for approval of request ${id} (expires in ${left}s)`, id);
        } catch (err) {
          // A caller that cannot take progress (a closed stream) still gets its outcome.
          this.#o.logger.warn({ err, requestId: id }, 'approvals: progress callback failed');
        }
        nextProgress = now + progressGap;
        progressGap = Math.min(progressGap * 2, Math.max(progressMs, MAX_PROGRESS_GAP_MS));
      }
      const wakeAt = Math.min(
        deadline,
        current.expiresAt,
        now + pollMs,
        options.onProgress ? nextProgress : Infinity,
      );
      await watcher.wait(id, Math.max(1, wakeAt - now), options.signal);
    }
  }

  /** Adds the row estimate, then notifies approvers. Runs beside the wait; failures are logged. */
  async #announce(
    session: SessionContext,
    statementId: string | undefined,
    request: ApprovalRequest,
  ): Promise<void> {
    const { service, notifier, logger } = this.#o;
    let announced = request;
    const rows = await this.#estimate(session, request.sql);
    if (rows !== undefined) {
      await service.setRowEstimate(request.id, rows);
      announced = { ...request, rowEstimate: Math.round(rows) };
    }
    if (!notifier?.enabled) return;
    const report = await notifier.notify(announced);
    if (report.delivered > 0) this.#emit(session, statementId, { requestId: request.id, state: 'notified' });
    else logger.error({ requestId: request.id }, 'approvals: no approver was notified');
  }

  async #estimate(session: SessionContext, sql: string): Promise<number | undefined> {
    const estimateRows = this.#o.estimateRows;
    if (!estimateRows) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), this.#o.estimateTimeoutMs ?? 2_000);
      });
      const rows = await Promise.race([estimateRows(session, sql), timeout]);
      return typeof rows === 'number' && Number.isFinite(rows) && rows >= 0 ? rows : undefined;
    } catch (err) {
      this.#o.logger.warn({ err, session: session.id }, 'approvals: row estimate failed');
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  #track(task: Promise<void>): void {
    const tracked = task.catch((err: unknown) => {
      this.#o.logger.error({ err }, 'approvals: announcing a request failed');
    });
    this.#tasks.add(tracked);
    void tracked.finally(() => this.#tasks.delete(tracked));
  }

  #emit(session: SessionContext, statementId: string | undefined, event: ApprovalEvent): void {
    try {
      this.#o.onEvent?.(session, statementId === undefined ? event : { statementId, ...event });
    } catch (err) {
      this.#o.logger.warn({ err }, 'approvals: event callback failed');
    }
  }
}
