import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import type { SessionContext } from '../gateway/types.js';
import { createApprovalsRedis } from './redis.js';
import { ApprovalService } from './service.js';
import { RedisApprovals, type ApprovalEvent, type EstimateRows } from './stage.js';
import { ApprovalWatcher } from './watcher.js';
import { WebhookNotifier } from './webhooks.js';

export interface ApprovalsDeps {
  logger: Logger;
  clock?: () => number;
  fetch?: typeof fetch;
  estimateRows?: EstimateRows;
  onEvent?: (session: SessionContext, event: ApprovalEvent) => void;
  /** Defaults to `recording.redis.url`: approvals share the gateway's Redis. */
  redisUrl?: string;
  keyPrefix?: string;
}

export interface Approvals {
  service: ApprovalService;
  stage: RedisApprovals;
  close(): Promise<void>;
}

/** Builds the approval workflow of one gateway process: its two Redis connections, service and stage. */
export function createApprovals(config: Config, deps: ApprovalsDeps): Approvals {
  const url = deps.redisUrl ?? config.recording.redis.url;
  const redis = createApprovalsRedis(url, 'commands');
  const subscriber = createApprovalsRedis(url, 'subscriber');
  const service = new ApprovalService({
    redis,
    policy: config.approvals,
    ...(deps.clock ? { clock: deps.clock } : {}),
    keyPrefix: deps.keyPrefix ?? config.approvals.keyPrefix,
  });
  const notifier = new WebhookNotifier({
    hooks: config.approvals.notify,
    logger: deps.logger,
    ...(config.server.publicUrl ? { publicUrl: config.server.publicUrl } : {}),
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
  const stage = new RedisApprovals({
    service,
    watcher: new ApprovalWatcher(subscriber, service.keys.changes, deps.logger),
    notifier,
    logger: deps.logger,
    ...(deps.clock ? { clock: deps.clock } : {}),
    ...(deps.estimateRows ? { estimateRows: deps.estimateRows } : {}),
    ...(deps.onEvent ? { onEvent: deps.onEvent } : {}),
  });
  return {
    service,
    stage,
    async close() {
      await stage.close();
      subscriber.disconnect();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
