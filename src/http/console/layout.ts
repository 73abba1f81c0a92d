import type { ServerResponse } from 'node:http';
import { html, type SafeHtml } from '../html.js';
import { ASSET_PATHS } from './assets/index.js';

/**
 * No inline script or style, nothing from another origin: a statement or a row value that
 * slipped through escaping still could not run. `form-action 'self'` keeps forms on the console.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // The OIDC callback's code and state must not leave in a Referer to another site. Not
  // no-referrer: under it browsers send `Origin: null` with a form POST, which the CSRF check refuses.
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
};

export type NavItem = 'approvals' | 'sessions' | 'export';

export interface PageUser {
  subject: string;
  groups: string[];
  approver: boolean;
  auditor: boolean;
  csrf: string;
}

export interface PageOptions {
  title: string;
  active?: NavItem;
  user?: PageUser;
  body: SafeHtml;
  /** The page's `data-page`, which the console script reads to know what to run. */
  page?: string;
}

export function renderPage(options: PageOptions): string {
  const { user } = options;
  const nav = (item: NavItem, label: string, href: string) =>
    html`<a href="${href}" ${item === options.active ? html` aria-current="page"` : ''}>${label}</a>`;
  const header = html`<header class="top">
    <a class="brand" href="/"><span class="logo" aria-hidden="true"></span>Sluice</a>
    ${
      user
        ? html`<nav aria-label="Main">
              ${nav('approvals', 'Approvals', '/approvals')}
              ${user.auditor ? nav('sessions', 'Sessions', '/sessions') : ''}
              ${user.auditor ? nav('export', 'Export', '/export') : ''}
            </nav>
            <div class="who">
              <span class="user" title="${user.groups.join(', ')}">${user.subject}</span>
              ${user.approver ? html`<span class="badge">approver</span>` : ''}
              <form method="post" action="/sign-out">
                <input type="hidden" name="csrf" value="${user.csrf}" />
                <button type="submit" class="link">Sign out</button>
              </form>
            </div>`
        : ''
    }
  </header>`;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        ${user ? html`<meta name="csrf-token" content="${user.csrf}" />` : ''}
        <title>${options.title} · Sluice</title>
        <link rel="icon" href="${ASSET_PATHS.icon}" />
        <link rel="stylesheet" href="${ASSET_PATHS.css}" />
        <script src="${ASSET_PATHS.js}" defer></script>
      </head>
      <body data-page="${options.page ?? ''}">
        <a class="skip" href="#main">Skip to content</a>
        ${header}
        <main id="main" tabindex="-1">${options.body}</main>
      </body>
    </html> `.text;
}

export function sendPage(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...SECURITY_HEADERS,
    ...headers,
  });
  res.end(text);
}

export function redirect(
  res: ServerResponse,
  location: string,
  headers: Record<string, string | string[]> = {},
): void {
  res.writeHead(303, { location, 'cache-control': 'no-store', ...SECURITY_HEADERS, ...headers });
  res.end();
}

/** A page's empty state: what is missing and, where there is one, what to do. */
export function emptyState(title: string, hint: string): SafeHtml {
  return html`<div class="empty">
    <p class="empty-title">${title}</p>
    <p>${hint}</p>
  </div>`;
}

export function errorBox(message: string): SafeHtml {
  return html`<div class="error" role="alert">${message}</div>`;
}

export function formatTime(ms: number | undefined): string {
  if (ms === undefined) return '';
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${m % 60}m`;
}
