import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Gateway } from '../gateway/gateway.js';
import type { Authenticator } from '../identity/authenticator.js';
import { AuthError } from '../identity/errors.js';
import type { Identity } from '../identity/types.js';
import { createRecordingReader } from '../recording/create.js';
import type { Recorder, RecordingReader } from '../recording/types.js';
import type { ApprovalService } from '../approvals/index.js';
import { ConsoleAccess } from './api/access.js';
import { handleApi, type ApiDeps } from './api/index.js';
import { csrfProblem, identifyCaller } from './caller.js';
import { ConsoleRoutes } from './console/routes.js';
import { ConsoleSessions } from './console/sessions.js';
import { bearerToken, handleTokenExchange, protectedResourceMetadata, wwwAuthenticate } from './auth.js';
import { BodyError } from './body.js';
import { McpHttpEndpoint } from './mcp-endpoint.js';
import { sendJson } from './respond.js';

export interface HttpServerOptions {
  gateway: Gateway;
  /** The approval service, when approvals are configured (serves /api/approvals). */
  approvals?: ApprovalService;
  authenticator: Authenticator;
  recorder: Recorder;
  logger: Logger;
  /** The URL clients use to reach this server; derived from the listen address when absent. */
  publicUrl?: string;
  /** Reads recorded sessions for /api/sessions, /api/export and the console; from the config by default. */
  recordings?: RecordingReader;
  /** Epoch milliseconds, for console sign-ins; Date.now by default. */
  clock?: () => number;
  /** Used for the console's OIDC discovery and token requests; the global fetch by default. */
  fetch?: typeof fetch;
  /** Renders /metrics (several worker processes: all of theirs, summed); the gateway's own by default. */
  renderMetrics?: () => Promise<{ text: string; contentType: string }>;
}

/**
 * The HTTP listener: /mcp, the API under /api (docs/api.md), the web console at /, /healthz,
 * /readyz, /metrics and the OAuth protected-resource metadata.
 */
export class HttpServer {
  readonly #options: HttpServerOptions;
  readonly #server: Server;
  readonly #mcp: McpHttpEndpoint;
  readonly #sessions: ConsoleSessions;
  readonly #apiDeps: ApiDeps;
  readonly #console: ConsoleRoutes;
  #reader: RecordingReader | undefined;
  #baseUrl = '';

