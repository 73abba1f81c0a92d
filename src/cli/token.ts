import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { Config } from '../config/load.js';
import { formatDuration, parseDuration } from '../config/duration.js';
import { createAuthenticator } from '../identity/authenticator.js';
import { AuthError } from '../identity/errors.js';
import { reachableTargets, selectPolicy } from '../identity/policies.js';
import type { Identity } from '../identity/types.js';
import type { CommandIO } from './io.js';
import { CONFIG_OPTION_HELP, configPathOf, loadCommandConfig } from './config-file.js';

export const TOKEN_HELP = `Usage: sluice token [--config FILE] --sub NAME --groups G1,G2 [--target T] [--ttl 15m]
                    [--claim NAME=VALUE]...

Mints a short-lived Sluice token, signed with the gateway key of the configuration
(identity.gatewayTokens.signingKey, or the key kept in the state directory). "sluice serve" with
the same configuration accepts it. The token alone is printed on stdout.

Options:
  --config FILE     ${CONFIG_OPTION_HELP}
  --sub NAME        the subject the token speaks for (required)
  --groups G1,G2    comma-separated groups; policies are chosen by these (required)
  --target T        bind the token to one target: it reaches that target only
  --ttl DURATION    lifetime such as 5m; at most identity.gatewayTokens.ttl (the default)
  --claim N=V       a claim policies read, such as tenant=acme for a row filter on
                    {claims.tenant} (a string; repeat for more)
  --help            this text

Exit status: 0 token printed, 1 the configuration or key cannot be used, 2 a bad argument.
`;

class ArgumentError extends Error {}

interface TokenRequest {
  /** `--config` as given; undefined: $SLUICE_CONFIG, else sluice.yaml. */
  configPath: string | undefined;
  subject: string;
  groups: string[];
  target: string | undefined;
  ttlMs: number | undefined;
  claims: Record<string, string>;
}

/** `sluice token`. Returns the exit code. */
export async function runToken(argv: string[], io: CommandIO): Promise<number> {
  let request: TokenRequest | 'help';
  try {
    request = parseTokenArgs(argv);
  } catch (err) {
    if (!(err instanceof ArgumentError)) throw err;
    io.stderr(`sluice token: ${err.message}\nRun "sluice token --help" for usage.\n`);
    return 2;
  }
  if (request === 'help') {
    io.stdout(TOKEN_HELP);
    return 0;
  }

  const config = loadCommandConfig('token', configPathOf(request.configPath, io.env), io);
  if (!config) return 1;

  const problem = checkAgainstConfig(request, config);
  if (problem !== undefined) {
    io.stderr(`sluice token: ${problem}\nRun "sluice token --help" for usage.\n`);
    return 2;
  }

  try {
    // Library logs (a key being created) go to stderr; stdout carries the token alone.
    const logger = pino(
      { level: 'warn', base: { service: 'sluice' } },
      { write: (line: string) => io.stderr(line) },
    );
    const authenticator = await createAuthenticator(config, { logger });
    const token = await authenticator.mint({
      subject: request.subject,
      groups: request.groups,
      ...(request.target === undefined ? {} : { target: request.target }),
      ...(request.ttlMs === undefined ? {} : { ttlMs: request.ttlMs }),
      ...(Object.keys(request.claims).length > 0 ? { claims: request.claims } : {}),
    });
    io.stdout(`${token}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof AuthError)) throw err;
    io.stderr(`sluice token: ${request.configPath}: ${err.message}\n`);
    return err.code === 'ERR_MINT_REQUEST' ? 2 : 1;
  }
}

function parseTokenArgs(argv: string[]): TokenRequest | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        sub: { type: 'string' },
        groups: { type: 'string' },
        target: { type: 'string' },
        ttl: { type: 'string' },
        claim: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    // parseArgs names the offending option or value in its message.
    throw new ArgumentError((err as Error).message);
  }
  if (values.help) return 'help';
  const configPath = values.config;
  const subject = required(values.sub, '--sub');
  const groups = required(values.groups, '--groups')
    .split(',')
    .map((g) => g.trim());
  if (groups.some((g) => g === '')) throw new ArgumentError('--groups: a group name is empty');
  let ttlMs: number | undefined;
  if (values.ttl !== undefined) {
    ttlMs = parseDuration(values.ttl);
    if (ttlMs === undefined)
      throw new ArgumentError(`--ttl: expected a duration such as 15m, got "${values.ttl}"`);
  }
  const claims: Record<string, string> = {};
  for (const pair of values.claim ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ArgumentError(`--claim: expected NAME=VALUE, got "${pair}"`);
    claims[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return { configPath, subject, groups, target: values.target, ttlMs, claims };
}

function required(value: string | undefined, name: string): string {
  if (value === undefined || value.trim() === '') throw new ArgumentError(`${name} is required`);
  return value.trim();
}

/** Refuses a token that would be useless or over-long, naming the argument at fault. */
function checkAgainstConfig(request: TokenRequest, config: Config): string | undefined {
  const maxTtl = config.identity.gatewayTokens.ttl;
  if (request.ttlMs !== undefined && request.ttlMs > maxTtl) {
    return `--ttl: ${formatDuration(request.ttlMs)} is longer than identity.gatewayTokens.ttl (${formatDuration(maxTtl)})`;
  }
  const identity: Identity = {
    subject: request.subject,
    groups: request.groups,
    issuer: config.identity.gatewayTokens.issuer,
    via: 'gateway',
  };
  if (request.target !== undefined) {
    if (!config.targets.has(request.target)) {
      const known = [...config.targets.keys()].join(', ');
      return `--target: unknown target "${request.target}" (configured: ${known})`;
    }
    if (selectPolicy(config, identity, request.target) === undefined) {
      return `--target: no policy gives groups ${request.groups.join(',')} access to "${request.target}"`;
    }
  } else if (reachableTargets(config, identity).length === 0) {
    return `--groups: no policy gives groups ${request.groups.join(',')} access to any target`;
  }
  return undefined;
}
