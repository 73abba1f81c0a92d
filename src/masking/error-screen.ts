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
 * a masked column and is opaque only because it names relations the catalog does not have (a
 * typo, a temporary table), an undefined-object error passes when every name it quotes is one of
 * those relations (a schema or database prefix aside). A name computed from data (a value cast
 * to regclass, `current_setting(ssn || '.x')`) is one of them only when it equals a name the
 * statement itself spelled as a relation, which says no more than a filter on that value would.
 * Statements opaque for any other reason (an untraceable function, a statistics view, a cursor
 * not declared in the session) get no exception.
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

/** Names a screen lets an undefined-object error quote: the statement's unknown relations. */
export interface EchoedNames {
  /** Relations the statement named that the catalog does not have (lower case). */
  names: ReadonlySet<string>;
  /** Schemas (MySQL: databases) a quoted name may be prefixed with (lower case). */
  schemas: ReadonlySet<string>;
}

/** Whether every quoted part of the texts is one of the unknown relations (a schema prefix aside). */
function echoes(texts: readonly (string | undefined)[], echo: EchoedNames): boolean {
  for (const text of texts) {
    if (!text) continue;
    for (const m of text.matchAll(QUOTED)) {
      const quoted = (m[1] ?? m[2] ?? m[3] ?? '').toLowerCase();
      if (MYSQL_CLAUSES.has(quoted)) continue;
      const dot = quoted.lastIndexOf('.');
      const name = quoted.slice(dot + 1);
      if (!echo.names.has(name)) return false;
      if (dot >= 0 && !echo.schemas.has(quoted.slice(0, dot))) return false;
    }
  }
  return true;
}

export class TargetTextScreen implements ErrorScreen {
  /** Why the statement's text is withheld, as a clause (undefined: only when a detector matches). */
  readonly #because: string | undefined;
  readonly #policy: CompiledMaskingPolicy;
  /** When only relations the catalog lacks (no masked table) made the screen: their names. */
  readonly #echo: EchoedNames | undefined;

  constructor(policy: CompiledMaskingPolicy, because: string | undefined, echo?: EchoedNames) {
    this.#policy = policy;
    this.#because = because;
    this.#echo = echo;
  }

  withholds(texts: readonly (string | undefined)[], code?: string): boolean {
    if (this.#echo !== undefined)
      return !(code !== undefined && NAME_ERRORS.has(code) && echoes(texts, this.#echo));
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
