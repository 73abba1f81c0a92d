import t from 'tap';
import {
  agent,
  alice,
  eventually,
  gateway,
  prefix,
  connect,
  session,
  verdict,
} from './fixtures/approvals.js';

const SQL = "UPDATE orders SET status = 'refunded' WHERE id = 42";

t.test(
  'a request made through one gateway is approved through another and the waiting review wakes',
  async (t) => {
    const p = prefix(t, await connect(t));
    const one = await gateway(t, p);
    const two = await gateway(t, p);
    const s = session();
    const progress: string[] = [];
    const started = Date.now();
    const waiting = one.stage.review(s, SQL, verdict(SQL), {
      waitMs: 4_000,
      onProgress: (message) => progress.push(message),
    });
    const pending = await eventually(async () => (await two.service.list({ state: 'pending' }))[0]);
    t.equal(pending.sql, SQL);
    t.equal(pending.requester.subject, agent.subject);
    t.equal(pending.requester.issuer, agent.issuer);
    t.same(pending.effects, ['write']);
    t.same(pending.objects, ['public.orders']);
    t.equal(pending.expiresAt - pending.createdAt, 5_000);
    const { request } = await two.service.approve(pending.id, alice, 'refund agreed with support');
    t.equal(request.state, 'approved');
    t.equal(request.decision?.by, 'alice');
    const outcome = await waiting;
    t.same(outcome, {
      state: 'approved',
      requestId: pending.id,
      by: 'alice',
      reason: 'refund agreed with support',
    });
    // Woken by pub/sub, not by the 2 s poll.
    t.ok(Date.now() - started < 1_900, 'woke before the next poll');
    t.match(progress[0], new RegExp(`waiting for approval of request ${pending.id}`));
    t.equal((await one.service.get(pending.id))?.state, 'executed', 'the approval is consumed');
    t.same(
      one.events.map((e) => e.event.state),
      ['requested', 'approved', 'executed'],
    );
    t.equal(one.events[1]?.event.reason, 'refund agreed with support');
  },
);

t.test('a denial reaches the waiting review with the approver and reason', async (t) => {
  const p = prefix(t, await connect(t));
  const one = await gateway(t, p);
  const two = await gateway(t, p);
  const waiting = one.stage.review(session(), SQL, verdict(SQL), { waitMs: 4_000 });
  const pending = await eventually(async () => (await two.service.list({ state: 'pending' }))[0]);
  await two.service.deny(pending.id, alice, 'not during month end');
  const outcome = await waiting;
  t.same(outcome, {
    state: 'denied',
    requestId: pending.id,
    reason: `request ${pending.id} denied by alice: not during month end`,
  });
  const stored = await one.service.get(pending.id);
  t.equal(stored?.state, 'denied');
  t.equal(stored?.decision?.reason, 'not during month end');
});

t.test('a request nobody answers expires and the review is denied with the id', async (t) => {
  const p = prefix(t, await connect(t));
  const one = await gateway(t, p, { timeout: 300 });
  const outcome = await one.stage.review(session(), SQL, verdict(SQL), { waitMs: 300 });
  t.equal(outcome.state, 'denied');
  const id = outcome.state === 'denied' ? outcome.requestId : undefined;
  t.ok(id);
  t.same(outcome, { state: 'denied', requestId: id, reason: `approval request ${id} expired` });
  t.equal((await one.service.get(String(id)))?.state, 'expired');
  t.ok(one.events.some((e) => e.event.state === 'expired'));
});

t.test('a review still undecided at the end of its wait returns pending with the id', async (t) => {
  const p = prefix(t, await connect(t));
  const one = await gateway(t, p);
  const started = Date.now();
  const outcome = await one.stage.review(session(), SQL, verdict(SQL), { waitMs: 200 });
  t.ok(Date.now() - started >= 190, 'waited for the wait time');
  t.equal(outcome.state, 'pending');
  if (outcome.state !== 'pending') return;
  const stored = await one.service.get(outcome.requestId);
  t.equal(stored?.state, 'pending');
  t.equal(outcome.expiresAt, stored?.expiresAt);
  // The same statement asked again joins the same request rather than opening another.
  const again = await one.stage.review(session(), SQL, verdict(SQL), { waitMs: 0 });
  t.same(again, outcome);
  t.equal((await one.service.list()).length, 1);
});

