import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { GatewayError } from '../gateway/errors.js';
import type { Gateway, GatewaySession } from '../gateway/gateway.js';
import type { DeliveredColumn, StatementRequest } from '../gateway/pipeline.js';
import type { Channel } from '../gateway/types.js';
import type { Identity } from '../identity/types.js';
import { describeTableQuery, explainStatement, listTablesQuery } from './catalog-queries.js';
import { textTable } from './text-table.js';

interface ResultSet {
  columns: DeliveredColumn[];
  rows: unknown[][];
}

export interface QueryResult {
  columns: DeliveredColumn[];
  rows: unknown[][];
  /** The result sets after the first, when a statement returns several (a MySQL CALL). */
  moreResults?: ResultSet[];
  rowCount: number;
  truncated: boolean;
  /** Which policy limit cut the result (limits.maxRows or limits.maxBytes). */
  truncatedBy?: 'maxRows' | 'maxBytes';
  [key: string]: unknown;
}

/**
 * The MCP tools of one MCP session. Gateway sessions are opened per database on first use and
 * closed with the MCP session, so each database gets its own recording stream.
 */
export class McpToolSession {
  readonly #gateway: Gateway;
  readonly #identity: Identity;
  readonly #channel: Channel;
  readonly #remote: string | undefined;
  readonly #logger: Logger;
  readonly #sessions = new Map<string, GatewaySession>();
  readonly #now: () => number;

  constructor(
    gateway: Gateway,
    identity: Identity,
    channel: Channel,
    remote: string | undefined,
    logger: Logger,
    now: () => number = Date.now,
  ) {
    this.#gateway = gateway;
    this.#identity = identity;
    this.#channel = channel;
    this.#remote = remote;
    this.#logger = logger;
    this.#now = now;
  }

  get identity(): Identity {
    return this.#identity;
  }

