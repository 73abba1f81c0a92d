import { randomUUID } from 'node:crypto';
import type { Config } from '../config/load.js';
import type { MetricSnapshot } from '../gateway/metrics.js';

/**
 * Messages between `sluice serve`'s primary process and its workers (Node's cluster IPC). Every
 * message carries `sluice` so that nothing else on the channel is mistaken for one.
 */
export type ToPrimary =
  | { sluice: 'ready'; index: number }
  | { sluice: 'cancel'; processId: number; secretKey: number }
  | { sluice: 'metrics-request'; id: string }
  | { sluice: 'metrics-snapshot'; id: string; snapshot: MetricSnapshot };

export type ToWorker =
  | { sluice: 'cancel'; processId: number; secretKey: number }
  | { sluice: 'collect-metrics'; id: string }
  | { sluice: 'metrics-result'; id: string; text: string; contentType: string }
  | { sluice: 'metrics-failed'; id: string; reason: string };

/** The listen addresses the primary chose for the workers (port 0 made concrete). */
export type WorkerListen = Partial<Record<'http' | 'postgres' | 'mysql', string>>;

/** The config a worker serves: its own, with the listen addresses the primary fixed. */
export function withWorkerListen(config: Config, listen: WorkerListen): Config {
  const server = { ...config.server };
  if (server.http && listen.http) server.http = { ...server.http, listen: listen.http };
  if (server.postgres && listen.postgres) server.postgres = { ...server.postgres, listen: listen.postgres };
  if (server.mysql && listen.mysql) server.mysql = { ...server.mysql, listen: listen.mysql };
  return { ...config, server };
}

/** How long a worker waits for the primary to gather every worker's metrics. */
const METRICS_WAIT_MS = 5_000;

/**
 * A worker's side of the IPC: passes on CancelRequests it cannot honour, answers the primary's
 * requests for its metrics, and (in the worker that serves HTTP) asks the primary for everyone's.
 */
export class WorkerLink {
  readonly index: number;
  #cancel: (processId: number, secretKey: number) => void = () => {};
  #snapshot: (() => Promise<MetricSnapshot>) | undefined;
  readonly #pending = new Map<
    string,
    { resolve: (v: { text: string; contentType: string }) => void; reject: (e: Error) => void }
  >();

  readonly #listener = (message: ToWorker): void => this.#receive(message);

  constructor(index: number) {
    this.index = index;
    process.on('message', this.#listener);
  }

  /**
   * After shutdown: lets go of the channel, which ends a cluster worker (with `exitCode`, so the
   * primary can tell a failure from a stop).
   */
  close(exitCode: number): void {
    process.exitCode = exitCode;
    process.removeListener('message', this.#listener);
    for (const pending of this.#pending.values()) pending.reject(new Error('the worker is stopping'));
    this.#pending.clear();
    if (process.connected) process.disconnect();
  }

  /** Where the worker's listeners honour a CancelRequest another worker received. */
  onCancel(handler: (processId: number, secretKey: number) => void): void {
    this.#cancel = handler;
  }

  /** Where the primary gets this worker's metrics from. */
  provideMetrics(snapshot: () => Promise<MetricSnapshot>): void {
    this.#snapshot = snapshot;
  }

  ready(): void {
    this.#send({ sluice: 'ready', index: this.index });
  }

  forwardCancel(processId: number, secretKey: number): void {
    this.#send({ sluice: 'cancel', processId, secretKey });
  }

  /** Every worker's metrics, summed by the primary. */
  renderMetrics(): Promise<{ text: string; contentType: string }> {
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error('the primary process did not gather the metrics in time'));
      }, METRICS_WAIT_MS);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#send({ sluice: 'metrics-request', id });
    });
  }

  #send(message: ToPrimary): void {
    process.send?.(message);
  }

  #receive(message: ToWorker): void {
    if (typeof message !== 'object' || message === null || !('sluice' in message)) return;
    switch (message.sluice) {
      case 'cancel':
        this.#cancel(message.processId, message.secretKey);
        return;
      case 'collect-metrics': {
        const id = message.id;
        void (this.#snapshot?.() ?? Promise.resolve([])).then(
          (snapshot) => this.#send({ sluice: 'metrics-snapshot', id, snapshot }),
          () => this.#send({ sluice: 'metrics-snapshot', id, snapshot: [] }),
        );
        return;
      }
      case 'metrics-result':
        this.#pending.get(message.id)?.resolve({ text: message.text, contentType: message.contentType });
        this.#pending.delete(message.id);
        return;
      case 'metrics-failed':
        this.#pending.get(message.id)?.reject(new Error(message.reason));
        this.#pending.delete(message.id);
        return;
    }
  }
}
