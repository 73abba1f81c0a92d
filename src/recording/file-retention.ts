import { randomBytes } from 'node:crypto';
import { open, readdir, rename, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** The index of a recording directory: a line when a session starts and one when it ends. */
export const INDEX_FILE = 'index.jsonl';
/** Held (created exclusively) while one process sweeps a directory, so two never rewrite the index at once. */
const LOCK_FILE = 'index.jsonl.lock';
/** A lock older than this was left by a process that died mid-sweep (a sweep takes milliseconds). */
const STALE_LOCK_MS = 10 * 60_000;
const TEMP_PREFIX = 'index.jsonl.';
const TEMP_SUFFIX = '.tmp';

export interface FileRetention {
  /** Sessions whose last event is older than this are deleted. */
  retentionMs: number;
  /** Past this many bytes of session files, finished sessions are deleted, oldest first. */
  maxBytes?: number;
  clock: () => number;
}

export interface SweepResult {
  /** File names of the sessions deleted. */
  deleted: string[];
  /** Bytes of session files left. */
  bytes: number;
  /** Another process held the directory's sweep lock; nothing was deleted. */
  locked: boolean;
}

/**
 * Appends index lines so that they end up in the index even when a sweep (in this or another
 * process sharing the directory) replaces the file meanwhile: after writing, the file written to
 * is compared with the one the name now points at, and the lines are written again to the new one
 * when they differ. A line may so land twice; readers take the index as a set, so that is harmless.
 * The sweep covers the other half of the race (lines that reached the old file before it was
 * replaced) by copying the old file's tail.
 */
export async function appendIndexLines(dir: string, text: string): Promise<void> {
  const path = join(dir, INDEX_FILE);
  for (let attempt = 0; attempt < 4; attempt++) {
    const handle = await open(path, 'a');
    try {
      await handle.write(text);
      const [written, current] = await Promise.all([handle.stat(), stat(path).catch(() => undefined)]);
      if (current !== undefined && current.ino === written.ino && current.dev === written.dev) return;
    } finally {
      await handle.close();
    }
  }
}

interface SessionFile {
  name: string;
  bytes: number;
  mtimeMs: number;
}

interface IndexEntry {
  /** The session's file name (`sessionFileName(id)`). */
  file: string;
  endedAt?: number;
}

/**
 * One retention pass over a recording directory shared by any number of processes:
 *
 * - A session whose last event is older than `retentionMs` is deleted. The last event is the end
 *   line's time for a finished session; for one without an end (open somewhere, or its process
 *   died) it is the file's modification time, which every process refreshes for its open sessions
 *   on each pass (`openFiles`), so a session idle for longer than the retention in another process is
 *   never taken for an abandoned one.
 * - Past `maxBytes`, finished sessions are deleted oldest end first until the rest fits.
 * - Sessions in `openFiles` (open in this process) are never deleted.
 * - The index is rewritten without the deleted sessions (and without lines whose file is gone),
 *   into a temporary file that is synced and renamed over it: a crash leaves the old index or the
 *   new one, never a half-written one.
 *
 * `fileOf` maps a session id to its file name.
 */
export async function sweepRecordingDir(
  dir: string,
  retention: FileRetention,
  openFiles: ReadonlySet<string>,
  fileOf: (session: string) => string,
): Promise<SweepResult> {
  const now = retention.clock();
  // The heartbeat on this process's open sessions, before anything else: it must happen even when
  // another process holds the lock and is about to judge these files by their age.
  await Promise.all(
    [...openFiles].map((name) => utimes(join(dir, name), now / 1000, now / 1000).catch(() => undefined)),
  );
  // The lock's age is a matter of real time (whether its holder could still be at work), not of
  // the recordings' clock.
  if (!(await takeLock(dir, Date.now()))) return { deleted: [], bytes: 0, locked: true };
  try {
    return await sweepLocked(dir, retention, now, openFiles, fileOf);
  } finally {
    await unlink(join(dir, LOCK_FILE)).catch(() => undefined);
  }
}

async function takeLock(dir: string, now: number): Promise<boolean> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.write(String(process.pid));
      await handle.close();
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const held = await stat(path).catch(() => undefined);
      if (held !== undefined && now - held.mtimeMs < STALE_LOCK_MS) return false;
      await unlink(path).catch(() => undefined);
    }
  }
  return false;
}

