import type { NoticeFields } from '../../../protocols/postgres/codec/index.js';
import type { WireSession } from '../gateway.js';
import { approvalWaitNotices } from '../approval-notice.js';
import { ApprovalRecording } from '../approval-recording.js';
import { decisionEvent } from '../decision-event.js';
import type { GuardVerdict } from '../types.js';

/** SQLSTATE 42501 insufficient_privilege: denied by policy, by an approver, or by masking. */
export const INSUFFICIENT_PRIVILEGE = '42501';
/**
 * SQLSTATE 57P03 cannot_connect_now: the recording store cannot take the statement. It is a
 * condition of the gateway, not of the statement, and clients treat 57P03 as "retry later".
 */
export const RECORDING_UNAVAILABLE = '57P03';

export type Admission = { ok: true; verdict: GuardVerdict } | { ok: false; error: NoticeFields };

export interface AdmissionOptions {
  /** How long a statement under review waits for a human (approvals.wireWait). */
  approvalWaitMs: number;
  /** How an approver approves a request, for the first notice of a wait. */
  approvalInstructions?: (requestId: string) => string;
  /** Tells the client something while it waits (a NoticeResponse). */
  notice: (message: string) => void;
  /** Aborted when the client goes away: an approval wait ends with it. */
  signal: AbortSignal;
}

export function refusal(code: string, message: string): NoticeFields {
  return { severity: 'ERROR', code, message };
}

/**
 * The path every statement text takes before it may reach the target, whichever message carried
 * it: the recorder must be able to take it, the guard decides, and a statement under review waits
 * for an approver. Records the statement, the decision and the approval.
 */
export async function admitStatement(
  session: WireSession,
  statementId: string,
  sql: string,
  options: AdmissionOptions,
): Promise<Admission> {
  const ready = session.recorderReady();
  if (!ready.ok) {
    session.metrics.failed(session.context.channel, RECORDING_UNAVAILABLE);
    // Nothing runs that cannot be recorded (onStoreFailure: refuse); no event can be written either.
    return { ok: false, error: refusal(RECORDING_UNAVAILABLE, `statement refused: ${ready.reason}`) };
  }
  const recording = session.recording;
  recording.onStatement({ statementId, sql });
  const verdict = await session.guard.check(sql, session.context);
  recordDecision(session, statementId, verdict);
  if (verdict.action === 'deny') {
    return denied(session, statementId, `statement denied: ${verdict.reason}`);
  }
  if (verdict.action === 'review') {
    const notices = approvalWaitNotices(options.approvalWaitMs, options.approvalInstructions);
    const approval = new ApprovalRecording(recording, statementId, session.context.identity.subject);
    const outcome = await session.approvals.review(session.context, sql, verdict, {
      waitMs: options.approvalWaitMs,
      signal: options.signal,
      statementId,
      onProgress: (_message, requestId) => options.notice(notices(requestId)),
      onRequested: approval.requested,
    });
    approval.outcome(outcome);
    switch (outcome.state) {
      case 'approved':
        break;
      case 'pending':
        return denied(session, statementId, `statement not approved in time: request ${outcome.requestId}`);
      case 'denied':
        return denied(session, statementId, `statement not approved: ${outcome.reason}`);
    }
  }
  return { ok: true, verdict };
}

export function recordDecision(session: WireSession, statementId: string, verdict: GuardVerdict): void {
  session.metrics.decided(verdict.action, session.context.channel);
  session.recording.onDecision(decisionEvent(statementId, verdict));
}

function denied(session: WireSession, statementId: string, message: string): Admission {
  session.recording.onError({ statementId, code: INSUFFICIENT_PRIVILEGE, message });
  session.metrics.failed(session.context.channel, INSUFFICIENT_PRIVILEGE);
  return { ok: false, error: refusal(INSUFFICIENT_PRIVILEGE, message) };
}
