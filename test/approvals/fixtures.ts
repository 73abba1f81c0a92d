import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import type { GuardVerdict, SessionContext, StatementSummary } from '../../src/gateway/types.js';
import type { Identity } from '../../src/identity/types.js';
import { ApprovalService, type ApprovalPolicy } from '../../src/approvals/service.js';
import { RedisApprovals, type ApprovalEvent, type RedisApprovalsOptions } from '../../src/approvals/stage.js';
import { ApprovalWatcher } from '../../src/approvals/watcher.js';

export const REDIS_URL = 'redis://127.0.0.1:6379';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export const agent: Identity = {
  subject: 'agent-7',
  groups: ['ai-agents'],
  issuer: 'https://idp.example.com',
  via: 'oidc',
};
export const alice: Identity = {
  subject: 'alice',
  groups: ['dba'],
  issuer: 'https://idp.example.com',
  via: 'oidc',
};
export const bob: Identity = {
  subject: 'bob',
  groups: ['dba'],
  issuer: 'https://idp.example.com',
  via: 'oidc',
};
export const mallory: Identity = {
  subject: 'mallory',
  groups: ['developers'],
  issuer: 'https://idp.example.com',
  via: 'oidc',
};

export function session(identity: Identity = agent, target = 'orders'): SessionContext {
  return {
    id: `s-${randomBytes(4).toString('hex')}`,
    identity,
    target,
    dialect: 'postgres',
    channel: 'mcp-http',
  };
}

export function statement(text: string, over: Partial<StatementSummary> = {}): StatementSummary {
  return {
    text,
    command: 'UPDATE',
    effects: ['write'],
    objects: ['public.orders'],
    unbounded: false,
    ...over,
  };
}

export function verdict(sql: string, over: Partial<StatementSummary> = {}): GuardVerdict {
  return {
    action: 'review',
    reason: 'writes need review',
    rule: 'agents: review write',
    statements: [statement(sql, over)],
  };
}

/** A logger that keeps its lines, for asserting on warnings and errors. */
export function memoryLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

/** A Redis connection that must exist: a test fails, never skips, when Redis is not there. */
export async function connect(t: Teardown): Promise<Redis> {
  const redis = new Redis(REDIS_URL, { protocol: 2, maxRetriesPerRequest: 1, lazyConnect: true });
  await redis.connect();
  t.teardown(() => redis.disconnect());
  return redis;
}

/** A fresh key prefix for one test; its keys are deleted at teardown. */
export function prefix(t: Teardown, cleaner: Redis): string {
  const p = `test:{approvals-${randomBytes(6).toString('hex')}}:`;
  t.teardown(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await cleaner.scan(cursor, 'MATCH', `${p}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await cleaner.del(...keys);
    } while (cursor !== '0');
  });
  return p;
}

export interface Gateway {
  redis: Redis;
  service: ApprovalService;
  stage: RedisApprovals;
  events: Array<{ session: string; event: ApprovalEvent }>;
}

/** One gateway process: its own command and subscriber connections on a shared key prefix. */
export async function gateway(
  t: Teardown,
  keyPrefix: string,
  policy: Partial<ApprovalPolicy> = {},
  extra: Partial<RedisApprovalsOptions> & { clock?: () => number } = {},
): Promise<Gateway> {
  const redis = await connect(t);
  const subscriber = await connect(t);
  const logger = extra.logger ?? memoryLogger().logger;
  const service = new ApprovalService({
    redis,
    policy: { approvers: { groups: ['dba'] }, timeout: 5_000, ...policy },
    keyPrefix,
    ...(extra.clock ? { clock: extra.clock } : {}),
  });
  const events: Gateway['events'] = [];
  const stage = new RedisApprovals({
    service,
    watcher: new ApprovalWatcher(subscriber, service.keys.changes, logger),
    logger,
    progressMs: 100,
    pollMs: 2_000,
    onEvent: (s, event) => events.push({ session: s.id, event }),
    ...extra,
  });
  t.teardown(() => stage.close());
  return { redis, service, stage, events };
}

/** Polls until `fn` returns a value (for things another async task does). */
export async function eventually<T>(fn: () => Promise<T | undefined>, ms = 3_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
