import { z } from 'zod';
import { parseDuration } from './duration.js';

/**
 * The configuration schema is the source of truth for every key Sluice reads. Each key carries a
 * description; `sluice config-reference` (docs) is generated from these.
 */

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a duration such as 30s, 15m or 30d, got "${text}"`,
        });
        return z.NEVER;
      }
      return ms;
    });

/** A duration that may be left out (undefined then). */
const optionalDuration = () =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return undefined;
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a duration such as 30s, 15m or 30d, got "${text}"`,
        });
        return z.NEVER;
      }
      return ms;
    });

/** A size in bytes: a number, or a number with a unit (`500MB`, `10GiB`). */
const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};
const byteSize = z.union([z.number().int().positive(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]+)?$/i.exec(value.trim());
  const unit = BYTE_UNITS[(match?.[2] ?? 'b').toLowerCase()];
  const bytes = match && unit !== undefined ? Math.floor(Number(match[1]) * unit) : 0;
  if (bytes < 1) {
    ctx.addIssue({ code: 'custom', message: `expected a size such as 500MiB or 10GB, got "${value}"` });
    return z.NEVER;
  }
  return bytes;
});

/** `host:port`; a bare port means loopback. */
const listenAddress = z
  .string()
  .regex(/^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?\d{1,5}$/, 'expected host:port such as 127.0.0.1:8080')
  .describe('address to listen on, host:port');

/** A secret reference: env:NAME, file:PATH, or (for local testing) a literal. Resolved at load. */
const secretRef = z.string().min(1).describe('secret: env:NAME, file:PATH or a literal');

export const EFFECTS = [
  'read',
  'write',
  'delete',
  'ddl',
  'dcl',
  'admin',
  'session',
  'routine',
  'transaction',
  'file',
  'program',
  'procedural',
  'lock',
  'unknown',
] as const;
export const effectSchema = z.enum(EFFECTS);
export type Effect = z.infer<typeof effectSchema>;

const effectRule = z.union([
  effectSchema,
  z.strictObject({
    effect: effectSchema,
    unbounded: z.boolean().optional().describe('match only statements without a limiting WHERE'),
    objects: z
      .array(z.string())
      .optional()
      .describe('match only statements touching these objects (table, schema.table, globs)'),
  }),
]);
export type EffectRule = z.infer<typeof effectRule>;

export const MASK_STRATEGIES = ['redact', 'partial', 'email', 'hash', 'null'] as const;
export const DETECTORS = [
  'email',
  'credit-card',
  'us-ssn',
  'phone',
  'iban',
  'ip',
  'bearer-token',
  'api-key',
] as const;

const maskingRule = z
  .strictObject({
    columns: z
      .array(z.string())
      .optional()
      .describe('table.column, schema.table.column or globs (*.ssn, customers.*_phone)'),
    detect: z.array(z.enum(DETECTORS)).optional().describe('content detectors applied to text values'),
    strategy: z
      .enum(MASK_STRATEGIES)
      .default('redact')
      .describe('redact, partial (keep the last chars), email (keep the domain), hash (keyed HMAC), null'),
    keep: z
      .number()
      .int()
      .min(0)
      .max(64)
      .default(4)
      .describe('partial: how many trailing characters to keep'),
    derived: z
      .array(z.enum(['length', 'nullness']))
      .default([])
      .describe(
        'derivations returned in clear: length (length(), char_length(), octet_length(), pg_column_size(); tells nullness too), nullness (IS NULL, IS NOT NULL, ISNULL()); others are masked',
      ),
  })
  .refine((r) => (r.columns?.length ?? 0) + (r.detect?.length ?? 0) > 0, {
    message: 'a masking rule needs columns or detect',
  });
export type MaskingRuleConfig = z.infer<typeof maskingRule>;

