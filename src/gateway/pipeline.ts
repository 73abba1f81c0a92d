import type { Readable } from 'node:stream';
import type { ColumnDefinition } from '../../protocols/mysql/codec/resultset.js';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { readsDiagnostics } from '../masking/diagnostics.js';
import { UNDECIDED_SCREEN } from '../masking/error-screen.js';
import { ApprovalRecording } from './approval-recording.js';
import { DiagnosticsArea } from './diagnostics-area.js';
import { decisionEvent } from './decision-event.js';
import { maskingSource, precheckSource } from './masking-source.js';
import type { TargetIdentity } from './target-identity.js';
import type { BudgetLease } from './budgets.js';
import type { SessionRecorder } from '../recording/types.js';
import type { ApprovalStage } from './approval.js';
import { GatewayError, targetError } from './errors.js';
import type { GatewayMetrics } from './metrics.js';
import type {
  ErrorScreen,
  GuardStage,
  GuardVerdict,
  MaskingStage,
  ResultColumn,
  RowMasker,
  SessionContext,
  StatementShape,
  TargetEngine,
  TargetOk,
} from './types.js';

/** Fields of a driver's error (node-postgres, mysql2) that hold the target's own text. */
const TARGET_TEXT_FIELDS = ['message', 'sqlMessage', 'detail', 'hint', 'where', 'internalQuery'] as const;

/** A column as the caller receives it. */
export interface DeliveredColumn {
  name: string;
  type: string;
  masked: boolean;
  /** For the MySQL listener: the column definition as the target sent it. */
  mysql?: ColumnDefinition | undefined;
}

/** Where the pipeline delivers a result; a returned promise from `row` is backpressure. */
export interface ResultDelivery {
  columns(columns: DeliveredColumn[]): void;
  row(values: unknown[]): void | Promise<void>;
}

export interface StatementRequest {
  sql: string;
  params?: unknown[];
  /** Rows the caller wants at most; never more than the policy's limit. */
  maxRows?: number;
  /**
   * For the gateway's own catalog reads (list_tables, describe_table): table and column names are
   * not result data, so the policy's row limit does not cut them short.
   */
  catalogRead?: boolean;
  signal?: AbortSignal;
  /** How long to wait for an approval before returning a pending request (MCP). */
  approvalWaitMs?: number;
  onProgress?: (message: string, requestId: string) => void;
  /** The file a MySQL LOAD DATA LOCAL INFILE sends, asked of the caller by name (the listener). */
  localFile?: (name: string) => Readable;
}

export interface StatementOutcome {
  statementId: string;
  command: string;
  rowCount: number;
  truncated: boolean;
  /** Which limit cut the result, when one did. */
  truncatedBy?: 'maxRows' | 'maxBytes';
  durationMs: number;
  verdict: GuardVerdict;
  /** A MySQL target's OK packet fields (insert id, info, status), when it answered with OK. */
  ok?: TargetOk;
}

export interface StatementLimits {
  maxRows: number;
  /** Bytes of row data a result may deliver (limits.maxBytes); absent: no limit. */
  maxBytes?: number;
  statementTimeoutMs: number;
  /**
   * The engine's connections are shared with other sessions (MCP): a statement that may change
   * session state has its connection closed afterwards, so the next caller starts clean.
   */
  sharedConnections?: boolean;
  /** The caller's identity at the target, set on the connection around each statement. */
  targetIdentity?: TargetIdentity;
}

/**
 * MySQL's FOUND_ROWS() and ROW_COUNT() tell the row count of the statement before on the same
 * connection: on a shared pool, another caller's (another tenant's rows counted).
 */
const PREVIOUS_STATEMENT_FUNCTIONS = ['found_rows()', 'row_count()'];

function readsPreviousStatement(verdict: GuardVerdict): string | undefined {
  for (const s of verdict.statements) {
    const hit = s.objects.find((o) => PREVIOUS_STATEMENT_FUNCTIONS.includes(o));
    if (hit !== undefined) return hit.toUpperCase();
  }
  return undefined;
}

/** Whether a statement may leave session state behind: anything but plain reads. */
function mayChangeSession(verdict: GuardVerdict): boolean {
  return verdict.statements.some((s) => s.effects.some((e) => e !== 'read'));
}

export interface PipelineStages {
  guard: GuardStage;
  approvals: ApprovalStage;
  masking: MaskingStage;
  /** Whether the recording store can take a new statement (fail closed when it cannot). */
  recorderReady: () => { ok: true } | { ok: false; reason: string };
  logger: Logger;
  metrics?: GatewayMetrics;
  /** Called after a statement ran, whatever its result. */
  onExecuted?: (session: SessionContext, verdict: GuardVerdict) => void;
  /** Admits a statement to the caller's budgets just before it runs; throws ERR_BUDGET when spent. */
  budget?: (statements: number) => BudgetLease;
  clock?: () => number;
}

