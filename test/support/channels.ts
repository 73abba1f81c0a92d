/**
 * A whole gateway on every channel for a test: the config text (its `server:` should name the
 * HTTP, Postgres and MySQL listeners it wants, on port 0), the assembled parts, the listeners,
 * and clients for each channel minted for a subject and groups. Everything is closed, and the
 * config's folder removed, when the test ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import { assembleGateway, type AssembledGateway } from '../../src/cli/assemble.js';
import { parseConfigText, type Config } from '../../src/config/load.js';
import { startMysqlListener } from '../../src/gateway/mysql/index.js';
import type { MysqlListener } from '../../src/gateway/mysql/listener.js';
import { startPostgresListener, type PostgresListener } from '../../src/gateway/postgres/listener.js';
import { HttpServer } from '../../src/http/server.js';
import { createRecordingReader } from '../../src/recording/create.js';
import type { RecordingEvent } from '../../src/recording/types.js';

/** Claims a minted token carries beyond subject and groups (row filters read them). */
export type Claims = Record<string, string | number | boolean | string[]>;

interface TestLike {
  teardown(fn: () => unknown): void;
}

export interface McpResult {
  isError: boolean;
  /** The content blocks as JSON, to match messages against. */
  text: string;
  rows: unknown[][] | undefined;
}

export interface Channels {
  dir: string;
  config: Config;
  parts: AssembledGateway;
  /** The Postgres listener's port, when the config has one (for psql and other programs). */
  postgresPort: number | undefined;
  mysqlPort: number | undefined;
  token(subject: string, groups: string[], claims?: Claims): Promise<string>;
  /** An MCP client over Streamable HTTP; `query` calls the query tool. */
  mcp(
    subject: string,
    groups: string[],
    t: TestLike,
    claims?: Claims,
  ): Promise<(sql: string, database: string) => Promise<McpResult>>;
  /** A node-postgres client through the Postgres listener. */
  psql(
    subject: string,
    groups: string[],
    database: string,
    t: TestLike,
    options?: pg.ClientConfig,
    claims?: Claims,
  ): Promise<pg.Client>;
  /** A mysql2 connection through the MySQL listener (TLS). */
  mysql(
    subject: string,
    groups: string[],
    database: string,
    t: TestLike,
    claims?: Claims,
  ): Promise<mysql.Connection>;
  /** Every recorded event of a subject's sessions, in session order. */
  recorded(subject: string): Promise<RecordingEvent[]>;
}

export async function startChannels(
  t: TestLike,
  configText: string,
  prefix = 'sluice-channels-',
): Promise<Channels> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const config = parseConfigText(configText, { baseDir: dir, env: {} });
  const logger = pino({ level: 'silent' });
  const parts = await assembleGateway(config, logger);
  const pgListener: PostgresListener | undefined = config.server.postgres
    ? await startPostgresListener(parts, config, logger)
    : undefined;
  const myListener: MysqlListener | undefined = config.server.mysql
    ? await startMysqlListener(parts, config, logger)
    : undefined;
  const http = new HttpServer({
    gateway: parts.gateway,
    authenticator: parts.authenticator,
    recorder: parts.recorder,
    logger,
  });
  await http.listen('127.0.0.1', 0);
  t.teardown(async () => {
    await http.close();
    await myListener?.close();
    await pgListener?.close();
    await parts.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const token = (subject: string, groups: string[], claims?: Claims) =>
    parts.authenticator.mint({ subject, groups, ...(claims ? { claims } : {}) });
  return {
    dir,
    config,
    parts,
    postgresPort: pgListener?.address.port,
    mysqlPort: myListener?.address.port,
    token,
    async mcp(subject, groups, t, claims) {
      const client = new Client({ name: 'sluice-test', version: '1.0.0' });
      const bearer = await token(subject, groups, claims);
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${http.baseUrl}/mcp`), {
          requestInit: { headers: { authorization: `Bearer ${bearer}` } },
        }),
      );
      t.teardown(() => client.close());
      return async (sql, database) => {
        const result = await client.callTool({ name: 'query', arguments: { database, sql } });
        return {
          isError: result.isError === true,
          text: JSON.stringify(result.content),
          rows: (result.structuredContent as { rows?: unknown[][] } | undefined)?.rows,
        };
      };
    },
    async psql(subject, groups, database, t, options = {}, claims) {
      if (!pgListener) throw new Error('the config has no server.postgres listener');
      const client = new pg.Client({
        host: '127.0.0.1',
        port: pgListener.address.port,
        user: subject,
        password: await token(subject, groups, claims),
        database,
        ...options,
      });
      await client.connect();
      client.on('error', () => undefined);
      t.teardown(() => client.end().catch(() => undefined));
      return client;
    },
    async mysql(subject, groups, database, t, claims) {
      if (!myListener) throw new Error('the config has no server.mysql listener');
      const conn = await mysql.createConnection({
        host: '127.0.0.1',
        port: myListener.address.port,
        user: subject,
        password: await token(subject, groups, claims),
        database,
        ssl: { rejectUnauthorized: false },
        multipleStatements: true,
      });
      t.teardown(() => conn.end().catch(() => undefined));
      return conn;
    },
    async recorded(subject) {
      await parts.recorder.flush();
      const reader = createRecordingReader(config);
      try {
        const out: RecordingEvent[] = [];
        const sessions = await reader.listSessions({ identity: subject });
        for (const s of sessions.sort((a, b) => a.startedAt - b.startedAt)) {
          for await (const e of reader.readEvents(s.id)) out.push(e);
        }
        return out;
      } finally {
        await reader.close();
      }
    },
  };
}
