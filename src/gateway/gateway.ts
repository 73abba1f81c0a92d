import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config, Target } from '../config/load.js';
import type { PolicyConfig } from '../config/schema.js';
import { readsOnly } from '../guard/policy.js';
import { targetIdentity, type TargetIdentity } from './target-identity.js';
import { NO_LEASE, StatementBudgets, type BudgetLease } from './budgets.js';
import { reachableTargets, selectPolicy } from '../identity/policies.js';
import type { Identity } from '../identity/types.js';
import type { Recorder, SessionRecorder } from '../recording/types.js';
import type { ApprovalStage } from './approval.js';
import { decisionEvent } from './decision-event.js';
import { GatewayError } from './errors.js';
import { GatewayMetrics } from './metrics.js';
import {
  StatementPipeline,
  type ResultDelivery,
  type StatementOutcome,
  type StatementRequest,
} from './pipeline.js';
import type {
  Channel,
  GuardStage,
  GuardVerdict,
  MaskingStage,
  EngineOptions,
  SessionContext,
  StatementShape,
  TargetEngine,
} from './types.js';

export interface GatewayParts {
  config: Config;
  logger: Logger;
  guard: GuardStage;
  masking: MaskingStage;
  approvals: ApprovalStage;
  recorder: Recorder;
  /** Makes the engine of a target; called once per target, the engine is shared by its sessions. */
  createEngine: (target: Target, logger: Logger, options?: EngineOptions) => TargetEngine;
  /** The state of an approval request, for its requester or an approver; absent without approvals. */
  approvalStatus?: (requestId: string, identity: Identity) => Promise<Record<string, unknown>>;
  /** Called when a session ends (e.g. to drop its prepared statements from the guard). */
  onSessionEnd?: (session: SessionContext) => void;
  /** Called after a statement ran (e.g. to reload a catalog after DDL). */
  onExecuted?: (session: SessionContext, verdict: GuardVerdict) => void;
  clock?: () => number;
}

/** What a wire listener needs of a session: who, where, the policy, and the stages to call. */
export interface WireSession {
  readonly context: SessionContext;
  readonly target: Target;
  readonly policy: PolicyConfig;
  readonly recording: SessionRecorder;
  /** The caller's identity at the target (target.identity), set on the session's connection. */
  readonly identity: TargetIdentity | undefined;
  readonly guard: GuardStage;
  readonly approvals: ApprovalStage;
  readonly masking: MaskingStage;
  /** Counters and histograms to update as statements pass (decisions, durations, masked fields). */
  readonly metrics: GatewayMetrics;
  /** Whether the recording store can take a new statement; refuse the statement when not. */
  recorderReady(): { ok: true } | { ok: false; reason: string };
  /** Tell the gateway a statement ran (catalog reload after DDL). */
  executed(verdict: GuardVerdict): void;
  /**
   * Admits a statement to the caller's budgets as it is sent to the target (throws ERR_BUDGET when
   * spent); release the lease when it ends. Closing the session releases what is still held.
   */
  budget(statements?: number): BudgetLease;
  /** Ends the session and its recording; safe to call twice. */
  close(reason: string): void;
}

export interface OpenSessionRequest {
  identity: Identity;
  target: string;
  channel: Channel;
  remote?: string;
  /**
   * Give the session a target connection of its own instead of the shared pool, for channels
   * whose callers keep state on the connection (USE, SET, transactions, prepared statements).
   */
  dedicatedConnection?: boolean;
}

/**
 * Joins the parts: it opens sessions for identities that a policy lets reach a target, and owns
 * the engines (one pool per target) that the sessions share.
 */
export class Gateway {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly #parts: GatewayParts;
  readonly #engines = new Map<string, TargetEngine>();
  readonly #budgets: StatementBudgets;
  readonly #sessions = new Set<GatewaySession>();
  readonly #wireSessions = new Set<WireSession>();
  /** Recording of each open session, for steps reported outside the statement path (approvals). */
  readonly #recordings = new Map<string, SessionRecorder>();

  constructor(parts: GatewayParts) {
    this.#parts = parts;
    this.#budgets = new StatementBudgets(parts.clock);
    this.config = parts.config;
    this.logger = parts.logger;
    this.metrics = new GatewayMetrics({
      openSessions: (channel) => this.openSessionsOn(channel),
      recorder: () => {
        const stats = parts.recorder.stats?.();
        return (
          stats && {
            ready: parts.recorder.ready().ok,
            queued: stats.queued,
            written: stats.written,
            dropped: stats.dropped,
          }
        );
      },
    });
  }

  /** Targets this identity may reach, in config order. */
  reachableTargets(identity: Identity): Target[] {
    const names = new Set(reachableTargets(this.config, identity));
    return [...this.config.targets.values()].filter((t) => names.has(t.name));
  }

  policyFor(identity: Identity, target: string): PolicyConfig | undefined {
    return selectPolicy(this.config, identity, target);
  }

