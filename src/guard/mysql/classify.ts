import type { Effect } from '../../config/schema.js';
import { StatementFacts } from '../statement-facts.js';
import { isAdmittedMySqlBuiltin } from './admitted-functions.js';
import { isUnboundedFilter } from './constant-truth.js';
import { literalValue } from './literals.js';

type Node = Record<string, unknown>;

export interface MySqlClassifyContext {
  readonly functions: ReadonlyMap<string, readonly Effect[]>;
}

/** Statement node types that may also appear nested (subqueries, INSERT ... SELECT). */
const NESTED_STATEMENTS = new Set(['select', 'insert', 'replace', 'update', 'delete']);

/**
 * Tables that hold other sessions' SQL text and state, as SHOW PROCESSLIST does: reading them is
 * `admin`. All of performance_schema and sys (statement history, threads, locks), and these views
 * of information_schema.
 */
const OTHER_SESSIONS_VIEWS: ReadonlySet<string> = new Set([
  'processlist',
  'innodb_trx',
  'innodb_locks',
  'innodb_lock_waits',
  'user_statistics',
  'client_statistics',
  'thread_pool_queues',
  'thread_pool_stats',
]);

function showsOtherSessions(db: string, table: string): boolean {
  // `mysql`: the accounts' password hashes, the general and slow logs (other sessions' SQL).
  if (db === 'performance_schema' || db === 'sys' || db === 'mysql') return true;
  return db === 'information_schema' && OTHER_SESSIONS_VIEWS.has(table);
}

/** Schemas whose tables show other sessions or credentials; USE of one is `admin`. */
const SYSTEM_SCHEMAS: ReadonlySet<string> = new Set([
  'information_schema',
  'performance_schema',
  'sys',
  'mysql',
]);

/** SHOW statements that reveal credentials or other sessions' state (see also statements.ts). */
const ADMIN_SHOWS: ReadonlySet<string> = new Set([
  // SHOW BINLOG EVENTS: other sessions' statements.
  'binlog',
  'grants',
  'processlist',
  'engine',
  'profile',
  'profiles',
  'explain',
  'analyze',
]);

/**
 * Session variables that only change how values are shown, how this client's transactions run, or
 * what the server reports back in OK packets (drivers set them on connect): effect `routine`.
 */
const ROUTINE_VARIABLES = new Set([
  'autocommit',
  'time_zone',
  'lc_time_names',
  'character_set_results',
  'transaction_isolation',
  'tx_isolation',
  'session_track_schema',
  'session_track_state_change',
  'session_track_system_variables',
  'session_track_transaction_info',
  'net_read_timeout',
  'net_write_timeout',
  'wait_timeout',
  'interactive_timeout',
]);

/**
 * sql_mode flags that leave the SQL grammar as the guard reads it. The others change how the server
 * splits a text: ANSI_QUOTES (a "..." is a name), NO_BACKSLASH_ESCAPES, PIPES_AS_CONCAT,
 * IGNORE_SPACE, HIGH_NOT_PRECEDENCE, and the combinations that include them (ANSI, ORACLE, ...), so
 * a text would mean one thing to the guard and another to the server.
 */
const GUARD_SAFE_SQL_MODES = new Set([
  'allow_invalid_dates',
  'error_for_division_by_zero',
  'no_auto_create_user',
  'no_auto_value_on_zero',
  'no_dir_in_create',
  'no_engine_substitution',
  'no_field_options',
  'no_key_options',
  'no_table_options',
  'no_unsigned_subtraction',
  'no_zero_date',
  'no_zero_in_date',
  'only_full_group_by',
  'pad_char_to_full_length',
  'real_as_float',
  'simultaneous_assignment',
  'strict_all_tables',
  'strict_trans_tables',
  'time_truncate_fractional',
  'traditional',
]);

/**
 * Whether an sql_mode value keeps the grammar the guard parses with: a quoted list of safe flags,
 * or CONCAT(@@sql_mode, <quoted lists of safe flags>) as Connector/J sends it.
 */
