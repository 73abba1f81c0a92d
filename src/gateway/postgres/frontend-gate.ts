import { randomUUID } from 'node:crypto';
import type {
  Bind,
  Close,
  Describe,
  Execute,
  FrontendFrame,
  FrontendTypedMessage,
  NoticeFields,
  Parse,
} from '../../../protocols/postgres/codec/index.js';
import type { CursorLineage } from '../../masking/index.js';
import { BUDGET_SQLSTATE, type BudgetLease } from '../budgets.js';
import { GatewayError } from '../errors.js';
import type { WireSession } from '../gateway.js';
import type { GuardVerdict } from '../types.js';
import {
  admitStatement,
  INSUFFICIENT_PRIVILEGE,
  RECORDING_UNAVAILABLE,
  recordDecision,
  refusal,
} from './admission.js';
import type { ExpectationQueue } from './expectation-queue.js';
import { copyOutStatements } from './copy-out.js';
import {
  describePortalMessage,
  describeProbeMessages,
  parseMessage,
  queryMessage,
  refusedParseMessage,
  refusedQueryMessage,
} from './frontend-messages.js';
import { SessionCursors } from './session-cursors.js';
import type { PortalEntry, PreparedEntry, ProbeOutcome, StatementRun } from './session-state.js';
import type { WireMasking } from './wire-masking.js';
import { quoteIdent } from './sql-quote.js';

/** The guard's registry of a session's prepared statements (SQL EXECUTE is judged by what it names). */
export interface PreparedRegistry {
  registerAnalysis(name: string, analysis: { ok: true; statements: GuardVerdict['statements'] }): void;
  deallocate(name: string): void;
}

/** What the gate needs from the session around it. */
export interface FrontendGateHost {
  readonly session: WireSession;
  readonly masking: WireMasking;
  readonly queue: ExpectationQueue;
  /** The session's cursors (the relay reports transaction ends to them). */
  readonly cursors: SessionCursors;
  readonly prepared: PreparedRegistry | undefined;
  readonly approvalWaitMs: number;
  readonly approvalInstructions?: (requestId: string) => string;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
  /** Queues bytes for the target; false when its socket is full. */
  writeTarget(bytes: Buffer): boolean;
  /** Resolves when the target's socket has drained. */
  targetDrained(): Promise<void>;
  /** A NoticeResponse to the client, at once. */
  notice(message: string): void;
  /** Whether the target is in COPY FROM STDIN for a COPY the guard allowed. */
  copyInActive(): boolean;
  runStarted(run: StatementRun): void;
  now(): number;
}

/** Statements after which names prepared by the client may mean something else. */
const PREPARED_CHANGES = new Set(['PREPARE', 'DEALLOCATE', 'DISCARD']);

/**
 * The client-to-target direction of one session. Every way a statement can arrive passes the
 * guard: a simple Query as a whole (all its statements, before any runs), a Parse when it is
 * prepared (Bind and Execute then cost a map lookup), a Bind of a name prepared with SQL PREPARE
 * (judged as EXECUTE of that name), COPY data only after the guard allowed the COPY. FunctionCall is
 * refused: it runs a function by OID, with no SQL for the guard to see.
 */
export class FrontendGate {
  readonly #host: FrontendGateHost;
  readonly #statements = new Map<string, PreparedEntry>();
  readonly #portals = new Map<string, PortalEntry>();
  /** After a refused extended-protocol message, everything up to Sync is dropped, as Postgres does. */
  #discardUntilSync = false;

  constructor(host: FrontendGateHost) {
    this.#host = host;
  }

