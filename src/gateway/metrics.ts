import {
  AggregatorRegistry,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';
import type { Channel, DecisionAction } from './types.js';

export interface MetricSources {
  /** Sessions open now on one channel (MCP sessions and wire connections alike). */
  openSessions: (channel: Channel) => number;
  recorder: () => { ready: boolean; queued: number; written: number; dropped: number } | undefined;
}

/**
 * Every channel a session can arrive by: `sluice_open_sessions` has a series for each, zero
 * included, so that a channel whose last session closed reads 0 rather than vanishing. Written as
 * a record so that a channel added to `Channel` cannot be left out here.
 */
const CHANNELS = Object.keys({
  'mcp-stdio': true,
  'mcp-http': true,
  postgres: true,
  mysql: true,
  cli: true,
} satisfies Record<Channel, true>) as Channel[];

/**
 * The gateway's Prometheus metrics, in a registry of its own (no process-global state). The
 * statement path only does arithmetic on these; the text is rendered when /metrics is scraped.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly statements: Counter<'decision' | 'channel'>;
  readonly duration: Histogram<'channel'>;
  readonly maskedFields: Counter<'channel'>;
  readonly approvalWait: Histogram<'outcome'>;
  readonly errors: Counter<'channel' | 'code'>;
  readonly truncated: Counter<'channel'>;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    this.statements = new Counter({
      name: 'sluice_statements_total',
      help: 'Statements by guard decision and channel',
      labelNames: ['decision', 'channel'],
      registers,
    });
    this.duration = new Histogram({
      name: 'sluice_statement_duration_seconds',
      help: 'Time from a statement arriving to its last row delivered',
      labelNames: ['channel'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.maskedFields = new Counter({
      name: 'sluice_masked_fields_total',
      help: 'Result fields delivered masked',
      labelNames: ['channel'],
      registers,
    });
    this.approvalWait = new Histogram({
      name: 'sluice_approval_wait_seconds',
      help: 'Time statements waited in review, by outcome',
      labelNames: ['outcome'],
      buckets: [0.1, 1, 5, 15, 30, 60, 300, 900, 3600],
      registers,
    });
    this.errors = new Counter({
      name: 'sluice_statement_errors_total',
      help: 'Statements that ended in an error, by channel and error code',
      labelNames: ['channel', 'code'],
      registers,
    });
    this.truncated = new Counter({
      name: 'sluice_results_truncated_total',
      help: "Results cut at the policy's row limit (limits.maxRows), by channel",
      labelNames: ['channel'],
      registers,
    });
    new Gauge({
      name: 'sluice_open_sessions',
      help: 'Sessions open now, by channel (MCP databases, psql and mysql connections)',
      labelNames: ['channel'],
      registers,
      collect() {
        for (const channel of CHANNELS) this.set({ channel }, sources.openSessions(channel));
      },
    });
    new Gauge({
      name: 'sluice_recording_ready',
      help: '1 when the recording store takes new statements, 0 when they are refused',
      registers,
      collect() {
        this.set(sources.recorder()?.ready === false ? 0 : 1);
      },
    });
    new Gauge({
      name: 'sluice_recording_queued_events',
      help: 'Recording events waiting to be written to the store (the recording lag)',
      registers,
      collect() {
        this.set(sources.recorder()?.queued ?? 0);
      },
    });
    new Counter({
      name: 'sluice_recording_written_events_total',
      help: 'Recording events the store acknowledged',
      registers,
      collect() {
        const written = sources.recorder()?.written ?? 0;
        this.reset();
        this.inc(written);
      },
    });
    new Counter({
      name: 'sluice_recording_dropped_events_total',
      help: 'Recording events dropped (only under onStoreFailure: continue)',
      registers,
      collect() {
        const dropped = sources.recorder()?.dropped ?? 0;
        this.reset();
        this.inc(dropped);
      },
    });
  }

  decided(decision: DecisionAction, channel: Channel): void {
    this.statements.inc({ decision, channel });
  }

  /** A statement's result ended; `truncated`: cut at the policy's row limit. */
  finished(channel: Channel, seconds: number, maskedFields: number, truncated = false): void {
    this.duration.observe({ channel }, seconds);
    if (maskedFields > 0) this.maskedFields.inc({ channel }, maskedFields);
    if (truncated) this.truncated.inc({ channel });
  }

  failed(channel: Channel, code: string): void {
    this.errors.inc({ channel, code });
  }

  approvalWaited(outcome: string, seconds: number): void {
    this.approvalWait.observe({ outcome }, seconds);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The current values, to be summed with other worker processes' by `renderSummed`. */
  snapshot(): Promise<MetricSnapshot> {
    return this.registry.getMetricsAsJSON();
  }
}

/** One process's metrics as values (what a worker hands the primary). */
export type MetricSnapshot = MetricObjectWithValues<MetricValue<string>>[];

/** The exposition text of several processes' metrics: counters, histograms and gauges summed. */
export async function renderSummed(
  snapshots: MetricSnapshot[],
): Promise<{ text: string; contentType: string }> {
  const registry = AggregatorRegistry.aggregate(snapshots);
  return { text: await registry.metrics(), contentType: registry.contentType };
}
