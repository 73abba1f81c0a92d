/**
 * What each statement of a Postgres text does to the session's cursors, read from the guard's
 * parse tree (libpg-query). Cursor names are taken from the tree, never from the text: the
 * parser applies the server's identifier rules (unquoted names folded to lower case, quoted ones
 * exact with `""` unescaped, `U&"..."` escapes decoded, truncation to 63 bytes), so two names the
 * server tells apart are told apart here too, and a comment or string is never read as a name.
 */
export type CursorStatement =
  /** DECLARE name CURSOR [WITH HOLD] FOR ... */
  | { kind: 'declare'; name: string; hold: boolean }
  /** FETCH or MOVE (`move`) from a named cursor: both run the cursor's query. */
  | { kind: 'fetch'; name: string; move: boolean }
  /** CLOSE name; `name` undefined for CLOSE ALL. */
  | { kind: 'close'; name: string | undefined }
  /** DISCARD ALL: closes every cursor. */
  | { kind: 'discard-all' }
  /**
   * A statement that ends the transaction by committing it (COMMIT, END, COMMIT AND CHAIN,
   * PREPARE TRANSACTION): Postgres computes the whole result of every cursor WITH HOLD declared
   * in the transaction there.
   */
  | { kind: 'commit' }
  /** CALL or DO: the routine may COMMIT inside, with the same effect. */
  | { kind: 'routine' }
  /** ROLLBACK [AND CHAIN], ABORT: every cursor declared in the transaction is gone. */
  | { kind: 'rollback' }
  /** SAVEPOINT, RELEASE [SAVEPOINT], ROLLBACK TO [SAVEPOINT]: the savepoint's name as Postgres reads it. */
  | { kind: 'savepoint' | 'release' | 'rollback-to'; name: string }
  | { kind: 'other' };

type Node = Record<string, unknown>;

/** libpg-query's CURSOR_OPT_HOLD (parsenodes.h). */
const CURSOR_OPT_HOLD = 0x0020;

const isObject = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The cursor statements of a Postgres parse (one per statement of the text, in order), or
 * undefined when `parsed` is not a libpg-query parse tree (the caller then knows nothing of the
 * text's cursors and must treat them as unknown).
 */
export function cursorStatements(parsed: unknown): CursorStatement[] | undefined {
  if (!isObject(parsed) || !Array.isArray(parsed.stmts)) return undefined;
  return parsed.stmts.map((raw) => cursorStatement(isObject(raw) ? raw.stmt : undefined));
}

function cursorStatement(stmt: unknown): CursorStatement {
  if (!isObject(stmt)) return { kind: 'other' };
  const key = Object.keys(stmt)[0];
  const body = key === undefined ? undefined : stmt[key];
  if (!isObject(body)) return { kind: 'other' };
  switch (key) {
    case 'DeclareCursorStmt': {
      const options = typeof body.options === 'number' ? body.options : 0;
      return { kind: 'declare', name: nameOf(body.portalname), hold: (options & CURSOR_OPT_HOLD) !== 0 };
    }
    case 'FetchStmt':
      return { kind: 'fetch', name: nameOf(body.portalname), move: body.ismove === true };
    case 'ClosePortalStmt':
      return { kind: 'close', name: typeof body.portalname === 'string' ? body.portalname : undefined };
    case 'DiscardStmt':
      return body.target === 'DISCARD_ALL' ? { kind: 'discard-all' } : { kind: 'other' };
    case 'CallStmt':
    case 'DoStmt':
      return { kind: 'routine' };
    case 'TransactionStmt':
      switch (body.kind) {
        case 'TRANS_STMT_COMMIT':
        case 'TRANS_STMT_PREPARE':
          return { kind: 'commit' };
        case 'TRANS_STMT_ROLLBACK':
          return { kind: 'rollback' };
        case 'TRANS_STMT_SAVEPOINT':
          return { kind: 'savepoint', name: nameOf(body.savepoint_name) };
        case 'TRANS_STMT_RELEASE':
          return { kind: 'release', name: nameOf(body.savepoint_name) };
        case 'TRANS_STMT_ROLLBACK_TO':
          return { kind: 'rollback-to', name: nameOf(body.savepoint_name) };
        default:
          return { kind: 'other' };
      }
    default:
      return { kind: 'other' };
  }
}

function nameOf(portalname: unknown): string {
  return typeof portalname === 'string' ? portalname : '';
}

/**
 * Whether a statement of the text runs the deferred checks of its transaction: a commit (COMMIT,
 * END, PREPARE TRANSACTION), a routine that may commit inside (CALL, DO), or `SET CONSTRAINTS`.
 * Deferred constraints and constraint triggers then check every row the transaction wrote, and
 * their errors and notices quote those rows. Undefined when `parsed` is not a parse tree.
 */
export function checksDeferred(parsed: unknown): boolean | undefined {
  if (!isObject(parsed) || !Array.isArray(parsed.stmts)) return undefined;
  return parsed.stmts.some((raw) => {
    const stmt = isObject(raw) ? raw.stmt : undefined;
    if (isObject(stmt) && isObject(stmt.ConstraintsSetStmt)) return true;
    const op = cursorStatement(stmt);
    return op.kind === 'commit' || op.kind === 'routine';
  });
}
