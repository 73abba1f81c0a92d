/** A column of a base table: where a value can ultimately come from. */
export interface SourceColumn {
  schema: string;
  table: string;
  column: string;
}

/**
 * What an output (or an intermediate column) is computed from. `derived` is false only for a
 * plain copy of its sources (possibly through aliases, subqueries, CTEs, views and set branches).
 */
export interface Taint {
  readonly sources: ReadonlyMap<string, SourceColumn>;
  readonly derived: boolean;
}

export const sourceKey = (s: SourceColumn): string => `${s.schema}.${s.table}.${s.column}`.toLowerCase();

export const CLEAN: Taint = { sources: new Map(), derived: false };

export function sourceTaint(source: SourceColumn): Taint {
  return { sources: new Map([[sourceKey(source), source]]), derived: false };
}

/** The union of several taints; `derived` when any is, or when `derive` says the result is computed. */
export function unionTaints(taints: readonly Taint[], derive: boolean): Taint {
  if (taints.length === 1 && !derive) return taints[0] as Taint;
  const sources = new Map<string, SourceColumn>();
  let derived = derive;
  for (const t of taints) {
    for (const [k, s] of t.sources) sources.set(k, s);
    derived ||= t.derived;
  }
  return { sources, derived: derived && sources.size > 0 };
}

export function sameTaint(a: Taint, b: Taint): boolean {
  if (a.derived !== b.derived || a.sources.size !== b.sources.size) return false;
  for (const k of a.sources.keys()) if (!b.sources.has(k)) return false;
  return true;
}
