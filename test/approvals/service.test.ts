import t from 'tap';
import { ApprovalError } from '../../src/approvals/errors.js';
import { ApprovalService } from '../../src/approvals/service.js';
import type { NewApprovalRequest } from '../../src/approvals/types.js';
import {
  agent,
  alice,
  bob,
  connect,
  gateway,
  mallory,
  prefix,
  session,
  statement,
  verdict,
} from './fixtures/approvals.js';

const SQL = 'DELETE FROM orders WHERE id = 7';

function newRequest(sql = SQL, over: Partial<NewApprovalRequest> = {}): NewApprovalRequest {
  return {
    requester: { subject: agent.subject, issuer: agent.issuer, groups: agent.groups },
    target: 'orders',
    channel: 'postgres',
    sessionId: 's-1',
    sql,
    statements: [statement(sql, { command: 'DELETE', effects: ['delete'] })],
    guard: { reason: 'deletes need review', rule: 'agents: review delete' },
    ...over,
  };
}

function code(err: unknown): string | undefined {
  return err instanceof ApprovalError ? err.code : undefined;
}

t.test('a request stores who, where, what and until when', async (t) => {
  const redis = await connect(t);
  const service = new ApprovalService({
    redis,
    policy: { approvers: { groups: ['dba'] }, timeout: 60_000 },
    keyPrefix: prefix(t, redis),
    clock: () => 1_000_000,
  });
  const request = await service.create(newRequest());
  const stored = await service.get(request.id);
  t.same(stored, request);
  t.match(stored, {
    requester: { subject: 'agent-7', issuer: 'https://idp.example.com', groups: ['ai-agents'] },
    target: 'orders',
    channel: 'postgres',
    sql: SQL,
    effects: ['delete'],
    objects: ['public.orders'],
    guard: { reason: 'deletes need review', rule: 'agents: review delete' },
    createdAt: 1_000_000,
    expiresAt: 1_060_000,
    state: 'pending',
  });
  await service.setRowEstimate(request.id, 12.4);
  t.equal((await service.get(request.id))?.rowEstimate, 12);
  await service.setRowEstimate('no-such-id', 5);
  t.equal(await service.get('no-such-id'), undefined, 'an estimate never creates a request');
  t.ok((await redis.pttl(service.keys.request(request.id))) > 60_000, 'the request key has a TTL');
});

t.test('nobody approves or denies their own request', async (t) => {
  const redis = await connect(t);
  const service = new ApprovalService({
    redis,
    policy: { approvers: { groups: ['dba'] }, timeout: 60_000 },
    keyPrefix: prefix(t, redis),
  });
  const request = await service.create(
    newRequest(SQL, { requester: { subject: 'alice', issuer: alice.issuer, groups: alice.groups } }),
  );
  const err = await service.approve(request.id, alice).catch((e: unknown) => e);
  t.equal(code(err), 'ERR_APPROVAL_SELF');
  t.match((err as Error).message, /is your own: another approver must decide it/);
  t.equal(code(await service.deny(request.id, alice).catch((e: unknown) => e)), 'ERR_APPROVAL_SELF');
  t.equal((await service.get(request.id))?.state, 'pending');
  // The same subject from another issuer is another person.
  const other = { ...alice, issuer: 'https://other.example.com' };
  t.equal((await service.approve(request.id, other)).request.state, 'approved');
});

t.test('a non-approver is refused and the request stays pending', async (t) => {
  const redis = await connect(t);
  const service = new ApprovalService({
    redis,
    policy: { approvers: { groups: ['dba'] }, timeout: 60_000 },
    keyPrefix: prefix(t, redis),
  });
  const request = await service.create(newRequest());
  const err = await service.approve(request.id, mallory).catch((e: unknown) => e);
  t.equal(code(err), 'ERR_APPROVAL_NOT_APPROVER');
  t.match((err as Error).message, /mallory is not an approver \(approvers are members of dba\)/);
  t.equal(
    code(await service.deny(request.id, mallory).catch((e: unknown) => e)),
    'ERR_APPROVAL_NOT_APPROVER',
  );
  t.equal((await service.get(request.id))?.state, 'pending');
  const nobody = new ApprovalService({
    redis,
    policy: { approvers: { groups: [] }, timeout: 60_000 },
    keyPrefix: service.keys.prefix,
  });
  t.equal(nobody.isApprover(alice), false, 'with no approver groups nobody approves');
});

