import type { Effect } from '../../config/schema.js';
import { GuardError } from '../errors.js';
import { sortEffects, StatementFacts } from '../statement-facts.js';
import type { ClassifiedStatement } from '../classified.js';
import { commandTag } from './command-tag.js';
import { isAdmittedBuiltin } from './admitted-functions.js';
import { isConstantFilter, isUnboundedFilter } from './constant-truth.js';
import type { PgParseResult, PostgresParser } from './parser.js';
import { bytesIfNeeded, statementText } from './parser.js';
import { classifyPlPgSql } from './plpgsql.js';
import {
  FIXED_EFFECTS,
  GUARD_ENCODINGS,
  PRESENTATION_SETTINGS,
  TRANSACTION_MODES,
} from './statement-effects.js';

type Node = Record<string, unknown>;

export interface PgClassifyContext {
  readonly parser: PostgresParser;
  readonly functions: ReadonlyMap<string, readonly Effect[]>;
}

type Handler = (body: Node, facts: StatementFacts, ctx: PgClassifyContext) => void;

/** Classifies every statement of a parse; `sql` is the text that was parsed. */
export function classifyPostgres(
  sql: string,
  parse: PgParseResult,
  ctx: PgClassifyContext,
): ClassifiedStatement[] {
  const bytes = bytesIfNeeded(sql);
  return parse.stmts.map((raw) => classifyStatement(statementText(sql, bytes, raw), raw.stmt, ctx));
}

function classifyStatement(text: string, stmt: Node, ctx: PgClassifyContext): ClassifiedStatement {
  const key = Object.keys(stmt)[0] ?? '';
  const body = asNode(stmt[key]) ?? {};
  const facts = new StatementFacts();
  // A query returns rows even when it reads no table (VALUES, SELECT 1).
  if (key === 'SelectStmt') facts.add('read');
  // A top-level EXECUTE is resolved by the analyzer against the session's prepared statements;
  // only its arguments are classified here.
  if (key === 'ExecuteStmt') visit(body.params, facts, ctx);
  else visit(stmt, facts, ctx);
  const command = commandTag(key, body);
  const summary = facts.summary(text, command);
  const classified: ClassifiedStatement = { summary, ...extras(key, body, facts, summary) };
  if (facts.literalValuesRead) classified.literalValuesRead = true;
  return classified;
}

/** What a PREPARE, EXECUTE or DEALLOCATE does to the session's prepared statements. */
function extras(
  key: string,
  body: Node,
  facts: StatementFacts,
  summary: ClassifiedStatement['summary'],
): Omit<ClassifiedStatement, 'summary'> {
  if (key === 'PrepareStmt' && typeof body.name === 'string') {
    const inner = asNode(body.query);
    const innerKey = inner ? (Object.keys(inner)[0] ?? '') : '';
    return {
      prepare: {
        name: body.name,
        body: { ...summary, command: commandTag(innerKey, asNode(inner?.[innerKey]) ?? {}) },
      },
    };
  }
  if (key === 'ExecuteStmt' && typeof body.name === 'string') {
    return { execute: { name: body.name, base: { ...summary, effects: sortEffects(facts.effects) } } };
  }
  if (key === 'DeallocateStmt') {
    return {
      deallocate: body.isall === true || typeof body.name !== 'string' ? { all: true } : { name: body.name },
    };
  }
  return {};
}

/**
 * Walks every object and array of the tree. Node types with a handler are classified by it; a
 * statement node without one is `unknown`; everything else is walked through, so a function
 * call or a relation is found wherever it sits (select list, WHERE, subqueries, arguments, CTEs).
 */
export function visit(node: unknown, facts: StatementFacts, ctx: PgClassifyContext): void {
  if (typeof node !== 'object' || node === null) return;
  if (Array.isArray(node)) {
    if (repeatsAnOption(node)) facts.add('unknown');
    for (const item of node) visit(item, facts, ctx);
    return;
  }
  const obj = node as Node;
  // RangeVar appears both wrapped ({RangeVar: {...}}) and bare (DeleteStmt.relation, IntoClause.rel).
  if (typeof obj.relname === 'string') {
    facts.addObject(relationName(obj));
    if (isServerStateRelation(obj)) facts.add('admin');
  }
  for (const key in obj) {
    const value = obj[key];
    if (typeof value !== 'object' || value === null) continue;
    const handler = HANDLERS.get(key);
    if (handler) {
      // Handlers read their own options and may not walk them: repeats are checked here.
      const options = (value as Node).options;
      if (Array.isArray(options) && repeatsAnOption(options)) facts.add('unknown');
      handler(value as Node, facts, ctx);
    } else if (isStatementNodeName(key)) facts.add('unknown');
    else visit(value, facts, ctx);
  }
}

