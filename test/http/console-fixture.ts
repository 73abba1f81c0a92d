/**
 * A gateway for the console tests: the Postgres listener in front of a scratch database on the
 * shared PostgreSQL, approvals in the shared Redis, file recordings, and the HTTP listener (API
 * and console) on 127.0.0.1:0.
 *
 *   const c = await startConsoleGateway(t);
 *   const res = await c.api('GET', '/api/me', { token: c.tokens.dba });
 */
import { pino } from 'pino';
import { HttpServer } from '../../src/http/server.js';
import { startHarness, type Harness } from '../gateway/postgres-listener-harness.js';
import { randomSuffix } from '../support/postgres.js';

export const CONSOLE_POLICY = `
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
    statements:
      default: deny
      allow: [read, routine]
      review: [write]
      deny: [ddl, { effect: write, unbounded: true }]
    masking:
      - columns: [customers.email]
        strategy: email
      - columns: [customers.ssn]
        strategy: redact
  - name: dba
    when: { groups: [dba], targets: [shop] }
    statements: { default: allow }
`;

export interface ConsoleGateway {
  harness: Harness;
  http: HttpServer;
  base: string;
  tokens: { agent: string; dba: string; dba2: string; auditor: string; outsider: string };
  api(
    method: string,
    path: string,
    options?: { token?: string; cookie?: string; csrf?: string; origin?: string; body?: unknown },
  ): Promise<{ status: number; headers: Headers; body: Record<string, unknown>; text: string }>;
  /** Signs in with a pasted token as a browser would; returns the cookie and the CSRF token. */
  signIn(token: string): Promise<{ cookie: string; csrf: string }>;
}

interface TestLike {
  teardown(fn: () => void | Promise<void>): void;
}

export async function startConsoleGateway(
  t: TestLike,
  options: { console?: string; oidc?: string } = {},
): Promise<ConsoleGateway> {
  const harness = await startHarness(t, {
    policy: CONSOLE_POLICY,
    extra: `
approvals: { approvers: { groups: [dba] }, timeout: 2m, wireWait: 60s }
console: { auditors: { groups: [security] }${options.console ? `, ${options.console}` : ''} }
identity:
  # An issuer of this run's own: approvals and grants in the shared Redis are keyed by subject and
  # issuer, so a grant another run gave agent-1 must not cover this run's statements.
  gatewayTokens: { issuer: sluice-test-${randomSuffix()} }
${options.oidc ? `  oidc: ${options.oidc}` : ''}`,
  });
  const parts = harness.parts;
  const http = new HttpServer({
    gateway: parts.gateway,
    authenticator: parts.authenticator,
    recorder: parts.recorder,
    ...(parts.approvals ? { approvals: parts.approvals.service } : {}),
    logger: pino({ level: process.env.SLUICE_TEST_LOG ?? 'silent' }),
  });
  await http.listen('127.0.0.1', 0);
  t.teardown(() => http.close());
  const base = http.baseUrl;
  const tokens = {
    agent: harness.token,
    dba: await harness.mint('dba-1', ['dba']),
    dba2: await harness.mint('dba-2', ['dba']),
    auditor: await harness.mint('sec-1', ['security']),
    outsider: await harness.mint('nobody', ['interns']),
  };
  const api: ConsoleGateway['api'] = async (method, path, options = {}) => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.cookie) headers.cookie = options.cookie;
    if (options.csrf) headers['x-csrf-token'] = options.csrf;
    if (options.origin) headers.origin = options.origin;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${path}`, {
      method,
      headers,
      redirect: 'manual',
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // not JSON: a page or an export
    }
    return { status: res.status, headers: res.headers, body, text };
  };
  const signIn = async (token: string) => {
    const res = await fetch(`${base}/sign-in/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
      body: new URLSearchParams({ token }),
      redirect: 'manual',
    });
    if (res.status !== 303) throw new Error(`sign-in answered ${res.status}: ${await res.text()}`);
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const me = await api('GET', '/api/me', { cookie });
    return { cookie, csrf: String(me.body.csrfToken) };
  };
  return { harness, http, base, tokens, api, signIn };
}
