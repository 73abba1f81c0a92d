import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ApprovalError } from '../approvals/errors.js';
import { isRequester, type ApprovalService } from '../approvals/service.js';
import { REQUEST_STATES, type ApprovalRequest, type ApprovalRequestState } from '../approvals/types.js';
import type { Identity } from '../identity/types.js';
import { ApiProblem, queryLimit, queryTime } from './api/problem.js';
import { BodyError, readJsonBody } from './body.js';
import { sendJson } from './respond.js';

export interface ApprovalsHttpDeps {
  service: ApprovalService;
  /** The caller, already authenticated by the server (bearer token or console sign-in). */
  identity: Identity;
  logger: Logger;
}

const MAX_BODY = 16 * 1024;
/** Request ids are UUIDs; anything else is refused before it reaches a Redis key name. */
const ID = /^[A-Za-z0-9-]{1,64}$/;

const decisionBody = z.strictObject({
  reason: z.string().max(2_000).optional(),
  grantMinutes: z.number().int().positive().optional(),
});

/**
 * The approvals API under /api/approvals. Returns false when the path is not one of its own, so
 * the server can go on routing. Every answer is JSON; errors are `{ error, message }`.
 */
export async function handleApprovals(
  req: IncomingMessage,
  res: ServerResponse,
  deps: ApprovalsHttpDeps,
): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const parts = url.pathname.split('/').filter(Boolean);
  if (parts[0] !== 'api' || parts[1] !== 'approvals') return false;
  try {
    await route(req, res, url, parts.slice(2), deps);
  } catch (err) {
    if (err instanceof ApprovalError) {
      sendJson(res, err.status, { error: err.code, message: err.message });
    } else if (err instanceof BodyError) {
      sendJson(res, err.status, { error: err.code, message: err.message });
    } else if (err instanceof ApiProblem) {
      sendJson(res, err.status, { error: err.code, message: err.message }, err.headers);
    } else {
      deps.logger.error({ err, path: url.pathname }, 'approvals API failed');
      sendJson(res, 500, { error: 'ERR_INTERNAL', message: 'internal error' });
    }
  }
  return true;
}

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  rest: string[],
  { service, identity, logger }: ApprovalsHttpDeps,
): Promise<void> {
  const method = req.method ?? 'GET';
  const [id, action, ...extra] = rest;
  if (id === undefined) {
    allow(method, 'GET');
    sendJson(res, 200, { requests: await listRequests(service, identity, url) });
    return;
  }
  if (!ID.test(id) || extra.length > 0)
    throw new ApiProblem(404, 'ERR_NOT_FOUND', `no such path: ${url.pathname}`);
  if (action === undefined) {
    allow(method, 'GET');
    const request = await service.get(id);
    if (!request) throw new ApprovalError('ERR_APPROVAL_NOT_FOUND', `approval request ${id} does not exist`);
    if (!isRequester(request.requester, identity) && !service.isApprover(identity)) {
      throw new ApprovalError(
        'ERR_APPROVAL_FORBIDDEN',
        `approval request ${id} can be read only by its requester or an approver`,
      );
    }
    sendJson(res, 200, { request });
    return;
  }
  if (action !== 'approve' && action !== 'deny') {
    throw new ApiProblem(404, 'ERR_NOT_FOUND', `no such path: ${url.pathname}`);
  }
  allow(method, 'POST');
  const parsed = decisionBody.safeParse((await readJsonBody(req, MAX_BODY)) ?? {});
  if (!parsed.success) {
    const problem = parsed.error.issues[0];
    throw new ApiProblem(
      400,
      'ERR_BAD_REQUEST',
      `body: ${problem?.path.join('.') || '(top level)'}: ${problem?.message ?? 'invalid'} (expected { reason?, grantMinutes? })`,
    );
  }
  const { reason, grantMinutes } = parsed.data;
  if (action === 'deny') {
    if (grantMinutes !== undefined) {
      throw new ApiProblem(400, 'ERR_BAD_REQUEST', 'grantMinutes applies to approve, not deny');
    }
    const request = await service.deny(id, identity, reason);
    logger.info({ requestId: id, by: identity.subject, reason }, 'approval request denied');
    sendJson(res, 200, { request });
    return;
  }
  const result = await service.approve(
    id,
    identity,
    reason,
    grantMinutes !== undefined ? { grant: { minutes: grantMinutes } } : {},
  );
  logger.info({ requestId: id, by: identity.subject, reason, grantMinutes }, 'approval request approved');
  sendJson(res, 200, result);
}

function allow(method: string, expected: string): void {
  if (method !== expected) {
    throw new ApiProblem(405, 'ERR_METHOD_NOT_ALLOWED', `use ${expected} here`, { allow: expected });
  }
}

/**
 * The requests a caller may list, by the query's filters: approvers see every request (pending
 * unless `state` says otherwise, `state=all` for every state); anyone else only their own.
 */
export async function listRequests(
  service: ApprovalService,
  identity: Identity,
  url: URL,
): Promise<ApprovalRequest[]> {
  const stateParam = url.searchParams.get('state');
  const state = stateParam === 'all' ? undefined : parseState(stateParam);
  const filter = historyFilter(url);
  const listed = service.isApprover(identity)
    ? await service.list({
        ...(stateParam === 'all' ? {} : { state: state ?? 'pending' }),
        limit: filter.scan,
      })
    : await service.list({
        ...(state ? { state } : {}),
        requester: { subject: identity.subject, issuer: identity.issuer },
        limit: filter.scan,
      });
  return listed.filter(filter.matches).slice(0, filter.limit);
}

/** The history filters of a listing: requester subject, target, creation time, limit. */
function historyFilter(url: URL): {
  matches: (r: ApprovalRequest) => boolean;
  limit: number;
  scan: number;
} {
  const now = Date.now();
  const text = (name: string) => url.searchParams.get(name)?.trim() || undefined;
  const requester = text('requester');
  const target = text('target');
  const since = queryTime(url, 'since', now);
  const until = queryTime(url, 'until', now);
  const limit = queryLimit(url, 200, 1000);
  const filtered =
    requester !== undefined || target !== undefined || since !== undefined || until !== undefined;
  return {
    matches: (r) =>
      (requester === undefined || r.requester.subject === requester) &&
      (target === undefined || r.target === target) &&
      (since === undefined || r.createdAt >= since) &&
      (until === undefined || r.createdAt <= until),
    limit,
    // Filters apply after the store's listing: read further back when they will drop some.
    scan: filtered ? 5_000 : limit,
  };
}

function parseState(value: string | null): ApprovalRequestState | undefined {
  if (value === null || value === '') return undefined;
  if ((REQUEST_STATES as readonly string[]).includes(value)) return value as ApprovalRequestState;
  throw new ApiProblem(400, 'ERR_BAD_REQUEST', `state must be one of ${REQUEST_STATES.join(', ')} or all`);
}
