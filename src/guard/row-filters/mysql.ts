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
 * The names a MySQL statement may not mention outside what the rewrite replaces (lower case): the
 * filtered tables and every view whose definition names one, or a view over such a view.
 */
export function mysqlFilteredNames(rules: readonly RowFilterRule[], snapshot: CatalogSnapshot): Set<string> {
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
  return filtered;
}
