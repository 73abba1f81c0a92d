import type { Logger } from 'pino';
import type { Config, Target } from '../config/load.js';
import type { PolicyConfig } from '../config/schema.js';
import { ApprovalError, createApprovals } from '../approvals/index.js';
import { GatewayError } from '../gateway/errors.js';
import { ReviewsRefused, type ApprovalStage } from '../gateway/approval.js';
import { createMysqlEngine } from '../gateway/engines/mysql.js';
import { createPostgresEngine } from '../gateway/engines/postgres.js';
import type { AssembledGateway } from '../gateway/assembled.js';
import { Gateway } from '../gateway/gateway.js';
import { unpinnedByTypes } from '../gateway/mysql-pinned-columns.js';
import { readRows, statementCost, statementRows, tableRows } from '../gateway/row-estimates.js';
import type { EngineOptions, SessionContext, TargetEngine } from '../gateway/types.js';
import {
  compileStatementPolicy,
  createStatementAnalyzer,
  PolicyGuard,
  sideEffectTable,
  sinkFunctionsOf,
  type StatementAnalyzer,
  type StatementPolicy,
} from '../guard/index.js';
import { createAuthenticator, selectPolicy, type Identity } from '../identity/index.js';
import {
  compileMaskingPolicy,
  createMysqlCatalog,
  createPostgresCatalog,
  LineageMasking,
  type Catalog,
  type CompiledMaskingPolicy,
} from '../masking/index.js';
import { PostgresParser } from '../guard/postgres/parser.js';
import { compileRowFilters, RowFilters, type RowFilterRule } from '../guard/row-filters/index.js';
import { createRecorder, type RecorderTuning } from '../recording/create.js';

/** A policy compiled once at load: its statement rules and its masking. */
interface CompiledPolicy {
  statements: StatementPolicy;
  masking: CompiledMaskingPolicy | undefined;
  rowFilters: readonly RowFilterRule[];
}

export type { AssembledGateway };

export interface AssembleOptions {
  recording?: RecorderTuning;
  clock?: () => number;
  /** Replaces the engine factory (the demo serves an embedded database). */
  createEngine?: (target: Target, logger: Logger, options?: EngineOptions) => TargetEngine;
}

