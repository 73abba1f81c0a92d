import { html } from '../../html.js';
import type { SessionListing } from '../../api/sessions.js';
import { emptyState, formatTime, renderPage, type PageUser } from '../layout.js';

export interface SessionFilters {
  identity: string;
  statement: string;
  target: string;
  channel: string;
  since: string;
  until: string;
}

const CHANNELS = ['', 'postgres', 'mysql', 'mcp-http', 'mcp-stdio', 'cli'];

export function filterForm(filters: SessionFilters, submit: string) {
  return html`<label
      >Identity<input type="text" name="identity" value="${filters.identity}" placeholder="subject"
    /></label>
    <label
      >Target<input type="text" name="target" value="${filters.target}" placeholder="target name"
    /></label>
    <label
      >Channel<select name="channel">
        ${CHANNELS.map(
          (c) =>
            html`<option value="${c}" ${c === filters.channel ? html` selected` : ''}>
              ${c === '' ? 'any' : c}
            </option>`,
        )}
      </select></label
    >
    <label
      >Since<input type="text" name="since" value="${filters.since}" placeholder="2h, 7d or ISO time"
    /></label>
    <label>Until<input type="text" name="until" value="${filters.until}" placeholder="ISO time" /></label>
    <label
      >Statement contains<input
        type="text"
        name="statement"
        value="${filters.statement}"
        placeholder="UPDATE orders"
    /></label>
    <button type="submit" class="primary">${submit}</button>`;
}

export function renderSessions(
  user: PageUser,
  sessions: SessionListing[],
  filters: SessionFilters,
  error: string | undefined,
): string {
  const rows = sessions.map(
    (s) =>
      html`<tr>
        <td><a href="/sessions/${encodeURIComponent(s.id)}">${formatTime(s.startedAt)}</a></td>
        <td>
          ${s.endedAt !== undefined ? formatTime(s.endedAt) : html`<span class="pill open">open</span>`}
        </td>
        <td><strong>${s.subject}</strong><br /><span class="muted">${s.groups.join(', ')}</span></td>
        <td>${s.channel}</td>
        <td>${s.target}</td>
        <td class="num">${s.statements}</td>
        <td class="num">${s.denied > 0 ? html`<span class="pill deny">${s.denied}</span>` : '0'}</td>
        <td class="num">${s.reviewed > 0 ? html`<span class="pill review">${s.reviewed}</span>` : '0'}</td>
        <td class="num">${s.errors}</td>
      </tr>`,
  );
  const body = html`<h1>Sessions</h1>
    <p class="lead">Recorded sessions, newest first. Open one to replay what the caller ran and saw.</p>
    <form class="toolbar" method="get" action="/sessions" role="search">
      ${filterForm(filters, 'Filter')}
    </form>
    ${error ? html`<div class="error" role="alert">${error}</div>` : ''}
    ${
      sessions.length === 0
        ? emptyState(
            'No sessions match',
            'Sessions appear here once an agent or a person connects through Sluice.',
          )
        : html`<table class="data" id="sessions">
            <thead>
              <tr>
                <th>Started</th>
                <th>Ended</th>
                <th>Identity</th>
                <th>Channel</th>
                <th>Target</th>
                <th class="num">Statements</th>
                <th class="num">Denied</th>
                <th class="num">Reviewed</th>
                <th class="num">Errors</th>
              </tr>
            </thead>
            <tbody>
              ${rows}
            </tbody>
          </table>`
    }`;
  return renderPage({ title: 'Sessions', active: 'sessions', user, body, page: 'sessions' });
}
