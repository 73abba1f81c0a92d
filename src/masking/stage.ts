import type { Logger } from 'pino';
import type {
  Dialect,
  DiagnosticsSource,
  ErrorScreen,
  GuardVerdict,
  MaskingStage,
  ResultColumn,
  RowMasker,
  SessionContext,
} from '../gateway/types.js';
import {
  ancestorsOf,
  relationOfObject,
  type Catalog,
  type CatalogRelation,
  type CatalogSnapshot,
} from './catalog.js';
import { deepFreeze } from '../guard/deep-freeze.js';
import {
  analyseStatement,
  analyseView,
  type LineageEnvironment,
  type StatementLineage,
} from './lineage/analyse.js';
import { DiagnosticsMasker } from './diagnostics.js';
import { MaskingRefusal } from './errors.js';
import { TargetTextScreen, UNDECIDED_SCREEN } from './error-screen.js';
import type { Query, Statement } from './lineage/ir.js';
import {
  lowerParsed,
  lowerWrites,
  parseStatements,
  parseWrites,
  readyParsers,
  viewQuery,
} from './lineage/parse.js';
import { checksDeferred, cursorStatements } from './cursor-statements.js';
import { changesSearchPath } from './search-path.js';
import { lowerExplained } from './lineage/postgres.js';
import { lowerMysql, lowerMysqlWrites } from './lineage/mysql.js';
import { MysqlLoweringShapes } from './lineage/mysql-shapes.js';
import { parse as parsePostgres } from 'libpg-query';
import { type CursorLineage, resolveOrigins, wireNamesUnknown } from './origins.js';
import { type ColumnAction, decideActions, MaskingPlan } from './plan.js';
import type { CompiledMaskingPolicy } from './policy.js';
import { PostgresRowMasker } from './postgres-row.js';
import { MysqlRowMasker, valueClass } from './wire.js';
import { maskedDdlRefusal, maskedRoutineRefusal, maskedWriteRefusal } from './write-check.js';

export interface LineageMaskingOptions {
  /** The caller's compiled masking policy, or undefined when nothing is masked for it. */
  rulesFor: (session: SessionContext) => CompiledMaskingPolicy | undefined;
  /** The catalog of a target (one per target, shared by its sessions). */
  catalogFor: (target: string) => Catalog;
  logger: Logger;
  /**
   * Functions that store their arguments where a later statement reads them (the guard's
   * side-effect functions): a call with masked arguments is refused like a write of them.
   */
  sinkFunctions?: (dialect: Dialect) => ReadonlySet<string>;
}

/**
 * Effects under which a statement stores nothing: reads and transaction control. (`routine`
 * covers MySQL SETs of session variables, whose value may be a subquery: it is checked.)
 */
const STORES_NOTHING: ReadonlySet<string> = new Set(['read', 'transaction']);

/** Without a parse tree: statements that may run deferred checks (see checksDeferred). */
const DEFERRED_CHECKS = /^\s*(?:COMMIT|END|PREPARE\s+TRANSACTION|SET\s+CONSTRAINTS|CALL|DO)\b/i;

export interface MaskingContext {
  session: SessionContext;
  sql: string;
  verdict: GuardVerdict;
  /** For FETCH and MOVE: the lineage of the cursor's DECLARE, from `declaredCursors()`. */
  cursor?: CursorLineage;
  /**
   * Cursors WITH HOLD declared in the transaction this statement may commit (Postgres computes
   * their whole result then): its errors and notices are screened as their queries' would be.
   */
  heldCursors?: readonly CursorLineage[];
  /** For MySQL's SHOW WARNINGS: the statements it reports on (see the gateway's MaskingContext). */
  diagnosticsOf?: readonly DiagnosticsSource[] | 'unknown';
}

/** A byte-level masker for one result set on the session's wire protocol. */
export type WireRowMasker = PostgresRowMasker | MysqlRowMasker;

/**
 * The masking stage: for each result set, lineage (wire origin and parse, the stricter of both)
 * decides a plan once; rows are then rewritten by the plan alone.
 */
