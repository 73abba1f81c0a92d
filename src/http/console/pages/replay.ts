import type { RecordingEvent } from '../../../recording/types.js';
import type { SessionReplay } from '../../api/sessions.js';
import { html, type SafeHtml } from '../../html.js';
import { formatTime, renderPage, type PageUser } from '../layout.js';

/** One statement of a session and everything recorded about it, in order. */
interface Step {
  id: string;
  ts: number;
  sql?: string;
  params?: unknown[];
  decision?: RecordingEvent;
  approvals: RecordingEvent[];
  columns: { name: string; type?: string; masked: boolean }[];
  rows: unknown[][];
  omitted: number;
  end?: RecordingEvent;
  errors: RecordingEvent[];
}

type Item = { kind: 'step'; step: Step } | { kind: 'event'; event: RecordingEvent };

/** Groups a session's events by statement, keeping the order in which statements began. */
function steps(events: RecordingEvent[]): Item[] {
  const items: Item[] = [];
  const byId = new Map<string, Step>();
  for (const e of events) {
    const id = typeof e.statementId === 'string' && e.statementId !== '' ? e.statementId : undefined;
    if (id === undefined) {
      items.push({ kind: 'event', event: e });
      continue;
    }
    let step = byId.get(id);
    if (step === undefined) {
      step = { id, ts: e.ts, approvals: [], columns: [], rows: [], omitted: 0, errors: [] };
      byId.set(id, step);
      items.push({ kind: 'step', step });
    }
    switch (e.type) {
      case 'statement':
        step.sql = String(e.sql ?? '');
        if (Array.isArray(e.params)) step.params = e.params;
        break;
      case 'decision':
        step.decision = e;
        break;
      case 'approval':
        step.approvals.push(e);
        break;
      case 'result.columns':
        step.columns = Array.isArray(e.columns) ? (e.columns as Step['columns']) : [];
        break;
      case 'result.rows':
        if (Array.isArray(e.rows)) step.rows.push(...(e.rows as unknown[][]));
        if (typeof e.rowsOmitted === 'number') step.omitted += e.rowsOmitted;
        break;
      case 'result.end':
        step.end = e;
        break;
      case 'error':
        step.errors.push(e);
        break;
      default:
        break;
    }
  }
  return items;
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function resultTable(step: Step): SafeHtml {
  if (step.columns.length === 0) return html``;
  const head = step.columns.map((c) =>
    c.masked
      ? html`<th class="masked" scope="col">
          ${c.name}<span class="mask-mark" title="masked by policy">masked</span>
        </th>`
      : html`<th scope="col">${c.name}</th>`,
  );
  const body = step.rows.map(
    (row) =>
      html`<tr>
        ${step.columns.map((c, i) =>
          c.masked
            ? html`<td class="masked" title="masked by policy">${cellText(row[i])}</td>`
            : html`<td>${row[i] === null ? html`<span class="muted">NULL</span>` : cellText(row[i])}</td>`,
        )}
      </tr>`,
  );
  return html`<div class="result">
    <table class="data">
      <thead>
        <tr>
          ${head}
        </tr>
      </thead>
      <tbody>
        ${body}
      </tbody>
    </table>
    ${step.omitted > 0 ? html`<p class="muted">${step.omitted} more rows recorded: export the session to see them all.</p>` : ''}
  </div>`;
}

function renderStep(step: Step): SafeHtml {
  const d = step.decision;
  const action = d ? String(d.action) : undefined;
  const shadow = d?.shadow as { action?: string; reason?: string; rule?: string } | undefined;
  return html`<article class="step" data-statement="${step.id}">
    <div class="meta">
      <span class="mono muted">${formatTime(step.ts)}</span>
      ${action ? html`<span class="pill ${action}">${action}</span>` : ''}
      ${
        d
          ? html`<span>by <strong>${String(d.rule)}</strong></span
              ><span class="muted">${String(d.reason)}</span>`
          : ''
      }
    </div>
    <pre class="sql" data-highlight>${step.sql ?? ''}</pre>
    ${step.params && step.params.length > 0 ? html`<p class="line muted">parameters: <code>${JSON.stringify(step.params)}</code></p>` : ''}
    ${d && Array.isArray(d.effects) ? html`<p class="line muted">effects: ${(d.effects as string[]).join(', ') || 'none'} · objects: <span class="mono">${Array.isArray(d.objects) ? (d.objects as string[]).join(', ') : ''}</span></p>` : ''}
    ${shadow ? html`<p class="line">shadow policy would have: <span class="pill ${shadow.action ?? ''}">${shadow.action ?? ''}</span> ${shadow.rule ?? ''}: ${shadow.reason ?? ''}</p>` : ''}
    ${
      typeof d?.rewritten === 'string'
        ? html`<p class="line muted">ran as (row filters):</p>
            <pre class="sql" data-highlight>${d.rewritten}</pre>`
        : ''
    }
    ${step.approvals.map(
      (a) =>
        html`<p class="line">
          approval <span class="mono">${String(a.requestId)}</span>:
          <span class="pill ${String(a.state)}">${String(a.state)}</span>${
            typeof a.by === 'string' ? html` by <strong>${a.by}</strong>` : ''
          }${typeof a.reason === 'string' ? html` <span class="muted">(${a.reason})</span>` : ''}
          <span class="muted">${formatTime(a.ts)}</span>
        </p>`,
    )}
    ${resultTable(step)}
    ${
      step.end
        ? html`<p class="line muted">
            ${String(step.end.command)} · ${String(step.end.rowCount)}
            rows${step.end.truncated === true ? ' (cut by the row limit)' : ''} ·
            ${Number(step.end.durationMs).toFixed(1)} ms
          </p>`
        : ''
    }
    ${step.errors.map((e) => html`<div class="error" role="note">${String(e.code)}: ${String(e.message)}</div>`)}
  </article>`;
}

function renderEvent(e: RecordingEvent): SafeHtml {
  switch (e.type) {
    case 'session.start':
      return html`<p class="muted">${formatTime(e.ts)} · session started</p>`;
    case 'session.end':
      return html`<p class="muted">${formatTime(e.ts)} · session ended (${String(e.reason)})</p>`;
    case 'error':
      return html`<div class="error" role="note">${String(e.code)}: ${String(e.message)}</div>`;
    default:
      return html``;
  }
}

export function renderReplay(user: PageUser, replay: SessionReplay): string {
  const s = replay.session;
  const chain = replay.chain;
  const body = html`<p><a href="/sessions">← Sessions</a></p>
    <h1>Session <span class="mono">${s.id}</span></h1>
    <section class="panel summary" aria-label="Summary">
      <div><span>Identity</span>${s.subject} <span class="muted">[${s.groups.join(', ')}]</span></div>
      <div><span>Target</span>${s.target} (${s.dialect})</div>
      <div>
        <span>Channel</span>${s.channel}${s.remote ? html` <span class="muted">from ${s.remote}</span>` : ''}
      </div>
      <div><span>Started</span>${formatTime(s.startedAt)}</div>
      <div><span>Ended</span>${s.endedAt !== undefined ? formatTime(s.endedAt) : 'still open'}</div>
      <div><span>Statements</span>${s.statements} (${s.denied} denied, ${s.reviewed} reviewed)</div>
      <div id="chain">
        <span>Hash chain</span>${
          chain.ok
            ? html`<span class="pill ok">verified</span> ${chain.events} events`
            : html`<span class="pill broken">broken</span> at event ${chain.seq}: ${chain.reason}`
        }
      </div>
      <div>
        <span>Export</span
        ><a href="/api/export?session=${encodeURIComponent(s.id)}&amp;format=jsonl">JSONL</a> ·
        <a href="/api/export?session=${encodeURIComponent(s.id)}&amp;format=csv">CSV</a> ·
        <a href="/api/export?session=${encodeURIComponent(s.id)}&amp;format=ocsf">OCSF</a>
      </div>
    </section>
    <h2>Replay</h2>
    <div class="timeline">
      ${steps(replay.events).map((item) =>
        item.kind === 'step' ? renderStep(item.step) : renderEvent(item.event),
      )}
    </div>`;
  return renderPage({ title: `Session ${s.id}`, active: 'sessions', user, body, page: 'replay' });
}
