import type { ApprovalService } from '../../approvals/index.js';
import type { Config } from '../../config/load.js';
import type { Identity } from '../../identity/types.js';

/**
 * What a caller may do in the API and the console, by the groups of its identity, whether it
 * came from a bearer token or a console sign-in: approvers (`approvals.approvers.groups`) decide
 * requests; approvers and auditors (`console.auditors.groups`) read recorded sessions, which hold
 * statements and the rows their callers saw.
 */
export class ConsoleAccess {
  readonly #approvals: ApprovalService | undefined;
  readonly #auditors: ReadonlySet<string>;

  constructor(config: Pick<Config, 'console'>, approvals: ApprovalService | undefined) {
    this.#approvals = approvals;
    this.#auditors = new Set(config.console.auditors.groups);
  }

  get approvalsEnabled(): boolean {
    return this.#approvals !== undefined;
  }

  isApprover(identity: Identity): boolean {
    return this.#approvals?.isApprover(identity) ?? false;
  }

  mayReadRecordings(identity: Identity): boolean {
    return this.isApprover(identity) || identity.groups.some((g) => this.#auditors.has(g));
  }
}
