import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ApprovalService } from '../../approvals/index.js';
import type { Config } from '../../config/load.js';
import type { Authenticator } from '../../identity/authenticator.js';
import { AuthError } from '../../identity/errors.js';
import type { Identity } from '../../identity/types.js';
import type { RecordingReader } from '../../recording/types.js';
import type { ConsoleAccess } from '../api/access.js';
import { ApiProblem } from '../api/problem.js';
import { listSessions, readReplay, sessionQuery } from '../api/sessions.js';
import { ApprovalError } from '../../approvals/errors.js';
import { listRequests } from '../approvals.js';
import { BodyError, readFormBody } from '../body.js';
import { csrfProblem, fromLoopback, originAllowed, overTls, SESSION_COOKIE } from '../caller.js';
import { readCookie, setCookie } from '../cookies.js';
import { serveAsset } from './assets/index.js';
import { redirect, sendPage, type PageUser } from './layout.js';
import { ConsoleOidc, SignInError } from './oidc.js';
import { renderHistory, renderQueue } from './pages/approvals.js';
import { renderExport } from './pages/export.js';
import { renderMessage } from './pages/message.js';
import { renderReplay } from './pages/replay.js';
import { renderSessions } from './pages/sessions.js';
import { renderSignIn } from './pages/sign-in.js';
import type { ConsoleSession, ConsoleSessions } from './sessions.js';

export interface ConsoleDeps {
  config: Config;
  authenticator: Authenticator;
  sessions: ConsoleSessions;
  access: ConsoleAccess;
  approvals: ApprovalService | undefined;
  recordings: () => RecordingReader;
  baseUrl: () => string;
  logger: Logger;
  fetch?: typeof fetch;
}

const STATE_COOKIE = 'sluice_oidc_state';
const MAX_FORM = 32 * 1024;
const PAGES = new Set(['approvals', 'sessions', 'export']);

/**
 * The web console: server-rendered pages at /, their assets, and sign-in / sign-out. Everything a
 * page shows it reads with the same functions the API serves (src/http/api), under the same
 * access rules (ConsoleAccess).
 */
export class ConsoleRoutes {
  readonly #deps: ConsoleDeps;
  readonly #oidc: ConsoleOidc | undefined;

  constructor(deps: ConsoleDeps) {
    this.#deps = deps;
    this.#oidc =
      deps.config.console.clientId !== undefined
        ? new ConsoleOidc({ config: deps.config, ...(deps.fetch ? { fetch: deps.fetch } : {}) })
        : undefined;
  }