  handle(message: FrontendTypedMessage, frame: FrontendFrame): Promise<void> | void {
    switch (message.name) {
      case 'Query':
        if (this.#discardUntilSync) return;
        return this.#query(message.sql, frame);
      case 'Parse':
        if (this.#discardUntilSync) return;
        return this.#parse(message, frame);
      case 'Bind':
        if (this.#discardUntilSync) return;
        return this.#bind(message, frame);
      case 'Describe':
        if (this.#discardUntilSync) return;
        return this.#describe(message, frame);
      case 'Execute':
        if (this.#discardUntilSync) return;
        return this.#execute(message, frame);
      case 'Close':
        if (this.#discardUntilSync) return;
        return this.#close(message, frame);
      case 'Sync':
        this.#discardUntilSync = false;
        this.#host.queue.push({ kind: 'sync', run: this.#syncRun() });
        return this.#forward(frame.raw);
      case 'Flush':
        if (this.#discardUntilSync) return;
        return this.#forward(frame.raw);
      case 'FunctionCall':
        return this.#refuseQuery(
          refusal(
            INSUFFICIENT_PRIVILEGE,
            'function calls by OID (FunctionCall) are not allowed through Sluice',
          ),
        );
      case 'CopyData':
      case 'CopyDone':
      case 'CopyFail':
        // Only the data of a COPY FROM STDIN the guard allowed reaches the target.
        if (!this.#host.copyInActive()) return;
        return this.#forward(frame.raw);
      case 'Terminate':
      case 'AuthenticationResponse':
        return;
    }
  }

  /** The caller's budget for a run about to be sent, or the refusal (recorded) when it is spent. */
  #budgetLease(statementId: string, statements = 1): BudgetLease | NoticeFields {
    const session = this.#host.session;
    try {
      return session.budget(statements);
    } catch (err) {
      if (!(err instanceof GatewayError) || err.code !== 'ERR_BUDGET') throw err;
      session.recording.onError({ statementId, code: BUDGET_SQLSTATE, message: err.message });
      session.metrics.failed(session.context.channel, BUDGET_SQLSTATE);
      return refusal(BUDGET_SQLSTATE, err.message);
    }
  }

  #forward(bytes: Buffer): Promise<void> | void {
    if (this.#host.writeTarget(bytes)) return;
    // The target reads slower than the client sends: hold the client until it drains.
    return this.#host.targetDrained();
  }

  async #query(sql: string, frame: FrontendFrame): Promise<void> {
    const host = this.#host;
    const statementId = randomUUID();
    const admission = await admitStatement(host.session, statementId, sql, this.#admissionOptions());
    if (!admission.ok) return this.#refuseQuery(admission.error);
    const verdict = admission.verdict;
    const copyRefusal = await this.#copyOutRefusal(sql, verdict, true);
    if (copyRefusal !== undefined) {
      host.session.recording.onError({ statementId, code: copyRefusal.code, message: copyRefusal.message });
      return this.#refuseQuery(copyRefusal);
    }
    const maskingRefusal = await this.#maskingRefusal(sql, verdict);
    if (maskingRefusal !== undefined) {
      host.session.recording.onError({
        statementId,
        code: maskingRefusal.code,
        message: maskingRefusal.message,
      });
      return this.#refuseQuery(maskingRefusal);
    }
    const declared = await this.#declaredCursors(sql, verdict);
    // Several statements in one Query count as that many.
    const lease = this.#budgetLease(statementId, Math.max(1, verdict.statements.length));
    if (!('release' in lease)) return this.#refuseQuery(lease);
    if (verdict.statements.some((s) => PREPARED_CHANGES.has(s.command))) this.#statements.clear();
    const run: StatementRun = {
      statementId,
      sql,
      verdict,
      startedAt: host.now(),
      cancelled: false,
      lease,
      ...this.#cursorReads(verdict),
      ...this.#confirmation(verdict, declared),
    };
    host.queue.push({ kind: 'query', run });
    host.runStarted(run);
    // Row filters: the rewritten text goes in the client's place.
    return this.#forward(verdict.rewritten === undefined ? frame.raw : queryMessage(verdict.rewritten));
  }

  async #parse(message: Parse, frame: FrontendFrame): Promise<void> {
    const host = this.#host;
    const statementId = randomUUID();
    const admission = await admitStatement(host.session, statementId, message.sql, this.#admissionOptions());
    if (!admission.ok) return this.#refuseExtended(admission.error);
    const verdict = admission.verdict;
    const copyRefusal = await this.#copyOutRefusal(message.sql, verdict, false);
    if (copyRefusal !== undefined) {
      host.session.recording.onError({ statementId, code: copyRefusal.code, message: copyRefusal.message });
      return this.#refuseExtended(copyRefusal);
    }
    const maskingRefusal = await this.#maskingRefusal(message.sql, verdict);
    if (maskingRefusal !== undefined) {
      host.session.recording.onError({
        statementId,
        code: maskingRefusal.code,
        message: maskingRefusal.message,
      });
      return this.#refuseExtended(maskingRefusal);
    }
    const declared = await this.#declaredCursors(message.sql, verdict);
    const name = message.statement;
    const previous = this.#statements.get(name);
    // Messages after this Parse (a pipelined Bind) already refer to the new statement; should the
    // target refuse the Parse, it skips them too, and the name is put back as it was.
    const entry: PreparedEntry = {
      name,
      sql: message.sql,
      verdict,
      described: false,
      shape: undefined,
      maskers: new Map(),
      ...(declared.length > 0 ? { declares: declared } : {}),
    };
    this.#statements.set(name, entry);
    // A named statement can be run with SQL EXECUTE too: the guard must judge that by this body.
    if (name !== '') host.prepared?.registerAnalysis(name, { ok: true, statements: verdict.statements });
    host.queue.push({ kind: 'parse', refused: () => this.#parseRefused(entry, previous) });
    return this.#forward(
      verdict.rewritten === undefined ? frame.raw : parseMessage(name, verdict.rewritten, message.paramTypes),
    );
  }

  /**
   * The target refused a Parse (or skipped it after an earlier error): a named statement that
   * existed keeps its old body (Postgres does not replace it); the unnamed one is gone (Postgres
   * drops it before parsing). The relay calls these latest first, so each finds its own entry.
   */
  #parseRefused(entry: PreparedEntry, previous: PreparedEntry | undefined): void {
    const name = entry.name;
    if (this.#statements.get(name) !== entry) return;
    if (name !== '' && previous !== undefined) {
      this.#statements.set(name, previous);
      this.#host.prepared?.registerAnalysis(name, { ok: true, statements: previous.verdict.statements });
      return;
    }
    this.#statements.delete(name);
    if (name !== '') this.#host.prepared?.deallocate(name);
  }

  #bind(message: Bind, frame: FrontendFrame): Promise<void> | void {
    const entry = this.#statements.get(message.statement);
    if (entry === undefined && message.statement !== '') return this.#bindSqlPrepared(message, frame);
    const portal = entry === undefined ? undefined : portalOf(entry, message);
    if (portal !== undefined) this.#portals.set(message.portal, portal);
    else this.#portals.delete(message.portal);
    this.#host.queue.push({
      kind: 'bind',
      ...this.#portalNamed(message.portal),
      failed: this.#bindFailed(message.portal, portal),
    });
    return this.#forward(frame.raw);
  }

  /**
   * A Bind the target refused (`portal "c" already exists`) or skipped leaves the target's portal
   * of that name as it was: another statement's, a cursor's, or none. The name is forgotten, so an
   * Execute of it is refused (see #execute) rather than masked by the wrong statement's plan.
   */
  #bindFailed(name: string, portal: PortalEntry | undefined): () => void {
    return () => {
      if (portal === undefined || this.#portals.get(name) === portal) this.#portals.delete(name);
    };
  }

  /**
   * A Bind or Close of a named portal: SQL cursors are portals too, so FETCH can read a portal
   * made by Bind and Close can close a DECLAREd cursor. The name is no longer a cursor the session
   * knows (a FETCH of it is untraceable), now and once the target has answered.
   */
  #portalNamed(name: string): { settled?: () => void } {
    if (name === '') return {};
    const cursors = this.#host.cursors;
    cursors.forget(name);
    return { settled: () => cursors.forget(name) };
  }

  /**
   * A Bind of a name this session did not Parse: a statement made with SQL PREPARE (Bind may use
   * those). It is judged as `EXECUTE name`, which the guard decides by the body it recorded.
   */
  async #bindSqlPrepared(message: Bind, frame: FrontendFrame): Promise<void> {
    const host = this.#host;
    const sql = `EXECUTE ${quoteIdent(message.statement)}`;
    const statementId = randomUUID();
    const admission = await admitStatement(host.session, statementId, sql, this.#admissionOptions());
    if (!admission.ok) return this.#refuseExtended(admission.error);
    const entry: PreparedEntry = {
      name: message.statement,
      sql,
      verdict: admission.verdict,
      described: false,
      shape: undefined,
      maskers: new Map(),
    };
    this.#statements.set(message.statement, entry);
    const portal = portalOf(entry, message);
    this.#portals.set(message.portal, portal);
    host.queue.push({
      kind: 'bind',
      ...this.#portalNamed(message.portal),
      failed: this.#bindFailed(message.portal, portal),
    });
    return this.#forward(frame.raw);
  }

  #describe(message: Describe, frame: FrontendFrame): Promise<void> | void {
    if (message.target === 'S') {
      const statement = this.#statements.get(message.statementOrPortal);
      if (statement) statement.described = true;
      this.#host.queue.push({ kind: 'describe-statement', statement });
    } else {
      const portal = this.#portals.get(message.statementOrPortal);
      if (portal) portal.described = true;
      this.#host.queue.push({ kind: 'describe-portal', portal, swallow: false });
    }
    return this.#forward(frame.raw);
  }

  #execute(message: Execute, frame: FrontendFrame): Promise<void> | void {
    const host = this.#host;
    const portal = this.#portals.get(message.portal);
    if (portal === undefined) {
      // Not a portal this session bound (or its Bind failed): the target may still hold one of
      // that name (a DECLAREd cursor, a portal a failed Bind left, an unnamed statement a skipped
      // Parse left) whose statement the gateway has not judged. It never runs.
      return this.#refuseExtended(
        refusal(
          '34000',
          `portal "${message.portal}" was not bound through Sluice in this session; Execute runs only a portal of a successful Bind`,
        ),
      );
    }
    const ready = host.session.recorderReady();
    if (!ready.ok)
      return this.#refuseExtended(refusal(RECORDING_UNAVAILABLE, `statement refused: ${ready.reason}`));
    const statement = portal.statement;
    const statementId = randomUUID();
    const recording = host.session.recording;
    recording.onStatement({ statementId, sql: statement.sql, params: portal.params as unknown[] });
    recordDecision(host.session, statementId, statement.verdict);
    // Each Execute is a statement run: a statement prepared once is counted at every run.
    const lease = this.#budgetLease(statementId);
    if (!('release' in lease)) return this.#refuseExtended(lease);
    const run: StatementRun = {
      statementId,
      sql: statement.sql,
      verdict: statement.verdict,
      startedAt: host.now(),
      cancelled: false,
      lease,
      ...this.#cursorReads(statement.verdict),
      ...this.#confirmation(statement.verdict, statement.declares ?? []),
    };
    if (!portal.described && !statement.described) {
      // Rows may come without a RowDescription (the client did not ask): ask for it ourselves,
      // so that the masking plan knows the columns before the first row. The client never sees it.
      portal.described = true;
      host.queue.push({ kind: 'describe-portal', portal, swallow: true });
      host.writeTarget(describePortalMessage(message.portal));
    }
    host.queue.push({ kind: 'execute', portal, run });
    host.runStarted(run);
    return this.#forward(frame.raw);
  }

