import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { configSchema, type ParsedConfig, type TargetConfig } from './schema.js';
import { resolveSecret, type Secret, SecretError } from './secret.js';

/** A target with its password resolved. */
export type Target = Omit<TargetConfig, 'password'> & { name: string; password: Secret | undefined };

export type Config = Omit<ParsedConfig, 'targets' | 'identity' | 'masking' | 'console'> & {
  /** The folder of the config file; relative paths in the config are resolved against it. */
  baseDir: string;
  /** The config file's absolute path, when it was read from one (for messages such as CLI lines). */
  file?: string;
  targets: Map<string, Target>;
  identity: Omit<ParsedConfig['identity'], 'gatewayTokens'> & {
    gatewayTokens: Omit<ParsedConfig['identity']['gatewayTokens'], 'signingKey'> & {
      signingKey: Secret | undefined;
    };
  };
  masking: { hashKey: Secret | undefined };
  console: Omit<ParsedConfig['console'], 'clientSecret'> & { clientSecret: Secret | undefined };
};

/** A configuration that cannot be used; `problems` holds one line per problem, by key path. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG_INVALID';
  readonly problems: string[];

  constructor(source: string, problems: string[], headline = 'invalid configuration') {
    super(`${source}: ${headline}\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    const why = reason === 'ENOENT' ? 'no such file' : reason === 'EACCES' ? 'permission denied' : reason;
    throw new ConfigError(path, [`the file cannot be read (${why})`], 'cannot read the configuration file');
  }
  return {
    ...parseConfigText(text, { source: path, baseDir: dirname(resolve(path)), env }),
    file: resolve(path),
  };
}

export function parseConfigText(
  text: string,
  opts: { source?: string; baseDir?: string; env?: NodeJS.ProcessEnv } = {},
): Config {
  const source = opts.source ?? 'config';
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => {
        const line = e.linePos?.[0];
        return `${line ? `line ${line.line}, column ${line.col}: ` : ''}${e.message.split('\n')[0]}`;
      }),
    );
  }
  return buildConfig(doc.toJS() ?? {}, { ...opts, source });
}

export function buildConfig(
  raw: unknown,
  opts: { source?: string; baseDir?: string; env?: NodeJS.ProcessEnv } = {},
): Config {
  const source = opts.source ?? 'config';
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (!result.success) throw new ConfigError(source, result.error.issues.map(describeIssue));
  const parsed = result.data;
  const env = opts.env ?? process.env;
  const baseDir = opts.baseDir ?? process.cwd();
  const problems: string[] = [];

  const secret = (ref: string | undefined, path: string): Secret | undefined => {
    if (ref === undefined) return undefined;
    try {
      return resolveSecret(ref, env, baseDir);
    } catch (err) {
      if (err instanceof SecretError) problems.push(`${path}: ${err.message}`);
      else throw err;
      return undefined;
    }
  };

  const targets = new Map<string, Target>();
  for (const [name, t] of Object.entries(parsed.targets)) {
    targets.set(name, { ...t, name, password: secret(t.password, `targets.${name}.password`) });
  }
  const policyTargets = new Set(['*', ...targets.keys()]);
  parsed.policies.forEach((p, i) => {
    for (const t of p.when.targets) {
      if (!policyTargets.has(t)) problems.push(`policies.${i}.when.targets: unknown target "${t}"`);
    }
  });
  const config: Config = {
    ...parsed,
    baseDir,
    targets,
    identity: {
      ...parsed.identity,
      gatewayTokens: {
        ...parsed.identity.gatewayTokens,
        signingKey: secret(parsed.identity.gatewayTokens.signingKey, 'identity.gatewayTokens.signingKey'),
      },
    },
    masking: { hashKey: secret(parsed.masking.hashKey, 'masking.hashKey') },
    console: {
      ...parsed.console,
      clientSecret: secret(parsed.console.clientSecret, 'console.clientSecret'),
    },
  };
  const issuers = parsed.identity.oidc.map((i) => i.issuer);
  if (parsed.console.clientId !== undefined && issuers.length === 0) {
    problems.push('console.clientId: sign-in needs an issuer in identity.oidc');
  }
  if (parsed.console.issuer !== undefined && !issuers.includes(parsed.console.issuer)) {
    problems.push(`console.issuer: ${parsed.console.issuer} is not one of identity.oidc`);
  }
  if (parsed.console.clientSecret !== undefined && parsed.console.clientId === undefined) {
    problems.push('console.clientSecret: set console.clientId too');
  }
  if (problems.length > 0) throw new ConfigError(source, problems);
  return config;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  switch (issue.code) {
    case 'invalid_type':
      return `${path}: expected ${article(issue.expected)}${received(issue.input)}`;
    case 'invalid_value':
      return `${path}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return issue.keys.map((k) => `${path === '(top level)' ? k : `${path}.${k}`}: unknown key`).join('; ');
    case 'invalid_union':
      return `${path}: not a valid value here`;
    default:
      return `${path}: ${issue.message}`;
  }
}

function article(expected: string): string {
  if (expected === 'object') return 'a mapping';
  if (expected === 'array') return 'a list';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

function received(input: unknown): string {
  if (input === undefined) return ' (missing)';
  if (input === null) return ', got null';
  return `, got ${Array.isArray(input) ? 'a list' : typeof input}`;
}
