/** Quoting for SQL text the gateway writes itself (never for the caller's own text). */

/** A Postgres identifier, double-quoted: `"a""b"`. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A Postgres string literal under standard_conforming_strings: `'it''s'`. */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
