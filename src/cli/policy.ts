import { parseArgs } from 'node:util';
import type { Config } from '../config/load.js';
import { createRecordingReader } from '../recording/create.js';
import type { SessionFilter } from '../recording/types.js';
import { configPathOf, loadCommandConfig } from './config-file.js';
import { replayDecisions, replayLine, type ReplayedStatement } from './policy-replay.js';
import { sessionFilter } from './recordings.js';

export const POLICY_HELP = `Usage: sluice policy diff OLD.yaml NEW.yaml [--recordings FILE] [filters] [--json]

Decides every recorded statement of the selected sessions under the policies of OLD and of NEW,
as each session's caller (subject, groups, target), and prints the statements whose decision
differs: what a policy change would have done to real traffic, before it is rolled out. A
policy in shadow mode counts with the decision it would have enforced. Nothing is sent to any
database (the target's estimate of an UPDATE's reach is not asked).

Options:
  --recordings FILE  the configuration whose recording store is read (default: OLD.yaml)
  --session ID       only this session
  --identity SUB     only sessions of this subject
  --target T         only sessions on this target
  --since TIME       sessions started at or after TIME: ISO 8601 or an age (2h, 7d)
  --until TIME       sessions started at or before TIME
  --all              print every statement, not only those that changed
  --json             one JSON object a line
  --help             this text

Exit status: 0 no decision changed, 12 some did, 1 a configuration or the store cannot be used,
2 a bad argument.
`;

/** Exit status when a replay finds decisions that changed. */
export const CHANGED_EXIT = 12;

interface IO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
}

/** `sluice policy ...`. Returns the exit code. */
export async function runPolicy(argv: string[], io: IO): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    return usage(io, (err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    io.stdout(POLICY_HELP);
    return 0;
  }
  const [command, oldPath, newPath, ...extra] = positionals;
  if (command !== 'diff')
    return usage(
      io,
      command === undefined ? 'a command is required: diff' : `unknown command "${command}"; expected diff`,
    );
  if (oldPath === undefined || newPath === undefined) return usage(io, 'diff needs OLD.yaml and NEW.yaml');
  if (extra.length > 0) return usage(io, `unexpected argument "${extra[0]}"`);
  let filter: SessionFilter;
  try {
    filter = sessionFilter(values, Date.now());
  } catch (err) {
    return usage(io, (err as Error).message);
  }
  const before = loadCommandConfig('policy', oldPath, io);
  if (!before) return 1;
  const after = loadCommandConfig('policy', newPath, io);
  if (!after) return 1;
  const store = values.recordings === undefined ? before : loadCommandConfig('policy', values.recordings, io);
  if (!store) return 1;
  return report(store, filter, [before, after], io, {
    json: values.json === true,
    all: values.all === true,
    pick: (s) => [s.decisions[0], s.decisions[1]],
  });
}

/**
 * `sluice check --replay SESSION`: the session's statements decided again under the
 * configuration's current policies, next to what was recorded.
 */
export async function runCheckReplay(
  configPath: string | undefined,
  session: string,
  options: { json: boolean; all: boolean },
  io: IO,
): Promise<number> {
  const config = loadCommandConfig('check', configPathOf(configPath, io.env), io);
  if (!config) return 1;
  return report(config, { session }, [config], io, { ...options, pick: (s) => [s.recorded, s.decisions[0]] });
}

async function report(
  store: Config,
  filter: SessionFilter,
  configs: Config[],
  io: IO,
  options: {
    json: boolean;
    all: boolean;
    pick: (s: ReplayedStatement) => [ReplayedStatement['recorded'], ReplayedStatement['recorded']];
  },
): Promise<number> {
  let reader;
  try {
    reader = createRecordingReader(store);
  } catch (err) {
    io.stderr(`sluice: the recording store cannot be opened: ${(err as Error).message}\n`);
    return 1;
  }
  let total = 0;
  let changed = 0;
  const sessions = new Set<string>();
  try {
    for await (const statement of replayDecisions(reader, filter, configs)) {
      total++;
      sessions.add(statement.session);
      const [before, after] = options.pick(statement);
      if (after === undefined) continue;
      const differs = before?.action !== after.action;
      if (differs) changed++;
      if (!differs && !options.all) continue;
      if (options.json) {
        io.stdout(
          `${JSON.stringify({ session: statement.session, statementId: statement.statementId, sql: statement.sql, before: before ?? null, after, changed: differs })}\n`,
        );
      } else {
        io.stdout(`${replayLine(differs ? 'CHANGED' : 'same', before, after, statement.sql)}\n`);
      }
    }
  } catch (err) {
    io.stderr(`sluice: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await reader.close();
  }
  if (!options.json) {
    io.stdout(`${total} statements in ${sessions.size} sessions, ${changed} decided differently\n`);
  }
  return changed > 0 ? CHANGED_EXIT : 0;
}

function usage(io: IO, message: string): number {
  io.stderr(`sluice policy: ${message}\nRun "sluice policy --help" for usage.\n`);
  return 2;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      recordings: { type: 'string' },
      session: { type: 'string' },
      identity: { type: 'string' },
      target: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
