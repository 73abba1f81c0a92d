import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { parseDuration } from '../config/duration.js';
import { ConfigError, loadConfigFile } from '../config/load.js';
import { verifyChain } from '../recording/chain.js';
import { createRecordingReader } from '../recording/create.js';
import { CSV_HEADER, eventToCsv } from '../recording/formats/csv.js';
import { OcsfMapper } from '../recording/formats/ocsf.js';
import { TranscriptWriter } from '../recording/formats/transcript.js';
import type { RecordingEvent, RecordingReader, SessionFilter, SessionSummary } from '../recording/types.js';

export const RECORDINGS_HELP = `Usage: sluice recordings <command> [options]

Commands:
  list      one session a line: id, start, subject, target, channel, events
  show      the events of the matching sessions, one a line
  replay    a psql-like transcript: statement, decision, result table, row count, timing
  export    the events as --format jsonl (default), csv or ocsf (OCSF Datastore Activity, class 6005)
  verify    re-walk each session's hash chain; prints OK per session, or the session and the
            first broken event; exits 1 when a chain is broken

Options:
  --config FILE    the YAML configuration (default: $SLUICE_CONFIG, else sluice.yaml)
  --session ID     only this session
  --identity SUB   only sessions of this subject
  --target T       only sessions on this target
  --since TIME     sessions started at or after TIME: ISO 8601 (2026-05-01T10:00Z) or an age (2h, 7d)
  --until TIME     sessions started at or before TIME
  --format F       export format: jsonl | csv | ocsf
  --output FILE    write the export to FILE instead of stdout
  --help           this text
`;

export interface RecordingsIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Whether stderr is a terminal (the export progress bar). */
  isTTY?: boolean;
  /** Whether stdout is a terminal (`list` prints a header line only then). */
  stdoutIsTTY?: boolean;
}

const COMMANDS = ['list', 'show', 'replay', 'export', 'verify'] as const;
type Command = (typeof COMMANDS)[number];
const FORMATS = ['jsonl', 'csv', 'ocsf'] as const;
type Format = (typeof FORMATS)[number];

class UsageError extends Error {
  readonly code = 'ERR_USAGE';
}

interface Options {
  command: Command;
  configPath: string;
  filter: SessionFilter;
  format: Format;
  output?: string;
}

/** `sluice recordings ...`; returns the exit code (0 ok, 1 failure or broken chain, 2 usage). */
export async function runRecordings(argv: string[], io: RecordingsIO): Promise<number> {
  let options: Options | 'help';
  try {
    options = parseOptions(argv, io.env, Date.now());
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(
        `sluice recordings: ${(err as Error).message}\nRun "sluice recordings --help" for usage.\n`,
      );
      return 2;
    }
    throw err;
  }
  if (options === 'help') {
    io.stdout.write(RECORDINGS_HELP);
    return 0;
  }
  let reader: RecordingReader;
  try {
    reader = createRecordingReader(loadConfigFile(options.configPath, io.env));
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr.write(`sluice recordings: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  try {
    return await execute(options, reader, io);
  } catch (err) {
    io.stderr.write(`sluice recordings: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await reader.close();
  }
}

