import { explainedStatement } from '../guard/mysql/statements.js';
import { literalUsingValues, replacePlaceholders } from './mysql/placeholders.js';
import type { Dialect, GuardVerdict } from './types.js';

/** A text for masking to trace, with the guard's verdict (its parse only when it is that text's). */
export interface MaskingSource {
  sql: string;
  verdict: GuardVerdict;
}

/**
 * What masking traces a statement through: its own text, or for a MySQL EXECUTE of a statement
 * the guard read at its PREPARE, that statement (the result is the prepared SELECT's, the write
 * the prepared write). Its `?` markers stand for the EXECUTE's USING values: literals as
 * written, user variables (which may hold anything read before) as a user variable, never as
 * constants. Without such a text EXECUTE's columns cannot be traced, so all are masked.
 */
export function maskingSource(sql: string, verdict: GuardVerdict): MaskingSource {
  const only = verdict.statements.length === 1 ? verdict.statements[0] : undefined;
  if (only?.command !== 'EXECUTE' || only.preparedText === undefined) return { sql, verdict };
  // Without the EXECUTE's own parse, masking parses the prepared text.
  const { parsed: _parsed, ...prepared } = verdict;
  const literals = literalUsingValues(only.text) ?? [];
  return {
    sql: replacePlaceholders(only.preparedText, literals, '@sluice_execute_using'),
    verdict: prepared,
  };
}

/**
 * What masking checks before a statement runs: as `maskingSource`, except that a MySQL plain
 * EXPLAIN is checked as the statement it plans. MariaDB's planner reads const tables and runs
 * constant subqueries, so the plan of `... WHERE id = 1 AND ssn LIKE '1%'` says whether the
 * filter matched ("Impossible WHERE"): under `maskedFilters: refuse` it is refused as the
 * statement itself would be (a planned write as a write, which it does not do: conservative).
 */
export function precheckSource(sql: string, verdict: GuardVerdict, dialect: Dialect): MaskingSource {
  const source = maskingSource(sql, verdict);
  const only = verdict.statements.length === 1 ? verdict.statements[0] : undefined;
  if (dialect !== 'mysql' || only?.command !== 'EXPLAIN') return source;
  const planned = explainedStatement(only.text);
  if (planned === undefined) return source;
  const { parsed: _parsed, ...rest } = verdict;
  // A planned write is checked as a write (its WHERE, what it would store).
  if (!PLANNED_WRITE.test(planned)) return { sql: planned, verdict: rest };
  const statements = rest.statements.map((s) => ({ ...s, effects: [...s.effects, 'write' as const] }));
  return { sql: planned, verdict: { ...rest, statements } };
}

const PLANNED_WRITE = /^\s*(?:UPDATE|DELETE|INSERT|REPLACE)\b/i;