/**
 * System views over the functions the allow-list leaves out: other sessions' statements and
 * locks (every caller reaches the target as one role), the server's files and build, password
 * hashes, replication and memory state. Reading one is `admin`, as calling its function is.
 */
const SERVER_STATE_RELATIONS: ReadonlySet<string> = new Set([
  'pg_stat_activity',
  'pg_locks',
  'pg_config',
  'pg_file_settings',
  'pg_hba_file_rules',
  'pg_ident_file_mappings',
  'pg_shmem_allocations',
  'pg_backend_memory_contexts',
  'pg_authid',
  'pg_shadow',
  'pg_user_mapping',
  'pg_user_mappings',
  'pg_stat_replication',
  'pg_stat_wal_receiver',
  'pg_stat_subscription',
  'pg_replication_slots',
  'pg_prepared_xacts',
  'pg_stat_ssl',
  'pg_stat_gssapi',
]);

function isServerStateRelation(rv: Node): boolean {
  const name = String(rv.relname).toLowerCase();
  const schema = typeof rv.schemaname === 'string' ? rv.schemaname.toLowerCase() : undefined;
  // pg_stat_statements lives in whichever schema the extension was made in.
  if (name === 'pg_stat_statements' || name === 'pg_stat_statements_info') return true;
  if (schema !== undefined && schema !== 'pg_catalog') return false;
  return SERVER_STATE_RELATIONS.has(name) || name.startsWith('pg_stat_progress_');
}

/**
 * An option list (DefElem items: EXPLAIN, COPY, VACUUM, CREATE ... WITH, BEGIN, ...) naming one
 * option twice. Postgres takes the last occurrence in some lists and refuses repeats in others;
 * the guard refuses them everywhere rather than guess which occurrence is in force.
 */
function repeatsAnOption(list: unknown[]): boolean {
  if (list.length < 2 || asNode(list[0])?.DefElem === undefined) return false;
  const seen = new Set<string>();
  for (const item of list) {
    const def = asNode(asNode(item)?.DefElem);
    if (typeof def?.defname !== 'string') continue;
    const key = `${String(def.defnamespace ?? '')}.${def.defname.toLowerCase()}`;
    if (seen.has(key)) return true;
    seen.add(key);
  }
  return false;
}

function isStatementNodeName(key: string): boolean {
  const first = key.charCodeAt(0);
  return first >= 65 && first <= 90 && key.endsWith('Stmt');
}

function relationName(rv: Node): string {
  const parts: string[] = [];
  if (typeof rv.catalogname === 'string' && rv.catalogname) parts.push(rv.catalogname);
  if (typeof rv.schemaname === 'string' && rv.schemaname) parts.push(rv.schemaname);
  parts.push(String(rv.relname));
  return parts.join('.');
}

function asNode(value: unknown): Node | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Node) : undefined;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function stringsOf(list: unknown): string[] {
  const out: string[] = [];
  for (const item of asArray(list)) {
    const s = asNode(asNode(item)?.String)?.sval;
    if (typeof s === 'string') out.push(s);
  }
  return out;
}

function walkChildren(effects: readonly Effect[]): Handler {
  return (body, facts, ctx) => {
    facts.addAll(effects);
    visit(body, facts, ctx);
  };
}

const functionCall: Handler = (body, facts, ctx) => {
  const names = stringsOf(body.funcname);
  const last = names[names.length - 1];
  if (last === 'set_config' && isAdmittedSchema(names) && setsLexing(body, facts)) facts.refuse();
  if (last !== undefined) {
    facts.addObject(`${names.join('.')}()`);
    // Declared effects first (the defaults and the configuration; `[]` declares a function pure),
    // then the allow-list of built-ins; any other function is not understood.
    const effects = ctx.functions.get(names.join('.').toLowerCase()) ?? ctx.functions.get(last.toLowerCase());
    if (effects) facts.addAll(effects);
    else if (!isAdmittedBuiltin(names)) facts.refuse();
  }
  visit(body.args, facts, ctx);
  visit(body.agg_order, facts, ctx);
  visit(body.agg_filter, facts, ctx);
  visit(body.over, facts, ctx);
};