t.test('two approvers racing through two connections leave one decision', async (t) => {
  const redis = await connect(t);
  const p = prefix(t, redis);
  const one = await gateway(t, p);
  const two = await gateway(t, p);
  const request = await one.service.create(newRequest());
  const results = await Promise.allSettled([
    one.service.approve(request.id, alice, 'fine'),
    two.service.deny(request.id, bob, 'not fine'),
  ]);
  const won = results.filter((r) => r.status === 'fulfilled');
  const lost = results.filter((r) => r.status === 'rejected');
  t.equal(won.length, 1);
  t.equal(lost.length, 1);
  t.equal(code(lost[0]?.status === 'rejected' ? lost[0].reason : undefined), 'ERR_APPROVAL_CONFLICT');
  const stored = await one.service.get(request.id);
  t.ok(stored?.state === 'approved' || stored?.state === 'denied');
  t.equal(stored?.decision?.by, stored?.state === 'approved' ? 'alice' : 'bob');
  const again = await two.service.approve(request.id, bob).catch((e: unknown) => e);
  t.equal(code(again), 'ERR_APPROVAL_CONFLICT');
  t.match((again as Error).message, /is already (approved|denied)/);
});

t.test('an approval arriving after the deadline loses to expiry, in every process', async (t) => {
  const redis = await connect(t);
  const keyPrefix = prefix(t, redis);
  let now = 5_000_000;
  const policy = { approvers: { groups: ['dba'] }, timeout: 1_000 };
  const creator = new ApprovalService({ redis, policy, keyPrefix, clock: () => now });
  const request = await creator.create(newRequest());
  now += 1_000;
  // The approver's view was loaded before the deadline; its approval still arrives after it.
  const late = await creator.approve(request.id, alice).catch((e: unknown) => e);
  t.equal(code(late), 'ERR_APPROVAL_CONFLICT');
  t.match((late as Error).message, /already expired/);
  const other = new ApprovalService({ redis: await connect(t), policy, keyPrefix, clock: () => now });
  t.equal((await other.get(request.id))?.state, 'expired');
  t.same(await other.list({ state: 'pending' }), []);
  t.equal(await other.markExecuted(request.id), false, 'an expired request never executes');
});

t.test('pending requests past their deadline are expired when listed', async (t) => {
  const redis = await connect(t);
  let now = 9_000_000;
  const service = new ApprovalService({
    redis,
    policy: { approvers: { groups: ['dba'] }, timeout: 1_000 },
    keyPrefix: prefix(t, redis),
    clock: () => now,
  });
  const a = await service.create(newRequest('DELETE FROM orders WHERE id = 1'));
  now += 500;
  const b = await service.create(newRequest('DELETE FROM orders WHERE id = 2'));
  now += 600;
  t.same(
    (await service.list({ state: 'pending' })).map((r) => r.id),
    [b.id],
  );
  t.same(
    (await service.list({ state: 'expired' })).map((r) => r.id),
    [a.id],
  );
  t.same(
    (await service.list()).map((r) => r.id),
    [b.id, a.id],
    'newest first',
  );
  t.same(
    (await service.list({ requester: { subject: 'someone-else', issuer: agent.issuer } })).map((r) => r.id),
    [],
  );
  t.equal((await service.list({ limit: 1 })).length, 1);
  // A request whose key reached its retention disappears from the listing.
  await redis.del(service.keys.request(b.id));
  t.same(
    (await service.list()).map((r) => r.id),
    [a.id],
  );
  t.equal(await redis.zscore(service.keys.index, b.id), null);
});