function parseOptions(argv: string[], env: NodeJS.ProcessEnv, now: number): Options | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      session: { type: 'string' },
      identity: { type: 'string' },
      target: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      format: { type: 'string' },
      output: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const [command, ...extra] = positionals;
  if (command === undefined) throw new UsageError(`a command is required: ${COMMANDS.join(', ')}`);
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new UsageError(`unknown command "${command}"; expected one of ${COMMANDS.join(', ')}`);
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const format = values.format ?? 'jsonl';
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format: expected one of ${FORMATS.join(', ')}, got "${format}"`);
  }
  if (command !== 'export' && (values.format !== undefined || values.output !== undefined)) {
    throw new UsageError('--format and --output apply to export only');
  }
  const filter = sessionFilter(values, now);
  const options: Options = {
    command: command as Command,
    configPath: values.config ?? env.SLUICE_CONFIG ?? 'sluice.yaml',
    filter,
    format: format as Format,
  };
  if (values.output !== undefined) options.output = values.output;
  return options;
}

/** The sessions `--session`, `--identity`, `--target`, `--since` and `--until` select. */
export function sessionFilter(
  values: { session?: string; identity?: string; target?: string; since?: string; until?: string },
  now: number,
): SessionFilter {
  const filter: SessionFilter = {};
  if (values.session !== undefined) filter.session = values.session;
  if (values.identity !== undefined) filter.identity = values.identity;
  if (values.target !== undefined) filter.target = values.target;
  if (values.since !== undefined) filter.since = parseTime('--since', values.since, now);
  if (values.until !== undefined) filter.until = parseTime('--until', values.until, now);
  return filter;
}

/** An ISO 8601 time, epoch milliseconds, or an age such as 2h (that long before now). */
export function parseTime(flag: string, text: string, now: number): number {
  if (/^\d{10,}$/.test(text)) return Number(text);
  const age = parseDuration(text);
  if (age !== undefined) return now - age;
  const parsed = Date.parse(text);
  if (Number.isNaN(parsed))
    throw new UsageError(`${flag}: expected an ISO time or an age such as 2h, got "${text}"`);
  return parsed;
}

/** Writes and waits for the stream to drain when it asks to: memory stays flat for any export. */
async function put(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

async function execute(options: Options, reader: RecordingReader, io: RecordingsIO): Promise<number> {
  const sessions = await reader.listSessions(options.filter);
  if (sessions.length === 0 && options.filter.session !== undefined) {
    io.stderr.write(`sluice recordings: no recording of session ${options.filter.session}\n`);
    return 1;
  }
  switch (options.command) {
    case 'list':
      // A header for a person at a terminal; none for a script reading the lines.
      if (io.stdoutIsTTY === true)
        await put(io.stdout, 'session\tstarted\tsubject\ttarget\tchannel\tevents\n');
      for (const s of sessions) {
        const line = [
          s.id,
          new Date(s.startedAt).toISOString(),
          s.subject,
          s.target,
          s.channel,
          `${s.events} events`,
        ];
        await put(io.stdout, line.join('\t') + '\n');
      }
      return 0;
    case 'show':
      for (const s of sessions) {
        for await (const e of reader.readEvents(s.id)) await put(io.stdout, showLine(e));
      }
      return 0;
    case 'replay':
      for (const s of sessions) {
        const writer = new TranscriptWriter(s, (text) => io.stdout.write(text));
        for await (const e of reader.readEvents(s.id)) writer.push(e);
        await put(io.stdout, '\n');
      }
      return 0;
    case 'export':
      return exportSessions(options, sessions, reader, io);
    case 'verify':
      return verifySessions(sessions, reader, io);
  }
}

const SHOWN_CORE = new Set(['seq', 'ts', 'session', 'type', 'prevHash', 'hash']);

function showLine(e: RecordingEvent): string {
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) if (!SHOWN_CORE.has(k)) rest[k] = v;
  return `${e.session} #${e.seq} ${new Date(e.ts).toISOString()} ${e.type} ${JSON.stringify(rest)}\n`;
}

async function exportSessions(
  options: Options,
  sessions: SessionSummary[],
  reader: RecordingReader,
  io: RecordingsIO,
): Promise<number> {
  const file = options.output === undefined ? undefined : createWriteStream(options.output, { flags: 'w' });
  if (file !== undefined) await once(file, 'open');
  const out = file ?? io.stdout;
  const progress =
    file !== undefined && io.isTTY === true ? new ProgressBar(io.stderr, sessions.length) : undefined;
  if (options.format === 'csv') await put(out, CSV_HEADER);
  let events = 0;
  for (const [n, s] of sessions.entries()) {
    const ocsf = options.format === 'ocsf' ? new OcsfMapper(s) : undefined;
    for await (const e of reader.readEvents(s.id)) {
      events++;
      if (options.format === 'jsonl') await put(out, JSON.stringify(e) + '\n');
      else if (options.format === 'csv') await put(out, eventToCsv(s, e));
      else for (const record of ocsf?.push(e) ?? []) await put(out, JSON.stringify(record) + '\n');
    }
    progress?.update(n + 1, events);
  }
  progress?.done();
  if (file !== undefined) {
    file.end();
    await once(file, 'finish');
    io.stderr.write(`exported ${events} events of ${sessions.length} sessions to ${options.output}\n`);
  }
  return 0;
}

async function verifySessions(
  sessions: SessionSummary[],
  reader: RecordingReader,
  io: RecordingsIO,
): Promise<number> {
  let broken = 0;
  for (const s of sessions) {
    let seen = 0;
    const counted = (async function* () {
      for await (const e of reader.readEvents(s.id)) {
        seen++;
        yield e;
      }
    })();
    let line: string;
    try {
      const verdict = await verifyChain(s.id, counted, { events: s.events, lastHash: s.lastHash });
      line = verdict.ok
        ? `OK ${s.id} ${verdict.events} events\n`
        : `BROKEN ${s.id} at event seq ${verdict.seq}: ${verdict.reason}\n`;
      if (!verdict.ok) broken++;
    } catch (err) {
      broken++;
      line = `BROKEN ${s.id} at event seq ${seen + 1}: ${(err as Error).message}\n`;
    }
    await put(io.stdout, line);
  }
  if (broken > 0) io.stderr.write(`${broken} of ${sessions.length} sessions have a broken chain\n`);
  return broken > 0 ? 1 : 0;
}

/** A one-line progress bar, redrawn in place; only ever drawn on a terminal. */
class ProgressBar {
  private last = 0;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly total: number,
  ) {}

  update(done: number, events: number): void {
    const now = Date.now();
    if (done < this.total && now - this.last < 100) return;
    this.last = now;
    const width = 30;
    const filled = this.total === 0 ? width : Math.round((done / this.total) * width);
    this.stream.write(
      `\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${this.total} sessions, ${events} events`,
    );
  }

  done(): void {
    this.stream.write('\n');
  }
}