/**
 * Settings that change how the server's lexer reads the texts that follow: with
 * standard_conforming_strings off a backslash escapes a quote in a plain string literal, and a
 * client_encoding other than UTF-8 makes the server read the bytes as other characters (a
 * multibyte character swallowing a backslash), while this guard parses every text as UTF-8 with
 * standard strings. A text could then hide a statement inside what the guard reads as a string
 * (`SELECT 'a\' || ' ; DROP TABLE t; -- '`). Setting one of them to another value is refused
 * whatever a policy allows; `value` is undefined when it is not a literal.
 */
function changesLexing(name: string, value: string | undefined, facts: StatementFacts): boolean {
  const key = name.toLowerCase();
  if (key !== 'standard_conforming_strings' && key !== 'client_encoding') return false;
  facts.noteLiteralRead();
  if (value === undefined) return true;
  const v = value.trim().toLowerCase();
  if (key === 'client_encoding') return !GUARD_ENCODINGS.has(v);
  return !['on', 'true', 'yes', '1', 't', 'y'].includes(v);
}

/**
 * Whether a set_config call may change a setting that changes lexing: its name is not a literal
 * (it may be any setting), or it names one of them with a value that is not the guard's.
 */
function setsLexing(body: Node, facts: StatementFacts): boolean {
  const args = asArray(body.args);
  if (args.some((a) => asNode(a)?.NamedArgExpr !== undefined)) return true;
  facts.noteLiteralRead();
  const name = settingValue(args[0]);
  if (name === undefined) return true;
  return changesLexing(name, settingValue(args[1]), facts);
}

/** The text of a literal (a string, a number, a bare word, through casts), or undefined. */
function settingValue(arg: unknown): string | undefined {
  let node = asNode(arg);
  while (node?.TypeCast !== undefined) node = asNode(asNode(node.TypeCast)?.arg);
  const constant = asNode(node?.A_Const);
  if (!constant) return undefined;
  const str = asNode(constant.sval)?.sval;
  if (typeof str === 'string') return str;
  const ival = asNode(constant.ival);
  if (ival) return String(ival.ival ?? 0);
  const bool = asNode(constant.boolval);
  if (bool) return bool.boolval === true ? 'on' : 'off';
  return undefined;
}

/**
 * A write (INSERT, UPDATE, DELETE, MERGE, COPY FROM) into a system catalog: renaming a column in
 * pg_attribute, a function's body in pg_proc or a table's row security in pg_class is a schema
 * change made as a row change, `admin` whatever the policy says of writes. pg_settings, whose rule
 * runs set_config for each row it matches (standard_conforming_strings, search_path, role, out of
 * sight of the SET checks), is refused outright. A relation counts as the server's when it is
 * qualified with a system schema or, unqualified, named pg_* (pg_catalog comes first in the path).
 */
function writesCatalog(body: Node, facts: StatementFacts): void {
  const rel = asNode(body.relation);
  const name = typeof rel?.relname === 'string' ? rel.relname.toLowerCase() : '';
  const schema = typeof rel?.schemaname === 'string' ? rel.schemaname.toLowerCase() : '';
  const system =
    schema === ''
      ? name.startsWith('pg_')
      : schema === 'pg_catalog' || schema === 'information_schema' || schema.startsWith('pg_toast');
  if (!system) return;
  facts.add('admin');
  if (name === 'pg_settings') facts.refuse();
}

/** Unqualified or qualified with pg_catalog: the server's own function of that name. */
function isAdmittedSchema(names: readonly string[]): boolean {
  return names.length === 1 || (names.length === 2 && names[0] === 'pg_catalog');
}

/**
 * An option given as `(ANALYZE)`, `(ANALYZE true)` or `(ANALYZE off)`. Any occurrence that is not
 * a recognised "off" counts (a repeated option is refused by `visit` as well).
 */
function optionEnabled(options: unknown, name: string): boolean {
  for (const item of asArray(options)) {
    const def = asNode(asNode(item)?.DefElem);
    if (!def || typeof def.defname !== 'string' || def.defname.toLowerCase() !== name) continue;
    if (optionOn(def)) return true;
  }
  return false;
}