function keepsGuardSyntax(value: unknown, facts: StatementFacts, inConcat = false): boolean {
  const node = asNode(value);
  if (node === undefined) return false;
  if (node.type === 'single_quote_string' || node.type === 'double_quote_string') {
    const text = literalValue(node, facts);
    if (typeof text !== 'string') return false;
    // Inside CONCAT a piece must start a new flag, or it would run on from the one before it.
    if (inConcat && text !== '' && !text.startsWith(',')) return false;
    return text
      .split(',')
      .map((flag) => flag.trim().toLowerCase())
      .every((flag) => flag === '' || GUARD_SAFE_SQL_MODES.has(flag));
  }
  if (node.type === 'var') {
    // The session's own current mode, as in CONCAT(@@sql_mode, ...).
    const name = lower(node.name);
    const members = Array.isArray(node.members) ? node.members.map(lower) : [];
    const scoped =
      (name === 'session' || name === 'local') && members.length === 1 && members[0] === 'sql_mode';
    return node.prefix === '@@' && ((name === 'sql_mode' && members.length === 0) || scoped);
  }
  if (node.type === 'function' && !inConcat) {
    const name = asNode(node.name);
    const parts = Array.isArray(name?.name) ? name.name : [];
    if (parts.length !== 1 || lower(asNode(parts[0])?.value) !== 'concat') return false;
    const args = asNode(node.args);
    const list = Array.isArray(args?.value) ? args.value : [];
    return list.length > 0 && list.every((arg) => keepsGuardSyntax(arg, facts, true));
  }
  return false;
}

function holdsQueryOrCall(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(holdsQueryOrCall);
  const node = asNode(value);
  if (node === undefined) return false;
  if (node.type === 'select' || node.type === 'function' || node.type === 'aggr_func' || 'ast' in node)
    return true;
  return Object.values(node).some(holdsQueryOrCall);
}

function asNode(value: unknown): Node | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Node) : undefined;
}

function lower(value: unknown): string {
  return typeof value === 'string' ? value.toLowerCase() : '';
}

/**
 * The `value` of a word-like node (a keyword, a name part). Through literalValue, so that a
 * string literal in that place would be noted (see literals.ts).
 */
function valueOf(node: unknown, facts: StatementFacts): unknown {
  const n = asNode(node);
  return n === undefined ? undefined : literalValue(n, facts);
}

/** Classifies one node-sql-parser statement AST into `facts`; returns its command tag. */
export function classifyMySqlAst(ast: Node, facts: StatementFacts, ctx: MySqlClassifyContext): string {
  const type = lower(ast.type);
  switch (type) {
    case 'select':
    case 'insert':
    case 'replace':
    case 'update':
    case 'delete':
      classifyDml(ast, facts, ctx);
      return type.toUpperCase();
    case 'create': {
      const keyword = lower(ast.keyword);
      if (keyword === 'view') {
        // Creating a view stores its query without running it.
        facts.add('ddl');
        facts.describing(() => walk(ast, facts, ctx));
        return 'CREATE VIEW';
      }
      if (keyword === 'user' || keyword === 'role') facts.add('dcl');
      else if (['trigger', 'procedure', 'function', 'event'].includes(keyword))
        facts.addAll(['ddl', 'procedural']);
      else facts.add('ddl');
      // CREATE TABLE ... AS SELECT / CREATE TABLE ... SELECT fills the new table.
      if (keyword === 'table' && ast.query_expr) facts.add('write');
      walk(ast, facts, ctx);
      return `CREATE ${keyword.toUpperCase()}`.trim();
    }
    case 'alter':
    case 'drop':
    case 'rename': {
      facts.add('ddl');
      walk(ast, facts, ctx);
      return `${type.toUpperCase()} ${lower(ast.keyword).toUpperCase() || 'TABLE'}`;
    }
    case 'truncate':
      facts.addAll(['ddl', 'delete']);
      facts.markUnbounded();
      walk(ast, facts, ctx);
      return 'TRUNCATE';
    case 'grant':
    case 'revoke':
      facts.add('dcl');
      return type.toUpperCase();
    case 'set':
      classifySet(ast, facts, ctx);
      return 'SET';
    case 'show':
      // Grants carry the gateway account's password hash; the process list, other sessions' SQL.
      facts.add(ADMIN_SHOWS.has(String(ast.keyword).toLowerCase()) ? 'admin' : 'read');
      // A subquery or a call in SHOW ... WHERE is read by nothing downstream (masking's filter
      // checks, the write checks): an oracle on whatever it reads. Never run.
      if (holdsQueryOrCall(ast.expr)) facts.add('unknown');
      walk(ast, facts, ctx);
      return 'SHOW';
    case 'desc':
      facts.add('read');
      if (typeof ast.table === 'string') facts.addObject(ast.table);
      return 'DESCRIBE';
    case 'use':
      facts.add('session');
      // Unqualified names then reach the server's own schemas (processlist, mysql.user).
      if (SYSTEM_SCHEMAS.has(lower(ast.db))) facts.add('admin');
      return 'USE';
    case 'explain': {
      facts.add('read');
      // Plain EXPLAIN plans its statement without changing data (EXPLAIN ANALYZE is handled before
      // parsing), but MariaDB's planner runs some of it: constant subqueries (their functions and
      // variable assignments), const-table reads, the locks of a locking read.
      const planned = new StatementFacts();
      walk(ast.expr, planned, ctx);
      plannedEffects(planned, facts);
      return 'EXPLAIN';
    }
    case 'call': {
      // The procedure is not a function call (its effect is `procedural`); its arguments are.
      facts.add('procedural');
      const procedure = asNode(ast.expr);
      const name = procedure ? functionName(procedure, facts) : undefined;
      if (name !== undefined) facts.addObject(`${name.toLowerCase()}()`);
      walk(procedure?.args, facts, ctx);
      return 'CALL';
    }
    case 'lock':
    case 'unlock':
      facts.add('lock');
      walk(ast, facts, ctx);
      return `${type.toUpperCase()} TABLES`;
    case 'transaction': {
      facts.add('routine');
      const expr = asNode(ast.expr);
      const modes = Array.isArray(expr?.modes) ? expr.modes : [];
      if (modes.some((m) => lower(valueOf(m, facts)) === 'read write')) facts.add('session');
      const action = lower(valueOf(expr?.action, facts));
      return action === 'start' ? 'START TRANSACTION' : action.toUpperCase() || 'TRANSACTION';
    }
    case 'load_data':
      // LOCAL or not, a file is imported: with LOCAL the client's (relayed by the listener, never
      // the gateway's own), without it one of the server's.
      facts.addAll(['file', 'write']);
      walk(ast, facts, ctx);
      return 'LOAD DATA';
    default:
      facts.add('unknown');
      return type ? type.toUpperCase() : 'UNKNOWN';
  }
}

