import type { Effect } from '../../config/schema.js';

/**
 * Statement types whose effect does not depend on their details, by libpg-query node name. A
 * statement type in neither this table nor the classifier's own handlers is `unknown`, so a
 * parser upgrade that adds a statement type is denied until it is classified here.
 */
export const FIXED_EFFECTS: Readonly<Record<string, readonly Effect[]>> = {
  // Schema changes.
  CreateStmt: ['ddl'],
  AlterTableStmt: ['ddl'],
  IndexStmt: ['ddl'],
  CreateSchemaStmt: ['ddl'],
  CreateSeqStmt: ['ddl'],
  AlterSeqStmt: ['ddl'],
  RenameStmt: ['ddl'],
  CommentStmt: ['ddl'],
  CreateDomainStmt: ['ddl'],
  AlterDomainStmt: ['ddl'],
  CompositeTypeStmt: ['ddl'],
  CreateEnumStmt: ['ddl'],
  CreateRangeStmt: ['ddl'],
  AlterEnumStmt: ['ddl'],
  AlterTypeStmt: ['ddl'],
  DefineStmt: ['ddl'],
  AlterObjectSchemaStmt: ['ddl'],
  AlterObjectDependsStmt: ['ddl'],
  AlterOperatorStmt: ['ddl'],
  AlterCollationStmt: ['ddl'],
  AlterTSDictionaryStmt: ['ddl'],
  AlterTSConfigurationStmt: ['ddl'],
  CreateCastStmt: ['ddl'],
  CreateOpClassStmt: ['ddl'],
  CreateOpFamilyStmt: ['ddl'],
  AlterOpFamilyStmt: ['ddl'],
  CreateConversionStmt: ['ddl'],
  CreateTransformStmt: ['ddl'],
  CreateStatsStmt: ['ddl'],
  AlterStatsStmt: ['ddl'],
  CreateAmStmt: ['ddl'],
  SecLabelStmt: ['ddl'],
  RuleStmt: ['ddl'],
  AlterTableMoveAllStmt: ['ddl', 'admin'],
  ReplicaIdentityStmt: ['ddl'],
  // RETURN of a SQL-standard function body (only inside CREATE FUNCTION).
  ReturnStmt: ['procedural'],
  CreateForeignTableStmt: ['ddl'],
  CreateFdwStmt: ['ddl', 'admin'],
  AlterFdwStmt: ['ddl', 'admin'],
  CreateForeignServerStmt: ['ddl', 'admin'],
  AlterForeignServerStmt: ['ddl', 'admin'],
  ImportForeignSchemaStmt: ['ddl'],
  CreateExtensionStmt: ['ddl', 'admin'],
  AlterExtensionStmt: ['ddl', 'admin'],
  AlterExtensionContentsStmt: ['ddl', 'admin'],
  CreatePublicationStmt: ['ddl', 'admin'],
  AlterPublicationStmt: ['ddl', 'admin'],
  CreateSubscriptionStmt: ['ddl', 'admin'],
  AlterSubscriptionStmt: ['ddl', 'admin'],
  DropSubscriptionStmt: ['ddl', 'admin'],
  CreateTableSpaceStmt: ['ddl', 'admin', 'file'],
  DropTableSpaceStmt: ['ddl', 'admin'],
  AlterTableSpaceOptionsStmt: ['ddl', 'admin'],
  CreatedbStmt: ['ddl', 'admin'],
  DropdbStmt: ['ddl', 'admin'],
  AlterDatabaseStmt: ['ddl', 'admin'],
  AlterDatabaseSetStmt: ['admin'],
  AlterDatabaseRefreshCollStmt: ['admin'],
  // Code that runs later, on someone else's behalf.
  CreateFunctionStmt: ['ddl', 'procedural'],
  AlterFunctionStmt: ['ddl', 'procedural'],
  CreateTrigStmt: ['ddl', 'procedural'],
  CreateEventTrigStmt: ['ddl', 'procedural'],
  AlterEventTrigStmt: ['ddl', 'procedural'],
  CreatePLangStmt: ['ddl', 'procedural'],
  // Who may do what.
  GrantStmt: ['dcl'],
  GrantRoleStmt: ['dcl'],
  CreateRoleStmt: ['dcl'],
  AlterRoleStmt: ['dcl'],
  AlterRoleSetStmt: ['dcl'],
  DropRoleStmt: ['dcl'],
  ReassignOwnedStmt: ['dcl'],
  DropOwnedStmt: ['ddl', 'dcl'],
  AlterDefaultPrivilegesStmt: ['dcl'],
  CreatePolicyStmt: ['ddl', 'dcl'],
  AlterPolicyStmt: ['ddl', 'dcl'],
  AlterOwnerStmt: ['ddl', 'dcl'],
  CreateUserMappingStmt: ['dcl'],
  AlterUserMappingStmt: ['dcl'],
  DropUserMappingStmt: ['dcl'],
  // Server maintenance and configuration.
  VacuumStmt: ['admin'],
  ClusterStmt: ['admin'],
  ReindexStmt: ['admin'],
  CheckPointStmt: ['admin'],
  AlterSystemStmt: ['admin'],
  // LOAD puts a shared library from the server's disk into the backend.
  LoadStmt: ['admin', 'file'],
  // Others.
  RefreshMatViewStmt: ['write'],
  NotifyStmt: ['write'],
  VariableShowStmt: ['read'],
  FetchStmt: ['read'],
  DeclareCursorStmt: ['read'],
  ClosePortalStmt: ['session'],
  DiscardStmt: ['session'],
  ListenStmt: ['session'],
  UnlistenStmt: ['session'],
  DeallocateStmt: ['session'],
  LockStmt: ['lock'],
  ConstraintsSetStmt: ['transaction'],
};

/**
 * Settings that only change how values are shown to this client or how its own transactions are
 * isolated (drivers send some of them when they connect): effect `routine`. Anything else a SET can change is session state that can widen access or confuse
 * the guard: role, session_authorization, search_path, transaction_read_only,
 * statement_timeout (raises the gateway's limit), and notably standard_conforming_strings and
 * client_encoding, which change how the server reads string literals and so would let a text mean
 * one thing to this parser and another to the server.
 */
export const PRESENTATION_SETTINGS: ReadonlySet<string> = new Set([
  'application_name',
  'datestyle',
  'intervalstyle',
  'extra_float_digits',
  'timezone',
  'client_min_messages',
  'bytea_output',
  'transaction_isolation',
  'default_transaction_isolation',
  'transaction_deferrable',
  'default_transaction_deferrable',
]);

/** The one client_encoding the guard reads texts in; any other would make the server read them differently. */
export const GUARD_ENCODINGS: ReadonlySet<string> = new Set(['utf8', 'utf-8', 'unicode']);

/** What `SET TRANSACTION` / `SET SESSION CHARACTERISTICS AS TRANSACTION` may set and stay routine. */
export const TRANSACTION_MODES: ReadonlySet<string> = new Set([
  'transaction_isolation',
  'transaction_read_only',
  'transaction_deferrable',
]);
