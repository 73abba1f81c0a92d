import type { BudgetLease } from '../budgets.js';
import type { NoticeFields } from '../../../protocols/postgres/codec/index.js';
import type { CursorLineage } from '../../masking/index.js';
import type { WireRowMasker } from '../../masking/stage.js';
import type { ErrorScreen, GuardVerdict } from '../types.js';
import type { RowShape } from './backend-messages.js';

/** A statement prepared with Parse, as the guard decided it (only allowed ones are kept). */
export interface PreparedEntry {
  readonly name: string;
  readonly sql: string;
  readonly verdict: GuardVerdict;
  /** The client (or the relay) sent Describe for it: its shape will arrive before any row. */
  described: boolean;
  /** Columns from the answer to Describe statement (format codes there are all 0). */
  shape: RowShape | null | undefined;
  /** Masking plans by result format list: a plan is decided once per statement and formats. */
  readonly maskers: Map<string, WireRowMasker | null>;
  /** A DECLARE CURSOR: the cursor's lineage, taken up when an Execute of it completes. */
  readonly declares?: readonly CursorLineage[];
}

/** A portal made by Bind. */
export interface PortalEntry {
  readonly statement: PreparedEntry;
  /** Result format codes from Bind (empty: all text; one: for every column). */
  readonly formats: readonly number[];
  /** Parameters as text, for the recording (binary ones as `\x` hex). */
  readonly params: readonly (string | null)[];
  described: boolean;
  /** Columns from the answer to Describe portal (with the real format codes), null for NoData. */
  shape: RowShape | null | undefined;
  /**
   * Rows of this portal the client has received, over all its Executes: the policy's row limit
   * holds per portal, so that Execute with a row count cannot fetch past it a piece at a time.
   */
  rowsSent?: number;
  /** Bytes of this portal's rows the client has received, for limits.maxBytes the same way. */
  bytesSent?: number;
}

/** One execution of a statement, recorded from statement to result end. */
export interface StatementRun {
  readonly statementId: string;
  readonly sql: string;
  readonly verdict: GuardVerdict;
  readonly startedAt: number;
  /**
   * For FETCH and MOVE: the lineage of the cursor it reads, as the session knows it when asked
   * (undefined: not a cursor the session knows). Asked when the run's results or errors arrive,
   * by which time everything sent before the run has been answered.
   */
  readonly cursor?: () => CursorLineage | undefined;
  /** Cursors WITH HOLD the run may compute by committing their transaction (see SessionCursors.held). */
  readonly heldCursors?: () => readonly CursorLineage[];
  /** A cancel for the statement timeout was sent. */
  cancelled: boolean;
  /** Its hold on the caller's budgets, released when the run ends (or the session does). */
  readonly lease?: BudgetLease;
  /**
   * Called with the tag of each CommandComplete of the run: session state that follows from the
   * statement (a cursor's lineage) is taken up only once the target has confirmed it.
   */
  readonly confirmed?: (tag: string) => void;
  /**
   * The screen on the target's error and notice text, once an error or notice of the run asked
   * for it (null: the text passes as it is).
   */
  errorScreen?: ErrorScreen | null;
  /** COPY ... TO STDOUT results of this run relayed so far (to find each one's HEADER option). */
  copyOuts?: number;
}

/**
 * What the relay expects next from the target, in the order the client's messages were forwarded.
 * The answers to pipelined messages come back in the same order, so the head of the queue always
 * says what the next backend message belongs to.
 */
export type Expectation =
  /** A simple Query: results, then ReadyForQuery. */
  | { kind: 'query'; run: StatementRun }
  /** `refused`: the target answered the Parse with an error (its statement name is restored). */
  | { kind: 'parse'; refused?: () => void }
  /**
   * `settled`: called when the target has answered it (BindComplete). `failed`: the target refused
   * it or skipped it after an earlier error, so its portal is not what the Bind said.
   */
  | { kind: 'bind'; settled?: () => void; failed?: () => void }
  | { kind: 'describe-statement'; statement: PreparedEntry | undefined }
  /** `swallow`: the relay asked (to learn the shape of a portal); the client must not see the answer. */
  | { kind: 'describe-portal'; portal: PortalEntry | undefined; swallow: boolean }
  | { kind: 'execute'; portal: PortalEntry | undefined; run: StatementRun | undefined }
  /** `settled`: called when the target has answered it (CloseComplete). */
  | { kind: 'close'; settled?: () => void }
  /** `run`: screens the errors and notices the Sync is answered with (an implicit commit's). */
  | { kind: 'sync'; run?: StatementRun }
  /**
   * A refused message: the relay sent the target a text that fails to parse instead, so that the
   * target ends the pipeline (and a transaction block) exactly as an error would. Its
   * ErrorResponse is replaced by `error`. `query`: it was sent as a Query, so ReadyForQuery follows.
   */
  | { kind: 'refused'; error: NoticeFields; query: boolean }
  /**
   * The relay's own Parse + Describe + Sync of a SELECT (to see what a COPY would send): every
   * answer up to ReadyForQuery is kept from the client; `settle` gets the shape or the error.
   */
  | { kind: 'probe'; outcome: ProbeOutcome; settle: (outcome: ProbeOutcome) => void };

/** What a probe learnt: the columns (null: the statement returns no rows), or the target's error. */
export interface ProbeOutcome {
  shape?: RowShape | null;
  error?: string;
}

/** Format code of column `i` under a Bind's result format list. */
export function formatOf(formats: readonly number[], i: number): number {
  if (formats.length === 0) return 0;
  if (formats.length === 1) return formats[0] as number;
  return formats[i] ?? 0;
}
