/**
 * Canonical JSON, the byte form the hash chain is computed over.
 *
 * Definition (so a verifier in any language can reproduce it):
 * - objects: members sorted by key in UTF-16 code unit order (JavaScript's default sort), written
 *   `{"k":v,...}` with no whitespace; members whose value is `undefined` are left out;
 * - arrays: elements in order, `[a,b]`, `undefined` written as `null`;
 * - strings and finite numbers: as ECMAScript `JSON.stringify` writes them (so `-0` is `0`).
 * For values JSON can already carry this is RFC 8785 (JCS).
 *
 * Values JSON cannot carry are made JSON first, so that what is hashed is exactly what a reader
 * parses back: bigint → decimal string, Buffer / Uint8Array → base64 string, Date → ISO string,
 * NaN / ±Infinity → the strings "NaN", "Infinity", "-Infinity", functions and symbols → null,
 * other objects → their `toJSON()` if they have one, else their own enumerable members.
 */

/** JSON text that is already canonical, spliced in verbatim (pre-serialized rows). */
export class CanonicalText {
  constructor(readonly text: string) {}
}

/** Nesting deeper than this is cut (a hostile or cyclic value must not stall the recorder). */
const MAX_DEPTH = 64;

export function canonicalJson(value: unknown): string {
  return write(value, 0);
}

/**
 * Whether JSON.stringify already writes this row canonically: only strings, finite numbers,
 * booleans, null and valid Dates (whose toJSON is the ISO string used here).
 */
export function isPlainRow(row: readonly unknown[]): boolean {
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    switch (typeof v) {
      case 'string':
      case 'boolean':
        continue;
      case 'number':
        if (!Number.isFinite(v)) return false;
        continue;
      case 'object':
        if (v === null) continue;
        if (v instanceof Date && !Number.isNaN(v.getTime())) continue;
        return false;
      default:
        return false;
    }
  }
  return true;
}

/** A row's canonical form; the common cases (strings, numbers, null) take the short path. */
export function canonicalRow(row: readonly unknown[]): string {
  let out = '[';
  for (let i = 0; i < row.length; i++) {
    if (i > 0) out += ',';
    const v = row[i];
    if (typeof v === 'string') out += JSON.stringify(v);
    else if (typeof v === 'number' && Number.isFinite(v)) out += JSON.stringify(v);
    else if (v === null || v === undefined) out += 'null';
    else out += write(v, 1);
  }
  return out + ']';
}

/** What JSON.stringify escapes in a string: quote, backslash, controls, and (lone) surrogates. */
// eslint-disable-next-line no-control-regex -- the controls are exactly what must be found
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * A string as JSON.stringify writes it; most need no escape and are just quoted (cheaper than
 * JSON.stringify for the short strings events are made of).
 */
export function quoteJson(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

function write(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return quoteJson(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : JSON.stringify(String(value));
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(value.toString());
    case 'undefined':
    case 'function':
    case 'symbol':
      return 'null';
    case 'object':
      break;
  }
  if (value === null) return 'null';
  if (value instanceof CanonicalText) return value.text;
  if (depth >= MAX_DEPTH) return JSON.stringify('[nested too deep]');
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += write(value[i], depth + 1);
    }
    return out + ']';
  }
  if (value instanceof Uint8Array)
    return JSON.stringify(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'));
  if (value instanceof Date)
    return JSON.stringify(Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString());
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return write(toJSON.call(value), depth + 1);
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const v = record[key];
    if (v === undefined) continue;
    if (!first) out += ',';
    first = false;
    out += JSON.stringify(key) + ':' + write(v, depth + 1);
  }
  return out + '}';
}
