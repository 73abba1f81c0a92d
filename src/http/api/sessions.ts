import type { IncomingMessage, ServerResponse } from 'node:http';
import { verifyChain, type ChainVerdict } from '../../recording/chain.js';
import type { RecordingEvent, RecordingReader, SessionSummary } from '../../recording/types.js';
import { sendJson } from '../respond.js';
import { allowMethod, ApiProblem, queryLimit, queryText, queryTime } from './problem.js';

/** What a session's listing adds to its summary: counted from its events. */
export interface SessionCounts {
  statements: number;
  denied: number;
  reviewed: number;
  errors: number;
}

export type SessionListing = SessionSummary & SessionCounts;

/** The filters of a session listing or an export, from a query string. */
export interface SessionQuery {
  session?: string;
  identity?: string;
  target?: string;
  channel?: string;
  /** Text a statement of the session contains (case-insensitive). */
  statement?: string;
  since?: number;
  until?: number;
  limit: number;
}

const SESSION_ID = /^[A-Za-z0-9._-]{1,128}$/;
/** Rows of one result kept for a replay; the rest are counted (the export has them all). */
export const REPLAY_ROWS_PER_RESULT = 500;

export function sessionQuery(url: URL, now: number, limits = { fallback: 100, max: 1000 }): SessionQuery {
  const query: SessionQuery = { limit: queryLimit(url, limits.fallback, limits.max) };
  const session = queryText(url, 'session');
  if (session !== undefined) {
    if (!SESSION_ID.test(session)) throw new ApiProblem(400, 'ERR_BAD_REQUEST', 'session: not a session id');
    query.session = session;
  }
  for (const name of ['identity', 'target', 'channel', 'statement'] as const) {
    const value = queryText(url, name);
    if (value !== undefined) query[name] = value;
  }
  const since = queryTime(url, 'since', now);
  const until = queryTime(url, 'until', now);
  if (since !== undefined) query.since = since;
  if (until !== undefined) query.until = until;
  return query;
}

/** The sessions a query selects, newest first, at most `limit`. */
export async function selectSessions(
  reader: RecordingReader,
  query: SessionQuery,
): Promise<SessionSummary[]> {
  const { channel, limit, statement: _statement, ...filter } = query;
  const sessions = await reader.listSessions(filter);
  return sessions
    .filter((s) => channel === undefined || s.channel === channel)
    .sort((a, b) => b.startedAt - a.startedAt || a.id.localeCompare(b.id))
    .slice(0, limit);
}

/** Adds one event to a session's counts. */
function tally(counts: SessionCounts, e: RecordingEvent): void {
  if (e.type === 'statement') counts.statements++;
  else if (e.type === 'error') counts.errors++;
  else if (e.type === 'decision') {
    if (e.action === 'deny') counts.denied++;
    else if (e.action === 'review') counts.reviewed++;
  }
}

/**
 * Statements, denials, reviews and errors of one session, read from its events; with `needle`,
 * also whether a statement's text contains it (case-insensitive).
 */
export async function countEvents(
  reader: RecordingReader,
  session: string,
  needle?: string,
): Promise<SessionCounts & { matched: boolean }> {
  const counts: SessionCounts = { statements: 0, denied: 0, reviewed: 0, errors: 0 };
  let matched = needle === undefined;
  for await (const e of reader.readEvents(session)) {
    tally(counts, e);
    if (
      !matched &&
      e.type === 'statement' &&
      String(e.sql)
        .toLowerCase()
        .includes(needle ?? '')
    )
      matched = true;
  }
  return { ...counts, matched };
}

/** How many sessions a statement search reads at most, newest first. */
const SEARCH_SCAN = 2_000;

/** The sessions a query selects with their counts, newest first; `statement` searches their texts. */
export async function listSessions(reader: RecordingReader, query: SessionQuery): Promise<SessionListing[]> {
  const needle = query.statement?.toLowerCase();
  const sessions = await selectSessions(
    reader,
    needle === undefined ? query : { ...query, limit: SEARCH_SCAN },
  );
  const out: SessionListing[] = [];
  for (const s of sessions) {
    if (out.length >= query.limit) break;
    const { matched, ...counts } = await countEvents(reader, s.id, needle);
    if (matched) out.push({ ...s, ...counts });
  }
  return out;
}

export type ChainStatus =
  { ok: true; events: number } | { ok: false; events: number; seq: number; reason: string };

/** One session for replay: its summary, its chain's verdict, and its events (rows capped). */
export interface SessionReplay {
  session: SessionListing;
  chain: ChainStatus;
  events: RecordingEvent[];
}

/**
 * Reads a session once: every event goes through the chain check whole, and into the replay with
 * at most REPLAY_ROWS_PER_RESULT rows per result (a `rowsOmitted` count says how many were left out).
 */
export async function readReplay(
  reader: RecordingReader,
  sessionId: string,
): Promise<SessionReplay | undefined> {
  const [summary] = await reader.listSessions({ session: sessionId });
  if (summary === undefined) return undefined;
  const events: RecordingEvent[] = [];
  const counts: SessionCounts = { statements: 0, denied: 0, reviewed: 0, errors: 0 };
  const kept = new Map<string, number>();
  const collect = (e: RecordingEvent): void => {
    tally(counts, e);
    if (e.type === 'result.rows' && Array.isArray(e.rows)) {
      const id = String(e.statementId ?? '');
      const before = kept.get(id) ?? 0;
      const room = Math.max(0, REPLAY_ROWS_PER_RESULT - before);
      const rows = e.rows as unknown[][];
      kept.set(id, before + Math.min(room, rows.length));
      if (rows.length > room) {
        events.push({ ...e, rows: rows.slice(0, room), rowsOmitted: rows.length - room });
        return;
      }
    }
    events.push(e);
  };
  let seen = 0;
  const walk = async function* (): AsyncGenerator<RecordingEvent> {
    for await (const e of reader.readEvents(sessionId)) {
      seen++;
      collect(e);
      yield e;
    }
  };
  let verdict: ChainVerdict;
  try {
    verdict = await verifyChain(sessionId, walk(), { events: summary.events, lastHash: summary.lastHash });
  } catch (err) {
    verdict = { ok: false, session: sessionId, events: seen, seq: seen + 1, reason: (err as Error).message };
  }
  if (!verdict.ok) {
    // The check stopped at the broken event; the replay still shows what is there after it.
    let n = 0;
    for await (const e of reader.readEvents(sessionId)) if (++n > seen) collect(e);
  }
  const chain: ChainStatus = verdict.ok
    ? { ok: true, events: verdict.events }
    : { ok: false, events: verdict.events, seq: verdict.seq, reason: verdict.reason };
  return { session: { ...summary, ...counts }, chain, events };
}

/** GET /api/sessions and GET /api/sessions/:id. */
export async function handleSessions(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  rest: string[],
  reader: RecordingReader,
): Promise<void> {
  allowMethod(req.method, 'GET');
  const [id, ...extra] = rest;
  if (id === undefined) {
    const sessions = await listSessions(reader, sessionQuery(url, Date.now()));
    sendJson(res, 200, { sessions });
    return;
  }
  if (!SESSION_ID.test(id) || extra.length > 0) {
    throw new ApiProblem(404, 'ERR_NOT_FOUND', `no such path: ${url.pathname}`);
  }
  const replay = await readReplay(reader, id);
  if (replay === undefined)
    throw new ApiProblem(404, 'ERR_SESSION_NOT_FOUND', `no recording of session ${id}`);
  sendJson(res, 200, replay);
}
