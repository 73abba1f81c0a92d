/**
 * Whether a MySQL WHERE holds for every row (`1=1`, `TRUE`, `'a'='a'`, `1`, `id = id`,
 * `1=1 OR id=5`, `NOT 0`). See the Postgres twin for the reasoning.
 *
 * Every look at a literal's value is noted on `reads` (see literals.ts): `WHERE 1` and `WHERE 0`
 * differ only in a literal and decide differently. A comparison of a column with a literal
 * (`id = 5`) is decided by the shapes of its sides alone and notes nothing.
 */
import { isLiteralNode, literalValue, type LiteralReads } from './literals.js';
import { compareConstants } from '../compare-constants.js';

type Node = Record<string, unknown>;

type Scalar = number | string | boolean | null;

/** Node types with a value this check evaluates. */
const SCALAR_TYPES = new Set([
  'number',
  'bool',
  'null',
  'single_quote_string',
  'double_quote_string',
  'string',
]);

function scalarOf(node: Node, reads: LiteralReads): Scalar | undefined {
  switch (node.type) {
    case 'number': {
      const value = literalValue(node, reads);
      return typeof value === 'number' ? value : Number(value);
    }
    case 'bool':
      return node.value === true;
    case 'null':
      return null;
    case 'single_quote_string':
    case 'double_quote_string':
    case 'string': {
      const value = literalValue(node, reads);
      return typeof value === 'string' ? value : undefined;
    }
    default:
      return undefined;
  }
}

/** MySQL truthiness: numbers by value, strings by their leading number ('abc' is 0). */
function truthOf(value: Scalar): boolean | undefined {
  if (value === null) return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  const n = parseFloat(value);
  return Number.isNaN(n) ? false : n !== 0;
}

/** JSON of an expression with every literal's value left out. */
function structureOf(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    if (key === 'value' && typeof this === 'object' && this !== null && isLiteralNode(this as Node))
      return null;
    return v;
  });
}

function sameExpression(a: unknown, b: unknown, reads: LiteralReads): boolean {
  if (a === undefined || asNode(a)?.type !== asNode(b)?.type) return false;
  // Expressions of different structure differ whatever their literals hold; only when the
  // structures match do the literal values decide.
  if (structureOf(a) !== structureOf(b)) return false;
  reads.noteLiteralRead();
  return JSON.stringify(a) === JSON.stringify(b);
}

function asNode(value: unknown): Node | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Node) : undefined;
}

export function constantTruth(value: unknown, reads: LiteralReads): boolean | undefined {
  const node = asNode(value);
  if (!node) return undefined;
  const scalar = scalarOf(node, reads);
  if (scalar !== undefined) return truthOf(scalar);
  if (node.type === 'unary_expr' && (node.operator === 'NOT' || node.operator === '!')) {
    const inner = constantTruth(node.expr, reads);
    return inner === undefined ? undefined : !inner;
  }
  if (node.type !== 'binary_expr' || typeof node.operator !== 'string') return undefined;
  const op = node.operator.toUpperCase();
  if (op === 'AND' || op === '&&') {
    const l = constantTruth(node.left, reads);
    const r = constantTruth(node.right, reads);
    if (l === false || r === false) return false;
    return l === true && r === true ? true : undefined;
  }
  if (op === 'OR' || op === '||') {
    const l = constantTruth(node.left, reads);
    const r = constantTruth(node.right, reads);
    if (l === true || r === true) return true;
    return l === false && r === false ? false : undefined;
  }
  const left = asNode(node.left);
  const right = asNode(node.right);
  // Values are read only when both sides are scalars: `id = 5` is not decided by the 5.
  if (left && right && SCALAR_TYPES.has(String(left.type)) && SCALAR_TYPES.has(String(right.type))) {
    const l = scalarOf(left, reads);
    const r = scalarOf(right, reads);
    if (l !== undefined && r !== undefined) return compareScalars(op, l, r);
  }
  if (
    (op === '=' || op === '<=>' || op === '<=' || op === '>=') &&
    sameExpression(node.left, node.right, reads)
  )
    return true;
  return undefined;
}

function compareScalars(op: string, l: Scalar, r: Scalar): boolean | undefined {
  if (op === 'IS') return r === null ? l === null : undefined;
  if (op === 'IS NOT') return r === null ? l !== null : undefined;
  if (l === null || r === null) return undefined;
  return compareConstants(op, l, r);
}