/**
 * `@sluice_sub`, `@sluice_groups`, `@sluice_session`, ...: the caller's identity at the target
 * (targets.*.identity.settings), which the target's views and audit trust. Changing one is
 * changing who the target thinks is asking: `dcl`, whatever else the statement does.
 */
function isIdentityVariable(node: unknown): boolean {
  const variable = asNode(node);
  return variable?.prefix === '@' && lower(variable.name).startsWith('sluice_');
}

/** What an EXPLAIN's planning does not do: change the rows of the statement it plans. */
const NOT_RUN_WHEN_PLANNED: ReadonlySet<Effect> = new Set(['write', 'delete']);

/** The effects and objects of a statement a plain EXPLAIN plans (see the 'explain' case). */
export function plannedEffects(planned: StatementFacts, into: StatementFacts): void {
  for (const effect of planned.effects) if (!NOT_RUN_WHEN_PLANNED.has(effect)) into.add(effect);
  for (const object of planned.objects) into.addObject(object);
  if (planned.literalValuesRead) into.noteLiteralRead();
}

function classifyDml(ast: Node, facts: StatementFacts, ctx: MySqlClassifyContext): void {
  const type = lower(ast.type);
  switch (type) {
    case 'select': {
      facts.add('read');
      const into = lower(asNode(ast.into)?.keyword);
      if (into === 'outfile' || into === 'dumpfile') facts.add('file');
      if (ast.locking_read) facts.add('lock');
      break;
    }
    case 'insert':
    case 'replace':
      facts.add('write');
      break;
    case 'update':
      facts.add('write');
      if (isUnboundedFilter(ast.where, facts)) facts.markUnbounded();
      break;
    case 'delete':
      facts.add('delete');
      if (isUnboundedFilter(ast.where, facts)) facts.markUnbounded();
      break;
  }
  walk(ast, facts, ctx, ast);
}

function classifySet(ast: Node, facts: StatementFacts, ctx: MySqlClassifyContext): void {
  const scope = lower(ast.keyword);
  const global = scope === 'global' || scope === 'persist' || scope === 'persist_only';
  for (const item of Array.isArray(ast.expr) ? ast.expr : []) {
    const assign = asNode(item);
    const left = asNode(assign?.left);
    const name = lower(left?.name);
    const members = Array.isArray(left?.members) ? left.members.map(lower) : [];
    if (global) {
      // Server configuration, for every session.
      facts.add('admin');
    } else if (left?.prefix === '@') {
      // A user variable stays on the connection for later statements (and, on a shared pool,
      // for the next caller): session state, as `@v := x` and `SELECT ... INTO @v` are.
      facts.add('session');
      if (isIdentityVariable(left)) facts.add('dcl');
    } else if (
      left?.prefix === '@@' &&
      (name === 'global' || name === 'persist' || name === 'persist_only')
    ) {
      facts.add('admin');
    } else {
      const variable =
        left?.prefix === '@@' && (name === 'session' || name === 'local') ? (members[0] ?? '') : name;
      facts.noteSetting(variable);
      if (variable === 'password') facts.add('dcl');
      else if (ROUTINE_VARIABLES.has(variable)) {
        facts.add('routine');
        // InnoDB reads under SERIALIZABLE lock every row they read. The level must be named by a
        // string literal: a number (3 is SERIALIZABLE), an expression or a variable may be it.
        if (/isolation/.test(variable) && !namesLockFreeIsolation(assign?.right, facts)) facts.add('lock');
      } else if (variable === 'sql_mode') {
        // A mode that changes the grammar (ANSI_QUOTES, NO_BACKSLASH_ESCAPES, ...) would make every
        // later text mean one thing to the guard and another to the server: never run.
        facts.add(keepsGuardSyntax(assign?.right, facts) ? 'routine' : 'unknown');
      } else facts.add('session');
    }
    walk(assign?.right, facts, ctx);
  }
}