const policy = z.strictObject({
  name: z.string().min(1).describe('shown in decisions and recordings'),
  when: z.strictObject({
    groups: z.array(z.string()).min(1).describe('identity groups this policy applies to'),
    targets: z.array(z.string()).default(['*']).describe('target names (or *) this policy applies to'),
  }),
  mode: z
    .enum(['enforce', 'shadow'])
    .default('enforce')
    .describe(
      'shadow: decide as usual, record what would have been denied or reviewed (decision.shadow) and let the statement through; masking and limits still apply',
    ),
  statements: z
    .strictObject({
      default: z
        .enum(['allow', 'deny', 'review'])
        .default('deny')
        .describe('decision for effects no list names'),
      allow: z.array(effectRule).default([]).describe('effects allowed (deny wins over review over allow)'),
      review: z.array(effectRule).default([]).describe('effects that wait for an approver'),
      deny: z.array(effectRule).default([]).describe('effects refused'),
    })
    .prefault({}),
  session: z
    .strictObject({
      allow: z
        .array(
          z
            .string()
            .min(1)
            .transform((name) => name.toLowerCase()),
        )
        .default([])
        .describe(
          'settings a caller may change (SET, RESET, or a startup parameter), though their effect is session: statement_timeout, search_path, ...',
        ),
    })
    .prefault({}),
  masking: z.array(maskingRule).default([]),
  rowFilters: z
    .array(
      z.strictObject({
        table: z
          .string()
          .min(1)
          .describe('table or schema.table; its partitions and inheriting tables are filtered too'),
        where: z
          .string()
          .min(1)
          .describe(
            "a condition on the table's columns, such as tenant_id = {claims.tenant}; {claims.NAME} is the caller's claim (a token without it is refused)",
          ),
      }),
    )
    .default([])
    .describe(
      'rows of a table a caller may read, update or delete (reads are rewritten, views over the table seen through on Postgres; UPDATE and DELETE get the filter in their WHERE (single-table ones on MySQL); INSERT ... VALUES runs when every row sets the filtered columns to the claims of the caller, other statements naming it or a view over it are refused)',
    ),
  maskedDerivations: z
    .enum(['mask', 'refuse'])
    .default('mask')
    .describe('an output computed from a masked column: mask it, or refuse the statement'),
  maskedFilters: z
    .enum(['allow', 'refuse'])
    .default('allow')
    .describe('filters (WHERE, JOIN, ORDER BY) on masked columns: allow, or refuse (they leak by inference)'),
  limits: z
    .strictObject({
      maxRows: z
        .number()
        .int()
        .positive()
        .default(1000)
        .describe('rows a caller receives at most per statement'),
      maxBytes: z
        .number()
        .int()
        .positive()
        .optional()
        .describe(
          'bytes of row data a caller receives at most per statement (the values as the target sends them); a result is cut before the row that would pass it, as at maxRows',
        ),
      statementTimeout: duration('30s').describe('cancel statements running longer'),
      statementsPerMinute: z
        .number()
        .int()
        .positive()
        .optional()
        .describe(
          'statements a caller (subject) may run a minute under this policy, across its sessions and channels, per gateway process; refused above it (53400, MySQL 1226)',
        ),
      readCost: z
        .strictObject({
          max: z.number().positive().describe("the planner's estimate a read may reach"),
          over: z.enum(['deny', 'review']).default('deny').describe('what a read above it gets'),
        })
        .optional()
        .describe(
          "a ceiling on what reads may cost, by the target's own EXPLAIN (Postgres: the plan's total cost, of the generic plan for a statement with parameters; MySQL: query_cost, or on MariaDB the product of the plan's row estimates); a read it cannot estimate counts as above",
        ),
      concurrentStatements: z
        .number()
        .int()
        .positive()
        .optional()
        .describe(
          'statements a caller (subject) may have running at once under this policy, per gateway process',
        ),
    })
    .prefault({}),
});
export type PolicyConfig = z.infer<typeof policy>;