  #close(message: Close, frame: FrontendFrame): Promise<void> | void {
    if (message.target === 'S') {
      this.#statements.delete(message.statementOrPortal);
      if (message.statementOrPortal !== '') this.#host.prepared?.deallocate(message.statementOrPortal);
      this.#host.queue.push({ kind: 'close' });
    } else {
      this.#portals.delete(message.statementOrPortal);
      this.#host.queue.push({ kind: 'close', ...this.#portalNamed(message.statementOrPortal) });
    }
    return this.#forward(frame.raw);
  }

  /**
   * A refused Query or FunctionCall. The target is sent a text that fails to parse, so that it ends
   * the statement (and marks a transaction block failed) exactly as Postgres would on an error; its
   * ErrorResponse is replaced by ours and its ReadyForQuery relayed. Nothing of the refused text runs.
   */
  #refuseQuery(error: NoticeFields): Promise<void> | void {
    this.#host.queue.push({ kind: 'refused', error, query: true });
    return this.#forward(refusedQueryMessage);
  }

  /** A refused Parse, Bind or Execute: the same, and every message up to Sync is dropped. */
  #refuseExtended(error: NoticeFields): Promise<void> | void {
    this.#discardUntilSync = true;
    this.#host.queue.push({ kind: 'refused', error, query: false });
    return this.#forward(refusedParseMessage);
  }

  #admissionOptions() {
    const host = this.#host;
    return {
      approvalWaitMs: host.approvalWaitMs,
      ...(host.approvalInstructions ? { approvalInstructions: host.approvalInstructions } : {}),
      notice: (m: string) => host.notice(m),
      signal: host.signal,
    };
  }

  /**
   * COPY ... TO STDOUT sends table data as CopyData lines, which the relay does not rewrite. Under
   * a policy that masks anything, the target describes the equivalent SELECT first (a probe, for a
   * simple Query; a Parse in a pipeline is not interrupted and is refused outright) and a COPY
   * whose output would hold a masked column is refused: use SELECT, which is masked.
   */
  async #copyOutRefusal(
    sql: string,
    verdict: GuardVerdict,
    probe: boolean,
  ): Promise<NoticeFields | undefined> {
    let copies = copyOutStatements(sql, verdict.parsed);
    if (
      copies.length === 0 &&
      verdict.statements.some((s) => s.command === 'COPY' && /\bto\s+stdout\b/i.test(s.text))
    ) {
      copies = [null];
    }
    if (copies.length === 0) return undefined;
    const masking = this.#host.masking;
    if (!(await masking.masksAnything(sql, verdict))) return undefined;
    const unchecked = refusal(
      INSUFFICIENT_PRIVILEGE,
      'COPY ... TO STDOUT cannot be checked for masked columns here; use SELECT',
    );
    if (!probe) return unchecked;
    for (const copy of copies) {
      if (copy === null) return unchecked;
      const outcome = await this.#probe(copy.select);
      if (outcome.error !== undefined || outcome.shape === undefined) return unchecked;
      if (outcome.shape === null) continue;
      const run: StatementRun = {
        statementId: '',
        sql: copy.select,
        verdict: { ...verdict, parsed: undefined },
        startedAt: this.#host.now(),
        cancelled: false,
      };
      let masked: string[];
      try {
        const masker = await masking.plan(outcome.shape, run, []);
        const shape = outcome.shape;
        masked = masker === null ? [] : shape.columns.filter((_, i) => masker.masked[i]).map((c) => c.name);
      } catch (err) {
        return refusal(INSUFFICIENT_PRIVILEGE, (err as Error).message);
      }
      if (masked.length > 0) {
        return refusal(
          INSUFFICIENT_PRIVILEGE,
          `COPY ... TO STDOUT would send masked columns (${masked.join(', ')}) unmasked; use SELECT`,
        );
      }
    }
    return undefined;
  }

  /** What masking refuses before the statement runs, from its parse (MaskingRefusal), as a wire error. */
  async #maskingRefusal(sql: string, verdict: GuardVerdict): Promise<NoticeFields | undefined> {
    // The cursor as known now; its results are planned again by the cursor as known then.
    const cursor = this.#host.cursors.reader(verdict)?.now();
    try {
      await this.#host.masking.precheck(sql, verdict, cursor);
      return undefined;
    } catch (err) {
      if (err instanceof GatewayError) return refusal(err.sqlstate ?? INSUFFICIENT_PRIVILEGE, err.message);
      return refusal(INSUFFICIENT_PRIVILEGE, 'statement refused: its masking could not be decided');
    }
  }

  /** Asks the target to describe `sql` (unnamed statement; the client never sees the answers). */
  #probe(sql: string): Promise<ProbeOutcome> {
    return new Promise((resolve) => {
      this.#host.queue.push({ kind: 'probe', outcome: {}, settle: resolve });
      this.#host.writeTarget(describeProbeMessages(sql));
    });
  }

  /** DECLARE CURSOR: each cursor's lineage, by which its FETCH results are masked. */
  async #declaredCursors(sql: string, verdict: GuardVerdict): Promise<CursorLineage[]> {
    if (!verdict.statements.some((s) => s.command === 'DECLARE CURSOR')) return [];
    return this.#host.masking.declaredCursors(sql, verdict);
  }

  /**
   * What a run takes up once the target confirms it: what it does to the session's cursors (a
   * DECLARE's lineage becomes the cursor's only when the target confirms that DECLARE, so one it
   * refuses, the name being taken, leaves the live cursor's lineage as it was), and, when every
   * statement of its text has completed, what it did to prepared statements (the guard only
   * anticipated that, for a text may fail part way).
   */
  #confirmation(
    verdict: GuardVerdict,
    declared: readonly CursorLineage[],
  ): { confirmed?: (tag: string) => void } {
    const cursors = this.#host.cursors.effects(verdict, declared);
    if (!verdict.statements.some((s) => PREPARED_CHANGES.has(s.command))) {
      return cursors ? { confirmed: cursors } : {};
    }
    const session = this.#host.session;
    let left = verdict.statements.length;
    return {
      confirmed: (tag) => {
        cursors?.(tag);
        if (--left === 0) session.guard.ran?.(verdict, session.context);
      },
    };
  }

  /**
   * The cursors a run reads, looked up when its results or errors arrive: the one its FETCH or
   * MOVE names, and those WITH HOLD its commit may compute.
   */
  #cursorReads(verdict: GuardVerdict): Pick<StatementRun, 'cursor' | 'heldCursors'> {
    const cursors = this.#host.cursors;
    const reader = cursors.reader(verdict);
    const commits = SessionCursors.commits(verdict);
    return {
      ...(reader ? { cursor: reader.now } : {}),
      heldCursors: () => cursors.held(commits),
    };
  }

  /**
   * What a Sync is answered with (errors, notices) is screened by this run: the extended
   * protocol's implicit transaction commits there, computing its cursors WITH HOLD.
   */
  #syncRun(): StatementRun {
    const cursors = this.#host.cursors;
    return {
      statementId: '',
      sql: '',
      verdict: { action: 'allow', reason: 'Sync', rule: '', statements: [] },
      startedAt: this.#host.now(),
      cancelled: false,
      heldCursors: () => cursors.held(true),
    };
  }
}

function portalOf(statement: PreparedEntry, message: Bind): PortalEntry {
  return {
    statement,
    formats: message.resultFormats,
    params: message.params.map((value, i) => {
      if (value === null) return null;
      const format = message.paramFormats.length === 1 ? message.paramFormats[0] : message.paramFormats[i];
      return format === 1 ? `\\x${value.toString('hex')}` : value.toString('utf8');
    }),
    described: false,
    shape: undefined,
  };
}
