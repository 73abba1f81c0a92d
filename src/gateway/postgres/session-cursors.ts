import type { CursorLineage } from '../../masking/index.js';
import { type CursorStatement, cursorStatements } from '../../masking/cursor-statements.js';
import type { GuardVerdict } from '../types.js';

/**
 * The cursors of one Postgres session, by their exact names (see cursor-statements.ts), with the
 * lineage of the query each was declared for: a FETCH or MOVE is masked, and its errors
 * screened, by the lineage of the cursor it reads. A cursor the session does not know (opened by
 * a function, a protocol-level portal, one whose DECLARE was not confirmed) has no entry: its
 * results are untraceable, so fully masked, and its errors withheld.
 *
 * An entry is taken up only when the target confirms the DECLARE, and dropped as soon as the
 * cursor may be gone (CLOSE, DISCARD ALL, a Bind or Close of a portal of that name, the end of
 * its transaction): a name that outlived its cursor could lend a harmless query's lineage to a
 * cursor opened under that name in a way the gateway cannot see. Dropping too much only masks
 * more.
 *
 * Cursors WITH HOLD are computed whole when their transaction commits, so errors computed from
 * their values surface at the COMMIT: while one is pending, a statement that may commit is
 * screened as its query would be (see `held`).
 */
export class SessionCursors {
  readonly #cursors = new Map<string, CursorLineage>();
  /** Cursors WITH HOLD declared in the open transaction: its commit computes their results. */
  readonly #pendingHolds = new Set<CursorLineage>();
  /** An error or a rollback since the transaction began: its cursors WITH HOLD did not survive. */
  #aborted = false;
  /** The transaction status of the last ReadyForQuery ('I' idle, 'T' in a block, 'E' failed). */
  #status = 'I';
  /** The open transaction's savepoints, oldest first, each with the cursors declared since it. */
  #savepoints: { name: string; cursors: Set<CursorLineage> }[] = [];

  /** The cursor of that exact name, if the session knows it. */
  get(name: string): CursorLineage | undefined {
    return this.#cursors.get(name);
  }