/** Rows are handed to the recorder in batches, so recording costs one call per batch, not per row. */
const RECORD_BATCH_ROWS = 100;

/**
 * The statement path of one session, with its stages in order:
 * guard → (approval) → execute → mask → record → deliver.
 */
export class StatementPipeline {
  readonly #stages: PipelineStages;
  readonly #session: SessionContext;
  readonly #engine: TargetEngine;
  readonly #recording: SessionRecorder;
  readonly #limits: StatementLimits;
  readonly #now: () => number;
  /** MySQL: the statements a SHOW WARNINGS would report on. */
  readonly #diagnostics = new DiagnosticsArea();

  constructor(
    stages: PipelineStages,
    session: SessionContext,
    engine: TargetEngine,
    recording: SessionRecorder,
    limits: StatementLimits,
  ) {
    this.#stages = stages;
    this.#session = session;
    this.#engine = engine;
    this.#recording = recording;
    this.#limits = limits;
    this.#now = stages.clock ?? Date.now;
  }

  /** See TargetEngine.forgetPrepared; never fails. */
  async forgetPrepared(sql: string): Promise<void> {
    await this.#engine.forgetPrepared?.(sql).catch(() => undefined);
  }

  /** See TargetEngine.syntaxError; never fails. */
  async syntaxError(sql: string): Promise<string | undefined> {
    return this.#engine.syntaxError?.(sql).catch(() => undefined);
  }

