import type { GuardStage, GuardVerdict, SessionContext } from '../gateway/types.js';
import type { StatementAnalyzer } from './analyzer.js';
import type { StatementPolicy } from './policy.js';
import { PreparedStatements } from './prepared.js';

export interface PolicyGuardOptions {
  analyzer: StatementAnalyzer;
  /** The compiled policy that applies to a session, or undefined when none does. */
  policyFor: (session: SessionContext) => StatementPolicy | undefined;
}

/**
 * The guard stage: analyse, then decide with the session's policy. It keeps each session's
 * prepared statements so that `EXECUTE name` is decided on what `name` runs; call `endSession`
 * when a session closes.
 */
export class PolicyGuard implements GuardStage {
  readonly #analyzer: StatementAnalyzer;
  readonly #policyFor: (session: SessionContext) => StatementPolicy | undefined;
  readonly #prepared = new Map<string, PreparedStatements>();

  constructor(options: PolicyGuardOptions) {
    this.#analyzer = options.analyzer;
    this.#policyFor = options.policyFor;
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
    const verdict = policy.decide(analysis);
    // A denied text never runs, so its PREPAREs must not define anything. One that runs (or may,
    // after approval) binds the names to the bodies decided here.
    if (verdict.action !== 'deny' && analysis.ok && analysis.preparedChanges) {
      this.preparedStatements(session.id).apply(analysis.preparedChanges);
    }
    return verdict;
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