  /**
   * Admits an identity to a target: the target must exist and a policy must let the identity
   * reach it. Starts the session's recording.
   */
  #admit(request: OpenSessionRequest): {
    target: Target;
    policy: PolicyConfig;
    context: SessionContext;
    recording: SessionRecorder;
    identity: TargetIdentity | undefined;
  } {
    const target = this.config.targets.get(request.target);
    // An unknown target and a target the identity may not reach give the same answer, so that
    // callers cannot map out target names they have no access to.
    const policy = target ? this.policyFor(request.identity, target.name) : undefined;
    if (!target || !policy) {
      // What this identity may use instead, of the engine its channel speaks: names it can already
      // see with list_databases, so nothing is revealed.
      const engine =
        request.channel === 'postgres' || request.channel === 'mysql' ? request.channel : undefined;
      const usable = this.reachableTargets(request.identity)
        .filter((t) => engine === undefined || t.engine === engine)
        .map((t) => t.name);
      throw new GatewayError(
        'ERR_UNKNOWN_TARGET',
        `unknown database "${request.target}" (or no policy lets ${request.identity.subject} reach it); ` +
          (usable.length > 0
            ? `databases you may use: ${usable.join(', ')}`
            : 'no database is open to you here'),
      );
    }
    const context: SessionContext = {
      id: randomUUID(),
      identity: request.identity,
      target: target.name,
      dialect: target.engine,
      channel: request.channel,
      ...(request.remote ? { remote: request.remote } : {}),
    };
    // Before anything is recorded: a caller whose role cannot be used gets no session.
    const identity = targetIdentity(target, context);
    const recording = this.#parts.recorder.startSession({ session: context });
    this.#recordings.set(context.id, recording);
    this.logger.info(
      {
        event: 'session.start',
        session: context.id,
        subject: context.identity.subject,
        target: target.name,
        channel: request.channel,
      },
      'session started',
    );
    return { target, policy, context, recording, identity };
  }

  /** A session whose statements run through the pipeline on the target's shared pool (MCP, CLI). */
  openSession(request: OpenSessionRequest): GatewaySession {
    const { target, policy, context, recording, identity } = this.#admit(request);
    // A policy that only reads runs on connections whose transactions are read-only at the target.
    const engineOptions: EngineOptions = readsOnly(policy) ? { readOnly: true } : {};
    const dedicated = request.dedicatedConnection
      ? this.#parts.createEngine(
          { ...target, pool: { max: 1 } },
          this.logger.child({ target: target.name }),
          engineOptions,
        )
      : undefined;
    const session = new GatewaySession(
      context,
      new StatementPipeline(
        {
          guard: this.#parts.guard,
          approvals: this.#parts.approvals,
          masking: this.#parts.masking,
          recorderReady: () => this.#parts.recorder.ready(),
          logger: this.logger,
          metrics: this.metrics,
          ...(this.#parts.onExecuted ? { onExecuted: this.#parts.onExecuted } : {}),
          budget: (statements) => this.#budgets.admit(policy, context.identity.subject, statements),
          ...(this.#parts.clock ? { clock: this.#parts.clock } : {}),
        },
        context,
        dedicated ?? this.#engine(target, engineOptions),
        recording,
        {
          maxRows: policy.limits.maxRows,
          ...(policy.limits.maxBytes !== undefined ? { maxBytes: policy.limits.maxBytes } : {}),
          statementTimeoutMs: policy.limits.statementTimeout,
          sharedConnections: dedicated === undefined,
          ...(identity ? { targetIdentity: identity } : {}),
        },
      ),
      recording,
      (s) => {
        void dedicated
          ?.close()
          .catch((err: unknown) => this.logger.warn({ err }, 'closing a session connection failed'));
        this.#sessions.delete(s);
        this.#recordings.delete(s.context.id);
        this.#parts.onSessionEnd?.(s.context);
      },
    );
    this.#sessions.add(session);
    return session;
  }

  /**
   * A session for a wire listener (psql, mysql clients). The listener relays the protocol itself
   * on a connection of its own, and calls the stages (guard, approvals, masking, recording) on
   * every path a statement can take.
   */
  openWireSession(request: OpenSessionRequest): WireSession {
    const { target, policy, context, recording, identity } = this.#admit(request);
    const parts = this.#parts;
    const leases = new Set<BudgetLease>();
    const session: WireSession = {
      context,
      target,
      policy,
      recording,
      identity,
      guard: parts.guard,
      approvals: parts.approvals,
      masking: parts.masking,
      metrics: this.metrics,
      recorderReady: () => parts.recorder.ready(),
      executed: (verdict) => parts.onExecuted?.(context, verdict),
      budget: (statements = 1) => {
        const lease = this.#budgets.admit(policy, context.identity.subject, statements);
        // Without budgets (the usual case) a statement costs no allocation here.
        if (lease === NO_LEASE) return lease;
        leases.add(lease);
        return {
          release: () => {
            leases.delete(lease);
            lease.release();
          },
        };
      },
      close: (reason) => {
        for (const lease of leases) lease.release();
        leases.clear();
        if (!this.#wireSessions.delete(session)) return;
        this.#recordings.delete(context.id);
        recording.onSessionEnd({ reason });
        parts.onSessionEnd?.(context);
      },
    };
    this.#wireSessions.add(session);
    return session;
  }

  /** The state of an approval request as its requester (or an approver) may see it. */
  async approvalStatus(requestId: string, identity: Identity): Promise<Record<string, unknown>> {
    if (!this.#parts.approvalStatus) {
      throw new GatewayError('ERR_APPROVALS_DISABLED', 'approvals are not enabled on this gateway');
    }
    return this.#parts.approvalStatus(requestId, identity);
  }

  /** The recording of an open session, or undefined once it has ended. */
  recordingOf(sessionId: string): SessionRecorder | undefined {
    return this.#recordings.get(sessionId);
  }

  get openSessions(): number {
    return this.#sessions.size + this.#wireSessions.size;
  }

  /**
   * Sessions open now on one channel: MCP and CLI sessions, and the wire listeners' (a Postgres
   * connection's session opens after its login and closes with the connection; a MySQL one holds
   * a session with a dedicated target connection). Counted when asked (a scrape), so nothing on a
   * session's path keeps a count that could drift.
   */
  openSessionsOn(channel: Channel): number {
    let open = 0;
    for (const session of this.#sessions) if (session.context.channel === channel) open++;
    for (const session of this.#wireSessions) if (session.context.channel === channel) open++;
    return open;
  }

  /** The engine of a target, for gateway-internal reads (catalog loading). */
  engineFor(targetName: string): TargetEngine {
    const target = this.config.targets.get(targetName);
    if (!target) throw new GatewayError('ERR_UNKNOWN_TARGET', `unknown database "${targetName}"`);
    return this.#engine(target);
  }

  /** The shared pool of a target: one read-write, one read-only (for read-only policies). */
  #engine(target: Target, options: EngineOptions = {}): TargetEngine {
    const key = options.readOnly === true ? `${target.name}\0read-only` : target.name;
    let engine = this.#engines.get(key);
    if (!engine) {
      engine = this.#parts.createEngine(target, this.logger.child({ target: target.name }), options);
      this.#engines.set(key, engine);
    }
    return engine;
  }

  async close(): Promise<void> {
    for (const session of [...this.#sessions]) session.close('gateway shutting down');
    for (const session of [...this.#wireSessions]) session.close('gateway shutting down');
    await Promise.allSettled([...this.#engines.values()].map((e) => e.close()));
    this.#engines.clear();
    await this.#parts.recorder.close();
  }
}

/** One caller on one target through one channel. */
export class GatewaySession {
  readonly context: SessionContext;
  readonly #pipeline: StatementPipeline;
  readonly #recording: SessionRecorder;
  readonly #onClose: (s: GatewaySession) => void;
  #closed = false;

  constructor(
    context: SessionContext,
    pipeline: StatementPipeline,
    recording: SessionRecorder,
    onClose: (s: GatewaySession) => void,
  ) {
    this.context = context;
    this.#pipeline = pipeline;
    this.#recording = recording;
    this.#onClose = onClose;
  }

  execute(request: StatementRequest, delivery: ResultDelivery): Promise<StatementOutcome> {
    if (this.#closed) return Promise.reject(new GatewayError('ERR_CANCELLED', 'session is closed'));
    return this.#pipeline.run(request, delivery);
  }

  /** See TargetEngine.syntaxError. */
  syntaxError(sql: string): Promise<string | undefined> {
    if (this.#closed) return Promise.resolve(undefined);
    return this.#pipeline.syntaxError(sql);
  }

  /** The client closed its prepared statement of `sql` (MySQL COM_STMT_CLOSE). */
  forgetPrepared(sql: string): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#pipeline.forgetPrepared(sql);
  }

  /**
   * The parameters and result columns of a statement the guard let be prepared, as the target
   * describes them (nothing runs); undefined when the engine cannot tell.
   */
  describe(sql: string, verdict: GuardVerdict): Promise<StatementShape | undefined> {
    if (this.#closed) return Promise.reject(new GatewayError('ERR_CANCELLED', 'session is closed'));
    return this.#pipeline.describe(sql, verdict);
  }

  /**
   * A statement the listener answered itself after the guard decided it (MySQL `SET NAMES`, which
   * changes how the listener converts text, not the target connection): recorded as any other,
   * its decision, and how it ended.
   */
  answered(
    sql: string,
    verdict: GuardVerdict,
    outcome: { command: string } | { code: string; message: string },
  ): void {
    if (this.#closed) return;
    const statementId = randomUUID();
    this.#recording.onStatement({ statementId, sql });
    this.#recording.onDecision(decisionEvent(statementId, verdict));
    if ('command' in outcome) {
      this.#recording.onResultEnd({
        statementId,
        rowCount: 0,
        truncated: false,
        command: outcome.command,
        durationMs: 0,
      });
    } else {
      this.#recording.onError({ statementId, code: outcome.code, message: outcome.message });
    }
  }

  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#recording.onSessionEnd({ reason });
    this.#onClose(this);
  }
}
