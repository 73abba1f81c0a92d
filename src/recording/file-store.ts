import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { storedJson } from './chain.js';
import { RecordingError } from './errors.js';
import { parseEvent } from './parse.js';
import { matches } from './redis-reader.js';
import type { EventStore } from './store.js';
import type {
  RecordingEvent,
  RecordingReader,
  SealedEvent,
  SessionFilter,
  SessionSummary,
  SessionSummaryStart,
} from './types.js';

const INDEX_FILE = 'index.jsonl';

/**
 * The file name of a session's recording. Session ids are UUIDs; anything else (a hostile id must
 * never pick a path) is named by its hash instead.
 */
export function sessionFileName(session: string): string {
  if (/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(session) && session !== 'index') {
    return `${session}.jsonl`;
  }
  return `${createHash('sha256').update(session).digest('hex')}.jsonl`;
}

type IndexLine =
  | { id: string; start: SessionSummaryStart }
  | { id: string; endedAt: number; events: number; lastHash: string };

/**
 * Append-only JSONL files: `<dir>/<session>.jsonl` holds one event per line, `<dir>/index.jsonl`
 * one line when a session starts and one when it ends (for listing without reading every file).
 */
export class FileEventStore implements EventStore {
  /** Lines are built (copied) from the bodies before they are written. */
  readonly copiesBodies = true;
  /** Last seq written per session, so a retried batch is not appended twice. */
  private readonly written = new Map<string, number>();
  private made = false;

  constructor(private readonly dir: string) {}

  health(): { ok: true } {
    return { ok: true };
  }

  onReachable(): void {}

  async append(events: readonly SealedEvent[]): Promise<void> {
    if (!this.made) {
      await mkdir(this.dir, { recursive: true });
      this.made = true;
    }
    const bySession = new Map<string, string[]>();
    const index: IndexLine[] = [];
    const last = new Map<string, number>();
    for (const event of events) {
      if (event.seq <= (this.written.get(event.session) ?? 0)) continue;
      let lines = bySession.get(event.session);
      if (lines === undefined) bySession.set(event.session, (lines = []));
      lines.push(storedJson(event.body, event.hash).toString('utf8'));
      last.set(event.session, event.seq);
      if (event.start !== undefined) index.push({ id: event.session, start: event.start });
      if (event.type === 'session.end') {
        index.push({ id: event.session, endedAt: event.ts, events: event.seq, lastHash: event.hash });
      }
    }
    for (const [session, lines] of bySession) {
      await appendFile(join(this.dir, sessionFileName(session)), lines.join('\n') + '\n');
      this.written.set(session, last.get(session) ?? 0);
    }
    if (index.length > 0) {
      await appendFile(join(this.dir, INDEX_FILE), index.map((l) => JSON.stringify(l)).join('\n') + '\n');
    }
    for (const event of events) if (event.type === 'session.end') this.written.delete(event.session);
  }

  async close(): Promise<void> {}
}

export class FileRecordingReader implements RecordingReader {
  constructor(private readonly dir: string) {}

  async listSessions(filter: SessionFilter): Promise<SessionSummary[]> {
    let text: string;
    try {
      text = await readFile(join(this.dir, INDEX_FILE), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const sessions = new Map<string, SessionSummary>();
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      let entry: IndexLine;
      try {
        entry = JSON.parse(line) as IndexLine;
      } catch {
        continue; // a torn last line of a crashed writer
      }
      if ('start' in entry) {
        sessions.set(entry.id, { id: entry.id, ...entry.start, events: 0 });
      } else {
        const s = sessions.get(entry.id);
        if (s !== undefined)
          Object.assign(s, { endedAt: entry.endedAt, events: entry.events, lastHash: entry.lastHash });
      }
    }
    const listed = [...sessions.values()].filter((s) => matches(s, filter));
    for (const s of listed) {
      if (s.endedAt === undefined) s.events = await this.countEvents(s.id);
    }
    return listed.sort((a, b) => a.startedAt - b.startedAt);
  }

  private async countEvents(session: string): Promise<number> {
    let count = 0;
    for await (const _ of this.readEvents(session)) count++;
    return count;
  }

  async *readEvents(sessionId: string): AsyncIterable<RecordingEvent> {
    const path = join(this.dir, sessionFileName(sessionId));
    const stream = createReadStream(path, { encoding: 'utf8' });
    const opened = new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
    try {
      await opened;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new RecordingError('ERR_RECORDING_NOT_FOUND', `no recording of session ${sessionId}`);
      }
      throw err;
    }
    let n = 0;
    for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
      n++;
      if (line.trim() === '') continue;
      yield parseEvent(line, `${sessionId} line ${n}`);
    }
  }

  async close(): Promise<void> {}
}
