import type { GuardStage, GuardVerdict, SessionContext, StatementSummary } from '../gateway/types.js';
import type { Analysis, StatementAnalyzer } from './analyzer.js';
import { SEVERITY, type StatementPolicy } from './policy.js';
import { PreparedStatements, type PreparedChange } from './prepared.js';
import type { RowFilterOutcome } from './row-filters/index.js';

export interface PolicyGuardOptions {
  analyzer: StatementAnalyzer;
  /** The compiled policy that applies to a session, or undefined when none does. */
  policyFor: (session: SessionContext) => StatementPolicy | undefined;
  /**
   * The target's estimate of the rows a one-table UPDATE or DELETE touches, and of the rows the
   * table holds (Postgres), or undefined when it cannot tell. See `#estimatedUnbounded`.
   */
  estimateWrite?: WriteEstimator;
  /**
   * The target's estimate of what a statement costs to run (EXPLAIN, never run), or undefined
   * when it cannot tell; asked only under a policy with limits.readCost.
   */
  estimateCost?: CostEstimator;
  /**
   * The session policy's row filters on a statement (see row-filters/): run in place of the
   * text, or refused. Asked for every statement not denied already.
   */
  rowFilters?: (sql: string, session: SessionContext) => Promise<RowFilterOutcome>;
}

export type CostEstimator = (session: SessionContext, sql: string) => Promise<number | undefined>;

/**
 * `sql` is the text that runs (the row filters' rewrite, when there is one), `original` the
 * caller's. The answer: the target's estimate of the rows the write touches and of the rows the
 * table holds; or `unbounded`, why the text's bound does not hold on this target (MySQL: a string
 * column pinned to a number); or undefined when it cannot tell.
 */
export type WriteEstimator = (
  session: SessionContext,
  sql: string,
  table: string,
  original: string,
) => Promise<WriteEstimate | undefined>;

export type WriteEstimate = { rows: number; tableRows: number } | { unbounded: string };

/** A write the target expects to touch at least this share of its table counts as unbounded. */
const UNBOUNDED_SHARE = 0.9;

/**
 * The guard stage: analyse, then decide with the session's policy. It keeps each session's
 * prepared statements so that `EXECUTE name` is decided on what `name` runs; call `endSession`
 * when a session closes.
 */
export class PolicyGuard implements GuardStage {
  readonly #analyzer: StatementAnalyzer;
  readonly #policyFor: (session: SessionContext) => StatementPolicy | undefined;
  readonly #prepared = new Map<string, PreparedStatements>();
  /** Verdicts whose text changes prepared statements and has not yet run to its end. */
  readonly #unsettled = new WeakMap<
    GuardVerdict,
    { session: string; changes: readonly PreparedChange[]; ticket: number }
  >();
  readonly #estimateWrite: WriteEstimator | undefined;
  readonly #estimateCost: CostEstimator | undefined;
  readonly #rowFilters: PolicyGuardOptions['rowFilters'];

  constructor(options: PolicyGuardOptions) {
    this.#analyzer = options.analyzer;
    this.#policyFor = options.policyFor;
    this.#estimateWrite = options.estimateWrite;
    this.#estimateCost = options.estimateCost;
    this.#rowFilters = options.rowFilters;
  }

