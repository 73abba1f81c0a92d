import { html } from '../../html.js';
import { renderPage, type PageUser } from '../layout.js';
import { filterForm } from './sessions.js';

const EMPTY = { identity: '', target: '', channel: '', since: '', until: '', statement: '' };

/** A plain GET form to /api/export: the browser saves the streamed answer as a file. */
export function renderExport(user: PageUser): string {
  const body = html`<h1>Export</h1>
    <p class="lead">
      Download the recorded events of the sessions you select, in the formats of
      <code>sluice recordings export</code>. Large sets stream as they are read; your browser shows the
      download's progress.
    </p>
    <form class="panel" method="get" action="/api/export" id="export-form">
      <div class="toolbar">
        <label
          >Format<select name="format">
            <option value="jsonl">JSONL (events as recorded, with their hashes)</option>
            <option value="csv">CSV (one event a line)</option>
            <option value="ocsf">OCSF 1.3 Datastore Activity (JSON lines, for a SIEM)</option>
          </select></label
        >
      </div>
      <div class="toolbar">${filterForm(EMPTY, 'Download')}</div>
      <p class="muted">
        Empty fields select every session the store holds. A JSONL export can be checked with
        <code>sluice recordings verify</code>.
      </p>
    </form>`;
  return renderPage({ title: 'Export', active: 'export', user, body, page: 'export' });
}
