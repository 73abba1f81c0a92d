/** A statement a client prepared with COM_STMT_PREPARE: its text, as the guard saw it. */
export interface PreparedStatement {
  readonly id: number;
  readonly sql: string;
  readonly paramCount: number;
  /** Parameter types of the last execute, for executes that do not send them again. */
  paramTypes: number[];
  /**
   * The client sent COM_STMT_SEND_LONG_DATA for it. We do not join long data into parameters, so
   * the next execute is refused instead of running with a parameter missing.
   */
  longDataSent: boolean;
}

/**
 * The prepared statements of one client connection. Ids are ours (the target never sees them):
 * each execute runs the stored text through the whole pipeline again, so a client cannot reach a
 * statement the guard has not seen by guessing an id. The count is capped, so a client that
 * prepares without closing cannot grow memory without bound.
 */
export class PreparedStatements {
  readonly #byId = new Map<number, PreparedStatement>();
  readonly #max: number;
  #nextId = 1;

  constructor(max = 1024) {
    this.#max = max;
  }

  /** Adds a statement; undefined when the cap is reached. */
  add(sql: string, paramCount: number): PreparedStatement | undefined {
    if (this.#byId.size >= this.#max) return undefined;
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1;
    const statement: PreparedStatement = { id, sql, paramCount, paramTypes: [], longDataSent: false };
    this.#byId.set(id, statement);
    return statement;
  }

  get(id: number): PreparedStatement | undefined {
    return this.#byId.get(id);
  }

  close(id: number): void {
    this.#byId.delete(id);
  }

  /** Whether an open statement prepares this text. */
  holds(sql: string): boolean {
    for (const statement of this.#byId.values()) if (statement.sql === sql) return true;
    return false;
  }

  clear(): void {
    this.#byId.clear();
  }

  get size(): number {
    return this.#byId.size;
  }
}
