import { Redis } from 'ioredis';

/**
 * A client for the recording store.
 *
 * The writer's client fails commands at once while disconnected (no offline queue, no silent
 * resend): the recording queue owns retries, so it always knows what was written. A reader (the
 * CLI) may wait for the connection, but not retry forever.
 */
export function createRecordingRedis(url: string, options: { role?: 'writer' | 'reader' } = {}): Redis {
  const writer = (options.role ?? 'writer') === 'writer';
  return new Redis(url, {
    // ioredis 6 speaks RESP3 unless told; pin RESP2 so replies keep the shapes read here on any
    // Redis version the operator runs.
    protocol: 2,
    connectionName: writer ? 'sluice-recording' : 'sluice-recordings-reader',
    enableOfflineQueue: !writer,
    autoResendUnfulfilledCommands: !writer,
    maxRetriesPerRequest: writer ? 0 : 1,
    retryStrategy: writer
      ? (attempt) => Math.min(50 * attempt, 1_000)
      : (attempt) => (attempt > 3 ? null : 200),
  });
}
