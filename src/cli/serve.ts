import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';

import { splitListen } from '../gateway/listen.js';
import { HttpServer } from '../http/server.js';
import { assembleGateway } from './assemble.js';
import { SERVE_HELP } from './help.js';
import type { CommandIO } from './io.js';
import { type RunningListeners, startListeners } from './listeners.js';
import { createLogger } from './logger.js';
import { configPathOf, loadCommandConfig } from './config-file.js';
import { runPrimary, workerCount } from './serve-primary.js';
import { WorkerLink, type WorkerListen, withWorkerListen } from './serve-worker.js';

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
  const loaded = loadCommandConfig('serve', configPathOf(values.config, io.env), io);
  if (!loaded) return 1;
  const config = cluster.isWorker
    ? withWorkerListen(loaded, JSON.parse(process.env.SLUICE_WORKER_LISTEN ?? '{}') as WorkerListen)
    : loaded;
  const rootLogger = createLogger(config.logging.level);
  if (cluster.isPrimary) {
    const count = workerCount(config.server.workers, availableParallelism());
    if (count > 1 && (config.server.postgres || config.server.mysql)) {
      const code = await runPrimary(config, count, rootLogger);
      rootLogger.flush();
      return code;
    }
  }
  // In a worker process: which one (worker 0 serves HTTP), and its line to the primary.
  const link = cluster.isWorker ? new WorkerLink(Number(process.env.SLUICE_WORKER_INDEX ?? 0)) : undefined;
  const logger = link ? rootLogger.child({ worker: link.index }) : rootLogger;
  const parts = await assembleGateway(config, logger);
  link?.provideMetrics(() => parts.gateway.metrics.snapshot());
  const closers: (() => Promise<void>)[] = [];
  const shutDown = async (exitCode: number): Promise<void> => {
    for (const close of closers.reverse()) await close();
    await parts.close();
    logger.flush();
    link?.close(exitCode);
  };
  let listeners: RunningListeners;
  try {
    if (config.server.http && (link === undefined || link.index === 0)) {
      const http = new HttpServer({
        gateway: parts.gateway,
        authenticator: parts.authenticator,
        recorder: parts.recorder,
        ...(parts.approvals ? { approvals: parts.approvals.service } : {}),
        logger,
        ...(config.server.publicUrl ? { publicUrl: config.server.publicUrl } : {}),
        ...(link ? { renderMetrics: () => link.renderMetrics() } : {}),
      });
      const { host, port } = splitListen(config.server.http.listen);
      await http.listen(host, port);
      logger.info(
        { event: 'listen', channel: 'http', url: http.baseUrl },
        `HTTP listening on ${http.baseUrl} (MCP at /mcp)`,
      );
      closers.push(() => http.close());
    }
    listeners = await startListeners(
      parts,
      config,
      logger,
      link ? { onForeignCancel: (processId, secretKey) => link.forwardCancel(processId, secretKey) } : {},
    );
  } catch (err) {
    // A listener that cannot start (its port is taken): close what did start, so the process ends.
    await shutDown(1);
    throw err;
  }
  const running = listeners;
  link?.onCancel((processId, secretKey) => running.cancel(processId, secretKey));
  closers.push(() => running.close());
  if (!config.server.http && !running.postgres && !running.mysql) {
    io.stderr('sluice serve: the config names no listener (server.http, server.postgres or server.mysql)\n');
    await shutDown(1);
    return 1;
  }
  link?.ready();
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  logger.info({ event: 'shutdown' }, 'shutting down');
  await shutDown(0);
  return 0;
}
