import { createHash } from 'node:crypto';

/** The default key prefix. The `{...}` hash tag keeps every approval key in one Redis Cluster slot,
 * so the Lua scripts may touch keys they find inside other keys. */
export const DEFAULT_KEY_PREFIX = 'sluice:{approvals}:';

/** The Redis key layout of the approval workflow, under one prefix. */
export interface ApprovalKeys {
  readonly prefix: string;
  /** Hash: one request. */
  request(id: string): string;
  /** String: the open request (pending, or approved and not yet executed) for one identity, target and text. */
  match(subject: string, issuer: string, target: string, sql: string): string;
  /** Sorted set of grants for one identity and target, scored by expiry. */
  grants(subject: string, issuer: string, target: string): string;
  /** Sorted set of pending request ids, scored by expiry. */
  readonly pending: string;
  /** Sorted set of every request id, scored by creation time. */
  readonly index: string;
  /** Pub/sub channel: the id of every request whose state changed. */
  readonly changes: string;
}

/**
 * Identity parts are joined with NUL before hashing: NUL cannot occur in a subject, issuer or target
 * name, so two different tuples never produce the same digest input.
 */
function digest(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex');
}

export function approvalKeys(prefix: string = DEFAULT_KEY_PREFIX): ApprovalKeys {
  return {
    prefix,
    request: (id) => `${prefix}req:${id}`,
    match: (subject, issuer, target, sql) => `${prefix}match:${digest(subject, issuer, target, sql)}`,
    grants: (subject, issuer, target) => `${prefix}grants:${digest(subject, issuer, target)}`,
    pending: `${prefix}pending`,
    index: `${prefix}index`,
    changes: `${prefix}changes`,
  };
}
