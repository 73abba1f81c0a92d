import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ApprovalError } from '../approvals/errors.js';
import { createApprovalsRedis } from '../approvals/redis.js';
import { ApprovalService } from '../approvals/service.js';
import { REQUEST_STATES, type ApprovalRequest, type ApprovalRequestState } from '../approvals/types.js';

import type { Identity } from '../identity/types.js';
import type { CommandIO } from './io.js';
import { CONFIG_OPTION_HELP, configPathOf, loadCommandConfig } from './config-file.js';

export const APPROVALS_USAGE = `Usage: sluice approvals list [--state S] [--json] [--config FILE] [--token T]
       sluice approvals approve ID [--reason "..."] [--grant-minutes N] [--json] [--config FILE] [--token T]
       sluice approvals deny ID [--reason "..."] [--json] [--config FILE] [--token T]

Lists and decides just-in-time approval requests: statements a policy sent to review wait until an
approver (a member of approvals.approvers.groups) approves or denies them. Nobody decides their own
request. An approval releases the exact statement once.

Commands:
  list              pending requests (approvers see all, others their own): one a line,
                    id, state, requester, target and statement, tab-separated
  approve ID        approve a pending request
  deny ID           deny a pending request

Options:
  --config FILE       ${CONFIG_OPTION_HELP}; its Redis holds the requests
  --token T           your own token (OIDC or Sluice); default: the SLUICE_TOKEN variable
  --reason TEXT       why, shown to the requester and recorded
  --grant-minutes N   approve: also allow this identity the same effects on the same objects
                      of this target for N minutes, without new requests
  --state S           list: one of ${REQUEST_STATES.join(', ')} (default pending)
  --json              one JSON object a line instead of text
  --help              this text

Exit status: 0 done, 1 refused or failed (not an approver, own request, already decided,
unknown id, store unreachable), 2 a bad argument.
`;

export interface ApprovalsCommandDeps {
  service: ApprovalService;
  /** Verifies the caller's token; throws when it is not valid. */
  authenticate: (token: string) => Promise<Identity>;
}

class ArgumentError extends Error {}

type Command =
  | { kind: 'help' }
  | {
      kind: 'list' | 'approve' | 'deny';
      id: string | undefined;
      reason: string | undefined;
      grantMinutes: number | undefined;
      state: ApprovalRequestState | undefined;
      json: boolean;
      config: string | undefined;
      token: string | undefined;
    };

/** `sluice approvals`, built from the configuration. Returns the exit code. */
export async function runApprovals(argv: string[], io: CommandIO): Promise<number> {
  const command = parse(argv, io);
  if (typeof command === 'number') return command;
  if (command.kind === 'help') return runApprovalsWith(argv, io, undefined);
  const config = loadCommandConfig('approvals', configPathOf(command.config, io.env), io);
  if (!config) return 1;
  const logger = pino(
    { level: 'warn', base: { service: 'sluice' } },
    { write: (line: string) => io.stderr(line) },
  );
  let authenticate: ApprovalsCommandDeps['authenticate'];
  try {
    // Loaded lazily so `--help` and argument errors never need the identity module.
    const identity = await import('../identity/index.js');
    const authenticator = await identity.createAuthenticator(config, { logger });
    authenticate = (token) => authenticator.authenticate(token, { channel: 'cli' });
  } catch (err) {
    io.stderr(`sluice approvals: ${command.config}: cannot verify tokens: ${(err as Error).message}\n`);
    return 1;
  }
  const redis = createApprovalsRedis(config.recording.redis.url);
  try {
    const service = new ApprovalService({
      redis,
      policy: config.approvals,
      keyPrefix: config.approvals.keyPrefix,
    });
    return await runApprovalsWith(argv, io, { service, authenticate });
  } finally {
    redis.disconnect();
  }
}

