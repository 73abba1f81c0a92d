import { parseArgs } from 'node:util';
import type { Config } from '../config/load.js';
import type { PolicyConfig } from '../config/schema.js';
import type { Dialect, GuardVerdict } from '../gateway/types.js';
import { compileStatementPolicy, createStatementAnalyzer } from '../guard/index.js';
import { CONFIG_OPTION_HELP, configPathOf, loadCommandConfig } from './config-file.js';

export const CHECK_HELP = `Usage: sluice check [--config FILE] --target T --groups G1,G2 [--json] "SQL"
       sluice check [--config FILE] --replay SESSION [--all] [--json]

Explains what the guard decides for a SQL text: the decision, the rule that decided, and each
statement's command, effects, objects and whether it is unbounded. The policy is the first one,
in file order, whose when.groups shares a group with --groups and whose when.targets names the
target (or *). The SQL dialect is the target's engine. Nothing is sent to any database.
A policy in shadow mode is shown with the decision it would enforce (mode: shadow).

With --replay, every statement recorded in SESSION is decided again under the configuration's
policies, as that session's caller, and those decided differently from the recording are
printed (--all: every statement): how the policies as they are now would have treated it.

Options:
  --config FILE     ${CONFIG_OPTION_HELP}
  --target T        a target name from the configuration (required)
  --groups G1,G2    comma-separated groups of the caller (required)
  --json            print one JSON object instead of text (with --replay: one a line)
  --replay SESSION  decide a recorded session's statements again (see above)
  --all             with --replay, print unchanged statements too
  --help            this text

Put "--" before SQL that begins with "-" (a comment), so it is not read as an option.

Exit status: 0 allow, 10 deny, 11 review, 1 the configuration cannot be used, 2 a bad argument;
with --replay: 0 nothing changed, 12 some decisions changed.
`;

const EXIT = { allow: 0, deny: 10, review: 11 } as const;

interface CheckRequest {
  /** `--config` as given; undefined: $SLUICE_CONFIG, else sluice.yaml. */
  configPath: string | undefined;
  target: string;
  groups: string[];
  json: boolean;
  sql: string;
}

class ArgumentError extends Error {}

/** `sluice check`. Returns the exit code. */
export async function runCheck(
  argv: string[],
  io: { stdout: (s: string) => void; stderr: (s: string) => void; env: NodeJS.ProcessEnv },
): Promise<number> {
  let request: CheckRequest | ReplayRequest | 'help';
  try {
    request = parseCheckArgs(argv);
  } catch (err) {
    if (!(err instanceof ArgumentError)) throw err;
    io.stderr(`sluice check: ${err.message}\nRun "sluice check --help" for usage.\n`);
    return 2;
  }
  if (request === 'help') {
    io.stdout(CHECK_HELP);
    return 0;
  }
  if ('replay' in request) {
    return (await import('./policy.js')).runCheckReplay(
      request.configPath,
      request.replay,
      { json: request.json, all: request.all },
      io,
    );
  }

  const config = loadCommandConfig('check', configPathOf(request.configPath, io.env), io);
  if (!config) return 1;
  const target = config.targets.get(request.target);
  if (target === undefined) {
    const known = [...config.targets.keys()].join(', ') || '(none)';
    io.stderr(
      `sluice check: --target "${request.target}" is not a target of ${request.configPath} (targets: ${known})\n`,
    );
    return 2;
  }
  const dialect: Dialect = target.engine;
  const policy = firstPolicy(config, request.groups, request.target);

  let verdict: GuardVerdict;
  if (policy === undefined) {
    verdict = {
      action: 'deny',
      reason: `no policy grants groups ${request.groups.join(', ')} access to ${request.target}`,
      rule: 'no matching policy',
      statements: [],
    };
  } else {
    const analysis = await createStatementAnalyzer({ cacheSize: 0 }).analyze(request.sql, dialect);
    verdict = compileStatementPolicy(policy).decide(analysis);
  }

  if (request.json) {
    io.stdout(
      `${JSON.stringify({
        decision: verdict.action,
        rule: verdict.rule,
        reason: verdict.reason,
        policy: policy?.name ?? null,
        mode: policy?.mode ?? null,
        target: request.target,
        dialect,
        statements: verdict.statements.map((s) => ({
          text: s.text,
          command: s.command,
          effects: s.effects,
          objects: s.objects,
          unbounded: s.unbounded,
        })),
      })}\n`,
    );
  } else {
    io.stdout(formatVerdict(verdict, policy, request.target, dialect));
  }
  return EXIT[verdict.action];
}

/** The first policy in file order for these groups and this target. */
function firstPolicy(config: Config, groups: readonly string[], target: string): PolicyConfig | undefined {
  const wanted = new Set(groups);
  return config.policies.find(
    (p) =>
      p.when.groups.some((g) => wanted.has(g)) &&
      (p.when.targets.includes('*') || p.when.targets.includes(target)),
  );
}

function formatVerdict(
  verdict: GuardVerdict,
  policy: PolicyConfig | undefined,
  target: string,
  dialect: Dialect,
) {
  const lines = [
    `decision: ${verdict.action}`,
    `rule:     ${verdict.rule}`,
    `reason:   ${verdict.reason}`,
    `policy:   ${policy?.name ?? '(none)'} (target ${target}, ${dialect})`,
  ];
  if (policy?.mode === 'shadow') lines.push('mode:     shadow (recorded, not enforced: the statement runs)');
  verdict.statements.forEach((s, i) => {
    lines.push(
      '',
      `statement ${i + 1}: ${s.text.replace(/\s+/g, ' ')}`,
      `  command:   ${s.command}`,
      `  effects:   ${s.effects.join(', ') || '(none)'}`,
      `  objects:   ${s.objects.join(', ') || '(none)'}`,
      `  unbounded: ${s.unbounded ? 'yes' : 'no'}`,
    );
  });
  return `${lines.join('\n')}\n`;
}

interface ReplayRequest {
  configPath: string | undefined;
  replay: string;
  json: boolean;
  all: boolean;
}

function parseCheckArgs(argv: string[]): CheckRequest | ReplayRequest | 'help' {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    // node:util reports unknown options and missing values with the option's name.
    throw new ArgumentError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help === true) return 'help';
  const configPath = values.config;
  if (values.replay !== undefined) {
    if (values.replay === '') throw new ArgumentError('--replay needs a session id');
    if (positionals.length > 0 || values.target !== undefined || values.groups !== undefined) {
      throw new ArgumentError('--replay takes no SQL, --target or --groups: the session has them');
    }
    return { configPath, replay: values.replay, json: values.json === true, all: values.all === true };
  }
  if (values.all === true) throw new ArgumentError('--all applies to --replay only');
  const target = values.target;
  if (target === undefined || target === '') throw new ArgumentError('--target T is required');
  const groups = (values.groups ?? '')
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g !== '');
  if (groups.length === 0) throw new ArgumentError('--groups G1,G2 is required (at least one group)');
  if (positionals.length === 0)
    throw new ArgumentError('the SQL to check is missing (give it as one quoted argument)');
  if (positionals.length > 1) {
    throw new ArgumentError(
      `expected one SQL argument, got ${positionals.length} ("${positionals[1]}" is extra): quote the whole statement`,
    );
  }
  return { configPath, target, groups, json: values.json === true, sql: positionals[0] ?? '' };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string' },
      target: { type: 'string' },
      groups: { type: 'string' },
      json: { type: 'boolean' },
      replay: { type: 'string' },
      all: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
