import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { storedJson } from './chain.js';
import { RecordingError } from './errors.js';
import { appendIndexLines, INDEX_FILE, sweepRecordingDir, type SweepResult } from './file-retention.js';
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

/** How often retention runs at most; more often when the retention is short. */
const SWEEP_EVERY_MS = 60 * 60_000;

export interface FileStoreRetention {
  /** Sessions whose last event is older than this are deleted, with their index lines. */
  retentionMs: number;
  /** Past this many bytes of session files, finished sessions are deleted, oldest first. */
  maxBytes?: number;
  clock?: () => number;
  logger?: Logger;
}

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
 *
 * With `retention`, sessions older than it (and, past `maxBytes`, the oldest finished ones) are
 * deleted at start, then every hour (or half the retention when that is shorter), and as soon as
 * a tenth of `maxBytes` has been written since the last pass. Sessions this store is writing are
 * never deleted; see `sweepRecordingDir` for sessions other processes write to the same directory.
 */
export class FileEventStore implements EventStore {
  /** Lines are built (copied) from the bodies before they are written. */
  readonly copiesBodies = true;
  /** Last seq written per session, so a retried batch is not appended twice. */
  private readonly written = new Map<string, number>();
  /**
   * File names of the sessions being written (started, not ended), which retention never deletes.
   * Read live by a pass, so a session whose first events land during a pass is spared too.
   */
  private readonly openFiles = new Set<string>();
  private made = false;
  private sweeping: Promise<SweepResult> | undefined;
  private sweepAgain: Promise<SweepResult> | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  /** Characters (near enough bytes) appended since the last retention pass began, for `maxBytes`. */
  private sinceSweep = 0;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly retention?: FileStoreRetention,
  ) {
    if (retention === undefined) return;
    const run = (): void => void this.sweep().catch(() => undefined);
    const every = Math.max(1_000, Math.min(SWEEP_EVERY_MS, Math.floor(retention.retentionMs / 2)));
    this.timers.push(setTimeout(run, 0).unref(), setInterval(run, every).unref());
  }

  /**
   * One retention pass. Asked while one runs, it runs once more after it (however often it was
   * asked), so that what was written meanwhile is judged too. Failures are logged and rethrown;
   * the next pass tries again.
   */
  sweep(): Promise<SweepResult> {
    const retention = this.retention;
    if (retention === undefined || this.closed)
      return Promise.resolve({ deleted: [], bytes: 0, locked: false });
    if (this.sweeping !== undefined) {
      this.sweepAgain ??= this.sweeping
        .catch(() => undefined)
        .then(() => {
          this.sweepAgain = undefined;
          return this.sweep();
        });
      return this.sweepAgain;
    }
    this.sweeping = (async () => {
      this.sinceSweep = 0;
      try {
        await mkdir(this.dir, { recursive: true });
        const result = await sweepRecordingDir(
          this.dir,
          {
            retentionMs: retention.retentionMs,
            maxBytes: retention.maxBytes,
            clock: retention.clock ?? Date.now,
          },
          this.openFiles,
          sessionFileName,
        );
        if (result.deleted.length > 0) {
          retention.logger?.info(
            { event: 'recording.retention', deleted: result.deleted.length, bytes: result.bytes },
            `retention deleted ${result.deleted.length} session recordings (expired or over maxBytes)`,
          );
        }
        return result;
      } catch (err) {
        retention.logger?.warn({ err, event: 'recording.retention.failed' }, 'recording retention failed');
        throw err;
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

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
    let bytes = 0;
    for (const [session, lines] of bySession) {
      const text = lines.join('\n') + '\n';
      bytes += text.length;
      const file = sessionFileName(session);
      this.openFiles.add(file);
      await appendFile(join(this.dir, file), text);
      this.written.set(session, last.get(session) ?? 0);
    }
    if (index.length > 0) {
      await appendIndexLines(this.dir, index.map((l) => JSON.stringify(l)).join('\n') + '\n');
    }
    for (const event of events) {
      if (event.type !== 'session.end') continue;
      this.written.delete(event.session);
      this.openFiles.delete(sessionFileName(event.session));
    }
    const maxBytes = this.retention?.maxBytes;
    if (maxBytes !== undefined && (this.sinceSweep += bytes) > maxBytes / 10) {
      void this.sweep().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    await Promise.all([this.sweeping, this.sweepAgain].map((p) => p?.catch(() => undefined)));
  }
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
    // The index is a set of lines, not a log to replay in order: a line may appear twice, and an
    // end line before its start line, when retention rewrote the index while sessions were written.
    const sessions = new Map<string, SessionSummary>();
    const ends = new Map<string, Extract<IndexLine, { endedAt: number }>>();
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      let entry: IndexLine;
      try {
        entry = JSON.parse(line) as IndexLine;
      } catch {
        continue; // a torn last line of a crashed writer
      }
      if ('start' in entry) sessions.set(entry.id, { id: entry.id, ...entry.start, events: 0 });
      else ends.set(entry.id, entry);
    }
    for (const [id, end] of ends) {
      const s = sessions.get(id);
      if (s !== undefined)
        Object.assign(s, { endedAt: end.endedAt, events: end.events, lastHash: end.lastHash });
    }
    const listed = [...sessions.values()].filter((s) => matches(s, filter));
    const gone = new Set<string>();
    for (const s of listed) {
      if (s.endedAt !== undefined) continue;
      const events = await this.countEvents(s.id);
      if (events === undefined) gone.add(s.id);
      else s.events = events;
    }
    return listed.filter((s) => !gone.has(s.id)).sort((a, b) => a.startedAt - b.startedAt);
  }

  /** Undefined when the session's file is gone (retention deleted it after the index was read). */
  private async countEvents(session: string): Promise<number | undefined> {
    let count = 0;
    try {
      for await (const _ of this.readEvents(session)) count++;
    } catch (err) {
      if (err instanceof RecordingError && err.code === 'ERR_RECORDING_NOT_FOUND') return undefined;
      throw err;
    }
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
