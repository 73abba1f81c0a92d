import type { Redis } from 'ioredis';
import { parseEvent } from './parse.js';
import { RecordingKeys } from './redis-keys.js';
import type { RecordingEvent, RecordingReader, SessionFilter, SessionSummary } from './types.js';

const PAGE = 1_000;

/** Reads recordings back from Redis for listing, replay, export and verification. */
export class RedisRecordingReader implements RecordingReader {
  private readonly keys: RecordingKeys;

  constructor(
    private readonly redis: Redis,
    prefix?: string,
  ) {
    this.keys = new RecordingKeys(prefix);
    // Failures surface as rejected commands; the event would otherwise be logged as unhandled.
    redis.on('error', () => {});
  }

  async listSessions(filter: SessionFilter): Promise<SessionSummary[]> {
    let ids: string[];
    if (filter.session !== undefined) {
      ids = [filter.session];
    } else {
      const index =
        filter.identity !== undefined
          ? this.keys.byIdentity(filter.identity)
          : filter.target !== undefined
            ? this.keys.byTarget(filter.target)
            : this.keys.byTime();
      ids = await this.redis.zrangebyscore(index, filter.since ?? '-inf', filter.until ?? '+inf');
    }
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.meta(id));
    const results = (await pipeline.exec()) ?? [];
    const sessions: SessionSummary[] = [];
    for (const [i, id] of ids.entries()) {
      const [err, value] = results[i] ?? [null, null];
      if (err) throw err;
      const summary = toSummary(id, value as Record<string, string> | null);
      if (summary !== undefined && matches(summary, filter)) sessions.push(summary);
    }
    return sessions;
  }

  async *readEvents(sessionId: string): AsyncIterable<RecordingEvent> {
    const key = this.keys.events(sessionId);
    let start = '-';
    for (;;) {
      const page = await this.redis.xrange(key, start, '+', 'COUNT', PAGE);
      for (const [id, fields] of page) {
        const value = (name: string) => {
          const at = fields.indexOf(name);
          return at >= 0 && at % 2 === 0 ? fields[at + 1] : undefined;
        };
        const event = parseEvent(value('e') ?? '', `${sessionId} ${id}`);
        const hash = value('h');
        if (hash !== undefined) event.hash = hash;
        yield event;
      }
      const last = page[page.length - 1];
      if (last === undefined || page.length < PAGE) return;
      start = `(${last[0]}`;
    }
  }

  async close(): Promise<void> {
    if (this.redis.status === 'end') return;
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

function toSummary(id: string, meta: Record<string, string> | null): SessionSummary | undefined {
  if (meta === null || meta.startedAt === undefined) return undefined;
  const summary: SessionSummary = {
    id,
    subject: meta.subject ?? '',
    groups: parseGroups(meta.groups),
    issuer: meta.issuer ?? '',
    target: meta.target ?? '',
    channel: meta.channel ?? '',
    dialect: meta.dialect ?? '',
    startedAt: Number(meta.startedAt),
    events: Number(meta.events ?? 0),
  };
  if (meta.remote !== undefined) summary.remote = meta.remote;
  if (meta.endedAt !== undefined) summary.endedAt = Number(meta.endedAt);
  if (meta.lastHash !== undefined) summary.lastHash = meta.lastHash;
  return summary;
}

function parseGroups(text: string | undefined): string[] {
  if (text === undefined) return [];
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.map(String) : [];
  } catch {
    return [];
  }
}

/** The filters an index did not already apply. */
export function matches(s: SessionSummary, f: SessionFilter): boolean {
  if (f.session !== undefined && s.id !== f.session) return false;
  if (f.identity !== undefined && s.subject !== f.identity) return false;
  if (f.target !== undefined && s.target !== f.target) return false;
  if (f.since !== undefined && s.startedAt < f.since) return false;
  if (f.until !== undefined && s.startedAt > f.until) return false;
  return true;
}
