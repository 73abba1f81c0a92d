import { parseArgs } from 'node:util';

import { splitListen } from '../gateway/listen.js';
import { HttpServer } from '../http/server.js';
import { assembleGateway } from './assemble.js';
import { SERVE_HELP } from './help.js';
import type { CommandIO } from './io.js';
import { startListeners } from './listeners.js';
import { createLogger } from './logger.js';
import { loadCommandConfig } from './config-file.js';

export async function runServe(argv: string[], io: CommandIO): Promise<number> {
  let values: { config?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, help: { type: 'boolean' } },
      strict: true,
    }));
  } catch (err) {
    io.stderr(`sluice serve: ${(err as Error).message}\n\n${SERVE_HELP}`);
    return 2;
  }
  if (values.help) {
    io.stdout(SERVE_HELP);
    return 0;
  }
  if (!values.config) {
    io.stderr(`sluice serve: --config is required\n\n${SERVE_HELP}`);
    return 2;
  }
  const config = loadCommandConfig('serve', values.config, io);
  if (!config) return 1;
  const logger = createLogger(config.logging.level);
  const parts = await assembleGateway(config, logger);
  const closers: (() => Promise<void>)[] = [];
  if (config.server.http) {
    const http = new HttpServer({
      gateway: parts.gateway,
      authenticator: parts.authenticator,
      recorder: parts.recorder,
      ...(parts.approvals ? { approvals: parts.approvals.service } : {}),
      logger,
      ...(config.server.publicUrl ? { publicUrl: config.server.publicUrl } : {}),
    });
    const { host, port } = splitListen(config.server.http.listen);
    await http.listen(host, port);
    logger.info(
      { event: 'listen', channel: 'http', url: http.baseUrl },
      `HTTP listening on ${http.baseUrl} (MCP at /mcp)`,
    );
    closers.push(() => http.close());
  }
  const listeners = await startListeners(parts, config, logger);
  closers.push(() => listeners.close());
  if (!config.server.http && !listeners.postgres && !listeners.mysql) {
    io.stderr('sluice serve: the config names no listener (server.http, server.postgres or server.mysql)\n');
    await parts.close();
    return 1;
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  logger.info({ event: 'shutdown' }, 'shutting down');
  for (const close of closers) await close();
  await parts.close();
  logger.flush();
  return 0;
}
