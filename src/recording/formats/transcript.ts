import type { RecordingEvent, SessionSummary } from '../types.js';

/** Rows kept per result for the table; the rest are counted, so replay memory stays bounded. */
const MAX_TABLE_ROWS = 200;
const MAX_CELL = 60;

interface OpenResult {
  columns: { name: string; masked: boolean }[];
  rows: string[][];
  hidden: number;
}

/**
 * Renders a recording as a psql-like transcript: the statement at the prompt, the guard's decision
 * and approvals as comments, the result as an aligned table, then the row count and timing.
 */
export class TranscriptWriter {
  private readonly results = new Map<string, OpenResult>();
  /** Who approved each request, for the line that says who then ran the statement. */
  private readonly approvers = new Map<string, string>();

  constructor(
    private readonly session: SessionSummary,
    private readonly write: (text: string) => void,
  ) {}

  push(event: RecordingEvent): void {
    const id = typeof event.statementId === 'string' ? event.statementId : '';
    const s = this.session;
    switch (event.type) {
      case 'session.start':
        this.write(
          `-- session ${s.id}: ${s.subject} [${s.groups.join(', ')}] → ${s.target} over ${s.channel}` +
            `${s.remote ? ` from ${s.remote}` : ''}, ${iso(event.ts)}\n\n`,
        );
        return;
      case 'statement': {
        const params =
          Array.isArray(event.params) && event.params.length > 0
            ? `  -- params: ${JSON.stringify(event.params)}`
            : '';
        this.write(`[${clock(event.ts)}] ${s.target}=> ${String(event.sql).trim()}${params}\n`);
        return;
      }
      case 'decision':
        this.write(
          `-- ${String(event.action).toUpperCase()} by ${String(event.rule)}: ${String(event.reason)}\n`,
        );
        return;
      case 'approval': {
        const request = String(event.requestId);
        const by = typeof event.by === 'string' ? event.by : undefined;
        if (event.state === 'approved' && by !== undefined) this.approvers.set(request, by);
        const approver = this.approvers.get(request);
        // `executed` names who ran the statement (the requester), and who had approved it.
        const what =
          event.state === 'executed'
            ? `run${by ? ` by ${by}` : ''}${approver ? `, approved by ${approver}` : ''}`
            : `${String(event.state)}${by ? ` by ${by}` : ''}`;
        this.write(`-- approval ${request}: ${what}${event.reason ? ` (${String(event.reason)})` : ''}\n`);
        return;
      }
      case 'result.columns': {
        const columns = Array.isArray(event.columns)
          ? (event.columns as { name: string; masked: boolean }[])
          : [];
        this.results.set(id, { columns, rows: [], hidden: 0 });
        return;
      }
      case 'result.rows': {
        const result = this.results.get(id) ?? { columns: [], rows: [], hidden: 0 };
        this.results.set(id, result);
        for (const row of Array.isArray(event.rows) ? (event.rows as unknown[][]) : []) {
          if (result.rows.length < MAX_TABLE_ROWS) result.rows.push(row.map(cell));
          else result.hidden++;
        }
        return;
      }
      case 'result.end': {
        const result = this.results.get(id);
        this.results.delete(id);
        if (result !== undefined && result.columns.length > 0) this.write(table(result));
        const count = Number(event.rowCount);
        const truncated = event.truncated === true ? ', truncated by the row limit' : '';
        if (result !== undefined && result.columns.length > 0) {
          this.write(`(${count} ${count === 1 ? 'row' : 'rows'}${truncated})\n`);
        } else {
          this.write(`${String(event.command)}\n`);
        }
        this.write(`Time: ${Number(event.durationMs).toFixed(3)} ms\n\n`);
        return;
      }
      case 'error':
        this.write(`ERROR: ${String(event.code)}: ${String(event.message)}\n\n`);
        return;
      case 'session.end':
        this.write(`-- session ended (${String(event.reason)}), ${iso(event.ts)}\n`);
        return;
    }
  }
}

function iso(ts: number): string {
  return new Date(ts).toISOString();
}

function clock(ts: number): string {
  return new Date(ts).toISOString().slice(11, 23);
}

function cell(value: unknown): string {
  const text = value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  const flat = text.replace(/[\r\n\t]/g, ' ');
  return flat.length > MAX_CELL ? `${flat.slice(0, MAX_CELL - 1)}…` : flat;
}

function table(result: OpenResult): string {
  const headers = result.columns.map((c) => (c.masked ? `${c.name} (masked)` : c.name));
  const widths = headers.map((h, i) => Math.max(h.length, ...result.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => ' ' + cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ') + '\n';
  let out = line(headers);
  out += widths.map((w) => '-'.repeat(w + 2)).join('+') + '\n';
  for (const row of result.rows) out += line(headers.map((_, i) => row[i] ?? ''));
  if (result.hidden > 0) out += ` … ${result.hidden} more rows recorded (see export)\n`;
  return out;
}
