import type { RecordingEvent, SessionSummary } from '../types.js';

export const CSV_HEADER = 'session,seq,time,type,subject,target,statement_id,detail,hash\r\n';

/** Members every event has; the rest of an event is its detail. */
const CORE = new Set(['seq', 'ts', 'session', 'type', 'prevHash', 'hash', 'statementId']);

/** RFC 4180: quote a field that holds a comma, quote, CR or LF; double the quotes inside. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One event as one CSV record; the event's own members go into `detail` as JSON. */
export function eventToCsv(session: SessionSummary, event: RecordingEvent): string {
  const detail: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) if (!CORE.has(key)) detail[key] = value;
  const statementId = typeof event.statementId === 'string' ? event.statementId : '';
  return (
    [
      event.session,
      String(event.seq),
      new Date(event.ts).toISOString(),
      event.type,
      session.subject,
      session.target,
      statementId,
      JSON.stringify(detail),
      event.hash,
    ]
      .map(csvField)
      .join(',') + '\r\n'
  );
}
