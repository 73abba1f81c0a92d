export { createApprovals, type Approvals, type ApprovalsDeps } from './create.js';
export { ApprovalError, APPROVAL_ERROR_STATUS, type ApprovalErrorCode } from './errors.js';
export { grantCovers } from './grant-scope.js';
export { approvalKeys, DEFAULT_KEY_PREFIX, type ApprovalKeys } from './keys.js';
export { jsonMessage, slackMessage } from './message.js';
export { createApprovalsRedis } from './redis.js';
export {
  ApprovalService,
  isRequester,
  toStatus,
  type ApprovalPolicy,
  type ApprovalServiceOptions,
  type ListFilter,
  type OpenOutcome,
} from './service.js';
export {
  RedisApprovals,
  type ApprovalEvent,
  type EstimateRows,
  type RedisApprovalsOptions,
  type ReviewOptions,
} from './stage.js';
export type {
  ApprovalDecision,
  ApprovalGrant,
  ApprovalRequest,
  ApprovalRequestState,
  ApprovalStatus,
  GrantScope,
  NewApprovalRequest,
  Requester,
} from './types.js';
export { ApprovalWatcher } from './watcher.js';
export {
  WebhookNotifier,
  type DeliveryReport,
  type WebhookNotifierOptions,
  type WebhookTarget,
} from './webhooks.js';