/** Builds every part of a gateway from a loaded config. */
export async function assembleGateway(
  config: Config,
  logger: Logger,
  options: AssembleOptions = {},
): Promise<AssembledGateway> {
  const compiled = new Map<PolicyConfig, CompiledPolicy>();
  const parser = new PostgresParser();
  if (config.policies.some((p) => p.rowFilters.length > 0)) await parser.ready();
  for (const policy of config.policies) {
    compiled.set(policy, {
      statements: compileStatementPolicy(policy),
      masking: policy.masking.length > 0 ? compileMaskingPolicy(policy, config.masking.hashKey) : undefined,
      rowFilters: compileRowFilters(policy.name, policy.rowFilters, parser),
    });
  }
  const policyOf = (session: SessionContext): CompiledPolicy | undefined => {
    const policy = selectPolicy(config, session.identity, session.target);
    return policy ? compiled.get(policy) : undefined;
  };

  const authenticator = await createAuthenticator(config, {
    logger: logger.child({ component: 'identity' }),
  });
  const analyzer = createStatementAnalyzer(config.guard);
  // The gateway owns the engines and is built last; the guard's estimates reach it through `ref`.
  const guard = new PolicyGuard({
    analyzer,
    policyFor: (s) => policyOf(s)?.statements,
    estimateWrite: async (session, sql, table, original) => {
      if (ref.gateway === undefined) return undefined;
      const engine = ref.gateway.engineFor(session.target);
      if (session.dialect === 'mysql') {
        // MariaDB's EXPLAIN of a scan is the table's size whatever the WHERE: only the pins' types.
        // Fails closed: the pins' bound is unproven when the column types cannot be read.
        const why = await unpinnedByTypes(engine, original, table).catch(
          (err: Error) => `the column types of ${table} could not be read (${err.message})`,
        );
        return why === undefined ? undefined : { unbounded: why };
      }
      const [rows, total] = await Promise.all([
        statementRows(engine, 'postgres', sql),
        tableRows(engine, table),
      ]);
      return rows === undefined || total === undefined ? undefined : { rows, tableRows: total };
    },
    estimateCost: async (session, sql) => {
      if (ref.gateway === undefined) return undefined;
      return statementCost(ref.gateway.engineFor(session.target), session.dialect, sql);
    },
    rowFilters: async (sql, session) => rowFilters.apply(sql, session, policyOf(session)?.rowFilters ?? []),
  });

  // Catalog reads go straight to the target's engine: they are the gateway's own, fixed queries.
  // The gateway owns the engines and is built last; catalog reads reach it through this reference.
  const ref: { gateway?: Gateway } = {};
  const catalogs = new Map<string, Catalog>();
  const catalogFor = (target: string): Catalog => {
    let catalog = catalogs.get(target);
    if (!catalog) {
      const run = (sql: string, params?: unknown[]) => readRows(ref.gateway!.engineFor(target), sql, params);
      catalog =
        config.targets.get(target)?.engine === 'mysql' ? createMysqlCatalog(run) : createPostgresCatalog(run);
      catalogs.set(target, catalog);
    }
    return catalog;
  };
  const rowFilters = new RowFilters({ parser, catalogFor });
  const sinks = {
    postgres: sinkFunctionsOf(sideEffectTable('postgres', config.guard.sideEffectFunctions.postgres)),
    mysql: sinkFunctionsOf(sideEffectTable('mysql', config.guard.sideEffectFunctions.mysql)),
  };
  const masking = new LineageMasking({
    rulesFor: (s) => policyOf(s)?.masking,
    catalogFor,
    sinkFunctions: (dialect) => sinks[dialect],
    logger: logger.child({ component: 'masking' }),
  });

  const recorder = createRecorder(config, logger, {
    ...options.recording,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const approvals =
    config.approvals.approvers.groups.length > 0
      ? createApprovals(config, {
          logger: logger.child({ component: 'approvals' }),
          ...(options.clock ? { clock: options.clock } : {}),
          estimateRows: (session, sql) => estimateRows(ref.gateway!, analyzer, session, sql),
          onEvent: (session, event) => {
            // The pipeline records the steps it acts on (requested, approved, executed, denied);
            // the steps only the approval workflow sees are recorded from here.
            if (event.state !== 'notified' && event.state !== 'expired') return;
            ref.gateway?.recordingOf(session.id)?.onApproval({
              statementId: event.statementId ?? '',
              requestId: event.requestId,
              state: event.state,
              ...(event.by ? { by: event.by } : {}),
              ...(event.reason ? { reason: event.reason } : {}),
            });
          },
        })
      : undefined;
  const approvalStage: ApprovalStage = approvals?.stage ?? new ReviewsRefused();

  const gateway = new Gateway({
    config,
    logger,
    guard,
    masking,
    approvals: approvalStage,
    recorder,
    createEngine:
      options.createEngine ??
      ((target, log, engineOptions = {}) =>
        target.engine === 'mysql'
          ? createMysqlEngine(target, log, { baseDir: config.baseDir, ...engineOptions })
          : createPostgresEngine(target, log, { baseDir: config.baseDir, ...engineOptions })),
    onSessionEnd: (session) => guard.endSession(session.id),
    ...(approvals
      ? {
          approvalStatus: async (id: string, identity: Identity) => {
            try {
              return { ...(await approvals.stage.approvalStatus(id, identity)) };
            } catch (err) {
              // Not found and not yours answer alike: a request id tells nothing to a stranger.
              if (
                err instanceof ApprovalError &&
                (err.code === 'ERR_APPROVAL_NOT_FOUND' || err.code === 'ERR_APPROVAL_FORBIDDEN')
              ) {
                throw new GatewayError('ERR_APPROVAL_UNKNOWN', `approval request ${id} was not found`);
              }
              throw err;
            }
          },
        }
      : {}),
    onExecuted: (session, verdict) => {
      // Masking resolves origins through the catalog: after DDL it must be read again.
      if (verdict.statements.some((s) => s.effects.includes('ddl')))
        catalogs.get(session.target)?.invalidate();
    },
    ...(options.clock ? { clock: options.clock } : {}),
  });
  ref.gateway = gateway;
  return {
    gateway,
    authenticator,
    recorder,
    masking,
    guard,
    approvals,
    async close() {
      await gateway.close();
      await approvals?.close();
    },
  };
}

/**
 * The target's own row estimate for a statement under review. Only for a text of one statement:
 * EXPLAIN in front of a multi-statement text would run the statements after the first.
 */
async function estimateRows(
  gateway: Gateway,
  analyzer: StatementAnalyzer,
  session: SessionContext,
  sql: string,
): Promise<number | undefined> {
  const analysis = await analyzer.analyze(sql, session.dialect);
  if (!analysis.ok || analysis.statements.length !== 1) return undefined;
  return statementRows(gateway.engineFor(session.target), session.dialect, sql);
}