export class LineageMasking implements MaskingStage {
  readonly #options: LineageMaskingOptions;
  readonly #warned = new WeakSet<CompiledMaskingPolicy>();
  readonly #views = new WeakMap<CatalogRelation, Query>();
  /**
   * Lineage statements per guard parse: a parse is shared by every text the guard's caches answer
   * with it (the same text, or a text of the same shape), so it is lowered once. Frozen, since
   * every result planned from it reads them.
   */
  readonly #lowered = new WeakMap<object, readonly Statement[]>();
  /** The values each guard parse's writes store (see lowerWrites), lowered once per parse. */
  readonly #written = new WeakMap<object, readonly Query[]>();
  /**
   * Column actions decided per lowered statements and result columns, with the policy and
   * catalog snapshot they were decided under: a statement of a known shape planned again is a
   * lookup. An entry serves only the same policy object and the same (still loaded) snapshot.
   */
  readonly #actions = new WeakMap<readonly Statement[], Map<string, DecidedActions>>();
  /**
   * MySQL texts the guard decided by their shape come without a parse: their lineage is kept per
   * shape here instead (see mysql-shapes.ts), so that they are not parsed again for masking.
   */
  readonly #mysqlLowered = new MysqlLoweringShapes<Statement>(lowerMysql);
  readonly #mysqlWritten = new MysqlLoweringShapes<Query>(lowerMysqlWrites);

  constructor(options: LineageMaskingOptions) {
    this.#options = options;
  }

  async plan(columns: ResultColumn[], context: MaskingContext): Promise<RowMasker | null> {
    if (context.diagnosticsOf !== undefined)
      return this.#diagnosticsMasker(columns, context.diagnosticsOf, context);
    const plan = await this.maskingPlan(columns, context);
    return plan?.active ? plan : null;
  }

  /** Like `plan`, for the wire listeners: a DataRow / MySQL text-row masker, or null to forward rows as they are. */
  async planForWire(
    columns: ResultColumn[],
    context: MaskingContext,
    formats?: readonly number[],
  ): Promise<WireRowMasker | null> {
    return wireMasker(await this.maskingPlan(columns, context), columns, context, formats);
  }

  /**
   * `planForWire` answered without waiting, when nothing needs loading or analysing: no masking
   * for the caller, detectors only, or a plan decided before for the same statements and columns
   * under the same policy and catalog snapshot. Undefined: call `planForWire`.
   */
  cachedPlanForWire(
    columns: ResultColumn[],
    context: MaskingContext,
    formats?: readonly number[],
  ): WireRowMasker | null | undefined {
    const plan = this.#cachedPlan(columns, context);
    return plan === undefined ? undefined : wireMasker(plan, columns, context, formats);
  }