/** `sluice approvals` with its service and authenticator supplied (tests, or an embedding gateway). */
export async function runApprovalsWith(
  argv: string[],
  io: CommandIO,
  deps: ApprovalsCommandDeps | undefined,
): Promise<number> {
  const command = parse(argv, io);
  if (typeof command === 'number') return command;
  if (command.kind === 'help') {
    io.stdout(APPROVALS_USAGE);
    return 0;
  }
  if (!deps) return usage(io, '--config is required');
  const token = command.token ?? io.env.SLUICE_TOKEN;
  if (!token) return usage(io, 'a token is required: --token T or the SLUICE_TOKEN variable');
  let identity: Identity;
  try {
    identity = await deps.authenticate(token);
  } catch (err) {
    io.stderr(`sluice approvals: your token was refused: ${(err as Error).message}\n`);
    return 1;
  }
  const { service } = deps;
  try {
    switch (command.kind) {
      case 'list': {
        const requests = service.isApprover(identity)
          ? await service.list({ state: command.state ?? 'pending' })
          : await service.list({
              state: command.state ?? 'pending',
              requester: { subject: identity.subject, issuer: identity.issuer },
            });
        // A header for a person at a terminal; none for a script reading the lines.
        if (!command.json && io.isTTY === true) io.stdout('request\tstate\trequester\ttarget\tstatement\n');
        for (const r of requests) io.stdout(command.json ? `${JSON.stringify(r)}\n` : `${line(r)}\n`);
        return 0;
      }
      case 'approve': {
        const id = command.id as string;
        const result = await service.approve(
          id,
          identity,
          command.reason,
          command.grantMinutes !== undefined ? { grant: { minutes: command.grantMinutes } } : {},
        );
        if (command.json) io.stdout(`${JSON.stringify(result)}\n`);
        else {
          io.stdout(`approved ${id}\n`);
          if (result.grant) {
            const g = result.grant;
            io.stdout(
              `granted ${g.subject} ${g.effects.join(',')} on ${g.objects.join(',')} of ${g.target} until ${new Date(g.expiresAt).toISOString()}\n`,
            );
          }
        }
        return 0;
      }
      case 'deny': {
        const id = command.id as string;
        const request = await service.deny(id, identity, command.reason);
        io.stdout(command.json ? `${JSON.stringify(request)}\n` : `denied ${id}\n`);
        return 0;
      }
    }
  } catch (err) {
    if (!(err instanceof ApprovalError)) throw err;
    io.stderr(`sluice approvals: ${err.message}\n`);
    return 1;
  }
}

function parse(argv: string[], io: CommandIO): Command | number {
  try {
    return parseCommand(argv);
  } catch (err) {
    if (!(err instanceof ArgumentError)) throw err;
    return usage(io, err.message);
  }
}

function usage(io: CommandIO, message: string): number {
  io.stderr(`sluice approvals: ${message}\nRun "sluice approvals --help" for usage.\n`);
  return 2;
}

function parseCommand(argv: string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        reason: { type: 'string' },
        'grant-minutes': { type: 'string' },
        state: { type: 'string' },
        json: { type: 'boolean' },
        config: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    // parseArgs names the offending option in its message.
    throw new ArgumentError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  const [kind, id, ...extra] = positionals;
  if (kind !== 'list' && kind !== 'approve' && kind !== 'deny') {
    throw new ArgumentError(
      kind === undefined ? 'a command is required: list, approve or deny' : `unknown command "${kind}"`,
    );
  }
  if (extra.length > 0) throw new ArgumentError(`unexpected argument "${extra[0]}"`);
  if (kind === 'list' && id !== undefined) throw new ArgumentError(`list takes no ID (got "${id}")`);
  if (kind !== 'list' && id === undefined) throw new ArgumentError(`${kind} needs the request ID`);
  if (kind !== 'approve' && values['grant-minutes'] !== undefined) {
    throw new ArgumentError('--grant-minutes applies to approve only');
  }
  if (kind !== 'list' && values.state !== undefined) throw new ArgumentError('--state applies to list only');
  let grantMinutes: number | undefined;
  if (values['grant-minutes'] !== undefined) {
    if (!/^\d+$/.test(values['grant-minutes'])) {
      throw new ArgumentError(
        `--grant-minutes: expected a whole number of minutes, got "${values['grant-minutes']}"`,
      );
    }
    grantMinutes = Number(values['grant-minutes']);
  }
  const state = values.state;
  if (state !== undefined && !(REQUEST_STATES as readonly string[]).includes(state)) {
    throw new ArgumentError(`--state: expected one of ${REQUEST_STATES.join(', ')}, got "${state}"`);
  }
  return {
    kind,
    id,
    reason: values.reason,
    grantMinutes,
    state: state as ApprovalRequestState | undefined,
    json: values.json ?? false,
    config: values.config,
    token: values.token,
  };
}

/**
 * One request as one line of text. The statement comes from an agent and may be hostile: line
 * breaks (which would forge a second request line), terminal control sequences and bidirectional
 * overrides (which make text read differently from what runs) are shown escaped, never emitted.
 */
function line(r: ApprovalRequest): string {
  return [r.id, r.state, `${r.requester.subject}`, r.target, printable(r.sql)].join('\t');
}

function printable(text: string): string {
  let out = '';
  for (const c of text.replace(/\s*[\r\n]+\s*/g, ' ')) {
    const code = c.codePointAt(0) ?? 0;
    const hidden =
      code < 0x20 ||
      (code >= 0x7f && code <= 0x9f) ||
      code === 0x200e ||
      code === 0x200f ||
      (code >= 0x202a && code <= 0x202e) ||
      (code >= 0x2066 && code <= 0x2069);
    out += hidden ? `\\u${code.toString(16).padStart(4, '0')}` : c;
  }
  return out;
}
