/** A node of libpg-query's JSON parse tree: `{ NodeType: { ...fields } }`, or a list of them. */
export type PgNode = Record<string, unknown>;

/** Fields that hold source positions (byte offsets), which a printed text cannot keep. */
const POSITION_KEYS = new Set([
  'location',
  'stmt_location',
  'stmt_len',
  'name_location',
  'list_start',
  'list_end',
  'rexpr_list_start',
  'rexpr_list_end',
]);

/** A copy without source positions: two trees of the same statement then compare equal. */
export function stripLocations(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripLocations);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (!POSITION_KEYS.has(k)) out[k] = stripLocations(v);
  return out;
}

/** Calls `visit` with each node type and its fields, depth first. */
export function walkNodes(value: unknown, visit: (type: string, fields: unknown) => void): void {
  if (Array.isArray(value)) {
    for (const v of value) walkNodes(v, visit);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    if (/^[A-Z]/.test(k)) visit(k, v);
    walkNodes(v, visit);
  }
}

/** Whether two trees are the same, positions aside. Key order matters not. */
export function sameTree(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => sameTree(v, b[i]));
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(b)) {
    return false;
  }
  const ka = Object.keys(a).filter((k) => !POSITION_KEYS.has(k));
  const kb = Object.keys(b).filter((k) => !POSITION_KEYS.has(k));
  if (ka.length !== kb.length) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  return ka.every((k) => Object.hasOwn(rb, k) && sameTree(ra[k], rb[k]));
}

/** A `String` node's text, or undefined. */
export function stringOf(node: unknown): string | undefined {
  const s = (node as { String?: { sval?: string } } | null)?.String;
  return s === undefined ? undefined : (s.sval ?? '');
}
