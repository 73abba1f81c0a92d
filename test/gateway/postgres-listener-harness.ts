/**
 * An in-process gateway with the Postgres listener on 127.0.0.1:0, in front of a scratch database
 * on the shared PostgreSQL (127.0.0.1:5432). Used by test/gateway/postgres-listener*.test.ts.
 *
 *   const h = await startHarness(t, { policy: '...yaml...' });
 *   const out = await h.psql(['-c', 'SELECT 1']);
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import pg from 'pg';
import { assembleGateway, type AssembledGateway } from '../../src/cli/assemble.js';
import { parseConfigText, type Config } from '../../src/config/load.js';
import { startPostgresListener, type PostgresListener } from '../../src/gateway/postgres/listener.js';
import { createRecordingReader } from '../../src/recording/create.js';
import type { RecordingEvent } from '../../src/recording/types.js';
import { adminQuery, createScratchDatabase } from '../support/postgres.js';

interface TestLike {
  teardown(fn: () => void | Promise<void>): void;
}

export const SEED = `
  CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, ssn text, balance numeric(12,2));
  INSERT INTO customers VALUES
    (1, 'Ada', 'ada@example.com', '123-45-6789', 12.50),
    (2, 'Bob', 'bob@example.org', '987-65-4321', 0),
    (3, 'Cy', NULL, NULL, -1.25);
  CREATE TABLE notes (id int PRIMARY KEY, body text);
  INSERT INTO notes VALUES (1, 'first'), (2, 'second');
`;

export const DEFAULT_POLICY = `
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
    statements:
      default: deny
      allow: [read, write, session, transaction]
      deny: [ddl, dcl, program, file, { effect: write, unbounded: true }]
    masking:
      - columns: [customers.email]
        strategy: email
      - columns: [customers.ssn]
        strategy: redact
    limits: { maxRows: 1000000, statementTimeout: 30s }
`;

export interface HarnessOptions {
  /** YAML list items under `policies:`. */
  policy?: string;
  /** Extra YAML under `server.postgres`. */
  allowPlaintextAuth?: boolean;
  seed?: string;
  /** Extra top-level YAML (approvals, ...). */
  extra?: string;
  /** The `recording:` value (default: a file store in the temp folder). */
  recording?: string;
  idleTimeout?: string;
  /** Extra keys of the `shop` target (`cancel: false`, ...). */
  target?: string;
}

export interface Harness {
  db: string;
  config: Config;
  parts: AssembledGateway;
  listener: PostgresListener;
  port: number;
  token: string;
  /** A token for `subject` in `groups`. */
  mint(subject: string, groups?: string[]): Promise<string>;
  /** Runs psql against the listener; resolves with stdout, stderr and the exit code. */
  psql(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }>;
  /** A node-postgres client logged in through the listener. */
  client(options?: Partial<pg.ClientConfig>): Promise<pg.Client>;
  /** Direct superuser query on the scratch database. */
  direct(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
  /** Every recorded event of the sessions of `subject`, after a flush. */
  recordings(subject: string): Promise<RecordingEvent[][]>;
}

export const SUBJECT = 'agent-1';

export async function startHarness(t: TestLike, options: HarnessOptions = {}): Promise<Harness> {
  const { name: db } = await createScratchDatabase(t, 'sluice_pgl');
  await adminQuery(options.seed ?? SEED, [], db);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pgl-'));
  const config = parseConfigText(
    `
server:
  postgres:
    listen: 127.0.0.1:0
    allowPlaintextAuth: ${options.allowPlaintextAuth ?? true}
    idleTimeout: ${options.idleTimeout ?? '30m'}
    maxMessageSize: 1048576
targets:
  shop: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${db}, user: postgres, tls: disable${options.target ? `, ${options.target}` : ''} }
policies:
${options.policy ?? DEFAULT_POLICY}
recording: ${options.recording ?? '{ store: file, file: { dir: recordings } }'}
state: { dir: state }
logging: { level: error }
${options.extra ?? ''}
`,
    { baseDir: dir, env: {} },
  );
  const logger = pino({ level: process.env.SLUICE_TEST_LOG ?? 'silent' });
  const parts = await assembleGateway(config, logger);
  const listener = await startPostgresListener(parts, config, logger);
  t.teardown(async () => {
    await listener.close();
    await parts.close();
  });
  const port = listener.address.port;
  const mint = (subject: string, groups = ['ai-agents']) => parts.authenticator.mint({ subject, groups });
  const token = await mint(SUBJECT);
  return {
    db,
    config,
    parts,
    listener,
    port,
    token,
    mint,
    psql(args, env = {}) {
      return new Promise((resolve) => {
        execFile(
          'psql',
          [
            '-X',
            '-v',
            'ON_ERROR_STOP=1',
            '-h',
            '127.0.0.1',
            '-p',
            String(port),
            '-U',
            SUBJECT,
            '-d',
            'shop',
            ...args,
          ],
          {
            env: {
              PATH: process.env.PATH,
              PGPASSWORD: token,
              PGSSLMODE: 'disable',
              PGCONNECT_TIMEOUT: '10',
              ...env,
            },
            timeout: 15_000,
          },
          (error, stdout, stderr) => {
            const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
            resolve({ code, stdout, stderr });
          },
        );
      });
    },
    async client(overrides = {}) {
      const client = new pg.Client({
        host: '127.0.0.1',
        port,
        user: SUBJECT,
        database: 'shop',
        password: token,
        ...overrides,
      });
      await client.connect();
      return client;
    },
    direct: (sql, params = []) => adminQuery(sql, params, db),
    async recordings(subject) {
      await parts.recorder.flush();
      const reader = createRecordingReader(config);
      try {
        const sessions = await reader.listSessions({ identity: subject });
        const out: RecordingEvent[][] = [];
        for (const s of sessions.sort((a, b) => a.startedAt - b.startedAt)) {
          const events: RecordingEvent[] = [];
          for await (const e of reader.readEvents(s.id)) events.push(e);
          out.push(events);
        }
        return out;
      } finally {
        await reader.close();
      }
    },
  };
}