  /**
   * The target's description of a statement the guard decided (`verdict`), see
   * TargetEngine.describe; a target error is screened as a statement's would be.
   */
  async describe(sql: string, verdict: GuardVerdict): Promise<StatementShape | undefined> {
    if (this.#engine.describe === undefined) return undefined;
    try {
      return await this.#engine.describe(sql);
    } catch (err) {
      throw await this.#screenedTargetError(err, { sql }, verdict);
    }
  }

  async run(request: StatementRequest, delivery: ResultDelivery): Promise<StatementOutcome> {
    const statementId = randomUUID();
    const started = this.#now();
    const ready = this.#stages.recorderReady();
    if (!ready.ok) {
      // Nothing runs that cannot be recorded (onStoreFailure: refuse).
      throw new GatewayError('ERR_RECORDING_UNAVAILABLE', `statement refused: ${ready.reason}`);
    }
    const recording = this.#recording;
    recording.onStatement({
      statementId,
      sql: request.sql,
      ...(request.params ? { params: request.params } : {}),
    });
    try {
      const verdict = await this.#guard(statementId, request.sql);
      await this.#approve(statementId, request, verdict);
      // After any approval wait: a statement waiting for a human holds no budget.
      const lease = this.#stages.budget?.(Math.max(1, verdict.statements.length));
      try {
        return await this.#execute(statementId, request, verdict, delivery, started);
      } finally {
        lease?.release();
      }
    } catch (err) {
      const error = err instanceof GatewayError ? err : targetError(err, this.#session.target);
      this.#stages.metrics?.failed(this.#session.channel, error.code);
      recording.onError({ statementId, code: error.sqlstate ?? error.code, message: error.message });
      throw error;
    }
  }

  async #guard(statementId: string, sql: string): Promise<GuardVerdict> {
    const verdict = await this.#stages.guard.check(sql, this.#session);
    this.#stages.metrics?.decided(verdict.action, this.#session.channel);
    this.#recording.onDecision(decisionEvent(statementId, verdict));
    if (verdict.action === 'deny') {
      // A text the guard cannot parse is, to the caller, a syntax error (42601, MySQL 1064); when
      // the target cannot parse it either, wire clients get the target's own words for it.
      const targetText = verdict.unreadable === true ? await this.syntaxError(sql) : undefined;
      throw new GatewayError('ERR_STATEMENT_DENIED', `statement denied: ${verdict.reason}`, {
        sqlstate: verdict.unreadable === true ? '42601' : '42501',
        ...(targetText !== undefined ? { targetText } : {}),
      });
    }
    const previous =
      this.#limits.sharedConnections && this.#session.dialect === 'mysql'
        ? readsPreviousStatement(verdict)
        : undefined;
    if (previous !== undefined) {
      throw new GatewayError(
        'ERR_STATEMENT_DENIED',
        `statement denied: ${previous} reports on the connection's previous statement, which on a shared pool is another caller's`,
        { sqlstate: '42501' },
      );
    }
    return verdict;
  }

  async #approve(statementId: string, request: StatementRequest, verdict: GuardVerdict): Promise<void> {
    if (verdict.action !== 'review') return;
    const waitStarted = this.#now();
    const approval = new ApprovalRecording(this.#recording, statementId, this.#session.identity.subject);
    const outcome = await this.#stages.approvals.review(this.#session, request.sql, verdict, {
      waitMs: request.approvalWaitMs ?? 0,
      statementId,
      ...(request.signal ? { signal: request.signal } : {}),
      ...(request.onProgress ? { onProgress: request.onProgress } : {}),
      onRequested: approval.requested,
    });
    this.#stages.metrics?.approvalWaited(outcome.state, (this.#now() - waitStarted) / 1000);
    approval.outcome(outcome);
    switch (outcome.state) {
      case 'approved':
        return;
      case 'pending':
        // An MCP caller asks again with the approval_status tool; a wire client's statement is
        // over (as on the Postgres listener), and it sends it again once an approver approved.
        throw new GatewayError(
          'ERR_APPROVAL_PENDING',
          this.#session.channel === 'mcp-stdio' || this.#session.channel === 'mcp-http'
            ? `statement is waiting for approval: request ${outcome.requestId}; ask again with approval_status`
            : `statement not approved in time: request ${outcome.requestId}; send it again once an approver has approved it`,
          { sqlstate: '42501', detail: outcome.requestId },
        );
      case 'denied':
        throw new GatewayError('ERR_APPROVAL_DENIED', `statement not approved: ${outcome.reason}`, {
          sqlstate: '42501',
        });
    }
  }

  /**
   * A target error as the masking screen lets it reach the caller (and the recording): for a
   * statement that involves masked data its text is withheld, keeping the SQLSTATE and errno.
   */
  async #screenedTargetError(
    err: unknown,
    request: StatementRequest,
    verdict: GuardVerdict,
  ): Promise<unknown> {
    if (err instanceof GatewayError || request.catalogRead || !this.#stages.masking.errorScreen) return err;
    const error = targetError(err, this.#session.target);
    const shape = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
    const texts = TARGET_TEXT_FIELDS.map((f) => shape[f]).filter((v): v is string => typeof v === 'string');
    let screen: ErrorScreen | null;
    try {
      screen = await this.#stages.masking.errorScreen({ session: this.#session, sql: request.sql, verdict });
    } catch {
      screen = UNDECIDED_SCREEN;
    }
    if (screen === null || !screen.withholds(texts, error.sqlstate)) return error;
    const withheld = screen.message(error.sqlstate);
    return new GatewayError('ERR_TARGET', `${this.#session.target}: ${withheld}`, {
      targetText: withheld,
      ...(error.sqlstate !== undefined ? { sqlstate: error.sqlstate } : {}),
      ...(error.errno !== undefined ? { errno: error.errno } : {}),
    });
  }

  async #execute(
    statementId: string,
    request: StatementRequest,
    verdict: GuardVerdict,
    delivery: ResultDelivery,
    started: number,
  ): Promise<StatementOutcome> {
    if (!request.catalogRead) {
      await this.#stages.masking.precheck?.({
        session: this.#session,
        ...precheckSource(request.sql, verdict, this.#session.dialect),
      });
    }
    const limit = request.catalogRead ? Number.MAX_SAFE_INTEGER : this.#limits.maxRows;
    const maxRows = Math.min(request.maxRows ?? limit, limit);
    const stop = new AbortController();
    const onCallerAbort = () => stop.abort(request.signal?.reason);
    request.signal?.addEventListener('abort', onCallerAbort, { once: true });

    let masker: RowMasker | null = null;
    let maskedFields = 0;
    let delivered = 0;
    let truncated = false;
    let truncatedBy: 'maxRows' | 'maxBytes' | undefined;
    const maxBytes = request.catalogRead ? undefined : this.#limits.maxBytes;
    let bytes = 0;
    let batch: unknown[][] = [];
    const recording = this.#recording;
    const diagnostics = this.#session.dialect === 'mysql' && readsDiagnostics(request.sql);
    // The MySQL listener relays the target's column definitions and value forms.
    const wireValues = this.#session.channel === 'mysql';

    const sink = {
      columns: async (columns: ResultColumn[]) => {
        // Another result set (a MySQL CALL's): the rows of the one before are recorded under it.
        if (batch.length > 0) {
          recording.onRows(statementId, batch);
          batch = [];
        }
        // The gateway's own catalog reads return names and types, not row data.
        masker = request.catalogRead
          ? null
          : await this.#stages.masking.plan(columns, {
              session: this.#session,
              ...maskingSource(request.sql, verdict),
              // A shared connection's diagnostics may be another caller's.
              ...(diagnostics
                ? {
                    diagnosticsOf: this.#limits.sharedConnections ? 'unknown' : this.#diagnostics.sources(),
                  }
                : {}),
            });
        const masked = masker?.masked;
        const described = columns.map((c, i) => ({
          name: c.name,
          type: c.type,
          masked: masked?.[i] ?? false,
        }));
        recording.onColumns({ statementId, columns: described });
        delivery.columns(
          wireValues
            ? described.map((d, i) => ({ ...d, mysql: (columns[i] as ResultColumn).mysql }))
            : described,
        );
      },
      row: (values: unknown[]): void | Promise<void> => {
        if (truncated) return;
        if (delivered >= maxRows) {
          // The caller has all it may have: stop the target instead of reading rows nobody sees.
          truncated = true;
          truncatedBy = 'maxRows';
          stop.abort(new GatewayError('ERR_CANCELLED', 'row limit reached'));
          return;
        }
        const out = masker ? masker.mask(values) : values;
        if (maxBytes !== undefined) {
          // A row that would pass the byte limit is not delivered: the result ends before it.
          const size = rowBytes(out);
          if (bytes + size > maxBytes) {
            truncated = true;
            truncatedBy = 'maxBytes';
            stop.abort(new GatewayError('ERR_CANCELLED', 'byte limit reached'));
            return;
          }
          bytes += size;
        }
        if (out !== values) {
          // Only rows the masker rewrote cost this loop; untouched rows come back as the same array.
          for (let i = 0; i < out.length; i++) if (out[i] !== values[i]) maskedFields++;
        }
        delivered++;
        batch.push(out);
        if (batch.length >= RECORD_BATCH_ROWS) {
          recording.onRows(statementId, batch);
          batch = [];
        }
        return delivery.row(out);
      },
    };

    let command: string;
    let ok: TargetOk | undefined;
    try {
      // Row filters: the rewritten text runs; masking traced the caller's (same columns).
      const summary = await this.#engine.query(verdict.rewritten ?? request.sql, sink, {
        ...(request.params ? { params: request.params } : {}),
        signal: stop.signal,
        timeoutMs: this.#limits.statementTimeoutMs,
        ...(this.#limits.sharedConnections && mayChangeSession(verdict) ? { changesSession: true } : {}),
        ...(wireValues ? { wireValues } : {}),
        ...(request.localFile ? { localFile: request.localFile } : {}),
        ...(this.#limits.targetIdentity ? { identity: this.#limits.targetIdentity } : {}),
      });
      command = summary.command;
      ok = summary.ok;
      this.#stages.guard.ran?.(verdict, this.#session);
    } catch (err) {
      if (!truncated) throw await this.#screenedTargetError(err, request, verdict);
      command = `SELECT ${delivered}`;
    } finally {
      request.signal?.removeEventListener('abort', onCallerAbort);
      // Only MySQL has a diagnostics area that a later statement reads back.
      if (this.#session.dialect === 'mysql' && !request.catalogRead) {
        this.#diagnostics.ran(request.sql, verdict, diagnostics);
      }
      if (batch.length > 0) recording.onRows(statementId, batch);
      this.#stages.onExecuted?.(this.#session, verdict);
    }
    const durationMs = this.#now() - started;
    this.#stages.metrics?.finished(this.#session.channel, durationMs / 1000, maskedFields, truncated);
    recording.onResultEnd({ statementId, rowCount: delivered, truncated, command, durationMs });
    return {
      statementId,
      command,
      rowCount: delivered,
      truncated,
      ...(truncatedBy ? { truncatedBy } : {}),
      durationMs,
      verdict,
      ...(ok ? { ok } : {}),
    };
  }
}

/**
 * About the bytes a row's values take as the caller receives them (text and bytes as they are,
 * other values as their text or JSON), for limits.maxBytes.
 */
export function rowBytes(values: readonly unknown[]): number {
  let size = 0;
  for (const v of values) {
    if (v === null || v === undefined) continue;
    if (typeof v === 'string') size += Buffer.byteLength(v);
    else if (Buffer.isBuffer(v)) size += v.length;
    else if (typeof v === 'object' && !(v instanceof Date))
      size += Buffer.byteLength(JSON.stringify(v) ?? '');
    else size += String(v).length;
  }
  return size;
}