  async check(sql: string, session: SessionContext): Promise<GuardVerdict> {
    const policy = this.#policyFor(session);
    if (policy === undefined) {
      return {
        action: 'deny',
        reason: `no policy grants ${session.identity.subject} access to ${session.target}`,
        rule: 'no matching policy',
        statements: [],
      };
    }
    const analysis = await this.#analyzer.analyze(sql, session.dialect, this.#prepared.get(session.id));
    const asText = policy.decide(analysis);
    // Row filters first: the target's estimates are asked of the text that would run (the
    // original would plan, and cost, every tenant's rows). They hold in shadow mode too.
    const filtered =
      this.#rowFilters !== undefined && (asText.action !== 'deny' || policy.shadow)
        ? await this.#rowFilters(sql, session)
        : { kind: 'unchanged' as const };
    let verdict: GuardVerdict;
    if (filtered.kind === 'refused') {
      verdict = { ...asText, action: 'deny', rule: `${policy.name}: rowFilters`, reason: filtered.reason };
    } else {
      const runs = filtered.kind === 'rewritten' ? filtered.sql : sql;
      const bounded =
        (await this.#estimatedUnbounded(policy, analysis, asText, runs, sql, session)) ?? asText;
      const decided =
        (await this.#overReadCost(policy, bounded, runs, filtered.kind === 'rewritten', session)) ?? bounded;
      verdict = policy.shadow ? shadowed(decided) : decided;
      if (filtered.kind === 'rewritten') verdict = { ...verdict, rewritten: filtered.sql };
    }
    // A denied text never runs, so its PREPAREs must not define anything. One that may run (now,
    // or after approval) has its changes anticipated, and settled when the target ran it (`ran`).
    if (verdict.action !== 'deny' && analysis.ok && analysis.preparedChanges) {
      const changes = analysis.preparedChanges;
      const ticket = this.preparedStatements(session.id).anticipate(changes);
      this.#unsettled.set(verdict, { session: session.id, changes, ticket });
    }
    return verdict;
  }

  /**
   * The target ran all of the text `verdict` was decided for, without error: what it did to the
   * session's prepared statements now holds exactly (see PreparedStatements.settle).
   */
  ran(verdict: GuardVerdict, session: SessionContext): void {
    const unsettled = this.#unsettled.get(verdict);
    if (unsettled === undefined || unsettled.session !== session.id) return;
    this.#unsettled.delete(verdict);
    this.#prepared.get(session.id)?.settle(unsettled.changes, unsettled.ticket);
  }

  /**
   * The text proves a write bounded only by pinning a column (`id = 5`), which still touches
   * every row when the column holds one value (`status = 'done'` where all are done). When the
   * policy would decide the statement more strictly as unbounded, the target's own estimate is
   * asked: a one-table UPDATE or DELETE it expects to touch 90% of the table or more is decided
   * as unbounded. The estimate only ever makes a decision stricter; when it cannot be had, the
   * text's decision stands.
   */
  async #estimatedUnbounded(
    policy: StatementPolicy,
    analysis: Analysis,
    asText: GuardVerdict,
    runs: string,
    sql: string,
    session: SessionContext,
  ): Promise<GuardVerdict | undefined> {
    if (this.#estimateWrite === undefined || !analysis.ok || analysis.statements.length !== 1)
      return undefined;
    const statement = analysis.statements[0] as StatementSummary;
    if (statement.unbounded || !statement.effects.some((e) => e === 'write' || e === 'delete'))
      return undefined;
    if (statement.command !== 'UPDATE' && statement.command !== 'DELETE') return undefined;
    const tables = statement.objects.filter((o) => !o.endsWith('()'));
    if (tables.length !== 1 || tables[0] === undefined) return undefined;
    const unbounded: Analysis = { ...analysis, statements: [{ ...statement, unbounded: true }] };
    const asUnbounded = policy.decide(unbounded);
    if (SEVERITY[asUnbounded.action] <= SEVERITY[asText.action]) return undefined;
    let estimate: WriteEstimate | undefined;
    try {
      estimate = await this.#estimateWrite(session, runs, tables[0], sql);
    } catch {
      return undefined;
    }
    if (estimate !== undefined && 'unbounded' in estimate) {
      return { ...asUnbounded, reason: `${asUnbounded.reason} (${estimate.unbounded})` };
    }
    if (estimate === undefined || estimate.tableRows < 2) return undefined;
    if (estimate.rows < estimate.tableRows * UNBOUNDED_SHARE) return undefined;
    return {
      ...asUnbounded,
      reason: `${asUnbounded.reason} (the database estimates it touches ${Math.round(estimate.rows)} of ${Math.round(estimate.tableRows)} rows)`,
    };
  }

  /**
   * limits.readCost: a read the policy allows is decided as `over` (deny or review) when the
   * target estimates its cost above the ceiling, or cannot estimate it (fail closed). Each
   * statement of a text is estimated on its own; their costs add up.
   */
  async #overReadCost(
    policy: StatementPolicy,
    verdict: GuardVerdict,
    runs: string,
    rewritten: boolean,
    session: SessionContext,
  ): Promise<GuardVerdict | undefined> {
    const ceiling = policy.readCost;
    if (ceiling === undefined || verdict.action !== 'allow') return undefined;
    if (!verdict.statements.some((s) => s.effects.includes('read'))) return undefined;
    // What runs is the row filters' text when there is one: its statements, in the same order,
    // are estimated (none of them when it does not read back as as many: cannot estimate).
    let texts: readonly (string | undefined)[] = verdict.statements.map((s) => s.text);
    if (rewritten) {
      const again = await this.#analyzer.analyze(runs, session.dialect);
      texts = again.ok && again.statements.length === texts.length ? again.statements.map((s) => s.text) : [];
    }
    const reads = verdict.statements.flatMap((s, i) => (s.effects.includes('read') ? [texts[i]] : []));
    let total = 0;
    for (const text of reads) {
      let cost: number | undefined;
      try {
        cost = text === undefined ? undefined : await this.#estimateCost?.(session, text);
      } catch {
        cost = undefined;
      }
      if (cost === undefined || !Number.isFinite(cost)) {
        return {
          ...verdict,
          action: ceiling.over,
          rule: `${policy.name}: limits.readCost`,
          reason: `the database cannot estimate what the read costs (limits.readCost ${ceiling.max}); ${ceiling.over === 'deny' ? 'denied' : 'sent for review'}`,
        };
      }
      total += cost;
    }
    if (total <= ceiling.max) return undefined;
    return {
      ...verdict,
      action: ceiling.over,
      rule: `${policy.name}: limits.readCost`,
      reason: `the database estimates the read costs ${Math.round(total)}, above limits.readCost ${ceiling.max}: narrow it (a WHERE on an indexed column, fewer joins, a LIMIT)${ceiling.over === 'review' ? ', or wait for an approver' : ''}`,
    };
  }

  /**
   * For a wire protocol preparing `sql` under `name` (Postgres Parse with a statement name, which
   * SQL `EXECUTE name` can also run): decides it like `check`, and unless it is denied records
   * its analysis under the name, so that a later EXECUTE is decided on this body.
   */
  async prepare(name: string, sql: string, session: SessionContext): Promise<GuardVerdict> {
    const verdict = await this.check(sql, session);
    if (verdict.action !== 'deny') {
      this.preparedStatements(session.id).registerAnalysis(name, {
        ok: true,
        statements: verdict.statements,
      });
    }
    return verdict;
  }

  /** The session's prepared statements, for wire protocols that prepare statements by name. */
  preparedStatements(sessionId: string): PreparedStatements {
    let prepared = this.#prepared.get(sessionId);
    if (prepared === undefined) {
      prepared = new PreparedStatements();
      this.#prepared.set(sessionId, prepared);
    }
    return prepared;
  }

  /** Forgets a closed session's prepared statements. */
  endSession(sessionId: string): void {
    this.#prepared.delete(sessionId);
  }
}

/**
 * A shadow-mode policy's verdict: a deny or review becomes an allow that carries it. What the
 * guard cannot read stays denied (it cannot be judged, so it is not let through unjudged), as
 * does an effect no policy may allow.
 */
function shadowed(verdict: GuardVerdict): GuardVerdict {
  if (verdict.action === 'allow' || verdict.unreadable === true) return verdict;
  if (verdict.statements.some((s) => s.effects.includes('unknown'))) return verdict;
  return {
    ...verdict,
    action: 'allow',
    reason: `shadow mode: would ${verdict.action}: ${verdict.reason}`,
    shadow: { action: verdict.action, reason: verdict.reason, rule: verdict.rule },
  };
}
