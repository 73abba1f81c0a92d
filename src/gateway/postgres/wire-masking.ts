import type { CursorLineage, LineageMasking } from '../../masking/index.js';
import type { WireRowMasker } from '../../masking/stage.js';
import type { ErrorScreen, GuardVerdict, SessionContext } from '../types.js';
import type { RowShape } from './backend-messages.js';
import type { StatementRun } from './session-state.js';

/** The masking stage as one Postgres session uses it. */
export interface WireMasking {
  /** A DataRow masker for a result set, or null to forward its rows as they are. May throw MaskingRefusal. */
  plan(shape: RowShape, run: StatementRun, formats: readonly number[]): Promise<WireRowMasker | null>;
  /** `plan` without waiting, when it needs nothing loaded or analysed; undefined: call `plan`. */
  cachedPlan(
    shape: RowShape,
    run: StatementRun,
    formats: readonly number[],
  ): WireRowMasker | null | undefined;
  /** The lineage of each `DECLARE name CURSOR FOR ...` of the text, to plan FETCH results with. */
  declaredCursors(sql: string, verdict: GuardVerdict): Promise<CursorLineage[]>;
  /**
   * Refuses (throws MaskingRefusal) from the parse alone, before the statement runs, what the
   * policy refuses: filters on masked columns, values derived from them, outputs it cannot trace.
   */
  precheck(sql: string, verdict: GuardVerdict, cursor: CursorLineage | undefined): Promise<void>;
  /** The screen on the target's error and notice text for a run; null: it passes as it is. */
  errorScreen(run: StatementRun): Promise<ErrorScreen | null>;
  /** Whether the session's policy masks anything at all. */
  masksAnything(sql: string, verdict: GuardVerdict): Promise<boolean>;
}

export function sessionMasking(masking: LineageMasking, session: SessionContext): WireMasking {
  const context = (run: StatementRun) => {
    const cursor = run.cursor?.();
    return { session, sql: run.sql, verdict: run.verdict, ...(cursor ? { cursor } : {}) };
  };
  return {
    plan(shape, run, formats) {
      return masking.planForWire(shape.columns, context(run), formats);
    },
    cachedPlan(shape, run, formats) {
      return masking.cachedPlanForWire(shape.columns, context(run), formats);
    },
    declaredCursors(sql, verdict) {
      return masking.declaredCursors({ session, sql, verdict });
    },
    precheck(sql, verdict, cursor) {
      return masking.precheck({ session, sql, verdict, ...(cursor ? { cursor } : {}) });
    },
    errorScreen(run) {
      const held = run.heldCursors?.() ?? [];
      return masking.errorScreen({ ...context(run), ...(held.length > 0 ? { heldCursors: held } : {}) });
    },
    async masksAnything(sql, verdict) {
      return (await masking.maskingPlan([], { session, sql, verdict })) !== null;
    },
  };
}
