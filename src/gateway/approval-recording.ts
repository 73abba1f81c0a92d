import type { SessionRecorder } from '../recording/types.js';
import type { ApprovalOutcome } from './approval.js';

/**
 * Records the approval of one statement in the order it happens: `requested` (by the caller)
 * when the request is opened or found waiting, then `approved` (by the approver) and `executed`
 * (by the caller, who runs it), or `denied`. A wait that ends without a decision records nothing
 * more: the request stays open and the refusal is recorded as the statement's error.
 */
export class ApprovalRecording {
  readonly #recording: SessionRecorder;
  readonly #statementId: string;
  readonly #requester: string;

  constructor(recording: SessionRecorder, statementId: string, requester: string) {
    this.#recording = recording;
    this.#statementId = statementId;
    this.#requester = requester;
  }

  /** For ApprovalWaitOptions.onRequested. */
  readonly requested = (requestId: string): void => {
    this.#recording.onApproval({
      statementId: this.#statementId,
      requestId,
      state: 'requested',
      by: this.#requester,
    });
  };

  outcome(outcome: ApprovalOutcome): void {
    const statementId = this.#statementId;
    switch (outcome.state) {
      case 'approved':
        this.#recording.onApproval({
          statementId,
          requestId: outcome.requestId,
          state: 'approved',
          by: outcome.by,
          ...(outcome.reason ? { reason: outcome.reason } : {}),
        });
        this.#recording.onApproval({
          statementId,
          requestId: outcome.requestId,
          state: 'executed',
          by: this.#requester,
        });
        return;
      case 'denied':
        if (outcome.requestId) {
          this.#recording.onApproval({
            statementId,
            requestId: outcome.requestId,
            state: 'denied',
            reason: outcome.reason,
          });
        }
        return;
      case 'pending':
        return;
    }
  }
}
