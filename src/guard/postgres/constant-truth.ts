import { compareConstants } from '../compare-constants.js';
import type { StatementFacts } from '../statement-facts.js';

/** Where a look at a constant's value is noted (the shape cache reuses no analysis that looked). */
type LiteralReads = Pick<StatementFacts, 'noteLiteralRead'>;

/**
 * Whether a WHERE (or a join condition) holds for every row: `1=1`, `true`, `'a'='a'`, `1`,
 * `x = x`, `1=1 OR id=5`, `NOT false`. An UPDATE or DELETE filtered by such a condition touches
 * the whole table, exactly like one without WHERE. The check is deliberately simple and errs on
 * the side of "unbounded" only where the condition is visibly constant.
 */
type Node = Record<string, unknown>;

type Constant =
  | { kind: 'null' }
  | { kind: 'bool'; value: boolean }
  | { kind: 'number'; value: number }
  | { kind: 'string'; value: string };

const TRUE_WORDS = new Set(['t', 'true', 'y', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['f', 'false', 'n', 'no', 'off', '0']);

function child(node: unknown, key: string): Node | undefined {
  if (typeof node !== 'object' || node === null) return undefined;
  const value = (node as Node)[key];
  return typeof value === 'object' && value !== null ? (value as Node) : undefined;
}

function constantOf(node: unknown): Constant | undefined {
  const aConst = child(node, 'A_Const');
  if (aConst) {
    if (aConst.isnull === true) return { kind: 'null' };
    const ival = child(aConst, 'ival');
    if (ival) return { kind: 'number', value: typeof ival.ival === 'number' ? ival.ival : 0 };
    const fval = child(aConst, 'fval');
    if (fval) return { kind: 'number', value: Number(fval.fval) };
    const boolval = child(aConst, 'boolval');
    if (boolval) return { kind: 'bool', value: boolval.boolval === true };
    const sval = child(aConst, 'sval');
    if (sval) return { kind: 'string', value: typeof sval.sval === 'string' ? sval.sval : '' };
    return undefined;
  }
  const cast = child(node, 'TypeCast');
  if (cast) {
    const inner = constantOf(cast.arg);
    if (!inner) return undefined;
    const names = (child(cast, 'typeName')?.names as unknown[] | undefined) ?? [];
    const typeName = child(names[names.length - 1], 'String')?.sval;
    if (typeName === 'bool' || typeName === 'boolean') {
      const truth = truthOf(inner);
      return truth === undefined ? undefined : { kind: 'bool', value: truth };
    }
    return inner;
  }
  return undefined;
}

function truthOf(c: Constant): boolean | undefined {
  switch (c.kind) {
    case 'null':
      return undefined;
    case 'bool':
      return c.value;
    case 'number':
      return c.value !== 0;
    case 'string': {
      const word = c.value.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      return undefined;
    }
  }
}

function comparable(c: Constant): number | string | boolean | undefined {
  return c.kind === 'null' ? undefined : c.value;
}

/** Structural equality ignoring source positions: `x = x`, `lower(a) = lower(a)`. */
function sameExpression(a: unknown, b: unknown, reads: LiteralReads): boolean {
  const strip = (_key: string, value: unknown) => (_key === 'location' ? undefined : value);
  if (a === undefined) return false;
  const left = JSON.stringify(a, strip);
  const right = JSON.stringify(b, strip);
  // `x + 1 = x + 1` holds and `x + 1 = x + 2` does not: when both sides hold constants, their
  // values decide (when one side has none, the two differ whatever the other's values).
  if (left.includes('"A_Const"') && right.includes('"A_Const"')) reads.noteLiteralRead();
  return left === right;
}

function compare(op: string, left: unknown, right: unknown, reads: LiteralReads): boolean | undefined {
  const l = constantOf(left);
  const r = constantOf(right);
  if (l && r) {
    reads.noteLiteralRead();
    const a = comparable(l);
    const b = comparable(r);
    if (a === undefined || b === undefined) return undefined;
    // `<=>` is not a Postgres operator: a user-defined one could mean anything.
    return op === '<=>' ? undefined : compareConstants(op, a, b);
  }
  if ((op === '=' || op === '<=' || op === '>=') && sameExpression(left, right, reads)) return true;
  return undefined;
}

/**
 * The truth value of a condition when it does not depend on the row, else undefined. Notes on
 * `reads` when the answer depends on a constant's value (`WHERE 1` against `WHERE 0`).
 */
export function constantTruth(node: unknown, reads: LiteralReads): boolean | undefined {
  const c = constantOf(node);
  if (c) {
    reads.noteLiteralRead();
    return truthOf(c);
  }
  const bool = child(node, 'BoolExpr');
  if (bool) {
    const args = Array.isArray(bool.args) ? (bool.args as unknown[]) : [];
    const truths = args.map((arg) => constantTruth(arg, reads));
    switch (bool.boolop) {
      case 'AND_EXPR':
        if (truths.some((t) => t === false)) return false;
        return truths.every((t) => t === true) ? true : undefined;
      case 'OR_EXPR':
        if (truths.some((t) => t === true)) return true;
        return truths.every((t) => t === false) ? false : undefined;
      case 'NOT_EXPR': {
        const inner = truths[0];
        return inner === undefined ? undefined : !inner;
      }
      default:
        return undefined;
    }
  }
  const expr = child(node, 'A_Expr');
  if (expr && expr.kind === 'AEXPR_OP') {
    const names = Array.isArray(expr.name) ? (expr.name as unknown[]) : [];
    const op = child(names[names.length - 1], 'String')?.sval;
    if (typeof op === 'string') return compare(op, expr.lexpr, expr.rexpr, reads);
  }
  const nullTest = child(node, 'NullTest');
  if (nullTest) {
    const arg = constantOf(nullTest.arg);
    if (!arg) return undefined;
    const isNull = arg.kind === 'null';
    return nullTest.nulltesttype === 'IS_NULL' ? isNull : !isNull;
  }
  return undefined;
}

/**
 * A join condition that does not limit the rows touched: absent, constant-true, or naming no
 * column (`1 IN (1)`, `EXISTS (SELECT 1)`, `$1`): it keeps all rows or none. MERGE's ON is read
 * this way; its source bounds what it touches.
 */
export function isConstantFilter(where: unknown, reads: LiteralReads): boolean {
  if (where === undefined || where === null) return true;
  const truth = constantTruth(where, reads);
  if (truth !== undefined) return truth;
  return !namesColumn(where);
}

/**
 * Whether an UPDATE or DELETE filter leaves the statement unbounded. The text proves a bound only
 * by pinning a column to values that do not depend on the row: `id = 5`, `id = $1`,
 * `id IN (1, 2)`, `id = ANY ($1)`, `WHERE CURRENT OF c`, one such conjunct of an AND or one in
 * every branch of an OR. Every other condition (`id > 0`, `id IS NOT NULL`, `name LIKE '%'`,
 * `id IN (SELECT ...)`, `NOT ...`) may hold for every row, and the text cannot tell, so it counts
 * as unbounded: a human looks where the policy asks for one.
 */
export function isUnboundedFilter(where: unknown, reads: LiteralReads): boolean {
  if (where === undefined || where === null) return true;
  return !pinsRows(where, reads);
}

function pinsRows(node: unknown, reads: LiteralReads): boolean {
  if (child(node, 'CurrentOfExpr')) return true;
  const bool = child(node, 'BoolExpr');
  if (bool) {
    const args = Array.isArray(bool.args) ? (bool.args as unknown[]) : [];
    if (bool.boolop === 'AND_EXPR') return args.some((arg) => pinsRows(arg, reads));
    if (bool.boolop === 'OR_EXPR') return args.length > 0 && args.every((arg) => pinsRows(arg, reads));
  }
  const expr = child(node, 'A_Expr');
  if (expr && isPlainEquals(expr.name)) {
    switch (expr.kind) {
      case 'AEXPR_OP':
        if (
          (isColumn(expr.lexpr) && isRowIndependent(expr.rexpr)) ||
          (isColumn(expr.rexpr) && isRowIndependent(expr.lexpr))
        )
          return true;
        break;
      case 'AEXPR_IN':
      case 'AEXPR_OP_ANY':
        if (isColumn(expr.lexpr) && isRowIndependent(expr.rexpr)) return true;
        break;
    }
  }
  // A condition known to be false touches no row (`WHERE false OR id = 5`).
  return constantTruth(node, reads) === false;
}

/** `=` as Postgres's own: bare, or `OPERATOR(pg_catalog.=)`; a user's `=` could mean anything. */
function isPlainEquals(name: unknown): boolean {
  const names = Array.isArray(name) ? (name as unknown[]) : [];
  const parts = names.map((n) => child(n, 'String')?.sval);
  return (
    (parts.length === 1 && parts[0] === '=') ||
    (parts.length === 2 && parts[0] === 'pg_catalog' && parts[1] === '=')
  );
}

/** A bare column: `id::bool = true` holds for every non-zero id, so a cast of one does not pin. */
function isColumn(node: unknown): boolean {
  return child(node, 'ColumnRef') !== undefined;
}

/** An expression whose value is the same for every row: no column, no subquery. */
function isRowIndependent(node: unknown): boolean {
  return node !== undefined && node !== null && !namesColumn(node) && !holdsSubquery(node);
}

function holdsSubquery(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(holdsSubquery);
  const node = value as Record<string, unknown>;
  if ('SubLink' in node) return true;
  for (const key in node) {
    const child = node[key];
    if (typeof child === 'object' && child !== null && holdsSubquery(child)) return true;
  }
  return false;
}

function namesColumn(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(namesColumn);
  const node = value as Record<string, unknown>;
  // WHERE CURRENT OF names the cursor's current row.
  if ('ColumnRef' in node || 'CurrentOfExpr' in node) return true;
  for (const key in node) {
    const child = node[key];
    if (typeof child === 'object' && child !== null && namesColumn(child)) return true;
  }
  return false;
}
