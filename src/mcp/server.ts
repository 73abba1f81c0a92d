import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Gateway } from '../gateway/gateway.js';
import type { Channel } from '../gateway/types.js';
import type { Identity } from '../identity/types.js';
import { McpToolSession } from './tools.js';

export const SERVER_INFO = { name: 'sluice', version: '0.1.0' };

const database = z.string().min(1).describe('database name, as list_databases shows it');

/**
 * Builds the MCP server of one MCP session (one agent connection). Tools run as `identity`;
 * the returned `close` ends the gateway sessions it opened.
 */
export function createMcpServer(options: {
  gateway: Gateway;
  identity: Identity;
  channel: Channel;
  remote?: string;
  logger: Logger;
}): { server: McpServer; tools: McpToolSession } {
  const { gateway, identity, channel, logger } = options;
  const tools = new McpToolSession(gateway, identity, channel, options.remote, logger);
  const server = new McpServer(SERVER_INFO, {
    instructions:
      'Sluice is a gateway to databases. Every statement is checked against a policy (some are denied, ' +
      'some wait for a human approval), sensitive columns come back masked, and everything is recorded.',
  });

  server.registerTool(
    'list_databases',
    {
      title: 'List databases',
      description: 'Databases you may query through Sluice.',
      annotations: { readOnlyHint: true },
    },
    () => tools.listDatabases(),
  );

  server.registerTool(
    'list_tables',
    {
      title: 'List tables',
      description: 'Tables and views of a database (optionally of one schema).',
      inputSchema: { database, schema: z.string().optional() },
      annotations: { readOnlyHint: true },
    },
    ({ database, schema }) => tools.listTables(database, schema),
  );

  server.registerTool(
    'describe_table',
    {
      title: 'Describe a table',
      description:
        'Columns of a table: name, type, nullability and default. Use schema.table to pick a schema.',
      inputSchema: { database, table: z.string().min(1) },
      annotations: { readOnlyHint: true },
    },
    ({ database, table }) => tools.describeTable(database, table),
  );

  server.registerTool(
    'query',
    {
      title: 'Run SQL',
      description:
        'Run a SQL statement. Parameters use $1, $2 (Postgres) or ? (MySQL). Returns typed columns and rows; ' +
        'masked columns are marked. Denied statements return an error with the reason; statements that need ' +
        'approval wait for it and may return an approval request id.',
      inputSchema: {
        database,
        sql: z.string().min(1),
        params: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
        maxRows: z.number().int().positive().optional(),
      },
    },
    ({ database, sql, params, maxRows }, extra) => {
      const progressToken = extra._meta?.progressToken;
      let progress = 0;
      return tools.query(database, sql, params, maxRows, {
        signal: extra.signal,
        approvalWaitMs: gateway.config.approvals.wait,
        onProgress: (message) => {
          if (progressToken === undefined) return;
          progress++;
          void extra
            .sendNotification({
              method: 'notifications/progress',
              params: { progressToken, progress, message },
            })
            .catch(() => undefined);
        },
      });
    },
  );

  server.registerTool(
    'explain',
    {
      title: 'Explain a statement',
      description: 'The query plan of a statement, without running it.',
      inputSchema: { database, sql: z.string().min(1) },
      annotations: { readOnlyHint: true },
    },
    ({ database, sql }) => tools.explain(database, sql),
  );

  server.registerTool(
    'approval_status',
    {
      title: 'Approval status',
      description:
        'The state of an approval request that a query returned: pending, approved, denied, expired or executed. ' +
        'Once approved, send the identical statement again with query: it runs once.',
      inputSchema: { requestId: z.string().min(1) },
      annotations: { readOnlyHint: true },
    },
    ({ requestId }) => tools.approvalStatus(requestId),
  );

  return { server, tools };
}