t.test(
  'a grant approves later statements of that identity and target within its scope, until it ends',
  async (t) => {
    const redis = await connect(t);
    let now = 20_000_000;
    const keyPrefix = prefix(t, redis);
    const one = await gateway(t, keyPrefix, {}, { clock: () => now });
    const first = await one.stage.review(session(), SQL, verdict(SQL, { effects: ['delete'] }), {
      waitMs: 0,
    });
    if (first.state !== 'pending') throw new Error('expected a pending request');
    const { grant } = await one.service.approve(first.requestId, alice, 'clean-up window', {
      grant: { minutes: 30 },
    });
    t.match(grant, {
      subject: 'agent-7',
      target: 'orders',
      effects: ['delete'],
      objects: ['public.orders'],
      by: 'alice',
      requestId: first.requestId,
      expiresAt: now + 30 * 60_000,
    });
    const ttl = await redis.pttl(one.service.keys.grants(agent.subject, agent.issuer, 'orders'));
    t.ok(ttl > 29 * 60_000 && ttl <= 30 * 60_000, 'the grant key expires with the grant');

    const later = 'DELETE FROM orders WHERE id = 8';
    const covered = await one.stage.review(session(), later, verdict(later, { effects: ['delete'] }), {
      waitMs: 0,
    });
    t.match(covered, {
      state: 'approved',
      requestId: first.requestId,
      by: 'alice',
      reason: /time-boxed grant/,
    });
    t.match(one.events.at(-1)?.event, { state: 'approved', by: 'alice', reason: /time-boxed grant/ });

    const wider = 'DELETE FROM customers WHERE id = 8';
    const otherTable = await one.stage.review(
      session(),
      wider,
      verdict(wider, { effects: ['delete'], objects: ['public.customers'] }),
      { waitMs: 0 },
    );
    t.equal(otherTable.state, 'pending', 'an object outside the grant needs a request');
    const write = "UPDATE orders SET note = 'x' WHERE id = 8";
    t.equal(
      (await one.stage.review(session(), write, verdict(write), { waitMs: 0 })).state,
      'pending',
      'another effect',
    );
    const unbounded = 'DELETE FROM orders';
    t.equal(
      (
        await one.stage.review(
          session(),
          unbounded,
          verdict(unbounded, { effects: ['delete'], unbounded: true }),
          { waitMs: 0 },
        )
      ).state,
      'pending',
      'an unbounded statement is not covered by a grant for a bounded one',
    );
    t.equal(
      (
        await one.stage.review(session(mallory), later, verdict(later, { effects: ['delete'] }), {
          waitMs: 0,
        })
      ).state,
      'pending',
      'another identity',
    );
    t.equal(
      (
        await one.stage.review(session(agent, 'billing'), later, verdict(later, { effects: ['delete'] }), {
          waitMs: 0,
        })
      ).state,
      'pending',
      'another target',
    );
    now += 30 * 60_000;
    const after = 'DELETE FROM orders WHERE id = 9';
    t.equal(
      (await one.stage.review(session(), after, verdict(after, { effects: ['delete'] }), { waitMs: 0 }))
        .state,
      'pending',
      'the grant has ended',
    );
  },
);

t.test('grants are refused when their scope or length is not acceptable', async (t) => {
  const redis = await connect(t);
  const service = new ApprovalService({
    redis,
    policy: { approvers: { groups: ['dba'] }, timeout: 60_000 },
    keyPrefix: prefix(t, redis),
  });
  const request = await service.create(newRequest());
  for (const grant of [
    { minutes: 0 },
    { minutes: 1.5 },
    { minutes: 24 * 60 + 1 },
    { minutes: 5, effects: ['unknown' as const] },
    { minutes: 5, objects: [] },
  ]) {
    const err = await service.approve(request.id, alice, undefined, { grant }).catch((e: unknown) => e);
    t.equal(code(err), 'ERR_APPROVAL_INVALID', JSON.stringify(grant));
  }
  t.equal((await service.get(request.id))?.state, 'pending', 'a refused grant leaves the request undecided');
  const long = await service.approve(request.id, alice, 'x'.repeat(2_001)).catch((e: unknown) => e);
  t.equal(code(long), 'ERR_APPROVAL_INVALID');
});

t.test('a corrupt grant or request in Redis is never trusted', async (t) => {
  const redis = await connect(t);
  const service = new ApprovalService({
    redis,
    policy: { approvers: { groups: ['dba'] }, timeout: 60_000 },
    keyPrefix: prefix(t, redis),
  });
  const key = service.keys.grants(agent.subject, agent.issuer, 'orders');
  await redis.zadd(key, Date.now() + 60_000, '{not json', Date.now() + 60_000, JSON.stringify({ id: 'g' }));
  t.equal(await service.findGrant(agent, 'orders', [statement(SQL)]), undefined);
  await redis.hset(service.keys.request('broken'), 'id', 'broken', 'state', 'approved');
  const err = await service.get('broken').catch((e: unknown) => e);
  t.equal(code(err), 'ERR_APPROVAL_STORE');
  t.equal((err as ApprovalError).status, 503);
});

t.test('approval status is shown to the requester and approvers only', async (t) => {
  const redis = await connect(t);
  const service = new ApprovalService({
    redis,
    policy: { approvers: { groups: ['dba'] }, timeout: 60_000 },
    keyPrefix: prefix(t, redis),
  });
  const request = await service.create(newRequest());
  t.match(await service.status(request.id, agent), { id: request.id, state: 'pending', sql: SQL });
  await service.deny(request.id, alice, 'too broad');
  t.match(await service.status(request.id, agent), {
    state: 'denied',
    decidedBy: 'alice',
    reason: 'too broad',
    expiresAt: request.expiresAt,
  });
  t.match(await service.status(request.id, bob), { state: 'denied' });
  t.equal(code(await service.status(request.id, mallory).catch((e: unknown) => e)), 'ERR_APPROVAL_FORBIDDEN');
  t.equal(code(await service.status('nope', agent).catch((e: unknown) => e)), 'ERR_APPROVAL_NOT_FOUND');
  t.equal(code(await service.approve('nope', alice).catch((e: unknown) => e)), 'ERR_APPROVAL_NOT_FOUND');
});