/** `'READ-COMMITTED'` and the other levels but SERIALIZABLE, as a string literal (value read). */
function namesLockFreeIsolation(value: unknown, facts: StatementFacts): boolean {
  const node = asNode(value);
  if (node === undefined) return false;
  if (node.type !== 'single_quote_string' && node.type !== 'double_quote_string') return false;
  const level = literalValue(node, facts);
  return (
    typeof level === 'string' &&
    ['read-uncommitted', 'read-committed', 'repeatable-read'].includes(level.toLowerCase())
  );
}

function functionName(node: Node, facts: StatementFacts): string | undefined {
  const name = node.name;
  if (typeof name === 'string') return name;
  const parts = asNode(name);
  if (!parts) return undefined;
  const list = Array.isArray(parts.name) ? parts.name : [];
  const words = list.map((p) => valueOf(p, facts)).filter((v): v is string => typeof v === 'string');
  const schema = valueOf(parts.schema, facts);
  if (words.length === 0) return undefined;
  return typeof schema === 'string' ? `${schema}.${words.join('.')}` : words.join('.');
}

function argumentCount(call: Node): number {
  const args = asNode(call.args);
  if (!args) return 0;
  if (Array.isArray(args.value)) return args.value.length;
  return args.expr !== undefined && args.expr !== null ? 1 : 0;
}

/**
 * Walks every object and array below `node`, recording relations and function calls and
 * classifying nested statements, wherever they are.
 */
function walk(node: unknown, facts: StatementFacts, ctx: MySqlClassifyContext, self?: Node): void {
  if (typeof node !== 'object' || node === null) return;
  if (Array.isArray(node)) {
    for (const item of node) walk(item, facts, ctx);
    return;
  }
  const obj = node as Node;
  if (obj !== self && NESTED_STATEMENTS.has(lower(obj.type))) {
    classifyDml(obj, facts, ctx);
    return;
  }
  if ('db' in obj && obj.type !== 'column_ref') {
    const name =
      typeof obj.table === 'string' ? obj.table : typeof obj.view === 'string' ? obj.view : undefined;
    if (name !== undefined) {
      facts.addObject(typeof obj.db === 'string' && obj.db ? `${obj.db}.${name}` : name);
      if (showsOtherSessions(lower(obj.db), name.toLowerCase())) facts.add('admin');
    }
  }
  // `@v := expr` and `SELECT ... INTO @v` keep a value on the connection for later statements,
  // as `SET @v` does: session state (a pooled connection must not pass it to another caller).
  if (obj.type === 'assign' || (obj.type === 'into' && obj.keyword === 'var')) {
    facts.add('session');
    const targets = obj.type === 'assign' ? [obj.left] : Array.isArray(obj.expr) ? obj.expr : [];
    if (targets.some(isIdentityVariable)) facts.add('dcl');
  }
  if (obj.type === 'function' || obj.type === 'aggr_func') {
    // MySQL function names are case-insensitive: report them in one spelling.
    const name = functionName(obj, facts)?.toLowerCase();
    if (name !== undefined) {
      facts.addObject(`${name}()`);
      const last = name.slice(name.lastIndexOf('.') + 1);
      // Declared effects first (the defaults and the configuration; `[]` declares a function
      // pure), then the allow-list of built-ins; any other function is not understood.
      const effects = ctx.functions.get(name) ?? ctx.functions.get(last);
      if (effects) facts.addAll(effects);
      else if (!isAdmittedMySqlBuiltin(name, argumentCount(obj))) facts.refuse();
    }
  }
  for (const key in obj) {
    if (key === 'tableList' || key === 'columnList') continue;
    const value = obj[key];
    if (typeof value === 'object' && value !== null) walk(value, facts, ctx);
  }
}