  /**
   * Decides from the parse alone, before the statement runs, whether the policy refuses it
   * (filters on masked columns, values derived from them, outputs it cannot trace) and throws
   * the MaskingRefusal then, so a refused statement never reaches the target. `plan` decides
   * again with the wire metadata when the result arrives; this check does not replace it.
   */
  async precheck(context: MaskingContext): Promise<void> {
    const policy = this.#options.rulesFor(context.session);
    if (!policy?.hasColumnRules) return;
    if (
      context.session.dialect === 'postgres' &&
      (await changesSearchPath({
        settings: context.verdict.statements.flatMap((s) => s.settings ?? []),
        texts: context.verdict.statements.map((s) => s.text),
      }))
    ) {
      throw new MaskingRefusal(
        `the statement may change the search path, by which masking reads the names of a statement; policy ${policy.policy} masks columns, so it is refused (name tables with their schema instead)`,
      );
    }
    // A notification's payload is a value another session or a trigger chose (pg_notify of a
    // row): masking cannot tell where it comes from, and the relay delivers it as it is.
    if (context.verdict.statements.some((s) => s.command === 'LISTEN')) {
      throw new MaskingRefusal(
        `LISTEN delivers the payloads other sessions and triggers notify, whose origin masking cannot trace; policy ${policy.policy} masks columns, so it is refused`,
      );
    }
    // MySQL's HANDLER ... READ walks a table by an index, in its order, from a value or with a
    // WHERE, outside any query lineage reads: a filter and an order on any column it names.
    if (
      policy.maskedFilters === 'refuse' &&
      context.session.dialect === 'mysql' &&
      context.verdict.statements.some((s) => s.command === 'HANDLER')
    ) {
      throw new MaskingRefusal(
        `HANDLER reads rows by an index's values and order, which masking cannot trace; policy ${policy.policy} masks columns and refuses filters on them, so it is refused (use SELECT)`,
      );
    }
    const stores = context.verdict.statements.some((s) => s.effects.some((e) => !STORES_NOTHING.has(e)));
    if (stores) {
      const snapshot = await this.#snapshot(context.session.target);
      const sinkFunctions = this.#options.sinkFunctions?.(context.session.dialect);
      const env = {
        ...this.#environment(snapshot, context.session),
        ...(sinkFunctions ? { sinkFunctions } : {}),
      };
      const why =
        maskedRoutineRefusal(context.verdict.statements, policy) ??
        maskedDdlRefusal(context.verdict.statements, snapshot, policy) ??
        maskedWriteRefusal(await this.#writes(context), await this.#statements(context), env, policy);
      if (why !== undefined) throw new MaskingRefusal(why);
    }
    if (policy.maskedDerivations === 'mask' && policy.maskedFilters === 'allow') return;
    const snapshot = await this.#snapshot(context.session.target);
    const env = this.#environment(snapshot, context.session);
    // What a Postgres EXPLAIN plans is checked as if it ran (its row counts answer its filters).
    const explained =
      context.session.dialect === 'postgres' &&
      context.verdict.statements.some((s) => s.command.startsWith('EXPLAIN'))
        ? lowerExplained(context.verdict.parsed ?? (await parsePostgres(context.sql).catch(() => undefined)))
        : [];
    for (const statement of [...(await this.#statements(context)), ...explained]) {
      if (statement.kind === 'no-data') continue;
      const lineage =
        statement.kind === 'fetch' && context.cursor?.name === statement.cursor
          ? context.cursor.lineage
          : analyseStatement(statement, env);
      // Outputs that cannot be told are checked as one column of unknown origin.
      const names = lineage.outputs?.length ? lineage.outputs.map((o) => o.name ?? '?column?') : ['?column?'];
      const columns: ResultColumn[] = names.map((name) => ({ name, type: 'unknown' }));
      // A DECLARE is checked as the SELECT it will return.
      const asQuery: Statement =
        statement.kind === 'query' ? { kind: 'query', query: statement.query, cursor: undefined } : statement;
      const { origins, context: planContext } = resolveOrigins(
        columns,
        [asQuery],
        snapshot,
        env,
        policy,
        context.cursor,
      );
      decideActions(columns, origins, policy, planContext);
    }
  }

  /**
   * The screen on the target's error and notice text for a statement (see TargetTextScreen), or
   * null when its text passes as it is: the caller has no masking, or the statement touches no
   * table with a masked column (read, through views, or named as a write's target) and reads
   * nothing lineage cannot see. Decided when an error or notice arrives, so a statement that
   * succeeds pays nothing for it.
   */
  async errorScreen(context: MaskingContext): Promise<TargetTextScreen | null> {
    const policy = this.#policy(context.session);
    if (!policy) return null;
    const detectorsOnly = policy.detectorRules.length > 0 ? new TargetTextScreen(policy, undefined) : null;
    if (!policy.hasColumnRules) return detectorsOnly;
    const snapshot = await this.#snapshot(context.session.target);
    const env = this.#environment(snapshot, context.session);
    const masked = new Set<string>();
    let opaque = false;
    // Opaque only because it names relations the catalog does not have (a typo): those names.
    let unknownOnly = true;
    const unknown = new Set<string>();
    const involve = (rel: CatalogRelation) => {
      for (const column of rel.columns) {
        if (policy.columnRule(rel.schema, rel.name, column))
          masked.add(`${rel.schema}.${rel.name}.${column}`);
      }
    };
    const take = (lineage: StatementLineage) => {
      lineage.tablesRead.forEach(involve);
      if (!lineage.opaque) return;
      opaque = true;
      if (lineage.opaqueBeyondUnknown ?? true) unknownOnly = false;
      lineage.unknownRelations?.forEach((name) => unknown.add(name));
    };
    let statements: readonly Statement[];
    try {
      statements = await this.#statements(context);
    } catch {
      return new TargetTextScreen(policy, 'the statement cannot be read for masking');
    }
    if (context.session.dialect === 'postgres') {
      const deferred =
        checksDeferred(context.verdict.parsed) ??
        context.verdict.statements.some((s) => DEFERRED_CHECKS.test(s.text));
      if (deferred) {
        return new TargetTextScreen(
          policy,
          'deferred constraints and triggers checked here may quote any row the transaction wrote',
        );
      }
    }
    // A cursor's query runs when it is read (FETCH, MOVE), so its errors are the query's. A cursor
    // the session does not know (nor this text declares) may compute anything: nothing passes.
    const untraceable = () => {
      opaque = true;
      unknownOnly = false;
    };
    const cursorOps =
      context.session.dialect === 'postgres' ? cursorStatements(context.verdict.parsed) : undefined;
    const declaredHere = new Map<string, StatementLineage>();
    const readCursor = (name: string) => {
      const lineage =
        declaredHere.get(name) ?? (context.cursor?.name === name ? context.cursor.lineage : undefined);
      if (lineage === undefined) untraceable();
      else take(lineage);
    };
    statements.forEach((statement, i) => {
      const op = cursorOps?.[i];
      if (statement.kind === 'fetch') readCursor(statement.cursor);
      else if (op?.kind === 'fetch') readCursor(op.name);
      else {
        const lineage = analyseStatement(statement, env);
        take(lineage);
        if (statement.kind === 'query' && statement.cursor !== undefined)
          declaredHere.set(statement.cursor, lineage);
      }
    });
    if (cursorOps === undefined && context.verdict.statements.some((s) => s.command === 'MOVE')) {
      // No parse tree to tell which cursor a MOVE reads.
      if (context.cursor) readCursor(context.cursor.name);
      else untraceable();
    }
    for (const held of context.heldCursors ?? []) take(held.lineage);
    // Writes are not lowered to lineage: the tables a statement names (its targets, a source of
    // INSERT ... SELECT or UPDATE ... FROM) count too, since a constraint error quotes their rows.
    for (const summary of context.verdict.statements) {
      for (const object of summary.objects) {
        const rel = relationOfObject(snapshot, object);
        if (rel === undefined) continue;
        if (rel.kind === 'view') take(analyseView(rel, env));
        else [rel, ...ancestorsOf(snapshot, rel)].forEach(involve);
      }
    }
    if (masked.size > 0)
      return new TargetTextScreen(
        policy,
        `the statement involves masked data (${[...masked].sort().join(', ')})`,
      );
    if (opaque)
      return new TargetTextScreen(
        policy,
        'the statement reads values whose origin cannot be traced',
        unknownOnly && unknown.size > 0
          ? { names: unknown, schemas: new Set(snapshot.relations.map((r) => r.schema.toLowerCase())) }
          : undefined,
      );
    return detectorsOnly;
  }

  /**
   * Analyses the first `DECLARE name CURSOR FOR ...` of the text (see declaredCursors). Undefined
   * when the text declares no cursor.
   */
  async cursorLineage(context: Omit<MaskingContext, 'cursor'>): Promise<CursorLineage | undefined> {
    return (await this.declaredCursors(context))[0];
  }

  /**
   * Analyses every `DECLARE name CURSOR FOR ...` of the text, in order; keep each per session by
   * its exact name and pass it as `context.cursor` when planning the results of FETCH from that
   * cursor. Empty when the text declares no cursor.
   */
  async declaredCursors(context: Omit<MaskingContext, 'cursor'>): Promise<CursorLineage[]> {
    const statements = await this.#statements(context);
    const ops = context.session.dialect === 'postgres' ? cursorStatements(context.verdict.parsed) : undefined;
    const declares: { statement: Statement; name: string; hold: boolean }[] = [];
    statements.forEach((statement, i) => {
      if (statement.kind !== 'query' || statement.cursor === undefined) return;
      const op = ops?.[i];
      // Without the parse tree WITH HOLD cannot be told: assumed, the stricter.
      declares.push({ statement, name: statement.cursor, hold: op?.kind === 'declare' ? op.hold : true });
    });
    if (declares.length === 0) return [];
    const policy = this.#options.rulesFor(context.session);
    const snapshot = policy?.hasColumnRules ? await this.#snapshot(context.session.target) : undefined;
    if (!snapshot) {
      return declares.map(({ name, hold }) => ({
        name,
        hold,
        lineage: {
          kind: 'rows',
          cursor: name,
          outputs: undefined,
          unresolved: ['no catalog was loaded for this cursor'],
          opaque: true,
          tablesRead: [],
          filtered: [],
          sinks: [],
        },
      }));
    }
    const env = this.#environment(snapshot, context.session);
    return declares.map(({ statement, name, hold }) => ({
      name,
      hold,
      lineage: analyseStatement(statement, env),
    }));
  }

  /** The plan of one result set, or null when the caller has no masking at all. */
  async maskingPlan(columns: ResultColumn[], context: MaskingContext): Promise<MaskingPlan | null> {
    const cached = this.#cachedPlan(columns, context);
    if (cached !== undefined) return cached;
    // Not cached: the caller has column rules (see #cachedPlan), so lineage decides.
    const { session } = context;
    const policy = this.#policy(session) as CompiledMaskingPolicy;
    const catalog = this.#options.catalogFor(session.target);
    let snapshot = await catalog.snapshot();
    if (wireNamesUnknown(columns, snapshot)) {
      // The wire names a relation the catalog has not seen: DDL happened since it was loaded.
      catalog.invalidate();
      snapshot = await catalog.snapshot();
    }
    const statements = await this.#statements(context);
    const env = this.#environment(snapshot, session);
    const { origins, context: planContext } = resolveOrigins(
      columns,
      statements,
      snapshot,
      env,
      policy,
      context.cursor,
    );
    const actions = decideActions(columns, origins, policy, planContext);
    if (context.cursor === undefined) {
      let byColumns = this.#actions.get(statements);
      if (byColumns === undefined) {
        byColumns = new Map();
        this.#actions.set(statements, byColumns);
      }
      // Bounded: one statement's results rarely come with more than a few column lists.
      if (byColumns.size < 16) byColumns.set(columnsKey(columns), { policy, snapshot, actions });
    }
    const log = this.#options.logger;
    if (log.isLevelEnabled('debug')) {
      log.debug(
        {
          session: session.id,
          masked: actions.flatMap((a, i) =>
            a?.kind === 'mask' ? [`${columns[i]?.name}: ${a.strategy.name}`] : [],
          ),
          unresolved: planContext.unresolved,
        },
        'masking plan',
      );
    }
    return finalPlan(actions, columns, context, policy);
  }

  /**
   * SHOW WARNINGS / ERRORS: each Message is screened as the errors of the statements it reports
   * on (see diagnostics.ts); null when none of them needs a screen. When those statements are not
   * known (a shared connection, too many to keep), every Message is withheld, for every caller.
   */
  async #diagnosticsMasker(
    columns: ResultColumn[],
    sources: readonly DiagnosticsSource[] | 'unknown',
    context: MaskingContext,
  ): Promise<RowMasker | null> {
    // Unknown sources (a shared connection's diagnostics, which another caller's statement may
    // have left: its values, another tenant's rows) are withheld from every caller, masked or not.
    if (sources === 'unknown') return new DiagnosticsMasker(columns, [UNDECIDED_SCREEN]);
    if (!this.#policy(context.session)) return null;
    const screens: ErrorScreen[] = [];
    for (const source of sources) {
      const screen = await this.errorScreen({ session: context.session, ...source }).catch(
        () => UNDECIDED_SCREEN,
      );
      if (screen !== null) screens.push(screen);
    }
    return screens.length === 0 ? null : new DiagnosticsMasker(columns, screens);
  }

  /** The caller's masking policy, or undefined when nothing is masked for it; warns once per policy. */
  #policy(session: SessionContext): CompiledMaskingPolicy | undefined {
    const policy = this.#options.rulesFor(session);
    if (policy && !this.#warned.has(policy)) {
      this.#warned.add(policy);
      for (const w of policy.warnings) this.#options.logger.warn(w);
    }
    return policy;
  }

  /** The plan when it needs no loading or analysis (see cachedPlanForWire); undefined otherwise. */
  #cachedPlan(columns: ResultColumn[], context: MaskingContext): MaskingPlan | null | undefined {
    const policy = this.#policy(context.session);
    if (!policy) return null;
    if (!policy.hasColumnRules) {
      // Detectors only: no lineage needed, every text column is scanned.
      const detect = policy.detectorRules.length > 0;
      return finalPlan(
        columns.map(() => (detect ? { kind: 'detect' } : null)),
        columns,
        context,
        policy,
      );
    }
    const parsed = context.verdict.parsed;
    if (context.cursor !== undefined) return undefined;
    let statements: readonly Statement[] | undefined;
    if (typeof parsed === 'object' && parsed !== null) statements = this.#lowered.get(parsed);
    else if (parsed === undefined && context.session.dialect === 'mysql')
      statements = this.#mysqlLowered.lower(context.sql);
    else return undefined;
    const decided = statements && this.#actions.get(statements)?.get(columnsKey(columns));
    if (decided === undefined || decided.policy !== policy) return undefined;
    const snapshot = this.#options.catalogFor(context.session.target).loaded();
    if (snapshot !== decided.snapshot) return undefined;
    return finalPlan(decided.actions, columns, context, policy);
  }

  #statements(context: Omit<MaskingContext, 'cursor'>): Promise<readonly Statement[]> {
    return this.#lowerOnce(context, this.#lowered, lowerParsed, parseStatements, this.#mysqlLowered);
  }

