/**
 * Whether a MySQL WHERE holds for every row (`1=1`, `TRUE`, `'a'='a'`, `1`, `id = id`,
 * `1=1 OR id=5`, `NOT 0`). See the Postgres twin for the reasoning.
 */
type Node = Record<string, unknown>;

type Scalar = number | string | boolean | null;

function scalarOf(node: Node): Scalar | undefined {
  switch (node.type) {
    case 'number':
      return typeof node.value === 'number' ? node.value : Number(node.value);
    case 'bool':
      return node.value === true;
    case 'null':
      return null;
    case 'single_quote_string':
    case 'double_quote_string':
    case 'string':
      return typeof node.value === 'string' ? node.value : undefined;
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

function sameExpression(a: unknown, b: unknown): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

function asNode(value: unknown): Node | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Node) : undefined;
}

export function constantTruth(value: unknown): boolean | undefined {
  const node = asNode(value);
  if (!node) return undefined;
  const scalar = scalarOf(node);
  if (scalar !== undefined) return truthOf(scalar);
  if (node.type === 'unary_expr' && (node.operator === 'NOT' || node.operator === '!')) {
    const inner = constantTruth(node.expr);
    return inner === undefined ? undefined : !inner;
  }
  if (node.type !== 'binary_expr' || typeof node.operator !== 'string') return undefined;
  const op = node.operator.toUpperCase();
  if (op === 'AND' || op === '&&') {
    const l = constantTruth(node.left);
    const r = constantTruth(node.right);
    if (l === false || r === false) return false;
    return l === true && r === true ? true : undefined;
  }
  if (op === 'OR' || op === '||') {
    const l = constantTruth(node.left);
    const r = constantTruth(node.right);
    if (l === true || r === true) return true;
    return l === false && r === false ? false : undefined;
  }
  const left = asNode(node.left);
  const right = asNode(node.right);
  const l = left ? scalarOf(left) : undefined;
  const r = right ? scalarOf(right) : undefined;
  if (l !== undefined && r !== undefined) {
    if (op === 'IS') return r === null ? l === null : undefined;
    if (op === 'IS NOT') return r === null ? l !== null : undefined;
    if (l === null || r === null) return undefined;
    const x = typeof l === typeof r ? l : String(l);
    const y = typeof l === typeof r ? r : String(r);
    switch (op) {
      case '=':
      case '<=>':
        return x === y;
      case '!=':
      case '<>':
        return x !== y;
      case '<':
        return x < y;
      case '>':
        return x > y;
      case '<=':
        return x <= y;
      case '>=':
        return x >= y;
      default:
        return undefined;
    }
  }
  if ((op === '=' || op === '<=>' || op === '<=' || op === '>=') && sameExpression(node.left, node.right))
    return true;
  return undefined;
}

export function isUnboundedFilter(where: unknown): boolean {
  if (where === undefined || where === null) return true;
  return constantTruth(where) === true;
}
