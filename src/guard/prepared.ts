import type { StatementSummary } from '../gateway/types.js';
import { sortEffects } from './statement-facts.js';

/** What a text does to the session's prepared statements once it runs. */
export type PreparedChange =
  | { kind: 'prepare'; name: string; body: StatementSummary }
  | { kind: 'deallocate'; name: string }
  | { kind: 'deallocate-all' };

/** Read access to a session's prepared statements, by name. */
export interface PreparedStatementLookup {
  get(name: string): StatementSummary | undefined;
}

/**
 * The prepared statements of one session, as the guard understood their bodies. SQL PREPARE
 * statements are recorded by PolicyGuard when it lets them through; wire protocols record the
 * statements they prepare (Postgres Parse with a name is visible to SQL EXECUTE) with
 * `registerAnalysis`. An EXECUTE of a name not recorded here is `unknown`, hence denied.
 */
export class PreparedStatements implements PreparedStatementLookup {
  readonly #byName = new Map<string, StatementSummary>();

  get size(): number {
    return this.#byName.size;
  }

  get(name: string): StatementSummary | undefined {
    return this.#byName.get(name);
  }

  /**
   * A name prepared again without a DEALLOCATE in between stands for both bodies: Postgres refuses
   * the second PREPARE (the first stays) while MySQL replaces the first, and the guard decides
   * before the target answers. An EXECUTE of it is judged by every effect of either.
   */
  register(name: string, body: StatementSummary): void {
    const earlier = this.#byName.get(name);
    this.#byName.set(name, earlier === undefined ? body : mergeSummaries([earlier, body]));
  }

  /**
   * Records the analysis of a statement prepared through the wire protocol under `name`. A text
   * that did not analyse is recorded as `unknown`, so executing it by name is denied.
   */
  registerAnalysis(
    name: string,
    analysis: { ok: true; statements: readonly StatementSummary[] } | { ok: false },
  ): void {
    if (!analysis.ok) {
      this.#byName.set(name, {
        text: '',
        command: 'UNKNOWN',
        effects: ['unknown'],
        objects: [],
        unbounded: false,
      });
      return;
    }
    this.#byName.set(name, mergeSummaries(analysis.statements));
  }

  deallocate(name: string): void {
    this.#byName.delete(name);
  }

  clear(): void {
    this.#byName.clear();
  }

  apply(changes: readonly PreparedChange[]): void {
    for (const change of changes) {
      if (change.kind === 'prepare') this.register(change.name, change.body);
      else if (change.kind === 'deallocate') this.deallocate(change.name);
      else this.clear();
    }
  }
}

/** One summary standing for several statements: every effect, every object. */
export function mergeSummaries(statements: readonly StatementSummary[]): StatementSummary {
  if (statements.length === 1 && statements[0] !== undefined) return statements[0];
  const effects = new Set(statements.flatMap((s) => s.effects));
  if (effects.size === 0) effects.add('unknown');
  return {
    text: statements.map((s) => s.text).join('; '),
    command: statements.map((s) => s.command).join('; ') || 'UNKNOWN',
    effects: sortEffects(effects),
    objects: [...new Set(statements.flatMap((s) => s.objects))],
    unbounded: statements.some((s) => s.unbounded),
  };
}