t.test(
  'an approved statement runs once: the repeat after approval runs, the next repeat needs a new request',
  async (t) => {
    const p = prefix(t, await connect(t));
    const one = await gateway(t, p);
    const two = await gateway(t, p);
    const first = await one.stage.review(session(), SQL, verdict(SQL), { waitMs: 0 });
    t.equal(first.state, 'pending');
    if (first.state !== 'pending') return;
    await two.service.approve(first.requestId, alice);
    // The agent repeats the statement (maybe through another gateway): it consumes the approval.
    const repeat = await two.stage.review(session(), SQL, verdict(SQL), { waitMs: 0 });
    t.same(repeat, { state: 'approved', requestId: first.requestId, by: 'alice' });
    t.equal((await one.service.get(first.requestId))?.state, 'executed');
    // A replay gets a fresh request, not a free run.
    const replay = await one.stage.review(session(), SQL, verdict(SQL), { waitMs: 0 });
    t.equal(replay.state, 'pending');
    t.not(replay.state === 'pending' ? replay.requestId : '', first.requestId);
  },
);

t.test('an approval covers only the exact text, target and identity it was given for', async (t) => {
  const p = prefix(t, await connect(t));
  const one = await gateway(t, p);
  const first = await one.stage.review(session(), SQL, verdict(SQL), { waitMs: 0 });
  if (first.state !== 'pending') throw new Error('expected a pending request');
  await one.service.approve(first.requestId, alice);
  const other = SQL.replace('42', '43');
  const changed = await one.stage.review(session(), other, verdict(other), { waitMs: 0 });
  t.equal(changed.state, 'pending', 'different text');
  const elsewhere = await one.stage.review(session(agent, 'billing'), SQL, verdict(SQL), { waitMs: 0 });
  t.equal(elsewhere.state, 'pending', 'different target');
  const otherIssuer = { ...agent, issuer: 'https://other-idp.example.com' };
  const impostor = await one.stage.review(session(otherIssuer), SQL, verdict(SQL), { waitMs: 0 });
  t.equal(impostor.state, 'pending', 'same subject from another issuer');
  const owner = await one.stage.review(session(), SQL, verdict(SQL), { waitMs: 0 });
  t.equal(owner.state, 'approved');
});

t.test('two reviews waiting on one request: the approval releases only one of them', async (t) => {
  const p = prefix(t, await connect(t));
  const one = await gateway(t, p);
  const two = await gateway(t, p);
  const a = one.stage.review(session(), SQL, verdict(SQL), { waitMs: 1_500 });
  const b = two.stage.review(session(), SQL, verdict(SQL), { waitMs: 1_500 });
  const pending = await eventually(async () => {
    const list = await one.service.list({ state: 'pending' });
    return list.length === 1 ? list[0] : undefined;
  });
  await new Promise((r) => setTimeout(r, 100));
  await one.service.approve(pending.id, alice);
  const outcomes = await Promise.all([a, b]);
  t.equal(outcomes.filter((o) => o.state === 'approved').length, 1, 'exactly one runs');
  t.equal(outcomes.filter((o) => o.state === 'pending').length, 1, 'the other waits on a new request');
});

t.test('an aborted wait returns pending and leaves the request open', async (t) => {
  const p = prefix(t, await connect(t));
  const one = await gateway(t, p);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const started = Date.now();
  const outcome = await one.stage.review(session(), SQL, verdict(SQL), {
    waitMs: 4_000,
    signal: controller.signal,
  });
  t.ok(Date.now() - started < 1_000);
  t.equal(outcome.state, 'pending');
});

t.test('the review fails closed when the approval store is unreachable', async (t) => {
  const p = prefix(t, await connect(t));
  const one = await gateway(t, p);
  one.redis.disconnect();
  const outcome = await one.stage.review(session(), SQL, verdict(SQL), { waitMs: 0 });
  t.equal(outcome.state, 'denied');
  t.match(outcome.state === 'denied' ? outcome.reason : '', /approval workflow unavailable/);
});

t.test('a broken progress callback or a nonsensical wait does not break the review', async (t) => {
  const p = prefix(t, await connect(t));
  const one = await gateway(t, p);
  const started = Date.now();
  const outcome = await one.stage.review(session(), SQL, verdict(SQL), {
    waitMs: Number.NaN,
    onProgress: () => {
      throw new Error('stream closed');
    },
  });
  t.equal(outcome.state, 'pending', 'NaN means no wait');
  t.ok(Date.now() - started < 1_000);
  const thrown = await one.stage.review(session(), SQL, verdict(SQL), {
    waitMs: 150,
    onProgress: () => {
      throw new Error('stream closed');
    },
  });
  t.equal(thrown.state, 'pending', 'the wait ran to its end despite the callback');
});

t.test('events carry the statement id when the caller passes one', async (t) => {
  const p = prefix(t, await connect(t));
  const one = await gateway(t, p);
  const outcome = await one.stage.review(session(), SQL, verdict(SQL), { waitMs: 0, statementId: 'st-1' });
  t.equal(outcome.state, 'pending');
  t.match(one.events[0]?.event, { statementId: 'st-1', state: 'requested' });
  await one.stage.review(session(), SQL.replace('42', '44'), verdict(SQL), { waitMs: 0 });
  t.notOk(one.events[1]?.event.statementId, 'no statement id when none was given');
});
