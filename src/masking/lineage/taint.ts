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
  /**
   * Sources the value tells only one aspect of (its length, or whether it is null), keyed like
   * `sources`; a source not in here may be told whole. A masking rule's `derived` list decides
   * whether that aspect is returned in clear.
   */
  readonly aspects?: ReadonlyMap<string, Aspect>;
}

/** What a derivation tells of a value: `nullness` (IS NULL) or `length` (which tells nullness too). */
export type Aspect = 'nullness' | 'length';

const ASPECT_RANK: Record<Aspect, number> = { nullness: 1, length: 2 };

export const sourceKey = (s: SourceColumn): string => `${s.schema}.${s.table}.${s.column}`.toLowerCase();

export const CLEAN: Taint = { sources: new Map(), derived: false };

export function sourceTaint(source: SourceColumn): Taint {
  return { sources: new Map([[sourceKey(source), source]]), derived: false };
}

/**
 * The taint of a table's column: the column itself, and the same column of every table it
 * inherits from or is a partition of (`ancestors`), whose rules name it too.
 */
export function tableColumnTaint(
  rel: { schema: string; name: string },
  column: string,
  ancestors: readonly { schema: string; name: string; columns: readonly string[] }[],
): Taint {
  const own = sourceTaint({ schema: rel.schema, table: rel.name, column });
  if (ancestors.length === 0) return own;
  const lower = column.toLowerCase();
  const inherited = ancestors
    .map((a) => ({ a, c: a.columns.find((c) => c.toLowerCase() === lower) }))
    .filter((x): x is { a: (typeof ancestors)[number]; c: string } => x.c !== undefined)
    .map(({ a, c }) => sourceTaint({ schema: a.schema, table: a.name, column: c }));
  return inherited.length === 0 ? own : unionTaints([own, ...inherited], false);
}

/** The union of several taints; `derived` when any is, or when `derive` says the result is computed. */
export function unionTaints(taints: readonly Taint[], derive: boolean): Taint {
  if (taints.length === 1 && !derive) return taints[0] as Taint;
  const sources = new Map<string, SourceColumn>();
  let derived = derive;
  // A source keeps an aspect only when every operand that holds it tells no more than an aspect
  // of it; a function of a length tells no more than the length.
  let aspects: Map<string, Aspect> | undefined;
  let whole: Set<string> | undefined;
  for (const t of taints) {
    for (const [k, s] of t.sources) {
      sources.set(k, s);
      const aspect = t.aspects?.get(k);
      if (aspect === undefined) (whole ??= new Set()).add(k);
      else {
        const before = aspects?.get(k);
        if (before === undefined || ASPECT_RANK[aspect] > ASPECT_RANK[before])
          (aspects ??= new Map()).set(k, aspect);
      }
    }
    derived ||= t.derived;
  }
  if (aspects && whole) for (const k of whole) aspects.delete(k);
  const taint = { sources, derived: derived && sources.size > 0 };
  return aspects && aspects.size > 0 ? { ...taint, aspects } : taint;
}

/**
 * One aspect of a plain copy of its sources (`length(ssn)`, `ssn IS NULL`). Of a computed value
 * the aspect may encode anything (`length(repeat('x', ascii(ssn)))`), so that stays a derivation.
 */
export function aspectTaint(of: Taint, aspect: Aspect): Taint {
  if (of.sources.size === 0) return CLEAN;
  if (of.derived) return unionTaints([of], true);
  return {
    sources: of.sources,
    derived: true,
    aspects: new Map([...of.sources.keys()].map((k) => [k, aspect])),
  };
}

export function sameTaint(a: Taint, b: Taint): boolean {
  if (a.derived !== b.derived || a.sources.size !== b.sources.size) return false;
  for (const k of a.sources.keys())
    if (!b.sources.has(k) || a.aspects?.get(k) !== b.aspects?.get(k)) return false;
  return true;
}
