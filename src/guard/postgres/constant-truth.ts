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

/** A DML filter that does not limit the rows touched: absent, or constant-true. */
/**
 * A WHERE that names no column has the same value for every row (`1 IN (1)`,
 * `1 BETWEEN 0 AND 2`, `EXISTS (SELECT 1)`, `$1`): it keeps all rows or none, so it does not bound
 * the statement unless it is known to be false.
 */
export function isUnboundedFilter(where: unknown, reads: LiteralReads): boolean {
  if (where === undefined || where === null) return true;
  const truth = constantTruth(where, reads);
  if (truth !== undefined) return truth;
  return !namesColumn(where);
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
