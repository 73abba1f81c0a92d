import type { ErrorScreen } from '../gateway/types.js';
import { newFeatures, scanText } from './detectors.js';
import type { CompiledMaskingPolicy } from './policy.js';

/**
 * The screen on a target's error and notice text for one statement. Postgres quotes the value a
 * cast or parse failed on (`invalid input syntax for type integer: "..."`), a constraint
 * violation quotes the key or the whole failing row in DETAIL, a reg* cast names the value as a
 * relation or function; MySQL's duplicate-entry errors quote the key. None of that passes a row
 * masker, so for a statement that reads or writes a table with a masked column (or reads what
 * lineage cannot see) the text is withheld whole, keeping only the SQLSTATE (and the MySQL
 * errno): redacting quoted parts would miss the forms that are not quoted (JSON and XML context
 * lines, DETAIL rows). Under a policy with detectors only, text in which a detector finds
 * something is withheld the same way.
 *
 * One exception keeps agents able to correct themselves: when the statement names no table with
 * a masked column but reads something lineage cannot see (typically a table that does not
 * exist), an undefined-object error whose every quoted name occurs in the statement's own text
 * passes (it echoes what the caller sent). A name the statement did not spell out (a value cast
 * to regclass, a planner statistics array) is withheld.
 */
/** SQLSTATEs of an object the statement names not existing (Postgres and MySQL). */
const NAME_ERRORS = new Set(['42P01', '42703', '42883', '42704', '3F000', '42S02', '42S22', '42000']);
/** Where MySQL says an unknown column was (`Unknown column 'x' in 'field list'`). */
const MYSQL_CLAUSES = new Set([
  'field list',
  'where clause',
  'order clause',
  'group statement',
  'on clause',
  'having clause',
]);
const QUOTED = /"([^"]*)"|'([^']*)'|`([^`]*)`/g;

/** Whether every quoted part of the texts is a name the statement spelled out (a `db.` prefix aside). */
function echoes(texts: readonly (string | undefined)[], sql: string): boolean {
  for (const text of texts) {
    if (!text) continue;
    for (const m of text.matchAll(QUOTED)) {
      const quoted = (m[1] ?? m[2] ?? m[3] ?? '').toLowerCase();
      const name = quoted.slice(quoted.lastIndexOf('.') + 1);
      if (MYSQL_CLAUSES.has(quoted)) continue;
      if (name === '' || !sql.includes(name)) return false;
    }
  }
  return true;
}

export class TargetTextScreen implements ErrorScreen {
  /** Why the statement's text is withheld, as a clause (undefined: only when a detector matches). */
  readonly #because: string | undefined;
  readonly #policy: CompiledMaskingPolicy;
  /** Lowercased statement text, when only unseen relations (no masked table) made the screen. */
  readonly #echoOf: string | undefined;

  constructor(policy: CompiledMaskingPolicy, because: string | undefined, echoOf?: string) {
    this.#policy = policy;
    this.#because = because;
    this.#echoOf = echoOf?.toLowerCase();
  }

  withholds(texts: readonly (string | undefined)[], code?: string): boolean {
    if (this.#echoOf !== undefined)
      return !(code !== undefined && NAME_ERRORS.has(code) && echoes(texts, this.#echoOf));
    if (this.#because !== undefined) return true;
    for (const text of texts) {
      if (text && this.#policy.detect(text, scanText(text, newFeatures())) !== undefined) return true;
    }
    return false;
  }

  message(code: string | undefined, kind: 'error' | 'notice' = 'error'): string {
    const state = code ? ` (SQLSTATE ${code})` : '';
    const why =
      this.#because !== undefined
        ? this.#because
        : `a masking detector of policy ${this.#policy.policy} matched it`;
    const what = kind === 'error' ? 'reported an error' : 'sent a notice';
    return `the database ${what}${state}; its text is withheld because ${why}`;
  }
}

/** The screen of a statement whose screen could not be decided: everything is withheld. */
export const UNDECIDED_SCREEN: ErrorScreen = {
  withholds: () => true,
  message: (code, kind = 'error') =>
    `the database ${kind === 'error' ? 'reported an error' : 'sent a notice'}${code ? ` (SQLSTATE ${code})` : ''}; ` +
    'its text is withheld because its masking could not be decided',
};
