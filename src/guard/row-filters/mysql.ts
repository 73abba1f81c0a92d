import type { CatalogSnapshot } from '../../masking/catalog.js';
import type { RowFilterRule } from './template.js';

/** Every run of identifier characters, in or out of quotes, backticks and comments. */
const WORD = /[\p{L}\p{N}_$]+/gu;

/**
 * Where MySQL shows other sessions' statement texts (every session reaches the target as one
 * user, so other callers' among them): the process list, performance_schema, the sys schema's
 * views over both, InnoDB's transaction list.
 */
const OTHER_SESSIONS = new Set(['processlist', 'performance_schema', 'sys', 'innodb_trx']);

/** Under row filters, a MySQL statement that names where other sessions' statements show: the word. */
export function mysqlNamesOtherSessions(sql: string): string | undefined {
  for (const word of sql.toLowerCase().match(WORD) ?? []) if (OTHER_SESSIONS.has(word)) return word;
  return undefined;
}

/**
 * MySQL has no rewriter: the name of a filtered table, or of a view whose definition names one,
 * appearing anywhere in the text (as an identifier, in a string a PREPARE reads, in a comment)
 * refuses the statement. Coarse on purpose: it cannot miss a read, at the price of refusing a
 * statement that only mentions the name.
 */
export function mysqlNamedFiltered(
  sql: string,
  rules: readonly RowFilterRule[],
  snapshot: CatalogSnapshot,
): string | undefined {
  const filtered = new Set(rules.map((r) => r.name));
  for (let pass = 0; pass < 16; pass++) {
    let grew = false;
    for (const rel of snapshot.relations) {
      const name = rel.name.toLowerCase();
      if (rel.kind !== 'view' || filtered.has(name) || rel.definition === undefined) continue;
      const words = rel.definition.toLowerCase().match(WORD) ?? [];
      if (words.some((w) => filtered.has(w))) {
        filtered.add(name);
        grew = true;
      }
    }
    if (!grew) break;
  }
  for (const word of sql.toLowerCase().match(WORD) ?? []) if (filtered.has(word)) return word;
  return undefined;
}