  constructor(options: HttpServerOptions) {
    this.#options = options;
    this.#mcp = new McpHttpEndpoint(options.gateway, options.logger);
    this.#sessions = new ConsoleSessions(options.clock);
    const access = new ConsoleAccess(options.gateway.config, options.approvals);
    this.#apiDeps = {
      access,
      approvals: options.approvals,
      recordings: () => this.#recordings(),
      logger: options.logger,
    };
    this.#console = new ConsoleRoutes({
      config: options.gateway.config,
      authenticator: options.authenticator,
      sessions: this.#sessions,
      access,
      approvals: options.approvals,
      recordings: () => this.#recordings(),
      baseUrl: () => this.#baseUrl,
      logger: options.logger,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.#server = createServer((req, res) => {
      this.#route(req, res).catch((err: unknown) => this.#fail(res, err));
    });
  }

  get baseUrl(): string {
    return this.#baseUrl;
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const address = this.#server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.#baseUrl = (this.#options.publicUrl ?? `http://${shownHost}:${address.port}`).replace(/\/$/, '');
    return address;
  }

  async close(): Promise<void> {
    await this.#mcp.close();
    // A reader made here is closed here; one that was given belongs to the caller.
    if (this.#reader !== undefined && this.#options.recordings === undefined) await this.#reader.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz') return this.#readiness(res);
    if (path === '/metrics') {
      const metrics = this.#options.gateway.metrics;
      const { text, contentType } = this.#options.renderMetrics
        ? await this.#options.renderMetrics()
        : { text: await metrics.render(), contentType: metrics.contentType };
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
      res.end(text);
      return;
    }
    if (
      path === '/.well-known/oauth-protected-resource' ||
      path === '/.well-known/oauth-protected-resource/mcp'
    ) {
      return sendJson(res, 200, protectedResourceMetadata(this.#options.gateway.config, this.#baseUrl));
    }
    if (path === '/api/tokens') {
      if (req.method !== 'POST')
        return sendJson(res, 405, { error: 'method_not_allowed', message: 'use POST' });
      return handleTokenExchange(req, res, this.#options.authenticator, this.#options.gateway.config, {
        baseUrl: this.#baseUrl,
      });
    }
    if (path.startsWith('/api/')) return this.#api(req, res);
    if (path === '/mcp') {
      const identity = await this.#authenticate(req, res, 'mcp-http');
      if (!identity) return;
      return this.#mcp.handle(req, res, identity);
    }
    if (await this.#console.handle(req, res)) return;
    sendJson(res, 404, { error: 'not_found', message: `no route for ${path}` });
  }

  /** /api/...: a bearer token or the console's cookie; a cookie's state changes pass the CSRF checks. */
  async #api(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const outcome = await identifyCaller(req, this.#options.authenticator, this.#sessions, 'api');
    if (outcome.kind !== 'caller') {
      const refused = outcome.kind === 'refused';
      sendJson(
        res,
        401,
        refused
          ? { error: 'invalid_token', message: outcome.message }
          : { error: 'unauthorized', message: 'a bearer token or a console sign-in is required' },
        { 'www-authenticate': wwwAuthenticate(this.#baseUrl, refused ? 'invalid_token' : undefined) },
      );
      return;
    }
    const problem = csrfProblem(req, outcome.caller, this.#baseUrl);
    if (problem !== undefined) {
      sendJson(res, 403, { error: 'ERR_CSRF', message: `refused: ${problem}` });
      return;
    }
    await handleApi(req, res, outcome.caller, this.#apiDeps);
  }

  /** The recording store's reader: the one given, else one made from the config on first use. */
  #recordings(): RecordingReader {
    this.#reader ??= this.#options.recordings ?? createRecordingReader(this.#options.gateway.config);
    return this.#reader;
  }

  /** Ready when the recording store takes statements and every target answers a trivial query. */
  async #readiness(res: ServerResponse): Promise<void> {
    const gateway = this.#options.gateway;
    const recording = this.#options.recorder.ready();
    const checks: Record<string, string> = { recording: recording.ok ? 'ok' : recording.reason };
    await Promise.all(
      [...gateway.config.targets.keys()].map(async (name) => {
        try {
          await gateway.engineFor(name).query(
            'SELECT 1',
            { columns: () => undefined, row: () => undefined },
            {
              timeoutMs: 2_000,
            },
          );
          checks[`target:${name}`] = 'ok';
        } catch (err) {
          // The target's own message can name hosts and users; readiness says only that it failed.
          checks[`target:${name}`] = 'unreachable';
          this.#options.logger.warn({ err, target: name }, 'readiness check failed');
        }
      }),
    );
    const ready = Object.values(checks).every((v) => v === 'ok');
    sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'unavailable', checks });
  }

  /** Answers 401 with the discovery challenge MCP clients follow, or returns the identity. */
  async #authenticate(
    req: IncomingMessage,
    res: ServerResponse,
    channel: string,
  ): Promise<Identity | undefined> {
    const token = bearerToken(req);
    if (!token) {
      sendJson(
        res,
        401,
        { error: 'unauthorized', message: 'a bearer token is required' },
        {
          'www-authenticate': wwwAuthenticate(this.#baseUrl),
        },
      );
      return undefined;
    }
    try {
      return await this.#options.authenticator.authenticate(token, {
        channel,
        ...(req.socket.remoteAddress ? { remote: req.socket.remoteAddress } : {}),
      });
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      sendJson(
        res,
        401,
        { error: 'invalid_token', message: err.publicMessage },
        {
          'www-authenticate': wwwAuthenticate(this.#baseUrl, 'invalid_token'),
        },
      );
      return undefined;
    }
  }

  #fail(res: ServerResponse, err: unknown): void {
    if (err instanceof BodyError) {
      sendJson(res, err.status, { error: err.code, message: err.message });
      return;
    }
    this.#options.logger.error({ err }, 'http request failed');
    sendJson(res, 500, { error: 'internal', message: 'internal error' });
  }
}
