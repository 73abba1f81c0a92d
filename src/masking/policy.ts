import { randomBytes } from 'node:crypto';
import type { PolicyConfig } from '../config/schema.js';
import type { Secret } from '../config/secret.js';
import { DETECTOR_TABLE, type Detector, type TextFeatures } from './detectors.js';
import type { Aspect, SourceColumn, Taint } from './lineage/taint.js';
import { compileStrategy, type MaskStrategy } from './strategies.js';

/** A column rule as compiled: which config entry, and how to mask. */
export interface ColumnRule {
  /** Position of the rule in the policy's `masking` list. */
  readonly index: number;
  /** The pattern that matched, as written in the config (for messages). */
  readonly pattern: string;
  readonly strategy: MaskStrategy;
  /** Aspects of the column returned in clear (`derived:`); length tells nullness too. */
  readonly derived: ReadonlySet<Aspect>;
}

/**
 * The rule that masks source `key` of a taint, unless the taint is only an aspect of it that the
 * rule returns in clear (`derived: [length]` and `length(ssn)`): then none. The one judgement read
 * masking and the write check share.
 */
export function maskingRuleOf(
  policy: CompiledMaskingPolicy,
  taint: Taint,
  key: string,
  source: SourceColumn,
): ColumnRule | undefined {
  const rule = policy.columnRule(source.schema, source.table, source.column);
  const aspect = taint.aspects?.get(key);
  return rule && !(aspect !== undefined && rule.derived.has(aspect)) ? rule : undefined;
}

export interface DetectorRule {
  readonly index: number;
  readonly detectors: readonly Detector[];
  readonly strategy: MaskStrategy;
}

/** A policy's masking, compiled once at load into lookup tables and plain functions. */
export interface CompiledMaskingPolicy {
  readonly policy: string;
  readonly maskedDerivations: 'mask' | 'refuse';
  readonly maskedFilters: 'allow' | 'refuse';
  readonly hasColumnRules: boolean;
  readonly detectorRules: readonly DetectorRule[];
  /** The first rule matching a base-table column, or undefined. */
  columnRule(schema: string, table: string, column: string): ColumnRule | undefined;
  /** The first detector rule whose detectors find something in `text` (features pre-computed). */
  detect(text: string, features: TextFeatures): DetectorRule | undefined;
  /** Whether any detector rule could fire on a value with these features (the byte pre-filter). */
  detectCandidate(features: TextFeatures): boolean;
  /** Things the operator should know (an ephemeral hash key). */
  readonly warnings: readonly string[];
}

/**
 * One key per process when none is configured: hashes stay joinable within the process but differ
 * after a restart, and nobody outside the process can reproduce them.
 */
const EPHEMERAL_HASH_KEY: Readonly<Buffer> = randomBytes(32);

/** A column pattern split into its parts; `*` inside a part matches any run of characters. */
interface ColumnPattern {
  schema: RegExp | undefined;
  table: RegExp;
  column: RegExp;
}

function partMatcher(part: string): RegExp {
  const escaped = part
    .toLowerCase()
    .split('*')
    .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${escaped}$`);
}

/** `table.column` (any schema), `schema.table.column`, or `column` alone (any table). */
function compilePattern(pattern: string): ColumnPattern {
  const parts = pattern.split('.');
  if (parts.length === 1)
    return { schema: undefined, table: /^.*$/, column: partMatcher(parts[0] as string) };
  if (parts.length === 2) {
    return {
      schema: undefined,
      table: partMatcher(parts[0] as string),
      column: partMatcher(parts[1] as string),
    };
  }
  return {
    schema: partMatcher(parts.slice(0, -2).join('.')),
    table: partMatcher(parts[parts.length - 2] as string),
    column: partMatcher(parts[parts.length - 1] as string),
  };
}

export function compileMaskingPolicy(
  policy: PolicyConfig,
  hashKey: Secret | undefined,
): CompiledMaskingPolicy {
  const warnings: string[] = [];
  const key = hashKey ? Buffer.from(hashKey.reveal(), 'utf8') : EPHEMERAL_HASH_KEY;
  if (!hashKey && policy.masking.some((r) => r.strategy === 'hash')) {
    warnings.push(
      `policy ${policy.name}: masking.hashKey is not set; hash uses a random per-process key, ` +
        'so hashed values change when Sluice restarts',
    );
  }
  const patterns: { rule: ColumnRule; pattern: ColumnPattern }[] = [];
  const detectorRules: DetectorRule[] = [];
  policy.masking.forEach((rule, index) => {
    const strategy = compileStrategy(rule.strategy, rule.keep, key);
    const derived = new Set<Aspect>(rule.derived);
    if (derived.has('length')) derived.add('nullness');
    for (const pattern of rule.columns ?? []) {
      patterns.push({ rule: { index, pattern, strategy, derived }, pattern: compilePattern(pattern) });
    }
    if (rule.detect && rule.detect.length > 0) {
      detectorRules.push({ index, detectors: rule.detect.map((d) => DETECTOR_TABLE[d]), strategy });
    }
  });
  // Patterns are tried in config order, so the first rule that names a column decides. Lookups
  // happen once per result column (not per row); the answers are remembered per column anyway.
  const decided = new Map<string, ColumnRule | undefined>();
  const columnRule = (schema: string, table: string, column: string): ColumnRule | undefined => {
    const k = `${schema}.${table}.${column}`.toLowerCase();
    if (decided.has(k)) return decided.get(k);
    const s = schema.toLowerCase();
    const t = table.toLowerCase();
    const c = column.toLowerCase();
    let found: ColumnRule | undefined;
    for (const { rule, pattern } of patterns) {
      if (
        (pattern.schema === undefined || pattern.schema.test(s)) &&
        pattern.table.test(t) &&
        pattern.column.test(c)
      ) {
        found = rule;
        break;
      }
    }
    decided.set(k, found);
    return found;
  };
  const allDetectors = detectorRules.flatMap((r) => r.detectors);
  return {
    policy: policy.name,
    maskedDerivations: policy.maskedDerivations,
    maskedFilters: policy.maskedFilters,
    hasColumnRules: patterns.length > 0,
    detectorRules,
    columnRule,
    detect(text, features) {
      for (const rule of detectorRules) {
        for (const d of rule.detectors) if (d.candidate(features) && d.matches(text)) return rule;
      }
      return undefined;
    },
    detectCandidate: (features) => allDetectors.some((d) => d.candidate(features)),
    warnings,
  };
}
