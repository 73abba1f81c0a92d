/**
 * The `objects` globs of a policy rule: `orders`, `sales.orders`, `sales.*`, `pg_read_*()`.
 * A pattern ending in `()` names functions; any other names relations. `*` matches any run of
 * characters, `?` one. Names compare case-insensitively.
 *
 * A pattern without a schema matches the relation in any schema. A pattern with a schema
 * (`sales.orders`) matches a qualified name exactly; whether it matches an unqualified name
 * (`orders`, resolved by the server's search_path, which the guard cannot see) depends on who asks:
 * a deny or review rule takes "may be that table" as a match, an allow rule does not.
 */
export interface ObjectPatterns {
  /** For deny/review rules: the statement names at least one matching object (or may). */
  touchesAny(objects: readonly string[]): boolean;
  /**
   * For allow rules: every relation the statement names is matched by a relation pattern (when
   * the rule has any), every function by a function pattern (when it has any), and at least one
   * object was matched. An allow rule about some tables must not allow a statement that also
   * reaches others; a rule naming only tables does not constrain functions, and vice versa.
   */
  coversAll(objects: readonly string[]): boolean;
}

interface Pattern {
  whole: RegExp;
  /** The last name part of the pattern when it is qualified, for unqualified objects. */
  last: RegExp | undefined;
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (const ch of glob) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[\\^$.+()[\]{}|/-]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'i');
}

function compile(pattern: string): Pattern {
  const dot = pattern.lastIndexOf('.');
  return {
    whole: globToRegExp(pattern),
    last: dot >= 0 ? globToRegExp(pattern.slice(dot + 1)) : undefined,
  };
}

function isFunction(name: string): boolean {
  return name.endsWith('()');
}

/** `c.s.t` → `s.t`; `s.t` and `t` unchanged. */
function schemaAndName(name: string): string {
  const parts = name.split('.');
  return parts.length > 2 ? parts.slice(-2).join('.') : name;
}

function matches(p: Pattern, object: string, unqualifiedMatches: boolean): boolean {
  const dotted = object.includes('.');
  if (p.last === undefined) {
    // Unqualified pattern: compare with the object's own name, whatever its schema.
    return p.whole.test(object.slice(object.lastIndexOf('.') + 1));
  }
  if (dotted) return p.whole.test(schemaAndName(object));
  return unqualifiedMatches && p.last.test(object);
}

export function compileObjectPatterns(globs: readonly string[]): ObjectPatterns {
  const relations = globs.filter((g) => !isFunction(g)).map(compile);
  const functions = globs.filter(isFunction).map(compile);
  const groupOf = (object: string) => (isFunction(object) ? functions : relations);

  return {
    touchesAny(objects) {
      return objects.some((o) => groupOf(o).some((p) => matches(p, o, true)));
    },
    coversAll(objects) {
      let seen = false;
      for (const group of [relations, functions]) {
        if (group.length === 0) continue;
        const own = objects.filter((o) => (group === functions) === isFunction(o));
        if (!own.every((o) => group.some((p) => matches(p, o, false)))) return false;
        if (own.length > 0) seen = true;
      }
      return seen;
    },
  };
}