  #writes(context: Omit<MaskingContext, 'cursor'>): Promise<readonly Query[]> {
    return this.#lowerOnce(context, this.#written, lowerWrites, parseWrites, this.#mysqlWritten);
  }

  /** Lowers the guard's parse once per parse object (or parses the text when there is none). */
  async #lowerOnce<T>(
    context: Omit<MaskingContext, 'cursor'>,
    cache: WeakMap<object, readonly T[]>,
    lower: (dialect: Dialect, parsed: unknown) => T[],
    parse: (dialect: Dialect, sql: string) => Promise<T[]>,
    mysqlShapes: MysqlLoweringShapes<T>,
  ): Promise<readonly T[]> {
    const dialect = context.session.dialect;
    if (dialect === 'postgres') await readyParsers();
    const parsed = context.verdict.parsed;
    if (typeof parsed !== 'object' || parsed === null) {
      if (parsed !== undefined) return lower(dialect, parsed);
      return (
        (dialect === 'mysql' ? mysqlShapes.lower(context.sql) : undefined) ?? parse(dialect, context.sql)
      );
    }
    let lowered = cache.get(parsed);
    if (lowered === undefined) {
      lowered = deepFreeze(lower(dialect, parsed));
      cache.set(parsed, lowered);
    }
    return lowered;
  }

  async #snapshot(target: string): Promise<CatalogSnapshot> {
    return this.#options.catalogFor(target).snapshot();
  }

  #environment(snapshot: CatalogSnapshot, session: SessionContext): LineageEnvironment {
    const views = this.#views;
    return {
      snapshot,
      viewQuery(view) {
        let q = views.get(view);
        if (!q) {
          q = viewQuery(session.dialect, view);
          views.set(view, q);
        }
        return q;
      },
    };
  }
}

