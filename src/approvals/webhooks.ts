import type { Logger } from 'pino';
import { jsonMessage, slackMessage } from './message.js';
import type { ApprovalRequest } from './types.js';

export interface WebhookTarget {
  webhook: string;
  format: 'slack' | 'json';
}

export interface WebhookNotifierOptions {
  hooks: readonly WebhookTarget[];
  logger: Logger;
  /** The URL approvers use to reach the HTTP API (config server.publicUrl), for the message. */
  publicUrl?: string;
  fetch?: typeof fetch;
  /** Attempts per hook, default 3. */
  attempts?: number;
  /** Wait before the second attempt; doubled for each later one. Default 500 ms. */
  backoffMs?: number;
  /** Per attempt, default 5 s. */
  timeoutMs?: number;
}

export interface DeliveryReport {
  delivered: number;
  failed: number;
}

/**
 * Webhook URLs (Slack's especially) carry their credential in the path: logs name only the origin.
 */
function safeUrl(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

/** Posts a new request to each configured webhook, retrying with backoff; never drops a failure silently. */
export class WebhookNotifier {
  readonly #options: Required<Omit<WebhookNotifierOptions, 'publicUrl'>> & { publicUrl: string | undefined };

  constructor(options: WebhookNotifierOptions) {
    this.#options = {
      hooks: options.hooks,
      logger: options.logger,
      publicUrl: options.publicUrl,
      fetch: options.fetch ?? fetch,
      attempts: Math.max(1, options.attempts ?? 3),
      backoffMs: options.backoffMs ?? 500,
      timeoutMs: options.timeoutMs ?? 5_000,
    };
  }

  get enabled(): boolean {
    return this.#options.hooks.length > 0;
  }

  async notify(request: ApprovalRequest): Promise<DeliveryReport> {
    const results = await Promise.all(this.#options.hooks.map((hook) => this.#deliver(hook, request)));
    const delivered = results.filter(Boolean).length;
    return { delivered, failed: results.length - delivered };
  }

  async #deliver(hook: WebhookTarget, request: ApprovalRequest): Promise<boolean> {
    const { logger, attempts, backoffMs, timeoutMs } = this.#options;
    const body = JSON.stringify(
      hook.format === 'slack' ? slackMessage(request, this.#options.publicUrl) : jsonMessage(request),
    );
    const where = safeUrl(hook.webhook);
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let failure: string;
      let retryable = true;
      try {
        const res = await this.#options.fetch(hook.webhook, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        // Drain the body so the connection can be reused.
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          logger.info(
            { requestId: request.id, webhook: where, attempt },
            'approvals: notification delivered',
          );
          return true;
        }
        failure = `HTTP ${res.status}`;
        // Other 4xx answers mean the hook is misconfigured; repeating the same body will not help.
        retryable = res.status >= 500 || res.status === 408 || res.status === 429;
      } catch (err) {
        failure = err instanceof Error ? err.message : String(err);
      }
      logger.warn(
        { requestId: request.id, webhook: where, attempt, attempts, failure },
        'approvals: notification attempt failed',
      );
      if (!retryable || attempt === attempts) break;
      await new Promise((r) => setTimeout(r, backoffMs * 2 ** (attempt - 1)));
    }
    logger.error(
      { requestId: request.id, webhook: where, format: hook.format },
      'approvals: notification not delivered; approvers must list pending requests to see it',
    );
    return false;
  }
}
