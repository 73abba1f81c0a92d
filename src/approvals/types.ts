import type { Effect } from '../config/schema.js';
import type { Channel, StatementSummary } from '../gateway/types.js';

/** Where a request is in its life. Only `pending` may change to approved, denied or expired. */
export const REQUEST_STATES = ['pending', 'approved', 'denied', 'expired', 'executed'] as const;
export type ApprovalRequestState = (typeof REQUEST_STATES)[number];

/** Who asked: subject and issuer together name a person or agent; a subject alone does not. */
export interface Requester {
  subject: string;
  issuer: string;
  groups: string[];
}

/** A human's answer to a request. */
export interface ApprovalDecision {
  by: string;
  byIssuer: string;
  at: number;
  reason?: string;
  /** Approved only: the approval may be used (once) until this time. */
  executeBy?: number;
}

/** One statement waiting for (or having had) a human decision. Stored in Redis, shared by gateways. */
export interface ApprovalRequest {
  id: string;
  requester: Requester;
  target: string;
  channel: Channel;
  sessionId: string;
  /** The exact statement text the approval is for; only this text is released by it. */
  sql: string;
  statements: StatementSummary[];
  effects: Effect[];
  objects: string[];
  /** Why the guard sent the statement to review, and the rule that did. */
  guard: { reason: string; rule: string };
  /** Rows the target expects the statement to touch (EXPLAIN), when it could tell. */
  rowEstimate?: number;
  createdAt: number;
  expiresAt: number;
  state: ApprovalRequestState;
  decision?: ApprovalDecision;
  executedAt?: number;
}

/** What a caller supplies to open a request; the service fills id, times and state. */
export interface NewApprovalRequest {
  requester: Requester;
  target: string;
  channel: Channel;
  sessionId: string;
  sql: string;
  statements: StatementSummary[];
  guard: { reason: string; rule: string };
}

/**
 * A time-boxed permission: "this identity may run statements with these effects on these objects
 * against this target until `expiresAt`", given by an approver while approving a request.
 */
export interface ApprovalGrant {
  id: string;
  subject: string;
  issuer: string;
  target: string;
  effects: Effect[];
  objects: string[];
  /** Whether statements without a limiting WHERE are covered (only when the approved one had one). */
  unbounded: boolean;
  by: string;
  byIssuer: string;
  reason?: string;
  /** The request whose approval created the grant. */
  requestId: string;
  createdAt: number;
  expiresAt: number;
}

/** The scope an approver asks for when approving with a grant. */
export interface GrantScope {
  minutes: number;
  effects?: Effect[];
  objects?: string[];
}

/** What the requester (or an approver) may learn about a request: the MCP `approval_status` tool. */
export interface ApprovalStatus {
  id: string;
  state: ApprovalRequestState;
  target: string;
  sql: string;
  createdAt: number;
  expiresAt: number;
  decidedBy?: string;
  reason?: string;
  decidedAt?: number;
  executeBy?: number;
  executedAt?: number;
}
