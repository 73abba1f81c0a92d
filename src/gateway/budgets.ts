import type { PolicyConfig } from '../config/schema.js';
import { GatewayError } from './errors.js';

/** A statement's hold on its caller's concurrency budget, given back when it ends (idempotent). */
export interface BudgetLease {
  release(): void;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
  running: number;
}

/** SQLSTATE 53400 configuration_limit_exceeded: a budget of the policy, not a fault of the statement. */
export const BUDGET_SQLSTATE = '53400';

/** The lease of a policy without budgets: nothing is held, so nothing is tracked. */
export const NO_LEASE: BudgetLease = { release: () => undefined };

/** Idle callers with full buckets are forgotten once this many statements have been admitted. */
const SWEEP_EVERY = 1024;

/**
 * The per-identity budgets of the policies (`limits.statementsPerMinute`, a token bucket that
 * refills continuously; `limits.concurrentStatements`), kept per gateway process for each pair
 * of policy and subject, across all of that subject's sessions and channels.
 */
export class StatementBudgets {
  readonly #buckets = new Map<string, Bucket>();
  readonly #clock: () => number;
  #admitted = 0;

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  /**
   * Admits a run of `statements` statements (several in one simple Query) of `subject` under
   * `policy` about to be sent to the target: takes that many tokens of its rate and one slot of
   * its concurrency. Throws ERR_BUDGET (53400) when either is spent,
   * saying which budget and what to do.
   */
  admit(policy: PolicyConfig, subject: string, statements = 1): BudgetLease {
    const perMinute = policy.limits.statementsPerMinute;
    const concurrent = policy.limits.concurrentStatements;
    if (perMinute === undefined && concurrent === undefined) return NO_LEASE;
    const now = this.#clock();
    if (++this.#admitted % SWEEP_EVERY === 0) this.#sweep(now);
    const key = `${policy.name}\0${subject}`;
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: perMinute ?? 0, at: now, running: 0 };
      this.#buckets.set(key, bucket);
    }
    if (perMinute !== undefined) {
      bucket.tokens = Math.min(perMinute, bucket.tokens + ((now - bucket.at) * perMinute) / 60_000);
      bucket.at = now;
      if (bucket.tokens < statements) {
        const waitS = Math.ceil(((statements - bucket.tokens) * 60) / perMinute);
        throw budgetError(
          `at most ${perMinute} statements a minute for ${subject} under policy ${policy.name} (limits.statementsPerMinute): retry in ${waitS} s, or do the work in fewer statements`,
        );
      }
    }
    if (concurrent !== undefined && bucket.running >= concurrent) {
      throw budgetError(
        `at most ${concurrent} statements at once for ${subject} under policy ${policy.name} (limits.concurrentStatements): wait for one to finish`,
      );
    }
    if (perMinute !== undefined) bucket.tokens -= statements;
    bucket.running++;
    const held = bucket;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        held.running--;
      },
    };
  }

  #sweep(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      // Idle for a minute: its bucket is full again, so forgetting it changes nothing.
      if (bucket.running === 0 && now - bucket.at >= 60_000) this.#buckets.delete(key);
    }
  }
}

function budgetError(message: string): GatewayError {
  return new GatewayError('ERR_BUDGET', `statement refused: budget: ${message}`, {
    sqlstate: BUDGET_SQLSTATE,
  });
}
