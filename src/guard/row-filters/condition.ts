import type { RowFilterRule } from './template.js';
import type { PgNode } from './tree.js';

/** A statement the row filters cannot prove filtered: refused, with the reason. */
export class RowFilterRefusal extends Error {}

/** Looks a claim up by path in the caller's claims (see identity/claims.ts readClaim). */
export type ClaimReader = (path: string) => unknown;

/**
 * A rule's condition for one caller, its column references qualified with `qualifier` (the alias
 * the filtered table has where the condition goes, so no other relation's column of the same name
 * can answer for it). Each claim becomes a string constant node, which Postgres types by the
 * column it is compared with; a list becomes an array literal (`tenant_id = ANY({claims.tenants})`).
 */
export function conditionFor(rule: RowFilterRule, readClaim: ClaimReader, qualifier: string): PgNode {
  const values = rule.claims.map((path) => claimText(rule, path, readClaim(path)));
  return rewriteCondition(structuredClone(rule.condition), values, qualifier, false) as PgNode;
}

function rewriteCondition(value: unknown, claims: string[], qualifier: string, inSubquery: boolean): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteCondition(v, claims, qualifier, inSubquery));
  if (value === null || typeof value !== 'object') return value;
  const node = value as Record<string, unknown>;
  if ('ParamRef' in node) {
    const number = (node['ParamRef'] as { number?: number }).number ?? 0;
    return { A_Const: { sval: { sval: claims[number - 1] as string } } };
  }
  if ('ColumnRef' in node && !inSubquery) {
    const fields = (node['ColumnRef'] as { fields: unknown[] }).fields;
    if (fields.length === 1 && 'String' in (fields[0] as object)) {
      return { ColumnRef: { fields: [{ String: { sval: qualifier } }, fields[0]] } };
    }
    return node;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    out[k] = rewriteCondition(v, claims, qualifier, inSubquery || k === 'SubLink');
  }
  return out;
}

function claimText(rule: RowFilterRule, path: string, value: unknown): string {
  const text = plainText(value);
  // A NUL cannot be sent in a Postgres message: dropped on the way, it would name another value.
  if (text !== undefined && !text.includes('\0')) return text;
  throw new RowFilterRefusal(
    value === undefined
      ? `the row filter on ${rule.table} needs the claim ${path}, which the caller's token does not carry`
      : `the row filter on ${rule.table} needs the claim ${path} to be a string, number or boolean (or a list of them), without NUL characters`,
  );
}

function plainText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean')
    return String(value);
  if (Array.isArray(value) && value.every((v) => ['string', 'number', 'boolean'].includes(typeof v))) {
    return `{${value.map((v) => `"${String(v).replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',')}}`;
  }
  return undefined;
}
