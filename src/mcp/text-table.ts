/** Renders a result as a compact plain-text table for the `content` beside `structuredContent`. */
const MAX_CELL = 60;
const MAX_ROWS = 50;

export function textTable(columns: { name: string; masked: boolean }[], rows: unknown[][]): string {
  if (columns.length === 0) return '';
  const header = columns.map((c) => (c.masked ? `${c.name} (masked)` : c.name));
  const shown = rows.slice(0, MAX_ROWS).map((r) => columns.map((_, i) => cell(r[i])));
  const widths = header.map((h, i) => Math.max(h.length, ...shown.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join(' | ')
      .trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('-+-'), ...shown.map(line)];
  if (rows.length > shown.length) out.push(`… ${rows.length - shown.length} more rows in structuredContent`);
  return out.join('\n');
}

function cell(value: unknown): string {
  let text: string;
  if (value === null || value === undefined) text = 'NULL';
  else if (typeof value === 'string') text = value;
  else if (typeof value === 'object') text = JSON.stringify(value);
  else text = String(value);
  text = text.replace(/[\r\n\t]+/g, ' ');
  return text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text;
}
