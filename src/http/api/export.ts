import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CSV_HEADER, eventToCsv } from '../../recording/formats/csv.js';
import { OcsfMapper } from '../../recording/formats/ocsf.js';
import type { RecordingReader, SessionSummary } from '../../recording/types.js';
import { allowMethod, ApiProblem, queryText } from './problem.js';
import { listSessions, selectSessions, sessionQuery } from './sessions.js';

export const EXPORT_FORMATS = ['jsonl', 'csv', 'ocsf'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

const CONTENT_TYPES: Record<ExportFormat, string> = {
  jsonl: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  ocsf: 'application/x-ndjson; charset=utf-8',
};
const EXTENSIONS: Record<ExportFormat, string> = { jsonl: 'jsonl', csv: 'csv', ocsf: 'ocsf.jsonl' };

/**
 * GET /api/export: the selected sessions' events in the formats of `sluice recordings export`
 * (the same CSV and OCSF mappers), streamed as a download. Each write waits for the socket to
 * drain, so memory stays flat for any size; a client that goes away ends the export.
 */
export async function handleExport(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  reader: RecordingReader,
): Promise<void> {
  allowMethod(req.method, 'GET');
  const format = (queryText(url, 'format') ?? 'jsonl') as ExportFormat;
  if (!EXPORT_FORMATS.includes(format)) {
    throw new ApiProblem(400, 'ERR_BAD_REQUEST', `format: expected one of ${EXPORT_FORMATS.join(', ')}`);
  }
  const query = sessionQuery(url, Date.now(), { fallback: 10_000, max: 100_000 });
  const sessions =
    query.statement === undefined
      ? await selectSessions(reader, query)
      : ((await listSessions(reader, query)) as SessionSummary[]);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[format],
    'content-disposition': `attachment; filename="sluice-recordings-${stamp}.${EXTENSIONS[format]}"`,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-sluice-sessions': String(sessions.length),
  });
  let gone = false;
  res.once('close', () => (gone = true));
  const put = async (text: string): Promise<void> => {
    if (!res.write(text)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  };
  if (format === 'csv') await put(CSV_HEADER);
  for (const s of sessions) {
    const ocsf = format === 'ocsf' ? new OcsfMapper(s) : undefined;
    for await (const e of reader.readEvents(s.id)) {
      if (gone) return;
      if (format === 'jsonl') await put(JSON.stringify(e) + '\n');
      else if (format === 'csv') await put(eventToCsv(s, e));
      else for (const record of ocsf?.push(e) ?? []) await put(JSON.stringify(record) + '\n');
    }
  }
  res.end();
}
