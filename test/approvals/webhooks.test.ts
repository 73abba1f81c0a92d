import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { WebhookNotifier } from '../../src/approvals/webhooks.js';
import { slackMessage } from '../../src/approvals/message.js';
import type { ApprovalRequest } from '../../src/approvals/types.js';
import {
  connect,
  eventually,
  gateway,
  memoryLogger,
  prefix,
  session,
  verdict,
} from './fixtures/approvals.js';

interface Received {
  path: string;
  body: unknown;
}

/** A webhook receiver that answers each request with the next status of `statuses` (then 200). */
async function receiver(
  t: { teardown(fn: () => unknown): void },
  statuses: number[],
): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    received.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
    res.writeHead(statuses.shift() ?? 200).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/services/T000/B000/secret-path`, received };
}

const request: ApprovalRequest = {
  id: 'req-1',
  requester: { subject: 'agent-7', issuer: 'https://idp.example.com', groups: ['ai-agents'] },
  target: 'orders',
  channel: 'mcp-http',
  sessionId: 's-1',
  sql: "UPDATE orders SET note = '<!channel> ```' WHERE id = 1",
  statements: [],
  effects: ['write'],
  objects: ['public.orders'],
  guard: { reason: 'writes need review', rule: 'agents: review write' },
  rowEstimate: 1,
  createdAt: 0,
  expiresAt: 600_000,
  state: 'pending',
};

t.test('a failed delivery is retried with backoff and each failure is logged', async (t) => {
  const hook = await receiver(t, [500]);
  const { logger, lines } = memoryLogger();
  const notifier = new WebhookNotifier({
    hooks: [{ webhook: hook.url, format: 'slack' }],
    logger,
    backoffMs: 20,
    publicUrl: 'https://sluice.example.com/',
  });
  const report = await notifier.notify(request);
  t.same(report, { delivered: 1, failed: 0 });
  t.equal(hook.received.length, 2, 'the second attempt was delivered');
  const warn = lines.find((l) => l.level === 40);
  t.match(warn, { msg: /notification attempt failed/, failure: 'HTTP 500', attempt: 1, requestId: 'req-1' });
  t.equal(warn?.webhook, hook.url.replace(/\/services.*$/, ''), 'the secret path is not logged');
  t.notMatch(JSON.stringify(lines), /secret-path/);
  const body = hook.received[1]?.body as ReturnType<typeof slackMessage>;
  t.match(body.text, /Approval request req-1: agent-7 wants to run a statement on orders/);
  const all = JSON.stringify(body.blocks);
  t.match(all, /sluice approvals approve req-1/);
  t.match(all, /POST https:\/\/sluice\.example\.com\/api\/approvals\/req-1\/approve/);
  t.match(all, /about 1 rows/);
  t.match(all, /&lt;!channel&gt;/, 'the statement cannot ping a channel');
  t.notMatch(all, /<!channel>/);
});

t.test('a delivery that never succeeds ends in an error line after every attempt', async (t) => {
  const hook = await receiver(t, [503, 503, 503]);
  const { logger, lines } = memoryLogger();
  const notifier = new WebhookNotifier({
    hooks: [{ webhook: hook.url, format: 'json' }],
    logger,
    backoffMs: 5,
  });
  t.same(await notifier.notify(request), { delivered: 0, failed: 1 });
  t.equal(hook.received.length, 3);
  t.match(hook.received[0]?.body, {
    event: 'approval.requested',
    request: { id: 'req-1', sql: request.sql },
  });
  t.equal(lines.filter((l) => l.level === 40).length, 3);
  t.match(
    lines.find((l) => l.level === 50),
    { msg: /notification not delivered/, requestId: 'req-1' },
  );
});

t.test('a hook that refuses the request (4xx) is not retried; an unreachable one is', async (t) => {
  const hook = await receiver(t, [404]);
  const { logger, lines } = memoryLogger();
  const closed = await receiver(t, []);
  const notifier = new WebhookNotifier({
    hooks: [
      { webhook: hook.url, format: 'json' },
      { webhook: closed.url.replace(/:\d+\//, ':1/'), format: 'json' },
    ],
    logger,
    backoffMs: 5,
    attempts: 2,
  });
  t.same(await notifier.notify(request), { delivered: 0, failed: 2 });
  t.equal(hook.received.length, 1);
  t.equal(lines.filter((l) => l.level === 40).length, 3, 'one 404 and two connection failures');
  t.equal(lines.filter((l) => l.level === 50).length, 2);
});

t.test(
  'a new request is estimated, notified and recorded as notified; a repeat is not re-sent',
  async (t) => {
    const hook = await receiver(t, []);
    const { logger } = memoryLogger();
    const redis = await connect(t);
    const p = prefix(t, redis);
    const one = await gateway(
      t,
      p,
      {},
      {
        notifier: new WebhookNotifier({ hooks: [{ webhook: hook.url, format: 'json' }], logger }),
        estimateRows: async () => 1_234,
      },
    );
    const sql = 'UPDATE orders SET a = 1 WHERE b = 2';
    const s = session();
    const outcome = await one.stage.review(s, sql, verdict(sql), { waitMs: 0 });
    if (outcome.state !== 'pending') throw new Error('expected a pending request');
    await eventually(async () => (one.events.some((e) => e.event.state === 'notified') ? true : undefined));
    t.match(hook.received[0]?.body, { request: { id: outcome.requestId, rowEstimate: 1_234 } });
    t.equal((await one.service.get(outcome.requestId))?.rowEstimate, 1_234);
    await one.stage.review(s, sql, verdict(sql), { waitMs: 0 });
    await one.stage.close();
    t.equal(hook.received.length, 1, 'approvers are told once per request');
  },
);

t.test('a failing or slow row estimate does not hold the request back', async (t) => {
  const { logger, lines } = memoryLogger();
  const redis = await connect(t);
  const p = prefix(t, redis);
  const failing = await gateway(
    t,
    p,
    {},
    {
      logger,
      estimateRows: async () => {
        throw new Error('EXPLAIN failed');
      },
    },
  );
  const sql = 'UPDATE orders SET a = 1 WHERE b = 3';
  const first = await failing.stage.review(session(), sql, verdict(sql), { waitMs: 0 });
  await failing.stage.close();
  if (first.state !== 'pending') throw new Error('expected a pending request');
  t.equal((await failing.service.get(first.requestId))?.rowEstimate, undefined);
  t.match(
    lines.find((l) => l.level === 40),
    { msg: /row estimate failed/ },
  );

  const slow = await gateway(
    t,
    p,
    {},
    {
      estimateRows: () => new Promise((resolve) => setTimeout(() => resolve(5), 2_000).unref()),
      estimateTimeoutMs: 20,
    },
  );
  const other = 'UPDATE orders SET a = 1 WHERE b = 4';
  const second = await slow.stage.review(session(), other, verdict(other), { waitMs: 0 });
  await slow.stage.close();
  if (second.state !== 'pending') throw new Error('expected a pending request');
  t.equal((await slow.service.get(second.requestId))?.rowEstimate, undefined);
});
