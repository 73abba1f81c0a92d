import { Redis } from 'ioredis';

/**
 * A connection for the approval store. Commands fail after one reconnect attempt instead of
 * queueing forever: a review that cannot reach Redis is refused (fail closed) rather than hung.
 */
export function createApprovalsRedis(url: string, role: 'commands' | 'subscriber' = 'commands'): Redis {
  return new Redis(url, {
    // ioredis 6 speaks RESP3 unless told; RESP2 keeps reply shapes (and the rule that a subscriber
    // connection only subscribes) the same on every Redis version.
    protocol: 2,
    connectionName: role === 'commands' ? 'sluice-approvals' : 'sluice-approvals-events',
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
  });
}
