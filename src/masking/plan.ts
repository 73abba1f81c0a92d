import type { ResultColumn, RowMasker } from '../gateway/types.js';
import { newFeatures, scanText } from './detectors.js';
import { MaskingRefusal } from './errors.js';
import type { SourceColumn, Taint } from './lineage/taint.js';
import { maskingRuleOf, type CompiledMaskingPolicy } from './policy.js';
import { REDACT, type MaskStrategy } from './strategies.js';

/** What happens to one column of a result: masked by a column rule, scanned by detectors, or passed. */
export type ColumnAction =
  | { kind: 'mask'; strategy: MaskStrategy; /** why, for logs: the source column(s) */ because: string }
  | { kind: 'detect' }
  | null;

/** Where one result column comes from, as lineage (wire and parse together) tells it. */
export interface ColumnOrigin {
  taint: Taint;
  /** The origin cannot be told: the column may hold any masked column the statement reads. */
  unknown: boolean;
}

export interface PlanContext {
  /** Masked columns of every table the statement reads (what an unknown origin may hold). */
  maskedRead: SourceColumn[];
  /** Whether the statement may read relations lineage cannot see (unknown table, function). */
  opaque: boolean;
  /** Source columns the statement filters, joins, groups or orders on. */
  filtered: SourceColumn[];
  /** Source columns the statement's own text computes on in a way that may fail for some values. */
  computed?: SourceColumn[];
  /** Why some origin could not be told (for the refusal message). */
  unresolved: string[];
}

const label = (s: SourceColumn): string => `${s.schema}.${s.table}.${s.column}`;

/** Decides, once per result set, the action for each column. Throws MaskingRefusal when the policy says refuse. */
export function decideActions(
  columns: readonly ResultColumn[],
  origins: readonly ColumnOrigin[],
  policy: CompiledMaskingPolicy,
  context: PlanContext,
): ColumnAction[] {
  if (policy.maskedFilters === 'refuse') {
    const hit = context.filtered.find((s) => policy.columnRule(s.schema, s.table, s.column));
    if (hit) {
      throw new MaskingRefusal(
        `the statement filters, joins, groups or orders on masked column ${label(hit)}; ` +
          `policy ${policy.policy} refuses that because the result would reveal it by inference`,
      );
    }
    // An error is a result too: `1/(ascii(ssn) - 49)` or `ssn::int` fails or not by the value
    // (the SQLSTATE reaches the caller even when the text is withheld).
    const computed = context.computed?.find((s) => policy.columnRule(s.schema, s.table, s.column));
    if (computed) {
      throw new MaskingRefusal(
        `the statement computes on masked column ${label(computed)} with an operator, cast or function ` +
          `that may fail for some of its values; policy ${policy.policy} refuses that because ` +
          `whether it fails would reveal the value by inference`,
      );
    }
  }
  const detect = policy.detectorRules.length > 0;
  return columns.map((column, i): ColumnAction => {
    const origin: ColumnOrigin = origins[i] ?? {
      taint: { sources: new Map(), derived: true },
      unknown: true,
    };
    const masked: { source: SourceColumn; strategy: MaskStrategy; rule: number }[] = [];
    for (const [key, source] of origin.taint.sources) {
      const rule = maskingRuleOf(policy, origin.taint, key, source);
      if (rule) masked.push({ source, strategy: rule.strategy, rule: rule.index });
    }
    let derived = origin.taint.derived;
    if (origin.unknown && (context.maskedRead.length > 0 || (context.opaque && policy.hasColumnRules))) {
      for (const source of context.maskedRead) {
        const rule = policy.columnRule(source.schema, source.table, source.column);
        if (rule) masked.push({ source, strategy: rule.strategy, rule: rule.index });
      }
      derived = true;
      if (masked.length === 0) {
        // Only unknown relations: nothing named, but nothing can be ruled out either.
        if (policy.maskedDerivations === 'refuse') {
          throw new MaskingRefusal(
            `cannot tell where column "${column.name}" comes from (${context.unresolved[0] ?? 'unresolved'}); ` +
              `policy ${policy.policy} masks columns and refuses what it cannot trace`,
          );
        }
        return { kind: 'mask', strategy: REDACT, because: context.unresolved[0] ?? 'unknown origin' };
      }
    }
    if (masked.length === 0) return detect ? { kind: 'detect' } : null;
    const because = [...new Set(masked.map((m) => label(m.source)))].join(', ');
    const rules = new Set(masked.map((m) => m.rule));
    if (derived) {
      if (policy.maskedDerivations === 'refuse') {
        throw new MaskingRefusal(
          `column "${column.name}" is computed from masked column ${because}` +
            (origin.unknown
              ? ` (its origin cannot be traced: ${context.unresolved[0] ?? 'unresolved'})`
              : '') +
            `; policy ${policy.policy} refuses values derived from masked columns`,
        );
      }
      return { kind: 'mask', strategy: REDACT, because };
    }
    // A plain copy of masked column(s) under one rule keeps that rule's strategy; mixed rules redact.
    return { kind: 'mask', strategy: rules.size === 1 ? (masked[0]?.strategy ?? REDACT) : REDACT, because };
  });
}

/**
 * The masking of one result set: an action per column, built once; rows are then rewritten with
 * no further decisions. Implements the gateway's RowMasker for decoded values (MCP path).
 */
export class MaskingPlan implements RowMasker {
  readonly actions: readonly ColumnAction[];
  readonly masked: readonly boolean[];
  readonly policy: CompiledMaskingPolicy;
  readonly #features = newFeatures();

  constructor(actions: readonly ColumnAction[], policy: CompiledMaskingPolicy) {
    this.actions = actions;
    this.policy = policy;
    // `masked` tells the caller which columns a rule always masks; columns that detectors scan are
    // rewritten only where a value matches, so they are not reported as masked.
    this.masked = actions.map((a) => a?.kind === 'mask');
  }

  /** Whether any column may be rewritten (false: forward rows untouched). */
  get active(): boolean {
    return this.actions.some((a) => a !== null);
  }

  mask(values: unknown[]): unknown[] {
    return this.maskValues(values);
  }

  /** Returns the row to deliver: the same array when nothing in it changed. */
  maskValues(values: unknown[]): unknown[] {
    let out: unknown[] | undefined;
    const actions = this.actions;
    for (let i = 0; i < actions.length; i++) {
      const action = actions[i];
      if (!action) continue;
      const v = values[i];
      if (v === null || v === undefined) continue;
      let masked: string | null | undefined;
      if (action.kind === 'mask') masked = action.strategy.apply(valueText(v));
      else {
        const text = typeof v === 'string' ? v : isDocument(v) ? JSON.stringify(v) : undefined;
        if (text === undefined) continue;
        const rule = this.policy.detect(text, scanText(text, this.#features));
        if (!rule) continue;
        masked = rule.strategy.apply(text);
      }
      out ??= values.slice();
      out[i] = masked;
    }
    return out ?? values;
  }
}

/** A JSON document as drivers decode json/jsonb (a plain object or array). */
function isDocument(v: unknown): v is object {
  return typeof v === 'object' && v !== null && !Buffer.isBuffer(v) && !(v instanceof Date);
}

/** The text a strategy sees for a decoded value of any type. */
function valueText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? String(v) : v.toISOString();
  if (typeof v === 'object') return JSON.stringify(v) ?? String(v);
  return String(v);
}
