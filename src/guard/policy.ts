import type { Effect, EffectRule, PolicyConfig } from '../config/schema.js';
import type { DecisionAction, GuardVerdict, StatementSummary } from '../gateway/types.js';
import type { Analysis } from './analyzer.js';
import { compileObjectPatterns, type ObjectPatterns } from './object-pattern.js';

/** A policy's `statements` section, compiled once: decides a verdict for an analysis. */
export interface StatementPolicy {
  readonly name: string;
  /** Shadow mode: decisions other than allow are recorded, not enforced (see PolicyGuard). */
  readonly shadow: boolean;
  /** limits.readCost: the ceiling on a read's estimated cost, and what a read above it gets. */
  readonly readCost: { max: number; over: 'deny' | 'review' } | undefined;
  decide(analysis: Analysis): GuardVerdict;
}

type RuleList = 'deny' | 'review' | 'allow';

interface CompiledRule {
  /** How the rule reads in a verdict: `deny ddl`, `review {effect: write, unbounded: true}`. */
  label: string;
  unbounded: boolean | undefined;
  objects: ObjectPatterns | undefined;
}

interface EffectDecision {
  action: DecisionAction;
  label: string;
}

export const SEVERITY: Readonly<Record<DecisionAction, number>> = { allow: 0, review: 1, deny: 2 };
/** Strictest first: deny wins over review, review over allow. */
const LISTS: readonly RuleList[] = ['deny', 'review', 'allow'];

function describeRule(list: RuleList, rule: EffectRule): string {
  if (typeof rule === 'string') return `${list} ${rule}`;
  const parts = [`effect: ${rule.effect}`];
  if (rule.unbounded !== undefined) parts.push(`unbounded: ${rule.unbounded}`);
  if (rule.objects !== undefined) parts.push(`objects: [${rule.objects.join(', ')}]`);
  return `${list} {${parts.join(', ')}}`;
}

/**
 * Compiles `policy.statements` into lookup tables (per list, per effect), once, at load. For each
 * effect of a statement the first matching rule of `deny`, then `review`, then `allow` decides;
 * an effect no rule matches gets `default`. `unknown` is always denied, whatever the lists say:
 * a policy cannot allow what the guard does not understand. A policy that allows `read` and names
 * `routine` in none of its lists allows `routine` too: the transaction control and client settings
 * every driver sends on connect (listed in the README) are part of reading.
 */