function optionOn(def: Node): boolean {
  const arg = asNode(def.arg);
  if (!arg) return true;
  const word = asNode(arg.String)?.sval ?? asNode(arg.Boolean)?.boolval;
  // An Integer node omits a zero ival.
  const integer = asNode(arg.Integer);
  if (integer) return integer.ival !== undefined && integer.ival !== 0;
  // Anything other than a recognised "off" counts as on: the statement may run.
  return !(
    word === false ||
    (typeof word === 'string' && ['false', 'off', '0', 'no'].includes(word.toLowerCase()))
  );
}

/** SET forms whose name stands for several settings at once. */
const MULTI_SETTINGS = new Set(['transaction', 'session characteristics', 'transaction snapshot']);

/**
 * Whether a SET or RESET only changes presentation or this client's transaction isolation
 * (PRESENTATION_SETTINGS, SET TRANSACTION without READ WRITE, client_encoding kept at UTF8).
 */
function isRoutineSetting(body: Node, facts: StatementFacts): boolean {
  const name = typeof body.name === 'string' ? body.name.toLowerCase() : '';
  if (body.kind === 'VAR_RESET_ALL') return false;
  if (name === 'transaction' || name === 'session characteristics') {
    const modes = asArray(body.args).map((item) => asNode(asNode(item)?.DefElem)?.defname);
    return (
      modes.every((m) => typeof m === 'string' && TRANSACTION_MODES.has(m)) &&
      !makesReadWrite(body.args, facts)
    );
  }
  if (name === 'client_encoding') {
    if (body.kind !== 'VAR_SET_VALUE') return false;
    const args = asArray(body.args);
    const value = asNode(asNode(asNode(args[0])?.A_Const)?.sval)?.sval;
    facts.noteLiteralRead();
    return args.length === 1 && typeof value === 'string' && GUARD_ENCODINGS.has(value.toLowerCase());
  }
  return PRESENTATION_SETTINGS.has(name);
}

/** `transaction_read_only` set to false, i.e. READ WRITE: a read-only session made writable. */
function makesReadWrite(options: unknown, facts: StatementFacts): boolean {
  for (const item of asArray(options)) {
    const def = asNode(asNode(item)?.DefElem);
    if (!def || def.defname !== 'transaction_read_only') continue;
    const value = asNode(asNode(def.arg)?.A_Const);
    facts.noteLiteralRead();
    const ival = asNode(value?.ival);
    if (ival && (ival.ival === undefined || ival.ival === 0)) return true;
  }
  return false;
}