interface DecidedActions {
  policy: CompiledMaskingPolicy;
  snapshot: CatalogSnapshot;
  actions: readonly ColumnAction[];
}

/** Everything of a result's columns that lineage and the plan read. */
function columnsKey(columns: readonly ResultColumn[]): string {
  let key = '';
  for (const c of columns) {
    key += `${c.name}\u0000${c.type}\u0000${c.typeOid ?? ''}\u0000${c.tableOid ?? ''}\u0000${c.columnAttr ?? ''}\u0000`;
    key += `${c.orgSchema ?? ''}\u0000${c.orgTable ?? ''}\u0000${c.orgName ?? ''}\u0001`;
  }
  return key;
}

function finalPlan(
  actions: readonly ColumnAction[],
  columns: readonly ResultColumn[],
  context: MaskingContext,
  policy: CompiledMaskingPolicy,
): MaskingPlan {
  // Detectors look at text values only.
  const dialect = context.session.dialect;
  return new MaskingPlan(
    actions.map((a, i) =>
      a?.kind === 'detect' && valueClass(columns[i] as ResultColumn, dialect, 0) === 'other' ? null : a,
    ),
    policy,
  );
}

function wireMasker(
  plan: MaskingPlan | null,
  columns: ResultColumn[],
  context: MaskingContext,
  formats: readonly number[] | undefined,
): WireRowMasker | null {
  if (!plan?.active) return null;
  const masker =
    context.session.dialect === 'postgres'
      ? new PostgresRowMasker(plan, columns, formats)
      : new MysqlRowMasker(plan, columns);
  return masker.masked.some(Boolean) ? masker : null;
}
