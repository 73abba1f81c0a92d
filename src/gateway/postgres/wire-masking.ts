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
  /** The lineage of `DECLARE name CURSOR FOR ...`, to plan FETCH results with. */
  cursorLineage(sql: string, verdict: GuardVerdict): Promise<CursorLineage | undefined>;
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
  const context = (run: StatementRun) => ({
    session,
    sql: run.sql,
    verdict: run.verdict,
    ...(run.cursor ? { cursor: run.cursor } : {}),
  });
  return {
    plan(shape, run, formats) {
      return masking.planForWire(shape.columns, context(run), formats);
    },
    cachedPlan(shape, run, formats) {
      return masking.cachedPlanForWire(shape.columns, context(run), formats);
    },
    cursorLineage(sql, verdict) {
      return masking.cursorLineage({ session, sql, verdict });
    },
    precheck(sql, verdict, cursor) {
      return masking.precheck({ session, sql, verdict, ...(cursor ? { cursor } : {}) });
    },
    errorScreen(run) {
      return masking.errorScreen(context(run));
    },
    async masksAnything(sql, verdict) {
      return (await masking.maskingPlan([], { session, sql, verdict })) !== null;
    },
  };
}
