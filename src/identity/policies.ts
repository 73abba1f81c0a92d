import type { Config } from '../config/load.js';
import type { PolicyConfig } from '../config/schema.js';
import type { Identity } from './types.js';

/**
 * The policy that governs `identity` on `target`: the first policy, in file order, whose
 * `when.groups` shares a group with the identity and whose `when.targets` names the target or `*`.
 * No match means no access. A token bound to a target reaches that target only, whatever its
 * groups would otherwise allow; an unknown target is never reachable, even through `*`.
 */
export function selectPolicy(config: Config, identity: Identity, target: string): PolicyConfig | undefined {
  if (!config.targets.has(target)) return undefined;
  if (identity.target !== undefined && identity.target !== target) return undefined;
  if (identity.groups.length === 0) return undefined;
  const groups = new Set(identity.groups);
  return config.policies.find(
    (policy) =>
      policy.when.groups.some((g) => groups.has(g)) &&
      (policy.when.targets.includes('*') || policy.when.targets.includes(target)),
  );
}

/** The targets `identity` may reach, in configuration order (what list_databases shows). */
export function reachableTargets(config: Config, identity: Identity): string[] {
  return [...config.targets.keys()].filter((name) => selectPolicy(config, identity, name) !== undefined);
}