/**
 * Whether an UPDATE or DELETE filter leaves the statement unbounded. As on Postgres, the text
 * proves a bound only by pinning a bare column to values that do not depend on the row
 * (`id = 5`, `id = ?`, `id IN (1, 2)`; one such conjunct of an AND, or one in every branch of an
 * OR); `WHERE 1e0`, `WHERE id`, `id > 0`, `name LIKE '%'` or `id IN (SELECT ...)` may hold for
 * every row. The check looks at node types only, except where a constant's truth decides
 * (`WHERE 0 OR id = 5`).
 */
export function isUnboundedFilter(where: unknown, reads: LiteralReads, pins: PinCheck = ANY_PIN): boolean {
  if (where === undefined || where === null) return true;
  // node-sql-parser binds `||` tighter than `=`; MySQL (without PIPES_AS_CONCAT) reads it as a
  // low-precedence OR, so `id = 1 || 1` is `(id = 1) OR 1` on the server. A tree holding one is
  // not the server's tree and proves no bound. XOR likewise: the parser binds it tighter than `=`,
  // the server looser (`id = 1 XOR 1` is `(id = 1) XOR 1`, every row but one).
  if (holdsOperator(where, '||') || holdsOperator(where, 'XOR')) return true;
  return !pinsRows(where, reads, pins);
}

/**
 * Whether `column = value` pins a column to one value. The text alone cannot tell: MySQL converts
 * a string column's every value to a number to compare it with one (`body = 0` holds for each
 * body not starting with a digit), so a check that knows the columns' types passes its own.
 */
export type PinCheck = (column: string, value: Node) => boolean;
const ANY_PIN: PinCheck = () => true;

function pinsRows(value: unknown, reads: LiteralReads, pins: PinCheck): boolean {
  const node = asNode(value);
  if (!node) return false;
  if (node.type === 'binary_expr' && typeof node.operator === 'string') {
    const op = node.operator.toUpperCase();
    if (op === 'AND' || op === '&&')
      return pinsRows(node.left, reads, pins) || pinsRows(node.right, reads, pins);
    if (op === 'OR' || op === '||')
      return pinsRows(node.left, reads, pins) && pinsRows(node.right, reads, pins);
    if (op === '=' && (pinned(node.left, node.right, pins) || pinned(node.right, node.left, pins)))
      return true;
    if (op === 'IN') {
      const list = asNode(node.right);
      if (
        list?.type === 'expr_list' &&
        Array.isArray(list.value) &&
        list.value.length > 0 &&
        list.value.every((v) => pinned(node.left, v, pins))
      )
        return true;
    }
  }
  // A condition known to be false touches no row (`WHERE 0 OR id = 5`).
  return constantTruth(node, reads) === false;
}

function pinned(column: unknown, value: unknown, pins: PinCheck): boolean {
  const ref = asNode(column);
  if (ref?.type !== 'column_ref' || !isRowIndependent(value)) return false;
  const name = typeof ref.column === 'string' ? ref.column : asNode(ref.column)?.['expr'];
  const text = typeof name === 'string' ? name : String(asNode(name)?.['value'] ?? '');
  return pins(text, value as Node);
}

/** An expression whose value is the same for every row: no column, no subquery. */
function isRowIndependent(value: unknown): boolean {
  return value !== undefined && value !== null && !namesColumn(value) && !holdsSubquery(value);
}

function holdsOperator(value: unknown, operator: string): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some((v) => holdsOperator(v, operator));
  const node = value as Node;
  if (
    node.type === 'binary_expr' &&
    typeof node.operator === 'string' &&
    node.operator.toUpperCase() === operator
  )
    return true;
  for (const key in node) {
    const child = node[key];
    if (typeof child === 'object' && child !== null && holdsOperator(child, operator)) return true;
  }
  return false;
}

function holdsSubquery(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(holdsSubquery);
  const node = value as Node;
  if ('ast' in node || node.type === 'select') return true;
  for (const key in node) {
    const child = node[key];
    if (typeof child === 'object' && child !== null && holdsSubquery(child)) return true;
  }
  return false;
}

function namesColumn(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some(namesColumn);
  const node = value as Node;
  if (node.type === 'column_ref') return true;
  for (const key in node) {
    const child = node[key];
    if (typeof child === 'object' && child !== null && namesColumn(child)) return true;
  }
  return false;
}
