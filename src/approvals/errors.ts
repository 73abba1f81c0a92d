export type ApprovalErrorCode =
  | 'ERR_APPROVAL_NOT_FOUND'
  | 'ERR_APPROVAL_SELF'
  | 'ERR_APPROVAL_NOT_APPROVER'
  | 'ERR_APPROVAL_FORBIDDEN'
  | 'ERR_APPROVAL_CONFLICT'
  | 'ERR_APPROVAL_INVALID'
  | 'ERR_APPROVAL_STORE';

/** HTTP status that each code maps to; the CLI and the HTTP API share one table. */
export const APPROVAL_ERROR_STATUS: Record<ApprovalErrorCode, number> = {
  ERR_APPROVAL_NOT_FOUND: 404,
  ERR_APPROVAL_SELF: 403,
  ERR_APPROVAL_NOT_APPROVER: 403,
  ERR_APPROVAL_FORBIDDEN: 403,
  ERR_APPROVAL_CONFLICT: 409,
  ERR_APPROVAL_INVALID: 400,
  ERR_APPROVAL_STORE: 503,
};

/** A refusal or failure of the approval workflow, with a stable code callers branch on. */
export class ApprovalError extends Error {
  readonly code: ApprovalErrorCode;

  constructor(code: ApprovalErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApprovalError';
    this.code = code;
  }

  get status(): number {
    return APPROVAL_ERROR_STATUS[this.code];
  }
}
