import { EFFECTS, type Effect } from '../config/schema.js';
import type { StatementSummary } from '../gateway/types.js';

const EFFECT_ORDER = new Map<Effect, number>(EFFECTS.map((e, i) => [e, i]));

/**
 * What the classifier has learned about one statement so far. Walkers add to it as they find
 * things anywhere in the tree.
 */
export class StatementFacts {
  readonly effects = new Set<Effect>();
  readonly objects = new Set<string>();
  /** Settings a SET or RESET changes (see StatementSummary.settings). */
  readonly settings = new Set<string>();
  unbounded = false;
  /**
   * Whether the classifier looked at the value of a literal (a string or a number). Only an
   * analysis that did not may be reused for a text that differs only in its literals.
   */
  literalValuesRead = false;
  /**
   * Depth of "described, not executed" regions (the statement of a plain EXPLAIN): what is inside
   * does not run, so its effects are not counted, but the objects it names are still reported.
   */
  #describing = 0;

  add(effect: Effect): void {
    if (this.#describing === 0) this.effects.add(effect);
  }

  /**
   * Something the classifier cannot vouch for even where it does not run (an unknown function in
   * a plain EXPLAIN may still be folded by the planner): `unknown`, inside described regions too.
   */
  refuse(): void {
    this.effects.add('unknown');
  }

  addAll(effects: readonly Effect[]): void {
    for (const e of effects) this.add(e);
  }

  noteSetting(name: string): void {
    if (name) this.settings.add(name.toLowerCase());
  }

  addObject(name: string): void {
    if (name) this.objects.add(name);
  }

  noteLiteralRead(): void {
    this.literalValuesRead = true;
  }

  markUnbounded(): void {
    if (this.#describing === 0) this.unbounded = true;
  }

  describing(visit: () => void): void {
    this.#describing++;
    try {
      visit();
    } finally {
      this.#describing--;
    }
  }

  /**
   * A statement in which the classifier found no effect at all was not understood: it is
   * reported as `unknown` so that it is denied (fail closed).
   */
  summary(text: string, command: string): StatementSummary {
    const effects: Effect[] = this.effects.size === 0 ? ['unknown'] : sortEffects(this.effects);
    const summary: StatementSummary = {
      text,
      command,
      effects,
      objects: [...this.objects],
      unbounded: this.unbounded,
    };
    if (this.settings.size > 0) summary.settings = [...this.settings];
    return summary;
  }
}

export function sortEffects(effects: Iterable<Effect>): Effect[] {
  return [...effects].sort((a, b) => (EFFECT_ORDER.get(a) ?? 0) - (EFFECT_ORDER.get(b) ?? 0));
}
