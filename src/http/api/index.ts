import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ApprovalService } from '../../approvals/index.js';
import type { RecordingReader } from '../../recording/types.js';
import { handleApprovals } from '../approvals.js';
import type { Caller } from '../caller.js';
import { sendJson } from '../respond.js';
import type { ConsoleAccess } from './access.js';
import { handleExport } from './export.js';
import { allowMethod, ApiProblem, sendProblem } from './problem.js';
import { handleSessions } from './sessions.js';

export interface ApiDeps {
  access: ConsoleAccess;
  approvals: ApprovalService | undefined;
  recordings: () => RecordingReader;
  logger: Logger;
}

/** What `GET /api/me` answers: who the caller is and what the console should offer them. */
export interface MeResponse {
  subject: string;
  issuer: string;
  groups: string[];
  via: string;
  approver: boolean;
  auditor: boolean;
  approvalsEnabled: boolean;
  /** Console sign-ins only: the token state-changing requests carry in `x-csrf-token`. */
  csrfToken?: string;
}

/**
 * The API under /api (but /api/tokens) for a caller the server has authenticated and, for a
 * cookie, whose state-changing request passed the CSRF checks.
 */
export async function handleApi(
  req: IncomingMessage,
  res: ServerResponse,
  caller: Caller,
  deps: ApiDeps,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const parts = url.pathname.split('/').filter(Boolean);
  const [, resource, ...rest] = parts;
  const identity = caller.identity;
  try {
    switch (resource) {
      case 'me': {
        allowMethod(req.method, 'GET');
        if (rest.length > 0) break;
        const me: MeResponse = {
          subject: identity.subject,
          issuer: identity.issuer,
          groups: identity.groups,
          via: identity.via,
          approver: deps.access.isApprover(identity),
          auditor: deps.access.mayReadRecordings(identity),
          approvalsEnabled: deps.access.approvalsEnabled,
          ...(caller.session ? { csrfToken: caller.session.csrf } : {}),
        };
        sendJson(res, 200, me);
        return;
      }
      case 'approvals': {
        if (deps.approvals === undefined) {
          throw new ApiProblem(404, 'not_enabled', 'approvals are not enabled on this gateway');
        }
        await handleApprovals(req, res, { service: deps.approvals, identity, logger: deps.logger });
        return;
      }
      case 'sessions':
      case 'export': {
        if (!deps.access.mayReadRecordings(identity)) {
          throw new ApiProblem(
            403,
            'ERR_FORBIDDEN',
            'recorded sessions are read by approvers and auditors (console.auditors.groups) only',
          );
        }
        if (resource === 'export') {
          if (rest.length > 0) break;
          await handleExport(req, res, url, deps.recordings());
        } else {
          await handleSessions(req, res, url, rest, deps.recordings());
        }
        return;
      }
    }
    throw new ApiProblem(404, 'ERR_NOT_FOUND', `no route for ${url.pathname}`);
  } catch (err) {
    if (err instanceof ApiProblem) return sendProblem(res, err);
    deps.logger.error({ err, path: url.pathname }, 'API request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendJson(res, 500, { error: 'ERR_INTERNAL', message: 'internal error' });
  }
}
