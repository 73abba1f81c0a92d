import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { ApprovalService } from '../../src/approvals/service.js';
import { handleApprovals } from '../../src/http/approvals.js';
import type { Identity } from '../../src/identity/types.js';
import {
  agent,
  alice,
  bob,
  connect,
  mallory,
  memoryLogger,
  prefix,
  statement,
} from './fixtures/approvals.js';

const people: Record<string, Identity> = { agent, alice, bob, mallory };

/** The API behind a real HTTP server; `x-test-user` stands in for the server's bearer authentication. */
async function api(t: { teardown(fn: () => unknown): void }) {
  const redis = await connect(t);
  const service = new ApprovalService({
    redis,
    policy: { approvers: { groups: ['dba'] }, timeout: 60_000 },
    keyPrefix: prefix(t, redis),
  });
  const { logger } = memoryLogger();
  const server = createServer(async (req, res) => {
    const identity = people[String(req.headers['x-test-user'])] ?? mallory;
    if (!(await handleApprovals(req, res, { service, identity, logger }))) res.writeHead(418).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call = async (user: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'x-test-user': user, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
  };
  const open = (sql: string, who: Identity = agent) =>
    service.create({
      requester: { subject: who.subject, issuer: who.issuer, groups: who.groups },
      target: 'orders',
      channel: 'mcp-http',
      sessionId: 's',
      sql,
      statements: [statement(sql)],
      guard: { reason: 'writes need review', rule: 'agents: review write' },
    });
  return { service, call, open };
}

t.test('approvers list every pending request; others list only their own', async (t) => {
  const { call, open } = await api(t);
  const mine = await open('UPDATE orders SET a = 1 WHERE id = 1');
  const theirs = await open('UPDATE orders SET a = 2 WHERE id = 2', mallory);
  const asApprover = await call('alice', 'GET', '/api/approvals');
  t.equal(asApprover.status, 200);
  t.same(
    (asApprover.body.requests as Array<{ id: string }>).map((r) => r.id).sort(),
    [mine.id, theirs.id].sort(),
  );
  const asAgent = await call('agent', 'GET', '/api/approvals?state=pending');
  t.same(
    (asAgent.body.requests as Array<{ id: string }>).map((r) => r.id),
    [mine.id],
  );
  t.match(await call('alice', 'GET', '/api/approvals?state=nonsense'), {
    status: 400,
    body: { error: 'ERR_BAD_REQUEST', message: /state must be one of/ },
  });
});

t.test('a request is readable by its requester and approvers, not by others', async (t) => {
  const { call, open } = await api(t);
  const request = await open('UPDATE orders SET a = 1 WHERE id = 1');
  t.match(await call('agent', 'GET', `/api/approvals/${request.id}`), {
    status: 200,
    body: { request: { id: request.id } },
  });
  t.match(await call('bob', 'GET', `/api/approvals/${request.id}`), { status: 200 });
  t.match(await call('mallory', 'GET', `/api/approvals/${request.id}`), {
    status: 403,
    body: { error: 'ERR_APPROVAL_FORBIDDEN' },
  });
  t.match(await call('alice', 'GET', '/api/approvals/00000000-0000-0000-0000-000000000000'), {
    status: 404,
    body: { error: 'ERR_APPROVAL_NOT_FOUND' },
  });
  t.match(await call('alice', 'GET', '/api/approvals/bad%20id'), {
    status: 404,
    body: { error: 'ERR_NOT_FOUND' },
  });
  t.match(await call('alice', 'GET', `/api/approvals/${request.id}/other`), { status: 404 });
  t.match(await call('alice', 'DELETE', `/api/approvals/${request.id}`), {
    status: 405,
    body: { error: 'ERR_METHOD_NOT_ALLOWED' },
  });
  t.match(await call('alice', 'GET', `/api/approvals/${request.id}/approve`), { status: 405 });
  t.match(await call('alice', 'POST', '/api/approvals'), { status: 405 });
});

t.test('an approver approves with a reason and a grant; a second decision conflicts', async (t) => {
  const { call, open, service } = await api(t);
  const request = await open('UPDATE orders SET a = 1 WHERE id = 1');
  const res = await call('alice', 'POST', `/api/approvals/${request.id}/approve`, {
    reason: 'ticket 123',
    grantMinutes: 15,
  });
  t.equal(res.status, 200);
  t.match(res.body, {
    request: { id: request.id, state: 'approved', decision: { by: 'alice', reason: 'ticket 123' } },
    grant: { subject: 'agent-7', target: 'orders', effects: ['write'], objects: ['public.orders'] },
  });
  t.ok(await service.findGrant(agent, 'orders', [statement('UPDATE orders SET a = 3 WHERE id = 3')]));
  t.match(await call('bob', 'POST', `/api/approvals/${request.id}/deny`, {}), {
    status: 409,
    body: { error: 'ERR_APPROVAL_CONFLICT', message: /already approved/ },
  });
});

t.test('deny records the reason; bad bodies, self-approval and non-approvers are refused', async (t) => {
  const { call, open } = await api(t);
  const request = await open('UPDATE orders SET a = 1 WHERE id = 1');
  t.match(await call('mallory', 'POST', `/api/approvals/${request.id}/approve`), {
    status: 403,
    body: { error: 'ERR_APPROVAL_NOT_APPROVER' },
  });
  const own = await open('UPDATE orders SET a = 9 WHERE id = 9', alice);
  t.match(await call('alice', 'POST', `/api/approvals/${own.id}/approve`), {
    status: 403,
    body: { error: 'ERR_APPROVAL_SELF' },
  });
  t.match(await call('alice', 'POST', `/api/approvals/${request.id}/deny`, { grantMinutes: 5 }), {
    status: 400,
    body: { message: /grantMinutes applies to approve/ },
  });
  t.match(await call('alice', 'POST', `/api/approvals/${request.id}/approve`, { reason: 5 }), {
    status: 400,
    body: { error: 'ERR_BAD_REQUEST', message: /body: reason/ },
  });
  t.match(await call('alice', 'POST', `/api/approvals/${request.id}/approve`, { extra: true }), {
    status: 400,
  });
  t.match(await call('alice', 'POST', `/api/approvals/${request.id}/approve`, '{oops'), {
    status: 400,
    body: { error: 'ERR_BODY_NOT_JSON' },
  });
  t.match(await call('alice', 'POST', `/api/approvals/${request.id}/approve`, { grantMinutes: 100_000 }), {
    status: 400,
    body: { error: 'ERR_APPROVAL_INVALID' },
  });
  const denied = await call('alice', 'POST', `/api/approvals/${request.id}/deny`, {
    reason: 'use the admin tool',
  });
  t.match(denied, {
    status: 200,
    body: { request: { state: 'denied', decision: { by: 'alice', reason: 'use the admin tool' } } },
  });
});

t.test('paths outside /api/approvals are left to the server', async (t) => {
  const { call } = await api(t);
  t.equal((await call('alice', 'GET', '/api/other')).status, 418);
  t.equal((await call('alice', 'GET', '/healthz')).status, 418);
});

t.test('a store failure is a JSON 503, not a crash', async (t) => {
  const { call, service } = await api(t);
  // Reach into nothing: a closed connection makes every Redis call fail.
  const redis = await connect(t);
  const broken = new ApprovalService({ redis, policy: { approvers: { groups: ['dba'] }, timeout: 1_000 } });
  redis.disconnect();
  const { logger } = memoryLogger();
  const server = createServer(async (req, res) => {
    await handleApprovals(req, res, { service: broken, identity: alice, logger });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const res = await fetch(
    `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/approvals/abc/approve`,
    {
      method: 'POST',
    },
  );
  t.equal(res.status, 503);
  t.match(await res.json(), { error: 'ERR_APPROVAL_STORE', message: /approval store \(Redis\) failed/ });
  t.equal((await call('alice', 'GET', '/api/approvals')).status, 200, 'the healthy API is unaffected');
  t.ok(service);
});