const HANDLERS = new Map<string, Handler>([
  ...Object.entries(FIXED_EFFECTS).map(([key, effects]): [string, Handler] => [key, walkChildren(effects)]),
  ['FuncCall', functionCall],
  ['LockingClause', walkChildren(['lock'])],
  [
    'SelectStmt',
    (body, facts, ctx) => {
      // A VALUES list reads nothing (INSERT ... VALUES is a write only).
      if (body.valuesLists === undefined) facts.add('read');
      // SELECT ... INTO new_table creates a table and fills it.
      if (body.intoClause) facts.addAll(['ddl', 'write']);
      visit(body, facts, ctx);
    },
  ],
  [
    'InsertStmt',
    (body, facts, ctx) => {
      facts.add('write');
      writesCatalog(body, facts);
      visit(body, facts, ctx);
    },
  ],
  [
    'UpdateStmt',
    (body, facts, ctx) => {
      facts.add('write');
      writesCatalog(body, facts);
      if (isUnboundedFilter(body.whereClause, facts)) facts.markUnbounded();
      visit(body, facts, ctx);
    },
  ],
  [
    'DeleteStmt',
    (body, facts, ctx) => {
      facts.add('delete');
      writesCatalog(body, facts);
      if (isUnboundedFilter(body.whereClause, facts)) facts.markUnbounded();
      visit(body, facts, ctx);
    },
  ],
  [
    'MergeStmt',
    (body, facts, ctx) => {
      facts.add('write');
      writesCatalog(body, facts);
      for (const clause of asArray(body.mergeWhenClauses)) {
        if (asNode(asNode(clause)?.MergeWhenClause)?.commandType === 'CMD_DELETE') facts.add('delete');
      }
      if (isConstantFilter(body.joinCondition, facts)) facts.markUnbounded();
      visit(body, facts, ctx);
    },
  ],
  [
    'TruncateStmt',
    (body, facts, ctx) => {
      facts.addAll(['ddl', 'delete']);
      facts.markUnbounded();
      visit(body, facts, ctx);
    },
  ],
  [
    'ExplainStmt',
    (body, facts, ctx) => {
      facts.add('read');
      // EXPLAIN ANALYZE runs its statement; plain EXPLAIN only plans it.
      if (optionEnabled(body.options, 'analyze')) visit(body.query, facts, ctx);
      else facts.describing(() => visit(body.query, facts, ctx));
    },
  ],
  ['PrepareStmt', (body, facts, ctx) => visit(body.query, facts, ctx)],
  // EXECUTE inside another statement (EXPLAIN ANALYZE EXECUTE p, CREATE TABLE t AS EXECUTE p)
  // runs a prepared body this walk cannot see: unknown, so denied.
  [
    'ExecuteStmt',
    (body, facts, ctx) => {
      facts.add('unknown');
      visit(body.params, facts, ctx);
    },
  ],
  ['CreateTableAsStmt', walkChildren(['ddl', 'write'])],
  [
    'ViewStmt',
    (body, facts, ctx) => {
      // Creating a view stores its query without running it.
      facts.add('ddl');
      facts.addObject(relationName(asNode(body.view) ?? {}));
      facts.describing(() => visit(body.query, facts, ctx));
    },
  ],
  [
    'CopyStmt',
    (body, facts, ctx) => {
      if (body.is_program === true) facts.add('program');
      else if (typeof body.filename === 'string') facts.add('file');
      facts.add(body.is_from === true ? 'write' : 'read');
      if (body.is_from === true) writesCatalog(body, facts);
      visit(body.relation, facts, ctx);
      visit(body.query, facts, ctx);
      visit(body.whereClause, facts, ctx);
    },
  ],
  [
    'DoStmt',
    (body, facts, ctx) => {
      facts.add('procedural');
      classifyPlPgSql(body, facts, ctx);
    },
  ],
  [
    'CallStmt',
    (body, facts, ctx) => {
      facts.add('procedural');
      const call = asNode(body.funccall);
      if (call) functionCall(call, facts, ctx);
    },
  ],
  [
    'TransactionStmt',
    (body, facts) => {
      const kind = String(body.kind);
      // Two-phase commit leaves a transaction (and its locks) behind, outside any session.
      if (kind.includes('PREPARE')) facts.addAll(['transaction', 'admin']);
      else facts.add('routine');
      if (makesReadWrite(body.options, facts)) facts.add('session');
    },
  ],
  [
    'VariableSetStmt',
    (body, facts) => {
      facts.add(isRoutineSetting(body, facts) ? 'routine' : 'session');
      if (body.kind === 'VAR_SET_VALUE' && typeof body.name === 'string') {
        const args = asArray(body.args);
        const value = args.length === 1 ? settingValue(args[0]) : undefined;
        if (changesLexing(body.name, value, facts)) facts.refuse();
      }
      const name = typeof body.name === 'string' ? body.name : '';
      // One named setting (not RESET ALL, not SET TRANSACTION's modes): a policy may allow it by name.
      if (body.kind !== 'VAR_RESET_ALL' && name !== '' && !MULTI_SETTINGS.has(name.toLowerCase())) {
        facts.noteSetting(name);
      }
    },
  ],
  [
    'DropStmt',
    (body, facts) => {
      facts.add('ddl');
      for (const item of asArray(body.objects)) {
        const obj = asNode(item);
        const list = asNode(obj?.List);
        if (list) facts.addObject(stringsOf(list.items).join('.'));
        const withArgs = asNode(obj?.ObjectWithArgs);
        if (withArgs) facts.addObject(`${stringsOf(withArgs.objname).join('.')}()`);
        const single = asNode(obj?.String)?.sval;
        if (typeof single === 'string') facts.addObject(single);
      }
    },
  ],
  [
    'CreateFunctionStmt',
    (body, facts, ctx) => {
      facts.addAll(['ddl', 'procedural']);
      facts.addObject(`${stringsOf(body.funcname).join('.')}()`);
      // The body runs when the function is called, not now; its objects are still reported.
      facts.describing(() => visit(body.sql_body, facts, ctx));
    },
  ],
]);

/** Parses and classifies statements embedded in PL/pgSQL into the enclosing statement's facts. */
export function visitEmbedded(sql: string, facts: StatementFacts, ctx: PgClassifyContext): void {
  let parse: PgParseResult;
  try {
    parse = ctx.parser.parse(sql);
  } catch (err) {
    if (err instanceof GuardError) {
      facts.add('unknown');
      return;
    }
    throw err;
  }
  for (const raw of parse.stmts) visit(raw.stmt, facts, ctx);
}
