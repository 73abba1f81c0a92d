import type { Readable } from 'node:stream';
import type { TargetIdentity } from './target-identity.js';
import type { Effect } from '../config/schema.js';
import type { Identity } from '../identity/types.js';
import type { ColumnDefinition } from '../../protocols/mysql/codec/resultset.js';

export type Dialect = 'postgres' | 'mysql';
export type Channel = 'mcp-stdio' | 'mcp-http' | 'postgres' | 'mysql' | 'cli';
export type DecisionAction = 'allow' | 'deny' | 'review';

/** A result column, engine-neutral, with where it came from when the wire says so. */
export interface ResultColumn {
  name: string;
  /** Type name as the engine spells it: int4, text, timestamptz, varchar, ... */
  type: string;
  /** Postgres type OID. */
  typeOid?: number;
  /** Postgres: OID of the table of a plain column (0 when computed) and its attribute number. */
  tableOid?: number;
  columnAttr?: number;
  /** MySQL: schema, original table and original column name (empty when computed). */
  orgSchema?: string;
  orgTable?: string;
  orgName?: string;
  /** MySQL: the column definition as the target sent it, for the MySQL listener to relay. */
  mysql?: ColumnDefinition;
}

/** One statement of a SQL text as the guard understood it. */
export interface StatementSummary {
  /** The statement's own text (for a multi-statement string, just this statement). */
  text: string;
  /** Command tag such as SELECT, UPDATE, CREATE TABLE. */
  command: string;
  effects: Effect[];
  /** schema.table and function names the statement touches. */
  objects: string[];
  /** UPDATE / DELETE without a limiting WHERE. */
  unbounded: boolean;
  /** The settings a SET or RESET changes (lower case), for a policy's `session.allow`. */
  settings?: string[];
  /**
   * MySQL PREPARE ... FROM '...': the text it prepares. EXECUTE: the text of the statement it runs,
   * when one PREPARE the guard read made it (masking traces the result's columns through it).
   */
  preparedText?: string;
}

export interface GuardVerdict {
  action: DecisionAction;
  /** Why, in words a caller can act on. */
  reason: string;
  /** The policy and rule that decided, e.g. `agents: deny ddl`. */
  rule: string;
  statements: StatementSummary[];
  /** The dialect's parse, for column lineage (masking). Opaque outside guard/ and masking/. */
  parsed?: unknown;
  /** Denied because the guard could not parse the text (a syntax error to the caller). */
  unreadable?: boolean;
  /**
   * Under a policy in shadow mode: what it would have decided (deny or review), which the
   * verdict's own `allow` overrides. Recorded with the decision.
   */
  shadow?: ShadowDecision;
  /**
   * The text that runs in place of the caller's: the policy's row filters rewrote it (Postgres).
   * Every channel sends this to the target; it is recorded with the decision.
   */
  rewritten?: string;
}

/** A decision a shadow-mode policy made but did not enforce. */
export interface ShadowDecision {
  action: 'deny' | 'review';
  reason: string;
  rule: string;
}

/** What the session knows about the caller and where its statements go. */
export interface SessionContext {
  id: string;
  identity: Identity;
  target: string;
  dialect: Dialect;
  channel: Channel;
  /** Remote address of the caller, when there is one. */
  remote?: string;
}

/** Receives a result as it streams; a returned promise is backpressure (the next row waits). */
export interface ResultSink {
  columns(columns: ResultColumn[]): void | Promise<void>;
  row(values: unknown[]): void | Promise<void>;
}

export interface QueryOptions {
  params?: unknown[];
  /**
   * The caller's identity at the target: the connection is set to it before the statement and
   * cleared after (a connection that cannot be cleared is closed, never handed on). Postgres.
   */
  identity?: TargetIdentity;
  signal?: AbortSignal;
  timeoutMs?: number;
  /**
   * The statement may leave session state (settings, variables, a transaction, locks, cursors):
   * on a shared pool its connection is closed afterwards, never handed to another caller.
   */
  changesSession?: boolean;
  /**
   * The values go to a client of the target's own wire protocol (the MySQL listener): keep the
   * target's text forms rather than JSON-friendly ones (see protocols/mysql/values.ts).
   */
  wireValues?: boolean;
  /** The file a MySQL LOAD DATA LOCAL INFILE sends, when the target asks for it by name. */
  localFile?: (name: string) => Readable;
}