export function compileStatementPolicy(policy: PolicyConfig): StatementPolicy {
  const name = policy.name;
  const statements = policy.statements;
  const tables: Record<RuleList, Map<Effect, CompiledRule[]>> = {
    deny: new Map(),
    review: new Map(),
    allow: new Map(),
  };
  for (const list of LISTS) {
    for (const rule of statements[list]) {
      const effect = typeof rule === 'string' ? rule : rule.effect;
      const compiled: CompiledRule = {
        label: describeRule(list, rule),
        unbounded: typeof rule === 'string' ? undefined : rule.unbounded,
        objects:
          typeof rule === 'string' || rule.objects === undefined
            ? undefined
            : compileObjectPatterns(rule.objects),
      };
      const rules = tables[list].get(effect) ?? [];
      rules.push(compiled);
      tables[list].set(effect, rules);
    }
  }
  const mentionsRoutine = LISTS.some((list) => tables[list].has('routine'));
  if (!mentionsRoutine && tables.allow.has('read')) {
    tables.allow.set('routine', [
      { label: 'allow routine (implied by allow read)', unbounded: undefined, objects: undefined },
    ]);
  }
  const allowedSettings = new Set(policy.session.allow);
  const settingsLabel = `allow session.allow [${policy.session.allow.join(', ')}]`;
  const defaultDecision: EffectDecision = {
    action: statements.default,
    label: `default ${statements.default}`,
  };
  const unknownDecision: EffectDecision = { action: 'deny', label: 'unknown is always denied' };

  function decideEffect(effect: Effect, statement: StatementSummary): EffectDecision {
    if (effect === 'unknown') return unknownDecision;
    // Settings named in session.allow are more specific than any rule for the session effect.
    if (effect === 'session' && namesAllowedSettings(statement))
      return { action: 'allow', label: settingsLabel };
    return (
      firstMatch('deny', effect, statement) ??
      firstMatch('review', effect, statement) ??
      firstMatch('allow', effect, statement) ??
      defaultDecision
    );
  }

  function namesAllowedSettings(statement: StatementSummary): boolean {
    const settings = statement.settings;
    return settings !== undefined && settings.length > 0 && settings.every((s) => allowedSettings.has(s));
  }

  function firstMatch(
    list: RuleList,
    effect: Effect,
    statement: StatementSummary,
  ): EffectDecision | undefined {
    const rules = tables[list].get(effect);
    if (rules === undefined) return undefined;
    for (const rule of rules) {
      if (rule.unbounded !== undefined && rule.unbounded !== statement.unbounded) continue;
      if (rule.objects !== undefined) {
        const hit =
          list === 'allow'
            ? rule.objects.coversAll(statement.objects)
            : rule.objects.touchesAny(statement.objects);
        if (!hit) continue;
      }
      return { action: list, label: rule.label };
    }
    return undefined;
  }

  return {
    name,
    shadow: policy.mode === 'shadow',
    readCost: policy.limits.readCost,
    decide(analysis: Analysis): GuardVerdict {
      if (!analysis.ok) {
        return {
          action: 'deny',
          reason: `the statement was refused because the guard could not read it: ${analysis.error}`,
          rule: `${name}: statements that do not parse are denied`,
          statements: [],
          unreadable: true,
        };
      }
      const list = analysis.statements;
      if (list.length === 0) {
        // An empty text (only whitespace or comments) runs nothing; drivers send it as a ping.
        return {
          action: 'allow',
          reason: 'the text holds no statement',
          rule: `${name}: empty text`,
          statements: list,
          parsed: analysis.parsed,
        };
      }
      let action: DecisionAction = 'allow';
      let deciding:
        { statement: StatementSummary; index: number; effect: Effect; decision: EffectDecision } | undefined;
      const allowLabels = new Set<string>();
      for (let index = 0; index < list.length; index++) {
        const statement = list[index] as StatementSummary;
        for (const effect of statement.effects) {
          const decision = decideEffect(effect, statement);
          if (decision.action === 'allow') allowLabels.add(decision.label);
          if (deciding === undefined || SEVERITY[decision.action] > SEVERITY[action]) {
            action = decision.action;
            deciding = { statement, index, effect, decision };
          }
        }
      }
      if (deciding === undefined) {
        // A summary with no effect at all is not understood.
        return {
          action: 'deny',
          reason: 'the guard found no effect in the statement, so it is denied',
          rule: `${name}: ${unknownDecision.label}`,
          statements: list,
          parsed: analysis.parsed,
        };
      }
      const { statement, index, effect, decision } = deciding;
      const which =
        list.length > 1
          ? `statement ${index + 1} of ${list.length} (${statement.command})`
          : statement.command;
      const what =
        effect === 'unknown'
          ? 'does something the guard cannot classify (unknown)'
          : `has effect ${effect}${statement.unbounded && (effect === 'write' || effect === 'delete') ? ' without a limiting WHERE' : ''}`;
      const rule =
        action === 'allow' ? `${name}: ${[...allowLabels].join(', ')}` : `${name}: ${decision.label}`;
      const reason =
        action === 'allow'
          ? `allowed by ${rule}`
          : action === 'review'
            ? `${which} ${what}, which needs approval under ${rule}`
            : `${which} ${what}, denied by ${rule}`;
      return { action, reason, rule, statements: list, parsed: analysis.parsed };
    },
  };
}

/** Effects a read-only policy may allow or review: reading, and the routine statements drivers send. */
const READ_ONLY_EFFECTS: ReadonlySet<Effect> = new Set(['read', 'routine']);
/** Settings that would switch a read-only session back to read-write. */
const READ_WRITE_SETTINGS = new Set([
  'default_transaction_read_only',
  'transaction_read_only',
  'tx_read_only',
]);

/**
 * Whether a policy lets nothing but reads through: its default denies, and it allows or reviews
 * no effect beyond `read` and `routine` and no read-only switch in `session.allow`. Such a policy's
 * statements run in read-only transactions at the target too, so a statement the guard took for a
 * read by mistake (a function that writes, declared pure) still cannot write.
 */
export function readsOnly(policy: PolicyConfig): boolean {
  // A shadow policy lets what it would refuse run: its connections must be able to write.
  if (policy.mode === 'shadow') return false;
  const statements = policy.statements;
  if (statements.default !== 'deny') return false;
  const permits = [...statements.allow, ...statements.review];
  if (permits.some((rule) => !READ_ONLY_EFFECTS.has(typeof rule === 'string' ? rule : rule.effect)))
    return false;
  return !policy.session.allow.some((setting) => READ_WRITE_SETTINGS.has(setting.toLowerCase()));
}
