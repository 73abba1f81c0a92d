import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { Gateway } from '../gateway/gateway.js';
import type { Identity } from '../identity/types.js';
import { createMcpServer } from '../mcp/server.js';
import type { McpToolSession } from '../mcp/tools.js';
import { readJsonBody } from './body.js';
import { sendJson } from './respond.js';

interface McpHttpSession {
  transport: StreamableHTTPServerTransport;
  tools: McpToolSession;
  /** The subject that opened the session; later requests must come from the same subject. */
  subject: string;
  issuer: string;
}

const MAX_MCP_BODY = 4 * 1024 * 1024;

/** MCP over Streamable HTTP at /mcp: one transport and one tool session per MCP session id. */
export class McpHttpEndpoint {
  readonly #gateway: Gateway;
  readonly #logger: Logger;
  readonly #sessions = new Map<string, McpHttpSession>();

  constructor(gateway: Gateway, logger: Logger) {
    this.#gateway = gateway;
    this.#logger = logger;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  async handle(req: IncomingMessage, res: ServerResponse, identity: Identity): Promise<void> {
    const sessionId = header(req, 'mcp-session-id');
    const body = req.method === 'POST' ? await readJsonBody(req, MAX_MCP_BODY) : undefined;

    if (sessionId) {
      const session = this.#sessions.get(sessionId);
      if (!session) {
        sendJson(res, 404, {
          jsonrpc: '2.0',
          error: { code: -32001, message: 'unknown MCP session' },
          id: null,
        });
        return;
      }
      // A session id is not a credential: the bearer must belong to the identity that opened it.
      if (session.subject !== identity.subject || session.issuer !== identity.issuer) {
        sendJson(res, 403, {
          jsonrpc: '2.0',
          error: { code: -32003, message: 'session belongs to another identity' },
          id: null,
        });
        return;
      }
      await session.transport.handleRequest(req, res, body);
      return;
    }

    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      sendJson(res, 400, {
        jsonrpc: '2.0',
        error: { code: -32000, message: 'no MCP session: send an initialize request first' },
        id: null,
      });
      return;
    }

    const remote = req.socket.remoteAddress;
    const { server, tools } = createMcpServer({
      gateway: this.#gateway,
      identity,
      channel: 'mcp-http',
      ...(remote ? { remote } : {}),
      logger: this.#logger,
    });
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        this.#sessions.set(id, { transport, tools, subject: identity.subject, issuer: identity.issuer });
      },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id) this.#sessions.delete(id);
      tools.close('mcp session closed');
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  async close(): Promise<void> {
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.allSettled(sessions.map((s) => s.transport.close()));
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