  listDatabases(): CallToolResult {
    if (this.#expired()) return errorResult(EXPIRED, 'ERR_TOKEN_EXPIRED');
    const databases = this.#gateway.reachableTargets(this.#identity).map((t) => ({
      name: t.name,
      engine: t.engine,
      ...(t.description ? { description: t.description } : {}),
    }));
    const text =
      databases.length === 0
        ? 'No databases are available to you.'
        : databases
            .map((d) => `${d.name} (${d.engine})${d.description ? `: ${d.description}` : ''}`)
            .join('\n');
    return { content: [{ type: 'text', text }], structuredContent: { databases } };
  }

  async listTables(database: string, schema: string | undefined): Promise<CallToolResult> {
    return this.#guarded(async () => {
      const session = this.#session(database);
      const q = listTablesQuery(session.context.dialect, schema);
      const result = await this.#run(session, {
        sql: q.sql,
        params: q.params,
        maxRows: 10_000,
        catalogRead: true,
      });
      const tables = result.rows.map((r) => ({ schema: r[0], name: r[1], type: r[2] }));
      const text =
        tables.length === 0
          ? 'No tables.'
          : tables.map((t) => `${String(t.schema)}.${String(t.name)} (${String(t.type)})`).join('\n');
      return { content: [{ type: 'text', text }], structuredContent: { tables } };
    });
  }

  async describeTable(database: string, table: string): Promise<CallToolResult> {
    return this.#guarded(async () => {
      const session = this.#session(database);
      const q = describeTableQuery(session.context.dialect, table);
      const result = await this.#run(session, {
        sql: q.sql,
        params: q.params,
        maxRows: 10_000,
        catalogRead: true,
      });
      if (result.rows.length === 0) {
        return errorResult(`table "${table}" was not found in ${database}`, 'ERR_TABLE_NOT_FOUND');
      }
      const columns = result.rows.map((r) => ({
        name: r[1],
        type: r[2],
        nullable: r[3] === 'YES',
        default: r[4] ?? null,
      }));
      const schema = result.rows[0]?.[0];
      const text = [
        `${String(schema)}.${q.table}`,
        ...columns.map(
          (c) =>
            `  ${String(c.name)} ${String(c.type)}${c.nullable ? '' : ' NOT NULL'}${c.default !== null ? ` DEFAULT ${String(c.default)}` : ''}`,
        ),
      ].join('\n');
      return { content: [{ type: 'text', text }], structuredContent: { schema, table: q.table, columns } };
    });
  }

  async query(
    database: string,
    sql: string,
    params: unknown[] | undefined,
    maxRows: number | undefined,
    extra: Pick<StatementRequest, 'signal' | 'onProgress' | 'approvalWaitMs'> = {},
  ): Promise<CallToolResult> {
    return this.#guarded(async () => {
      const session = this.#session(database);
      const result = await this.#run(session, {
        sql,
        ...(params ? { params } : {}),
        ...(maxRows !== undefined ? { maxRows } : {}),
        ...extra,
      });
      const cut =
        result.truncatedBy === 'maxBytes'
          ? " (truncated at the policy's byte limit, limits.maxBytes: select fewer or narrower columns, or fewer rows)"
          : result.truncated
            ? ' (truncated)'
            : '';
      const summary = `${result.rowCount} row${result.rowCount === 1 ? '' : 's'}${cut}`;
      const table = [result, ...(result.moreResults ?? [])]
        .map((set) => textTable(set.columns, set.rows))
        .filter((text) => text !== '')
        .join('\n\n');
      return {
        content: [
          { type: 'text', text: table ? `${table}\n(${summary})` : `${result.command} (${summary})` },
        ],
        structuredContent: {
          columns: result.columns,
          rows: result.rows,
          ...(result.moreResults ? { moreResults: result.moreResults } : {}),
          rowCount: result.rowCount,
          truncated: result.truncated,
          ...(result.truncatedBy === 'maxBytes' ? { truncatedBy: result.truncatedBy } : {}),
        },
      };
    });
  }

  async explain(database: string, sql: string): Promise<CallToolResult> {
    return this.#guarded(async () => {
      const session = this.#session(database);
      const result = await this.#run(session, {
        sql: explainStatement(session.context.dialect, sql),
        maxRows: 10_000,
      });
      const plan = result.rows.map((r) => r.map((v) => (v === null ? '' : String(v))).join('  ')).join('\n');
      return { content: [{ type: 'text', text: plan }], structuredContent: { plan } };
    });
  }

  async approvalStatus(requestId: string): Promise<CallToolResult> {
    return this.#guarded(async () => {
      const status = await this.#gateway.approvalStatus(requestId, this.#identity);
      const text = Object.entries(status)
        .map(
          ([k, v]) =>
            `${k}: ${typeof v === 'number' && /At$|By$/.test(k) ? new Date(v).toISOString() : String(v)}`,
        )
        .join('\n');
      return { content: [{ type: 'text', text }], structuredContent: status };
    });
  }

  #expired(): boolean {
    const expiresAt = this.#identity.expiresAt;
    return expiresAt !== undefined && this.#now() >= expiresAt;
  }

  close(reason: string): void {
    for (const session of this.#sessions.values()) session.close(reason);
    this.#sessions.clear();
  }

  #session(database: string): GatewaySession {
    let session = this.#sessions.get(database);
    if (!session) {
      session = this.#gateway.openSession({
        identity: this.#identity,
        target: database,
        channel: this.#channel,
        ...(this.#remote ? { remote: this.#remote } : {}),
      });
      this.#sessions.set(database, session);
    }
    return session;
  }

  async #run(session: GatewaySession, request: StatementRequest): Promise<QueryResult & { command: string }> {
    // One result set, or a MySQL CALL's several: each `columns` begins one.
    const sets: ResultSet[] = [];
    let current: ResultSet = { columns: [], rows: [] };
    const outcome = await session.execute(request, {
      columns: (columns) => {
        current = { columns, rows: [] };
        sets.push(current);
      },
      row: (values) => {
        current.rows.push(values);
      },
    });
    const [first = current, ...more] = sets;
    return {
      columns: first.columns,
      rows: first.rows,
      ...(more.length > 0 ? { moreResults: more } : {}),
      rowCount: outcome.rowCount,
      truncated: outcome.truncated,
      ...(outcome.truncatedBy ? { truncatedBy: outcome.truncatedBy } : {}),
      command: outcome.command,
    };
  }

  /** A failure is a tool result with isError and a reason, never a protocol error or a stack. */
  async #guarded(work: () => Promise<CallToolResult>): Promise<CallToolResult> {
    // Over stdio the token is checked once, at start; it must not outlive its expiry there.
    if (this.#expired()) return errorResult(EXPIRED, 'ERR_TOKEN_EXPIRED');
    try {
      return await work();
    } catch (err) {
      if (err instanceof GatewayError) {
        if (err.code === 'ERR_APPROVAL_PENDING' && err.detail) {
          // Not a failure of the agent's: the statement waits for a human. The id lets the agent
          // follow it with approval_status and send the statement again once it is approved.
          return {
            isError: true,
            content: [{ type: 'text', text: err.message }],
            structuredContent: {
              error: { code: err.code, message: err.message },
              approval: { requestId: err.detail, state: 'pending' },
            },
          };
        }
        return errorResult(err.detail ? `${err.message} (${err.detail})` : err.message, err.code);
      }
      this.#logger.error({ err, subject: this.#identity.subject }, 'tool failed');
      return errorResult('internal error: the gateway could not complete this request');
    }
  }
}

const EXPIRED = 'your token has expired: start the MCP server again with a new token';

function errorResult(message: string, code?: string): CallToolResult {
  return {
    isError: true,
    content: [{ type: 'text', text: message }],
    ...(code ? { structuredContent: { error: { code, message } } } : {}),
  };
}
