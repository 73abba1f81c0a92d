import { parseArgs } from 'node:util';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

import { AuthError } from '../identity/errors.js';
import { createMcpServer } from '../mcp/server.js';
import { assembleGateway } from './assemble.js';
import { MCP_HELP } from './help.js';
import type { CommandIO } from './io.js';
import { createLogger } from './logger.js';
import { configPathOf, loadCommandConfig } from './config-file.js';

/** `sluice mcp`: MCP over stdio. stdout carries the protocol, so logs go to stderr. */
export async function runMcp(argv: string[], io: CommandIO): Promise<number> {
  let values: { config?: string; token?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, token: { type: 'string' }, help: { type: 'boolean' } },
      strict: true,
    }));
  } catch (err) {
    io.stderr(`sluice mcp: ${(err as Error).message}\n\n${MCP_HELP}`);
    return 2;
  }
  if (values.help) {
    io.stdout(MCP_HELP);
    return 0;
  }
  const token = values.token ?? io.env.SLUICE_TOKEN;
  if (!token) {
    io.stderr('sluice mcp: a token is required (--token or SLUICE_TOKEN)\n');
    return 2;
  }
  const config = loadCommandConfig('mcp', configPathOf(values.config, io.env), io);
  if (!config) return 1;
  const logger = createLogger(config.logging.level, 2);
  const parts = await assembleGateway(config, logger);
  let identity;
  try {
    identity = await parts.authenticator.authenticate(token, { channel: 'mcp-stdio' });
  } catch (err) {
    await parts.close();
    if (err instanceof AuthError) {
      io.stderr(`sluice mcp: the token was refused: ${err.publicMessage}\n`);
      return 1;
    }
    throw err;
  }
  const { server, tools } = createMcpServer({
    gateway: parts.gateway,
    identity,
    channel: 'mcp-stdio',
    logger,
  });
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await server.connect(transport);
  await closed;
  tools.close('mcp client disconnected');
  await server.close().catch(() => undefined);
  await parts.close();
  logger.flush();
  return 0;
}