const target = z.strictObject({
  engine: z.enum(['postgres', 'mysql']).describe('wire protocol of the target (mysql covers MariaDB)'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  database: z.string().min(1),
  user: z.string().min(1).describe('the account Sluice connects as: give it least privilege'),
  password: secretRef.optional(),
  tls: z
    .enum(['disable', 'prefer', 'require', 'verify-full'])
    .default('prefer')
    .describe('TLS to the target: verify-full checks the CA and the host name'),
  ca: z.string().optional().describe('PEM file of the CA that signs the target certificate (verify-full)'),
  pool: z.strictObject({ max: z.number().int().min(1).max(100).default(4) }).prefault({}),
  connectTimeout: duration('10s').describe('give up connecting to the target after this long'),
  cancel: z
    .boolean()
    .default(true)
    .describe(
      "whether the target honours CancelRequest; false (the demo's embedded Postgres): a client's cancel is answered with a NOTICE saying the statement runs on until it ends or times out",
    ),
  description: z.string().optional().describe('shown to agents by list_databases'),
  identity: z
    .strictObject({
      settings: z
        .boolean()
        .default(false)
        .describe(
          "set sluice.sub, sluice.groups and sluice.session on the target connection for each caller: Postgres settings (current_setting('sluice.sub') in RLS policies and audit), MySQL user variables @sluice_sub, @sluice_groups, @sluice_session (views, triggers, audit)",
        ),
      setRole: z
        .string()
        .regex(/^[^"]*$/, 'no double quotes')
        .optional()
        .describe(
          'run each caller as this role (SET ROLE), a template: {sub} is the caller subject, e.g. agent_{sub}; the target user must be a member of it (Postgres) or have it granted (MySQL, MariaDB)',
        ),
    })
    .optional()
    .describe("the caller's identity inside the target, for its own row-level security and audit"),
});
export type TargetConfig = z.infer<typeof target>;

const oidcIssuer = z.strictObject({
  issuer: z.url().describe('the issuer URL; discovery reads <issuer>/.well-known/openid-configuration'),
  audience: z.union([z.string(), z.array(z.string())]).describe('accepted aud values'),
  jwksUri: z.url().optional().describe('skip discovery and use this JWKS'),
  groupsClaim: z.string().default('groups').describe('claim holding groups; dotted paths allowed'),
  subjectClaim: z.string().default('sub').describe('claim naming the caller'),
  algorithms: z
    .array(z.string())
    .default(['RS256', 'ES256', 'PS256', 'EdDSA'])
    .describe('accepted signature algorithms (never none or HS*)'),
  clockSkew: duration('60s').describe('tolerance on exp and nbf (at most 5m)'),
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      http: z.strictObject({ listen: listenAddress }).optional(),
      postgres: z
        .strictObject({
          listen: listenAddress,
          allowPlaintextAuth: z
            .boolean()
            .default(false)
            .describe('accept tokens over an unencrypted connection (loopback testing only)'),
          idleTimeout: duration('30m').describe('close a client connection idle this long'),
          maxMessageSize: z
            .number()
            .int()
            .positive()
            .default(64 * 1024 * 1024),
        })
        .optional(),
      mysql: z
        .strictObject({
          listen: listenAddress,
          allowPlaintextAuth: z
            .boolean()
            .default(false)
            .describe(
              'accept logins over an unencrypted connection (loopback testing only): the token travels RSA-encrypted (caching_sha2_password; the key, 6144 bits, carries tokens up to 725 bytes, kept in the state directory as mysql-password-key.pem), or in clear from a client that picks mysql_clear_password itself',
            ),
          idleTimeout: duration('30m'),
        })
        .optional(),
      tls: z
        .strictObject({
          cert: z.string().describe('PEM certificate file'),
          key: z.string().describe('PEM key file'),
        })
        .optional()
        .describe('certificate of the listeners; absent: a self-signed pair is made at start'),
      publicUrl: z.url().optional().describe('the URL clients use to reach the HTTP listener'),
      workers: z
        .union([z.number().int().min(1).max(256), z.literal('auto')])
        .default(1)
        .describe(
          'processes serving the listeners (auto: one per core); the wire listeners are shared by all of them, HTTP (MCP, API, metrics) is served by the first',
        ),
    })
    .prefault({}),
  identity: z
    .strictObject({
      oidc: z.array(oidcIssuer).default([]),
      gatewayTokens: z
        .strictObject({
          ttl: duration('15m').describe(
            'lifetime of Sluice tokens (the most a token may ask for); expiry is exact, the OIDC clockSkew does not apply (5 s on iat only, for tokens minted on another host)',
          ),
          signingKey: secretRef.optional().describe('PEM private key (Ed25519 or P-256)'),
          issuer: z.string().default('sluice').describe('iss of Sluice tokens'),
        })
        .prefault({}),
    })
    .prefault({}),
  targets: z.record(
    z.string().regex(/^[A-Za-z0-9_-]+$/, 'target names are letters, digits, _ and -'),
    target,
  ),
  policies: z.array(policy).default([]),
  guard: z
    .strictObject({
      sideEffectFunctions: z
        .strictObject({
          postgres: z.record(z.string(), z.array(effectSchema)).default({}),
          mysql: z.record(z.string(), z.array(effectSchema)).default({}),
        })
        .prefault({})
        .describe(
          'effects of functions, merged over the built-in list; a Postgres function neither on the built-in allow-list nor here is unknown; [] marks a function pure',
        ),
      cacheSize: z.number().int().min(0).default(2000).describe('decisions cached per dialect'),
      maxTextLength: z
        .strictObject({
          postgres: z
            .number()
            .int()
            .positive()
            .default(256 * 1024),
          mysql: z
            .number()
            .int()
            .positive()
            .default(64 * 1024),
        })
        .prefault({})
        .describe("longer statement texts are refused (the guard parses on the gateway's event loop)"),
      maxStatements: z
        .number()
        .int()
        .positive()
        .default(1000)
        .describe('texts of more statements are refused'),
    })
    .prefault({}),
  masking: z
    .strictObject({ hashKey: secretRef.optional().describe('key of the hash strategy (HMAC-SHA-256)') })
    .prefault({}),
  recording: z
    .strictObject({
      store: z.enum(['redis', 'file']).default('file').describe('redis: Redis Streams; file: JSONL files'),
      redis: z.strictObject({ url: z.string().default('redis://127.0.0.1:6379') }).prefault({}),
      file: z
        .strictObject({
          dir: z.string().default('recordings'),
          maxBytes: byteSize
            .optional()
            .describe(
              'past this total size (bytes, or 500MiB, 10GiB), the oldest finished sessions are deleted',
            ),
        })
        .prefault({}),
      retention: duration('30d').describe(
        'recordings whose last event is older than this are deleted (Redis and files)',
      ),
      maxEventsPerSession: z
        .number()
        .int()
        .positive()
        .default(1_000_000)
        .describe('past this, rows stop being recorded (statements and decisions go on)'),
      onStoreFailure: z
        .enum(['refuse', 'continue'])
        .default('refuse')
        .describe('store unreachable: refuse new statements, or continue and alert'),
    })
    .prefault({}),
  approvals: z
    .strictObject({
      approvers: z
        .strictObject({
          groups: z
            .array(z.string())
            .default([])
            .describe('groups whose members approve (none: reviews are refused)'),
        })
        .prefault({}),
      timeout: duration('10m').describe('a request not answered within this expires'),
      wait: duration('30s').describe(
        'how long an MCP query waits for approval before returning the request id',
      ),
      wireWait: optionalDuration().describe(
        'how long a statement from psql or a MySQL client waits for approval before it is refused (at most timeout; default: timeout)',
      ),
      notify: z
        .array(z.strictObject({ webhook: z.url(), format: z.enum(['slack', 'json']).default('slack') }))
        .default([]),
      keyPrefix: z
        .string()
        .regex(
          /\{[^{}]+\}/,
          'must hold a {hash tag}, which keeps the approval keys in one Redis Cluster slot',
        )
        .default('sluice:{approvals}:')
        .describe(
          'where approvals live in Redis; every process of one deployment uses the same, and deployments sharing a Redis each their own (a request or grant of one would release statements of the other)',
        ),
    })
    .prefault({}),
  console: z
    .strictObject({
      clientId: z
        .string()
        .min(1)
        .optional()
        .describe(
          "the web console's OAuth client id at the identity provider: sign-in with the authorization-code flow and PKCE; absent: the console signs in only with a pasted Sluice token, from loopback clients",
        ),
      clientSecret: secretRef
        .optional()
        .describe(
          'the client secret of a confidential client (sent with HTTP Basic); absent: a public client',
        ),
      issuer: z
        .url()
        .optional()
        .describe('the identity.oidc issuer the console signs in with; default: the first one'),
      auditors: z
        .strictObject({
          groups: z
            .array(z.string())
            .default([])
            .describe(
              'groups whose members read recorded sessions and export them (API and console); approvers may too',
            ),
        })
        .prefault({}),
      sessionTtl: duration('8h').describe(
        'a console sign-in lasts at most this long (one with a pasted token, never longer than that token)',
      ),
    })
    .prefault({})
    .describe('the web console served at / by the HTTP listener'),
  state: z
    .strictObject({
      dir: z
        .string()
        .default('.sluice')
        .describe('where the gateway keeps its key (relative to the config file)'),
    })
    .prefault({}),
  logging: z
    .strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info') })
    .prefault({}),
});

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
