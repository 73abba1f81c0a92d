import type { Redis } from 'ioredis';
import { RecordingKeys, streamId } from './redis-keys.js';
import type { EventStore } from './store.js';
import type { SealedEvent } from './types.js';

/** Redis refuses an XADD whose explicit id is not above the stream's last one: already written. */
const DUPLICATE_ID = /equal or smaller than the target stream top item/;

/**
 * Writes events to Redis Streams, one stream per session, in pipelined round trips. Every
 * command is idempotent for a retried batch: XADD with `<seq>-0`, HSET of absolute values, ZADD.
 */
export class RedisEventStore implements EventStore {
  private readonly keys: RecordingKeys;
  /** The client's last connection error, to say why the store is unreachable. */
  private lastError: string | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly options: { prefix?: string; retentionMs: number; clock?: () => number },
  ) {
    this.keys = new RecordingKeys(options.prefix);
    // Connection errors are reported through health() and the queue's alert, once per outage.
    redis.on('error', (err: Error) => (this.lastError = err.message));
    redis.on('ready', () => (this.lastError = undefined));
  }

  health(): { ok: true } | { ok: false; reason: string } {
    const status = this.redis.status;
    if (status === 'ready') return { ok: true };
    return { ok: false, reason: this.lastError ?? `redis connection is ${status}` };
  }

  onReachable(listener: () => void): void {
    this.redis.on('ready', listener);
  }

  async append(events: readonly SealedEvent[]): Promise<void> {
    if (events.length === 0) return;
    const keys = this.keys;
    const retention = this.options.retentionMs;
    const now = (this.options.clock ?? Date.now)();
    const pipeline = this.redis.pipeline();
    const xaddAt = new Set<number>();
    const last = new Map<string, SealedEvent>();
    for (const event of events) {
      xaddAt.add(pipeline.length);
      pipeline.xadd(keys.events(event.session), streamId(event.seq), 'h', event.hash, 'e', event.body);
      last.set(event.session, event);
      const start = event.start;
      if (start !== undefined) {
        const meta: Record<string, string> = {
          subject: start.subject,
          groups: JSON.stringify(start.groups),
          issuer: start.issuer,
          target: start.target,
          channel: start.channel,
          dialect: start.dialect,
          startedAt: String(start.startedAt),
        };
        if (start.remote !== undefined) meta.remote = start.remote;
        pipeline.hset(keys.meta(event.session), meta);
        for (const index of [keys.byTime(), keys.byIdentity(start.subject), keys.byTarget(start.target)]) {
          pipeline.zadd(index, start.startedAt, event.session);
          // Retention on the index: drop sessions that are older than the retention, and let an
          // index nobody writes to any more expire with its last session.
          pipeline.zremrangebyscore(index, '-inf', `(${now - retention}`);
          pipeline.pexpire(index, retention);
        }
      }
      if (event.type === 'session.end') {
        pipeline.hset(keys.meta(event.session), 'endedAt', String(event.ts));
      }
    }
    for (const [session, event] of last) {
      pipeline.hset(keys.meta(session), 'events', String(event.seq), 'lastHash', event.hash);
      pipeline.pexpire(keys.events(session), retention);
      pipeline.pexpire(keys.meta(session), retention);
    }
    const results = await pipeline.exec();
    if (results === null) throw new Error('the pipeline was discarded');
    for (const [i, [err]] of results.entries()) {
      if (err === null) continue;
      if (xaddAt.has(i) && DUPLICATE_ID.test(err.message)) continue;
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.redis.status === 'end') return;
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
