import type { DiagnosticsSource, GuardVerdict } from './types.js';

/** More statements than this between two that clear the area: their diagnostics are not told apart. */
const MAX_SOURCES = 16;

/**
 * Which statements a MySQL session's `SHOW WARNINGS` reports on. The server clears its
 * diagnostics area at each statement that uses a table and keeps it across those that do not
 * (`SELECT 1`, `SET @a = 1`) and across SHOW WARNINGS itself, so the sources are the statements
 * since the last one that named a table, that one included.
 */
export class DiagnosticsArea {
  #sources: DiagnosticsSource[] = [];
  #overflow = false;

  /** A statement reached the target (whatever its result). */
  ran(sql: string, verdict: GuardVerdict, readsDiagnostics: boolean): void {
    if (readsDiagnostics) return;
    if (usesTable(verdict)) {
      this.#sources = [];
      this.#overflow = false;
    }
    if (this.#sources.length >= MAX_SOURCES) this.#overflow = true;
    else this.#sources.push({ sql, verdict });
  }

  /** The statements SHOW WARNINGS reports on, or 'unknown' when too many ran to keep. */
  sources(): readonly DiagnosticsSource[] | 'unknown' {
    return this.#overflow ? 'unknown' : this.#sources;
  }
}

function usesTable(verdict: GuardVerdict): boolean {
  return verdict.statements.some((s) => s.objects.some((o) => !o.endsWith('()')));
}
