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
 *
 * The guard decides a text before the target runs it, and a text may not run at all (an earlier
 * statement of it fails, an approver says no) or run in part. So what a text will do is
 * `anticipate`d, in the direction that can only make later decisions stricter (a new body stands
 * beside the old one, a DEALLOCATE removes nothing), and `settle`d exactly once the target has
 * run all of it. Were it applied as decided, `SELECT * FROM missing; DEALLOCATE p; PREPARE p
 * FROM 'SELECT name ...'` would leave the guard and masking reading the new body while the
 * target still runs the old one.
 */
export class PreparedStatements implements PreparedStatementLookup {
  readonly #byName = new Map<string, StatementSummary>();
  /** Per name, the ticket of the last text that anticipated a change to it. */
  readonly #touched = new Map<string, number>();
  #tickets = 0;

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
    this.#touched.set(name, ++this.#tickets);
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
    // A Parse of a name still prepared fails at the target, which keeps the first body.
    this.register(name, mergeSummaries(analysis.statements));
  }

  deallocate(name: string): void {
    this.#byName.delete(name);
  }

  /**
   * A text with these changes may run: each body it prepares stands beside any body the name has
   * (an EXECUTE is judged by both, and masked as neither can be traced), and nothing is removed.
   * Returns the ticket to `settle` with once the whole text ran.
   */
  anticipate(changes: readonly PreparedChange[]): number {
    const ticket = ++this.#tickets;
    for (const change of changes) {
      if (change.kind === 'deallocate-all') continue;
      if (change.kind === 'prepare') this.register(change.name, change.body);
      this.#touched.set(change.name, ticket);
    }
    return ticket;
  }

  /**
   * The text of `ticket` ran to its end: its changes hold exactly, except for names a later text
   * has anticipated changes to since (those stay as anticipated until that text settles).
   */
  settle(changes: readonly PreparedChange[], ticket: number): void {
    const untouchedSince = (name: string) => (this.#touched.get(name) ?? 0) <= ticket;
    for (const change of changes) {
      if (change.kind === 'deallocate-all') {
        for (const name of [...this.#byName.keys()]) if (untouchedSince(name)) this.#byName.delete(name);
      } else if (untouchedSince(change.name)) {
        if (change.kind === 'prepare') this.#byName.set(change.name, change.body);
        else this.#byName.delete(change.name);
      }
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
