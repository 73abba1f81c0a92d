/** One feature's result from a client script (test/compat/python). */
export interface FeatureResult {
  feature: string;
  ok: boolean;
  detail: unknown;
}

/**
 * Client x feature rows that pass directly but cannot pass through Sluice, with the reason
 * (docs/compatibility.md keeps the same list). A listed gap that starts passing fails the test,
 * so the list never goes stale.
 */
export const KNOWN_GAPS: Readonly<Record<string, string>> = {
  'psycopg2: large objects':
    "psycopg2's lobject calls lo_open / lo_write by OID over the FunctionCall message, which Sluice refuses: the guard decides statements by name, and an OID is not one",
};

/** The table printed by `npm run test:compat`: client, feature, direct, through Sluice. */
export function compatTable(
  rows: readonly {
    client: string;
    feature: string;
    /** Absent: not run directly (the direct server cannot offer it). */
    direct: FeatureResult | undefined;
    through: FeatureResult;
  }[],
): string {
  const mark = (r: FeatureResult | undefined) => (r === undefined ? '—' : r.ok ? 'pass' : 'FAIL');
  const lines = rows.map((r) => [r.client, r.feature, mark(r.direct), mark(r.through)]);
  const header = ['client', 'feature', 'direct', 'through Sluice'];
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [fmt(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(fmt)].join('\n');
}
