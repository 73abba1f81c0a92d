/** The command tag of a parsed statement: SELECT, UPDATE, CREATE TABLE, GRANT, ... */
type Node = Record<string, unknown>;

const FIXED: Readonly<Record<string, string>> = {
  SelectStmt: 'SELECT',
  InsertStmt: 'INSERT',
  UpdateStmt: 'UPDATE',
  DeleteStmt: 'DELETE',
  MergeStmt: 'MERGE',
  CreateStmt: 'CREATE TABLE',
  IndexStmt: 'CREATE INDEX',
  ViewStmt: 'CREATE VIEW',
  RuleStmt: 'CREATE RULE',
  CreatedbStmt: 'CREATE DATABASE',
  DropdbStmt: 'DROP DATABASE',
  CreateSeqStmt: 'CREATE SEQUENCE',
  AlterSeqStmt: 'ALTER SEQUENCE',
  VariableSetStmt: 'SET',
  VariableShowStmt: 'SHOW',
  CopyStmt: 'COPY',
  ExplainStmt: 'EXPLAIN',
  DoStmt: 'DO',
  CallStmt: 'CALL',
  LockStmt: 'LOCK TABLE',
  PrepareStmt: 'PREPARE',
  ExecuteStmt: 'EXECUTE',
  DeallocateStmt: 'DEALLOCATE',
  DeclareCursorStmt: 'DECLARE CURSOR',
  ClosePortalStmt: 'CLOSE CURSOR',
  CheckPointStmt: 'CHECKPOINT',
  ConstraintsSetStmt: 'SET CONSTRAINTS',
  CreateTrigStmt: 'CREATE TRIGGER',
  CreatePLangStmt: 'CREATE LANGUAGE',
  DefineStmt: 'CREATE',
  CompositeTypeStmt: 'CREATE TYPE',
  CreateEnumStmt: 'CREATE TYPE',
  CreateRangeStmt: 'CREATE TYPE',
  RenameStmt: 'ALTER',
  AlterObjectSchemaStmt: 'ALTER',
  AlterOwnerStmt: 'ALTER',
  CommentStmt: 'COMMENT',
  SecLabelStmt: 'SECURITY LABEL',
  TruncateStmt: 'TRUNCATE TABLE',
  LoadStmt: 'LOAD',
  ClusterStmt: 'CLUSTER',
  ReindexStmt: 'REINDEX',
  AlterSystemStmt: 'ALTER SYSTEM',
  RefreshMatViewStmt: 'REFRESH MATERIALIZED VIEW',
};

const TRANSACTION: Readonly<Record<string, string>> = {
  TRANS_STMT_BEGIN: 'BEGIN',
  TRANS_STMT_START: 'START TRANSACTION',
  TRANS_STMT_COMMIT: 'COMMIT',
  TRANS_STMT_ROLLBACK: 'ROLLBACK',
  TRANS_STMT_SAVEPOINT: 'SAVEPOINT',
  TRANS_STMT_RELEASE: 'RELEASE',
  TRANS_STMT_ROLLBACK_TO: 'ROLLBACK',
  TRANS_STMT_PREPARE: 'PREPARE TRANSACTION',
  TRANS_STMT_COMMIT_PREPARED: 'COMMIT PREPARED',
  TRANS_STMT_ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
};

export function commandTag(key: string, body: Node): string {
  switch (key) {
    case 'TransactionStmt':
      return TRANSACTION[String(body.kind)] ?? 'TRANSACTION';
    case 'VariableSetStmt':
      return body.kind === 'VAR_RESET' || body.kind === 'VAR_RESET_ALL' ? 'RESET' : 'SET';
    case 'GrantStmt':
    case 'GrantRoleStmt':
      return body.is_grant === true ? 'GRANT' : 'REVOKE';
    case 'VacuumStmt':
      return body.is_vacuumcmd === true ? 'VACUUM' : 'ANALYZE';
    case 'FetchStmt':
      return body.ismove === true ? 'MOVE' : 'FETCH';
    case 'CreateFunctionStmt':
      return body.is_procedure === true ? 'CREATE PROCEDURE' : 'CREATE FUNCTION';
    case 'CreateTableAsStmt':
      return body.objtype === 'OBJECT_MATVIEW' ? 'CREATE MATERIALIZED VIEW' : 'CREATE TABLE AS';
    case 'SelectStmt':
      return body.intoClause ? 'SELECT INTO' : 'SELECT';
    case 'DropStmt': {
      const what = typeof body.removeType === 'string' ? body.removeType.replace(/^OBJECT_/, '') : '';
      return what ? `DROP ${what.replace(/_/g, ' ')}` : 'DROP';
    }
    default:
      return FIXED[key] ?? words(key);
  }
}

/** AlterTableStmt → ALTER TABLE. */
function words(key: string): string {
  return key
    .replace(/Stmt$/, '')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toUpperCase();
}
