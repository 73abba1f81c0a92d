import type { GuardVerdict, SessionContext } from './types.js';

export type ApprovalOutcome =
  | { state: 'approved'; requestId: string; by: string; reason?: string }
  | { state: 'denied'; requestId?: string; reason: string }
  | { state: 'pending'; requestId: string; expiresAt: number };

export interface ApprovalWaitOptions {
  /** How long the caller is prepared to wait before getting a pending outcome back. */
  waitMs: number;
  signal?: AbortSignal;
  /** The statement under review, so that every step of its approval is recorded against it. */
  statementId?: string;
  /** Called while waiting, e.g. to send MCP progress or a Postgres NoticeResponse. */
  onProgress?: (message: string, requestId: string) => void;
  /** Called when the statement's request is opened, or found already waiting, before the wait. */
  onRequested?: (requestId: string) => void;
}

/** The approval stage: a statement under review waits here for a human. */
export interface ApprovalStage {
  review(
    session: SessionContext,
    sql: string,
    verdict: GuardVerdict,
    options: ApprovalWaitOptions,
  ): Promise<ApprovalOutcome>;
}

/**
 * Used when no approval workflow is configured. A statement that needs review must not run
 * without one, so it is refused (fail closed) with a reason the caller can act on.
 */
export class ReviewsRefused implements ApprovalStage {
  async review(_session: SessionContext, _sql: string, verdict: GuardVerdict): Promise<ApprovalOutcome> {
    return {
      state: 'denied',
      reason: `statement requires approval (${verdict.reason}) and approvals are not enabled on this gateway`,
    };
  }
}