export interface QuerySummary {
  /** Command tag: SELECT 3, UPDATE 1, ... */
  command: string;
  rowCount: number;
  /** What a MySQL target's OK packet said, for the MySQL listener to relay. */
  ok?: TargetOk;
}

/** A MySQL OK packet's fields beyond the affected row count. */
export interface TargetOk {
  /**
   * Only for an OK that follows result sets (a CALL's): its affected rows. Otherwise they are the
   * command tag's count.
   */
  affectedRows?: number;
  insertId: number;
  warnings: number;
  info: string;
  serverStatus: number;
}

/** A target database as the gateway uses it: one engine per protocol behind this interface. */
export interface TargetEngine {
  readonly dialect: Dialect;
  query(sql: string, sink: ResultSink, options?: QueryOptions): Promise<QuerySummary>;
  /**
   * Prepares a statement on the target without running it and tells its parameters and result
   * columns (MySQL's COM_STMT_PREPARE answer). Engines that cannot leave it out.
   */
  describe?(sql: string): Promise<StatementShape>;
  /** The client closed its prepared statement of `sql`: the target's may go too (MySQL). */
  forgetPrepared?(sql: string): Promise<void>;
  /**
   * The target's own syntax error for a text the guard could not read, in the target's words
   * (MySQL: the text is prepared, which runs nothing, and closed again); undefined when the
   * target reads it, or cannot be asked. Only a syntax error is told: it says nothing about the
   * target's tables or data.
   */
  syntaxError?(sql: string): Promise<string | undefined>;
  close(): Promise<void>;
}

/** How an engine's connections are opened. */
export interface EngineOptions {
  /**
   * Every transaction on its connections is read-only at the target (Postgres
   * default_transaction_read_only, MySQL SET SESSION TRANSACTION READ ONLY), for read-only policies.
   */
  readOnly?: boolean;
}

/** A prepared statement's parameters and result columns, as the target describes them. */
export interface StatementShape {
  params: ResultColumn[];
  columns: ResultColumn[];
}

/** The guard stage of the pipeline. */
export interface GuardStage {
  check(sql: string, session: SessionContext): Promise<GuardVerdict>;
  /**
   * The target ran all of the text `verdict` was decided for, without error: session state the
   * text changes (prepared statements) is taken up as it now is.
   */
  ran?(verdict: GuardVerdict, session: SessionContext): void;
}

/** Rewrites decoded row values for one result set; built once per result set. */
export interface RowMasker {
  /** For each column, whether its values are rewritten. */
  readonly masked: readonly boolean[];
  /** Returns the row to deliver (the same array when nothing in it changed). */
  mask(values: unknown[]): unknown[];
}

export interface MaskingContext {
  session: SessionContext;
  sql: string;
  verdict: GuardVerdict;
  /**
   * For a MySQL `SHOW WARNINGS` / `SHOW ERRORS`: the statements whose diagnostics it returns, or
   * 'unknown' when they cannot be told (too many, or a connection shared with other callers).
   */
  diagnosticsOf?: readonly DiagnosticsSource[] | 'unknown';
}

/** A statement that ran, as a later read of the diagnostics area reports on it. */
export interface DiagnosticsSource {
  sql: string;
  verdict: GuardVerdict;
}

/**
 * What of a target's error or notice text may reach the caller, for one statement: text that may
 * carry a masked value is withheld whole (the SQLSTATE stays).
 */
export interface ErrorScreen {
  /** Whether text with these fields (message, detail, hint, context, ...) and SQLSTATE must be withheld. */
  withholds(texts: readonly (string | undefined)[], code?: string): boolean;
  /** The message sent in place of a withheld one. */
  message(code: string | undefined, kind?: 'error' | 'notice'): string;
}

/** The masking stage: a plan per result set, or a refusal. */
export interface MaskingStage {
  /**
   * Refuses, from the parse alone and before the statement runs, what the policy refuses
   * (derivations of masked columns, filters on them), so a refused statement never reaches the
   * target. Throws a GatewayError (ERR_MASKING_REFUSED).
   */
  precheck?(context: MaskingContext): Promise<void>;
  plan(columns: ResultColumn[], context: MaskingContext): Promise<RowMasker | null>;
  /** The screen on the target's error text for a statement; null: its errors pass as they are. */
  errorScreen?(context: MaskingContext): Promise<ErrorScreen | null>;
}
