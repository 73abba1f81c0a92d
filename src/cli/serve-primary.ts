import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import { renderSummed, type MetricSnapshot } from '../gateway/metrics.js';
import { loadListenerTls } from '../gateway/postgres/tls-material.js';
import { loadGatewaySigningKey } from '../identity/gateway-key.js';
import { splitListen } from '../gateway/listen.js';
import type { ToPrimary, ToWorker, WorkerListen } from './serve-worker.js';

/** How long the primary waits for every worker to hand in its metrics. */
const METRICS_WAIT_MS = 3_000;
/** How long workers get to end their sessions at shutdown before they are killed. */
const SHUTDOWN_GRACE_MS = 15_000;
/** A worker that ran at least this long is restarted at once when it dies; sooner, after a pause. */
const RESTART_PAUSE_MS = 1_000;

interface Slot {
  worker: Worker;
  /** Whether this slot's worker ever reported its listeners ready. */
  served: boolean;
}

/**
 * `sluice serve` with `server.workers` > 1: this process listens on nothing itself. It forks one
 * worker per slot (each a whole gateway), and the wire listeners' ports are shared by all of them
 * (Node's cluster hands out connections in turn). Worker 0 also serves HTTP, because an MCP
 * session over HTTP lives in the process that opened it. The primary passes CancelRequests between
 * workers, sums their metrics for /metrics, restarts a worker that dies, and stops them all on
 * SIGINT / SIGTERM.
 */
export async function runPrimary(config: Config, count: number, logger: Logger): Promise<number> {
  // State the workers share is made once, before any of them could race to make it.
  if (config.server.postgres) await loadListenerTls(config, logger);
  await loadGatewaySigningKey(config, logger);

  // Workers that each listened on port 0 would each get a port of their own (and Node's cluster
  // may even hand one listener's port to another): choose the ports here, once, for all of them.
  const listen = JSON.stringify(await fixedPorts(config));

  const slots = new Map<number, Slot>();
  const gathering = new Map<string, { snapshots: MetricSnapshot[]; waiting: number; done: () => void }>();
  let stopping = false;
  let failed = false;
  let announced = false;
  let finish: (() => void) | undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const send = (worker: Worker, message: ToWorker): void => {
    if (worker.isConnected()) worker.send(message);
  };

  const stopAll = (): void => {
    if (stopping) return;
    stopping = true;
    for (const { worker } of slots.values()) worker.process.kill('SIGTERM');
    setTimeout(() => {
      for (const { worker } of slots.values()) worker.process.kill('SIGKILL');
    }, SHUTDOWN_GRACE_MS).unref();
    if (slots.size === 0) finish?.();
  };

  const gatherMetrics = (requester: Worker, id: string): void => {
    const workers = [...slots.values()].map((s) => s.worker).filter((w) => w.isConnected());
    const entry = {
      snapshots: [] as MetricSnapshot[],
      waiting: workers.length,
      done: () => {
        gathering.delete(id);
        clearTimeout(timer);
        renderSummed(entry.snapshots).then(
          ({ text, contentType }) => send(requester, { sluice: 'metrics-result', id, text, contentType }),
          (err: unknown) => send(requester, { sluice: 'metrics-failed', id, reason: (err as Error).message }),
        );
      },
    };
    // A worker that does not answer in time is left out rather than holding up the scrape.
    const timer = setTimeout(() => entry.done(), METRICS_WAIT_MS);
    gathering.set(id, entry);
    for (const worker of workers) send(worker, { sluice: 'collect-metrics', id });
  };

  const receive = (index: number, worker: Worker, message: ToPrimary): void => {
    if (typeof message !== 'object' || message === null || !('sluice' in message)) return;
    switch (message.sluice) {
      case 'ready': {
        const slot = slots.get(index);
        if (slot) slot.served = true;
        if (!announced && [...slots.values()].every((s) => s.served) && slots.size === count) {
          announced = true;
          logger.info({ event: 'workers.ready', workers: count }, `serving with ${count} worker processes`);
        }
        return;
      }
      case 'cancel':
        // Only the worker that issued the key can honour it; the others ignore it.
        for (const [other, slot] of slots) {
          if (other !== index) send(slot.worker, { sluice: 'cancel', ...pick(message) });
        }
        return;
      case 'metrics-request':
        gatherMetrics(worker, message.id);
        return;
      case 'metrics-snapshot': {
        const entry = gathering.get(message.id);
        if (!entry) return;
        entry.snapshots.push(message.snapshot);
        if (--entry.waiting === 0) entry.done();
        return;
      }
    }
  };

  const start = (index: number): void => {
    const worker = cluster.fork({ SLUICE_WORKER_INDEX: String(index), SLUICE_WORKER_LISTEN: listen });
    const startedAt = Date.now();
    slots.set(index, { worker, served: false });
    worker.on('message', (message: ToPrimary) => receive(index, worker, message));
    worker.on('exit', (code, signal) => {
      const slot = slots.get(index);
      if (slot?.worker === worker) slots.delete(index);
      if (stopping) {
        if (slots.size === 0) finish?.();
        return;
      }
      if (!slot?.served) {
        // It never got its listeners up (a port in use, a target config it cannot load): another
        // try would fail the same way.
        logger.error(
          { event: 'worker.failed', worker: index, code, signal },
          `worker ${index} exited before it was ready; stopping`,
        );
        failed = true;
        stopAll();
        return;
      }
      logger.error(
        { event: 'worker.exit', worker: index, code, signal },
        `worker ${index} exited (${signal ?? `code ${code}`}); starting another`,
      );
      const pause = Date.now() - startedAt < 10_000 ? RESTART_PAUSE_MS : 0;
      setTimeout(() => {
        if (!stopping) start(index);
      }, pause).unref();
    });
  };

  process.once('SIGINT', stopAll);
  process.once('SIGTERM', stopAll);
  for (let i = 0; i < count; i++) start(i);
  await finished;
  process.removeListener('SIGINT', stopAll);
  process.removeListener('SIGTERM', stopAll);
  logger.info({ event: 'shutdown' }, 'every worker has stopped');
  return failed ? 1 : 0;
}

/** The listen address of each listener, with port 0 replaced by a port free now. */
async function fixedPorts(config: Config): Promise<WorkerListen> {
  const fixed: WorkerListen = {};
  for (const name of ['http', 'postgres', 'mysql'] as const) {
    const listen = config.server[name]?.listen;
    if (listen === undefined) continue;
    const { host, port } = splitListen(listen);
    const bracketed = host.includes(':') ? `[${host}]` : host;
    fixed[name] = port === 0 ? `${bracketed}:${await freePort(host)}` : listen;
  }
  return fixed;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function pick(message: { processId: number; secretKey: number }): { processId: number; secretKey: number } {
  return { processId: message.processId, secretKey: message.secretKey };
}

/** `server.workers` as a number of processes: `auto` is one per core. */
export function workerCount(setting: number | 'auto', cores: number): number {
  return setting === 'auto' ? Math.max(1, cores) : setting;
}