  /**
   * The cursors WITH HOLD a statement that ends now may compute: those declared in the open
   * transaction, when the statement may commit it (`commits`), or whatever it is when the session
   * is outside a transaction block (an implicit transaction of the extended protocol commits at
   * the next Sync or simple Query).
   */
  held(commits: boolean): readonly CursorLineage[] {
    if (this.#pendingHolds.size === 0 || (!commits && this.#status !== 'I')) return [];
    return [...this.#pendingHolds];
  }

  /** The target confirmed a DECLARE. */
  declared(cursor: CursorLineage): void {
    this.forget(cursor.name);
    this.#cursors.set(cursor.name, cursor);
    if (cursor.hold === true) this.#pendingHolds.add(cursor);
    this.#savepoints.at(-1)?.cursors.add(cursor);
  }

  /** The cursor of that name is (or may be) gone. */
  forget(name: string): void {
    const cursor = this.#cursors.get(name);
    if (cursor === undefined) return;
    this.#cursors.delete(name);
    this.#pendingHolds.delete(cursor);
  }

  forgetAll(): void {
    this.#cursors.clear();
    this.#pendingHolds.clear();
  }

  /** The transaction committed: cursors without hold are gone, those WITH HOLD now stand alone. */
  committed(): void {
    for (const [name, cursor] of this.#cursors) if (cursor.hold !== true) this.#cursors.delete(name);
    this.#pendingHolds.clear();
    this.#savepoints = [];
    this.#aborted = false;
  }

  /** The transaction was rolled back: every cursor declared in it is gone. */
  rolledBack(): void {
    for (const [name, cursor] of this.#cursors) {
      if (cursor.hold !== true || this.#pendingHolds.has(cursor)) this.#cursors.delete(name);
    }
    this.#pendingHolds.clear();
    this.#savepoints = [];
    this.#aborted = false;
  }

  #savepoint(name: string): void {
    this.#savepoints.push({ name, cursors: new Set() });
  }

  /** RELEASE: the savepoint and those after it are gone; their cursors stay, in the one before. */
  #released(name: string): void {
    const at = this.#savepoints.map((s) => s.name).lastIndexOf(name);
    if (at < 0) return;
    const merged = this.#savepoints.splice(at);
    const into = this.#savepoints.at(-1)?.cursors;
    if (into) for (const frame of merged) for (const cursor of frame.cursors) into.add(cursor);
  }

  /** ROLLBACK TO: cursors declared since the savepoint are gone; the savepoint stays. */
  #rolledBackTo(name: string): void {
    const at = this.#savepoints.map((s) => s.name).lastIndexOf(name);
    if (at < 0) {
      // A savepoint the session did not see: nothing of the transaction can be counted on.
      this.rolledBack();
      return;
    }
    for (const frame of this.#savepoints.splice(at + 1)) this.#drop(frame.cursors);
    const frame = this.#savepoints[at] as { cursors: Set<CursorLineage> };
    this.#drop(frame.cursors);
    frame.cursors.clear();
    this.#aborted = false;
  }

  #drop(cursors: Iterable<CursorLineage>): void {
    for (const cursor of cursors) if (this.#cursors.get(cursor.name) === cursor) this.forget(cursor.name);
  }

  /** The target sent an ErrorResponse: the transaction is aborted (a savepoint aside). */
  failed(): void {
    this.#aborted = true;
  }

  /** ReadyForQuery with this transaction status. */
  ready(status: string): void {
    this.#status = status;
    if (status !== 'I') return;
    // Outside a block: whatever transaction there was has ended.
    if (this.#aborted) this.rolledBack();
    else this.committed();
  }

  /**
   * What a run of `verdict` does to the session's cursors, applied as the target confirms each
   * of its statements (a CommandComplete each, in order): `declared` are the text's DECLAREs,
   * in order (see LineageMasking.declaredCursors). Undefined when it does nothing to them.
   */
  effects(verdict: GuardVerdict, declared: readonly CursorLineage[]): ((tag: string) => void) | undefined {
    const ops = cursorStatements(verdict.parsed);
    if (ops === undefined) {
      // Without a parse tree nothing can be told: cursors the text may close or replace are dropped.
      if (!verdict.statements.some((s) => CURSOR_COMMANDS.has(s.command))) return undefined;
      this.forgetAll();
      return undefined;
    }
    if (!ops.some((op) => op.kind !== 'other' && op.kind !== 'fetch' && op.kind !== 'routine'))
      return undefined;
    let d = 0;
    const steps = ops.map((op): [CursorStatement, CursorLineage | undefined] =>
      op.kind === 'declare' ? [op, declared[d++]] : [op, undefined],
    );
    let next = 0;
    return (tag) => {
      const step = steps[next++];
      if (step === undefined) return;
      const [op, lineage] = step;
      switch (op.kind) {
        case 'declare':
          if (tag === 'DECLARE CURSOR' && lineage !== undefined && lineage.name === op.name)
            this.declared({ ...lineage, hold: op.hold });
          else this.forget(op.name);
          return;
        case 'close':
          if (op.name === undefined) this.forgetAll();
          else this.forget(op.name);
          return;
        case 'discard-all':
          this.forgetAll();
          return;
        case 'commit':
          // COMMIT of a failed transaction is a ROLLBACK; PREPARE TRANSACTION detaches it.
          if (tag === 'COMMIT') this.committed();
          else if (tag === 'ROLLBACK' || tag === 'PREPARE TRANSACTION') this.rolledBack();
          return;
        case 'rollback':
          this.rolledBack();
          return;
        case 'savepoint':
          this.#savepoint(op.name);
          return;
        case 'release':
          this.#released(op.name);
          return;
        case 'rollback-to':
          this.#rolledBackTo(op.name);
          return;
        default:
          return;
      }
    };
  }

  /**
   * The cursor a FETCH or MOVE of `verdict` reads (the first one's), as a lookup made when its
   * results or errors arrive: by then everything sent before it has been answered, so a CLOSE
   * or DECLARE pipelined ahead of it has been taken into account. Undefined when the text reads
   * no cursor, or which one cannot be told (its results are then untraceable).
   */
  reader(verdict: GuardVerdict): { name: string; now: () => CursorLineage | undefined } | undefined {
    const ops = cursorStatements(verdict.parsed);
    if (ops === undefined) {
      // Without a parse tree the cursor cannot be told: a FETCH or MOVE reads an unknown one.
      const reads = verdict.statements.some((s) => s.command === 'FETCH' || s.command === 'MOVE');
      return reads ? { name: '', now: () => undefined } : undefined;
    }
    const read = ops.find((op) => op.kind === 'fetch');
    if (read?.kind !== 'fetch') return undefined;
    const name = read.name;
    return { name, now: () => this.#cursors.get(name) };
  }

  /** Whether a run of `verdict` may commit the open transaction (COMMIT, END, CALL, DO, ...). */
  static commits(verdict: GuardVerdict): boolean {
    const ops = cursorStatements(verdict.parsed);
    if (ops === undefined) return true;
    return ops.some((op) => op.kind === 'commit' || op.kind === 'routine');
  }
}

/** Commands that close or replace cursors (for a text without a parse tree). */
const CURSOR_COMMANDS = new Set(['DECLARE CURSOR', 'CLOSE CURSOR', 'DISCARD', 'DISCARD ALL']);
