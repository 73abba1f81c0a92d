import { randomBytes } from 'node:crypto';
import t from 'tap';
import { createApprovals, ApprovalWatcher } from '../../src/approvals/index.js';
import { parseConfigText } from '../../src/config/load.js';
import { alice, connect, eventually, memoryLogger, prefix, session, verdict } from './fixtures/approvals.js';

const SQL = 'UPDATE orders SET a = 1 WHERE id = 1';

function config(keyPrefix = `sluice:{approvals-${process.pid}}:`) {
  return parseConfigText(`
targets:
  orders: { engine: postgres, host: 127.0.0.1, port: 5432, database: orders, user: reader }
recording: { redis: { url: redis://127.0.0.1:6379 } }
approvals:
  approvers: { groups: [dba] }
  timeout: 2s
  keyPrefix: "${keyPrefix}"
`);
}

t.test('two gateways built from one configuration share requests through Redis', async (t) => {
  const keyPrefix = prefix(t, await connect(t));
  const { logger } = memoryLogger();
  const events: string[] = [];
  const one = createApprovals(config(), {
    logger,
    keyPrefix,
    onEvent: (_s, e) => events.push(e.state),
    estimateRows: async () => 3,
  });
  const two = createApprovals(config(), { logger, keyPrefix });
  t.teardown(async () => {
    await one.close();
    await two.close();
  });
  const waiting = one.stage.review(session(), SQL, verdict(SQL), { waitMs: 1_500 });
  const pending = await eventually(async () => (await two.service.list())[0]);
  t.equal(pending.expiresAt - pending.createdAt, 2_000, 'approvals.timeout from the configuration');
  await two.service.approve(pending.id, alice);
  t.match(await waiting, { state: 'approved', requestId: pending.id, by: 'alice' });
  t.same(events, ['requested', 'approved', 'executed']);
  t.match(await one.stage.approvalStatus(pending.id, alice), { state: 'executed', decidedBy: 'alice' });
});

t.test(
  'a watcher whose subscription fails still lets waits end by timeout, and close wakes waiters',
  async (t) => {
    const redis = await connect(t);
    const { logger, lines } = memoryLogger();
    redis.disconnect();
    const watcher = new ApprovalWatcher(
      redis,
      `test:{approvals-${randomBytes(4).toString('hex')}}:changes`,
      logger,
    );
    await watcher.ready();
    t.match(
      lines.find((l) => l.level === 40),
      { msg: /falling back to polling/ },
    );
    const started = Date.now();
    await watcher.wait('x', 30);
    t.ok(Date.now() - started >= 25);
    const long = watcher.wait('y', 60_000);
    await watcher.close();
    await long;
    await watcher.wait('z', 60_000);
    t.pass('waits end at close and after it');
  },
);

t.test('a subscription that is slow to confirm does not hold a waiter back', async (t) => {
  const { Redis } = await import('ioredis');
  // Nothing listens on port 1: the SUBSCRIBE stays queued while the client keeps reconnecting.
  const stuck = new Redis({ port: 1, protocol: 2, maxRetriesPerRequest: null, retryStrategy: () => 1_000 });
  stuck.on('error', () => undefined);
  t.teardown(() => stuck.disconnect());
  const { logger } = memoryLogger();
  const watcher = new ApprovalWatcher(stuck, 'test:{approvals-stuck}:changes', logger);
  const started = Date.now();
  await watcher.ready(50);
  t.ok(Date.now() - started < 500, 'ready gives up waiting for the confirmation');
  await watcher.close();
});

t.test('approvals.keyPrefix keeps deployments sharing a Redis apart', async (t) => {
  const tag = randomBytes(4).toString('hex');
  const { logger } = memoryLogger();
  const mine = createApprovals(config(`test:{approvals-${tag}-a}:`), { logger });
  const theirs = createApprovals(config(`test:{approvals-${tag}-b}:`), { logger });
  const alsoMine = createApprovals(config(`test:{approvals-${tag}-a}:`), { logger });
  t.teardown(async () => {
    await mine.close();
    await theirs.close();
    await alsoMine.close();
  });
  const waiting = mine.stage.review(session(), SQL, verdict(SQL), { waitMs: 300 });
  const pending = await eventually(async () => (await alsoMine.service.list())[0]);
  t.ok(pending, 'a process of the same deployment sees the request');
  t.same(await theirs.service.list(), [], 'another deployment does not');
  t.match(await waiting, { state: 'pending' });
  t.throws(() => config('no-hash-tag:'), /hash tag/, 'a prefix without a {hash tag} is refused');
});
