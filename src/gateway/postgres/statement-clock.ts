import type { StatementRun } from './session-state.js';

/**
 * The statement timeout of one session (policy limits.statementTimeout): one timer for all
 * running statements, armed for the oldest. A statement past its time is cancelled on the
 * target; the target's own error (57014) then reaches the client.
 */
export class StatementClock {
  readonly #active = new Set<StatementRun>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly now: () => number,
    private readonly cancel: (run: StatementRun) => void,
  ) {}

  started(run: StatementRun): void {
    if (this.timeoutMs <= 0) return;
    this.#active.add(run);
    if (this.#timer === undefined) this.#arm(this.timeoutMs);
  }

  ended(run: StatementRun): void {
    this.#active.delete(run);
  }

  stop(): void {
    this.#active.clear();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#check(), Math.max(ms, 1));
    this.#timer.unref();
  }

  #check(): void {
    this.#timer = undefined;
    const now = this.now();
    let next = Infinity;
    for (const run of this.#active) {
      if (run.cancelled) continue;
      const left = run.startedAt + this.timeoutMs - now;
      if (left <= 0) {
        run.cancelled = true;
        this.cancel(run);
      } else {
        next = Math.min(next, left);
      }
    }
    if (next !== Infinity) this.#arm(next);
  }
}
