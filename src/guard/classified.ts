import type { StatementSummary } from '../gateway/types.js';

/** One classified statement, with what it does to the session's prepared statements. */
export interface ClassifiedStatement {
  summary: StatementSummary;
  /** PREPARE name AS body: the body's summary is what a later EXECUTE of the name runs. */
  prepare?: { name: string; body: StatementSummary };
  /**
   * EXECUTE name: `base` holds what the statement itself does (its arguments), without the
   * prepared body, which only the session knows.
   */
  execute?: { name: string; base: StatementSummary };
  /** DEALLOCATE name | ALL. */
  deallocate?: { name: string } | { all: true };
  /**
   * The classification looked at a constant's value (`WHERE 1` against `WHERE 0`): it must not
   * serve another text that differs only in its constants (Postgres shape cache).
   */
  literalValuesRead?: true;
}
