/**
 * The truth of `a op b` for two constants the guard could read (numbers, strings or booleans),
 * as both dialects' constant-truth checks need it; undefined for an operator it does not know.
 * Values of different types are compared as text. `<=>` (MySQL's NULL-safe equality) is `=` here:
 * callers handle NULL before they get this far.
 */
export function compareConstants(
  op: string,
  a: string | number | boolean,
  b: string | number | boolean,
): boolean | undefined {
  const x = typeof a === typeof b ? a : String(a);
  const y = typeof a === typeof b ? b : String(b);
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