async function sweepLocked(
  dir: string,
  retention: FileRetention,
  now: number,
  openFiles: ReadonlySet<string>,
  fileOf: (session: string) => string,
): Promise<SweepResult> {
  // The index is read through a handle kept open, so that whatever other processes append to this
  // file after it was read can be copied over once it has been replaced.
  let index: FileHandle | undefined;
  try {
    index = await open(join(dir, INDEX_FILE), 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  try {
    const read = index === undefined ? Buffer.alloc(0) : await index.readFile();
    // Only whole lines are judged: a last line without its newline may be a write still landing,
    // and is carried over with the rest of the tail.
    const content = read.subarray(0, read.lastIndexOf(0x0a) + 1);
    const lines = indexLines(content.toString('utf8'), fileOf);
    const endedAt = new Map<string, number>();
    for (const { entry } of lines) {
      if (entry?.endedAt !== undefined) endedAt.set(entry.file, entry.endedAt);
    }

    // Listed after the index was read: every session in that index had its file made before its
    // index line was written, so an indexed session whose file is not listed is gone.
    const files = await sessionFiles(dir);
    const deleted = new Set<string>();
    let bytes = 0;
    const kept: SessionFile[] = [];
    for (const file of files) {
      const last = endedAt.get(file.name) ?? file.mtimeMs;
      if (!openFiles.has(file.name) && now - last > retention.retentionMs) {
        deleted.add(file.name);
      } else {
        kept.push(file);
        bytes += file.bytes;
      }
    }
    if (retention.maxBytes !== undefined && bytes > retention.maxBytes) {
      const finished = kept
        .filter((f) => endedAt.has(f.name) && !openFiles.has(f.name))
        .sort((a, b) => (endedAt.get(a.name) ?? 0) - (endedAt.get(b.name) ?? 0));
      for (const file of finished) {
        if (bytes <= retention.maxBytes) break;
        deleted.add(file.name);
        bytes -= file.bytes;
      }
    }
    await Promise.all(
      [...deleted].map((name) =>
        unlink(join(dir, name)).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        }),
      ),
    );

    await removeTempFiles(dir);
    const listed = new Set(files.map((f) => f.name));
    const keep = lines.filter(
      (l) => l.entry !== undefined && !deleted.has(l.entry.file) && listed.has(l.entry.file),
    );
    if (index !== undefined && keep.length < lines.length) {
      await replaceIndex(dir, keep.map((l) => l.text).join(''), index, content.length);
    }
    return { deleted: [...deleted].sort(), bytes, locked: false };
  } finally {
    await index?.close();
  }
}

interface IndexLineText {
  /** The line with its newline, as it was read. */
  text: string;
  /** Undefined for a line that does not parse (torn by a crashed writer). */
  entry: IndexEntry | undefined;
}

function indexLines(text: string, fileOf: (session: string) => string): IndexLineText[] {
  const out: IndexLineText[] = [];
  let from = 0;
  while (from < text.length) {
    const nl = text.indexOf('\n', from);
    const end = nl === -1 ? text.length : nl + 1;
    const raw = text.slice(from, end);
    from = end;
    if (raw.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      out.push({ text: raw, entry: undefined });
      continue;
    }
    const line = parsed as { id?: unknown; endedAt?: unknown };
    if (typeof line.id !== 'string') {
      out.push({ text: raw, entry: undefined });
      continue;
    }
    const entry: IndexEntry = { file: fileOf(line.id) };
    if (typeof line.endedAt === 'number') entry.endedAt = line.endedAt;
    out.push({ text: nl === -1 ? raw + '\n' : raw, entry });
  }
  return out;
}

async function sessionFiles(dir: string): Promise<SessionFile[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.jsonl') && n !== INDEX_FILE);
  const files = await Promise.all(
    names.map(async (name) => {
      const s = await stat(join(dir, name)).catch(() => undefined);
      return s?.isFile() ? { name, bytes: s.size, mtimeMs: s.mtimeMs } : undefined;
    }),
  );
  return files.filter((f): f is SessionFile => f !== undefined);
}

/** Temporary index files of a sweep that crashed (only the lock holder makes them). */
async function removeTempFiles(dir: string): Promise<void> {
  const names = (await readdir(dir)).filter((n) => n.startsWith(TEMP_PREFIX) && n.endsWith(TEMP_SUFFIX));
  await Promise.all(names.map((n) => unlink(join(dir, n)).catch(() => undefined)));
}

async function replaceIndex(dir: string, text: string, old: FileHandle, readBytes: number): Promise<void> {
  const temp = join(dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
  const handle = await open(temp, 'wx');
  try {
    await handle.write(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, join(dir, INDEX_FILE));
  // Lines appended to the old file after it was read (by writers that opened it before the
  // rename) are carried over; writers that check after the rename write theirs again themselves.
  const size = (await old.stat()).size;
  if (size > readBytes) {
    const tail = Buffer.alloc(size - readBytes);
    await old.read(tail, 0, tail.length, readBytes);
    await appendIndexLines(dir, tail.toString('utf8'));
  }
}
