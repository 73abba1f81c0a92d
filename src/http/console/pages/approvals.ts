import type { ApprovalRequest } from '../../../approvals/types.js';
import type { Identity } from '../../../identity/types.js';
import { html } from '../../html.js';
import { emptyState, formatDuration, formatTime, renderPage, type PageUser } from '../layout.js';

function tabs(current: 'queue' | 'history') {
  const tab = (name: 'queue' | 'history', label: string, href: string) =>
    html`<a href="${href}" ${name === current ? html` aria-current="page"` : ''}>${label}</a>`;
  return html`<nav class="tabs" aria-label="Approvals">
    ${tab('queue', 'Waiting', '/approvals')}${tab('history', 'History', '/approvals/history')}
  </nav>`;
}

/** The live queue: the script fills #queue from /api/approvals and keeps it current. */
export function renderQueue(user: PageUser, identity: Identity): string {
  const body = html`<h1>Approvals</h1>
    <p class="lead">
      ${
        user.approver
          ? 'Statements waiting for a decision. Approve to let the statement run once; deny to refuse it.'
          : 'Your statements waiting for an approver. Only members of the approver groups decide them.'
      }
    </p>
    ${tabs('queue')}
    <div class="toolbar">
      <span><strong id="pending-count">…</strong> waiting</span
      ><span id="live" class="live" role="status">Connecting…</span>
    </div>
    <div
      id="queue"
      class="cards"
      data-approver="${String(user.approver)}"
      data-subject="${identity.subject}"
      data-issuer="${identity.issuer}"
      aria-live="polite"
    ></div>
    <noscript
      ><div class="error">
        The live queue needs JavaScript; <a href="/approvals/history?state=pending">the pending list</a> works
        without it.
      </div></noscript
    >`;
  return renderPage({ title: 'Approvals', active: 'approvals', user, body, page: 'approvals' });
}

export interface HistoryFilters {
  state: string;
  requester: string;
  target: string;
  since: string;
}

const STATES = ['all', 'pending', 'approved', 'denied', 'expired', 'executed'];

export function renderHistory(
  user: PageUser,
  requests: ApprovalRequest[],
  filters: HistoryFilters,
  error: string | undefined,
): string {
  const now = Date.now();
  const rows = requests.map(
    (r) =>
      html`<tr>
        <td>${formatTime(r.createdAt)}</td>
        <td>
          <strong>${r.requester.subject}</strong><br /><span class="muted"
            >${r.requester.groups.join(', ')}</span
          >
        </td>
        <td>${r.target}</td>
        <td>
          <pre class="sql" data-highlight>${r.sql}</pre>
          <span class="muted">${r.effects.join(', ')} · ${r.objects.join(', ')}</span>
        </td>
        <td><span class="pill ${r.state}">${r.state}</span></td>
        <td>
          ${r.decision ? html`${r.decision.by}${r.decision.reason ? html`<br /><span class="muted">${r.decision.reason}</span>` : ''}` : ''}
        </td>
        <td class="num">
          ${formatDuration((r.decision?.at ?? (r.state === 'pending' ? now : r.expiresAt)) - r.createdAt)}
        </td>
      </tr>`,
  );
  const body = html`<h1>Approvals</h1>
    <p class="lead">
      Every request the approval store still holds (decided requests are kept a day past their deadline).
    </p>
    ${tabs('history')}
    <form class="toolbar" method="get" action="/approvals/history" role="search">
      <label
        >State<select name="state">
          ${STATES.map(
            (s) => html`<option value="${s}" ${s === filters.state ? html` selected` : ''}>${s}</option>`,
          )}
        </select></label
      >
      <label
        >Requester<input type="text" name="requester" value="${filters.requester}" placeholder="subject"
      /></label>
      <label
        >Target<input type="text" name="target" value="${filters.target}" placeholder="target name"
      /></label>
      <label
        >Since<input type="text" name="since" value="${filters.since}" placeholder="2h, 7d or ISO time"
      /></label>
      <button type="submit" class="primary">Filter</button>
    </form>
    ${error ? html`<div class="error" role="alert">${error}</div>` : ''}
    ${
      requests.length === 0
        ? emptyState(
            'No requests match',
            'Change the filters, or wait for a statement that a policy sends to review.',
          )
        : html`<table class="data">
            <thead>
              <tr>
                <th>Asked</th>
                <th>Requester</th>
                <th>Target</th>
                <th>Statement</th>
                <th>State</th>
                <th>Decided by</th>
                <th class="num">Waited</th>
              </tr>
            </thead>
            <tbody>
              ${rows}
            </tbody>
          </table>`
    }`;
  return renderPage({ title: 'Approval history', active: 'approvals', user, body, page: 'history' });
}