  /** Serves a console path; false when the path is not the console's. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const [first, ...rest] = path.split('/').filter(Boolean);
    if (first === 'assets' && rest.length === 1) return serveAsset(path, res);
    if (first === 'sign-in') {
      await this.#signIn(req, res, url, rest);
      return true;
    }
    if (path === '/sign-out') {
      await this.#signOut(req, res);
      return true;
    }
    if (first !== undefined && !PAGES.has(first)) return false;
    const session = this.#deps.sessions.get(readCookie(req, SESSION_COOKIE));
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendPage(res, 405, renderMessage('Not allowed', 'Pages are read with GET.'), { allow: 'GET' });
      return true;
    }
    if (session === undefined) {
      redirect(res, '/sign-in');
      return true;
    }
    try {
      await this.#page(res, url, first ?? '', rest, session);
    } catch (err) {
      const user = this.#user(session);
      if (err instanceof ApiProblem || err instanceof ApprovalError) {
        sendPage(res, err.status, renderMessage('Cannot show this page', err.message, user));
      } else {
        this.#deps.logger.error({ err, path }, 'console page failed');
        sendPage(
          res,
          500,
          renderMessage(
            'Something went wrong',
            'The gateway could not build this page; its log says why.',
            user,
          ),
        );
      }
    }
    return true;
  }

  async #page(
    res: ServerResponse,
    url: URL,
    first: string,
    rest: string[],
    session: ConsoleSession,
  ): Promise<void> {
    const { access } = this.#deps;
    const identity = session.identity;
    const user = this.#user(session);
    if (first === '') return redirect(res, '/approvals');
    if (first === 'approvals') {
      const service = this.#deps.approvals;
      if (service === undefined) {
        return sendPage(
          res,
          200,
          renderMessage(
            'Approvals are not enabled',
            'This gateway sends no statement to review: configure approvals.approvers.groups and a Redis for them.',
            user,
          ),
        );
      }
      if (rest.length === 0) return sendPage(res, 200, renderQueue(user, identity));
      if (rest.length === 1 && rest[0] === 'history') {
        const filters = {
          state: url.searchParams.get('state') || 'all',
          requester: url.searchParams.get('requester') ?? '',
          target: url.searchParams.get('target') ?? '',
          since: url.searchParams.get('since') ?? '',
        };
        const query = new URL(url.href);
        query.searchParams.set('state', filters.state);
        try {
          return sendPage(
            res,
            200,
            renderHistory(user, await listRequests(service, identity, query), filters, undefined),
          );
        } catch (err) {
          if (!(err instanceof ApiProblem)) throw err;
          return sendPage(res, 400, renderHistory(user, [], filters, err.message));
        }
      }
    }
    if (first === 'sessions' || first === 'export') {
      if (!access.mayReadRecordings(identity)) {
        return sendPage(
          res,
          403,
          renderMessage(
            'Not allowed',
            'Recorded sessions are read by approvers and auditors (console.auditors.groups) only.',
            user,
          ),
        );
      }
      if (first === 'export' && rest.length === 0) return sendPage(res, 200, renderExport(user));
      if (first === 'sessions' && rest.length === 0) {
        const filters = {
          identity: url.searchParams.get('identity') ?? '',
          target: url.searchParams.get('target') ?? '',
          channel: url.searchParams.get('channel') ?? '',
          since: url.searchParams.get('since') ?? '',
          until: url.searchParams.get('until') ?? '',
          statement: url.searchParams.get('statement') ?? '',
        };
        try {
          const sessions = await listSessions(this.#deps.recordings(), sessionQuery(url, Date.now()));
          return sendPage(res, 200, renderSessions(user, sessions, filters, undefined));
        } catch (err) {
          if (!(err instanceof ApiProblem)) throw err;
          return sendPage(res, 400, renderSessions(user, [], filters, err.message));
        }
      }
      if (first === 'sessions' && rest.length === 1 && rest[0] !== undefined) {
        const id = rest[0];
        const replay = /^[A-Za-z0-9._-]{1,128}$/.test(id)
          ? await readReplay(this.#deps.recordings(), id)
          : undefined;
        if (replay === undefined) {
          return sendPage(
            res,
            404,
            renderMessage('No such session', `There is no recording of session ${id}.`, user),
          );
        }
        return sendPage(res, 200, renderReplay(user, replay));
      }
    }
    sendPage(res, 404, renderMessage('Not found', `There is no page at ${url.pathname}.`, user));
  }

  #user(session: ConsoleSession): PageUser {
    const { identity } = session;
    return {
      subject: identity.subject,
      groups: identity.groups,
      approver: this.#deps.access.isApprover(identity),
      auditor: this.#deps.access.mayReadRecordings(identity),
      csrf: session.csrf,
    };
  }

  #view(req: IncomingMessage, error?: string) {
    return renderSignIn({
      tokenForm: fromLoopback(req),
      oidc: this.#oidc ? { issuer: this.#oidc.issuer } : undefined,
      ...(error ? { error } : {}),
    });
  }

  async #signIn(req: IncomingMessage, res: ServerResponse, url: URL, rest: string[]): Promise<void> {
    const [step, ...extra] = rest;
    if (extra.length > 0) return sendPage(res, 404, renderMessage('Not found', 'There is no such page.'));
    if (step === undefined) {
      if (this.#deps.sessions.get(readCookie(req, SESSION_COOKIE))) return redirect(res, '/approvals');
      return sendPage(res, 200, this.#view(req));
    }
    if (step === 'token') {
      if (req.method !== 'POST')
        return sendPage(res, 405, this.#view(req, 'Sign in with the form.'), { allow: 'POST' });
      // The pasted token is for `sluice demo` and a local operator, never for the network.
      if (!fromLoopback(req)) {
        return sendPage(res, 403, this.#view(req, 'A pasted token is accepted only from this machine.'));
      }
      // A cross-site form must not sign a browser in as someone else (login CSRF).
      if (!originAllowed(req, this.#deps.baseUrl())) {
        return sendPage(res, 403, this.#view(req, 'The sign-in came from another site and was refused.'));
      }
      let token: string;
      try {
        token = (await readFormBody(req, MAX_FORM)).get('token')?.trim() ?? '';
      } catch (err) {
        if (!(err instanceof BodyError)) throw err;
        return sendPage(res, err.status, this.#view(req, err.message));
      }
      let identity: Identity;
      try {
        identity = await this.#deps.authenticator.authenticate(token, {
          channel: 'console',
          ...(req.socket.remoteAddress ? { remote: req.socket.remoteAddress } : {}),
        });
      } catch (err) {
        if (!(err instanceof AuthError)) throw err;
        return sendPage(res, 401, this.#view(req, `The token was refused: ${err.publicMessage}`));
      }
      return this.#startSession(req, res, identity, { boundByCredential: true });
    }
    if (step === 'oidc' || step === 'callback') {
      const oidc = this.#oidc;
      if (oidc === undefined) {
        return sendPage(
          res,
          404,
          this.#view(req, 'Sign-in with an identity provider is not configured (console.clientId).'),
        );
      }
      const redirectUri = `${this.#deps.baseUrl()}/sign-in/callback`;
      const secure = overTls(req, this.#deps.baseUrl());
      try {
        if (step === 'oidc') {
          const { location, state } = await oidc.begin(redirectUri);
          res.writeHead(302, {
            location,
            'cache-control': 'no-store',
            'set-cookie': setCookie(STATE_COOKIE, state, { maxAgeSeconds: 600, secure, path: '/sign-in' }),
          });
          res.end();
          return;
        }
        const identity = await oidc.complete(url.searchParams, readCookie(req, STATE_COOKIE), redirectUri);
        return this.#startSession(req, res, identity, {
          boundByCredential: false,
          cookies: [setCookie(STATE_COOKIE, '', { maxAgeSeconds: 0, secure, path: '/sign-in' })],
        });
      } catch (err) {
        if (!(err instanceof SignInError)) throw err;
        this.#deps.logger.warn(
          { event: 'console.sign-in.failure', reason: err.message },
          'console sign-in refused',
        );
        return sendPage(res, 400, this.#view(req, err.message));
      }
    }
    sendPage(res, 404, renderMessage('Not found', 'There is no such page.'));
  }

  #startSession(
    req: IncomingMessage,
    res: ServerResponse,
    identity: Identity,
    options: { boundByCredential: boolean; cookies?: string[] },
  ): void {
    const cookies = options.cookies ?? [];
    const session = this.#deps.sessions.create(identity, this.#deps.config.console.sessionTtl, {
      boundByCredential: options.boundByCredential,
    });
    this.#deps.logger.info(
      {
        event: 'console.sign-in',
        subject: identity.subject,
        issuer: identity.issuer,
        via: identity.via,
        groups: identity.groups,
      },
      'console sign-in',
    );
    const secure = overTls(req, this.#deps.baseUrl());
    const cookie = setCookie(SESSION_COOKIE, session.id, {
      maxAgeSeconds: (session.expiresAt - session.createdAt) / 1000,
      secure,
    });
    redirect(res, '/approvals', { 'set-cookie': [...cookies, cookie] });
  }

  async #signOut(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST')
      return sendPage(res, 405, renderMessage('Not allowed', 'Sign out with the button.'), { allow: 'POST' });
    const session = this.#deps.sessions.get(readCookie(req, SESSION_COOKIE));
    if (session === undefined) return redirect(res, '/sign-in');
    let form: URLSearchParams;
    try {
      form = await readFormBody(req, MAX_FORM);
    } catch (err) {
      if (!(err instanceof BodyError)) throw err;
      return sendPage(res, err.status, renderMessage('Cannot sign out', err.message));
    }
    const problem = csrfProblem(
      req,
      { identity: session.identity, session },
      this.#deps.baseUrl(),
      form.get('csrf') ?? undefined,
    );
    if (problem !== undefined) {
      return sendPage(
        res,
        403,
        renderMessage('Refused', `The sign-out was refused: ${problem}.`, this.#user(session)),
      );
    }
    this.#deps.sessions.delete(session.id);
    redirect(res, '/sign-in', {
      'set-cookie': setCookie(SESSION_COOKIE, '', {
        maxAgeSeconds: 0,
        secure: overTls(req, this.#deps.baseUrl()),
      }),
    });
  }
}
