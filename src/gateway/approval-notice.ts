import type { Config } from '../config/load.js';

/**
 * What a wire client (psql, a MySQL client) is told while its statement waits for an approver:
 * how long it waits, and how an approver approves it. The wait is `approvals.wireWait`, at most
 * `approvals.timeout` (after which the request expires anyway).
 */
export function wireApprovalWaitMs(config: Config): number {
  const { timeout, wireWait } = config.approvals;
  return Math.min(wireWait ?? timeout, timeout);
}

/** The line that tells an approver how to approve request `id`. */
export function approvalInstructions(config: Config): (requestId: string) => string {
  const file = config.file ?? 'sluice.yaml';
  const configArg = /^[\w./-]+$/.test(file) ? file : `'${file.replace(/'/g, `'\\''`)}'`;
  const http = config.server.http !== undefined;
  return (id) =>
    `an approver runs: sluice approvals approve ${id} --config ${configArg} --token <their token>` +
    (http ? ` (or POST /api/approvals/${id}/approve)` : '');
}

/** `10m`, `9m35s`, `45s`: a wait as a person reads it. */
export function formatWait(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  if (minutes === 0) return `${seconds}s`;
  return seconds === 0 ? `${minutes}m` : `${minutes}m${seconds}s`;
}

/**
 * The notices of one wait: the first says how long it waits and how to approve, the later ones
 * (at the approval stage's slowing cadence) how long is left.
 */
export function approvalWaitNotices(
  waitMs: number,
  instructions: ((requestId: string) => string) | undefined,
  now: () => number = Date.now,
): (requestId: string) => string {
  const started = now();
  let first = true;
  return (id) => {
    if (first) {
      first = false;
      return `waiting for approval: request ${id} (waits up to ${formatWait(waitMs)})${instructions ? `; ${instructions(id)}` : ''}`;
    }
    return `still waiting for approval: request ${id} (${formatWait(waitMs - (now() - started))} left)`;
  };
}
