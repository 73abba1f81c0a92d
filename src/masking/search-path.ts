/**
 * Lineage resolves a statement's unqualified names by the catalog's search path, read once from
 * the gateway's own connection. A caller who changes the session's search path (`SET
 * search_path`, `SET SCHEMA`, `set_config('search_path', ...)`, a startup `-c search_path=`)
 * makes the server read `notes` as another relation than lineage does (a view of the masked
 * column in a schema of its own). Under column masking such a change is refused.
 */

import { parse } from 'libpg-query';

type Node = Record<string, unknown>;

const isObject = (v: unknown): v is Node => typeof v === 'object' && v !== null;

/** The settings a guard summary says its statements change, and the statements' texts. */
export interface SearchPathQuestion {
  settings: readonly string[];
  texts: readonly string[];
}

/**
 * Whether the statements may change the search path (fail closed: a set_config of a computed
 * name may).
 */
export async function changesSearchPath({ settings, texts }: SearchPathQuestion): Promise<boolean> {
  if (settings.some((s) => s.toLowerCase() === 'search_path')) return true;
  if (!texts.some((t) => /set_config/i.test(t))) return false;
  // The guard's tree may be of an earlier text of the same shape (other literals): the literal
  // that names the setting is read from this text's own parse.
  for (const text of texts) {
    try {
      if (callsSetConfigOfSearchPath(await parse(text))) return true;
    } catch {
      return true;
    }
  }
  return false;
}

function callsSetConfigOfSearchPath(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(callsSetConfigOfSearchPath);
  if (!isObject(node)) return false;
  const call = isObject(node.FuncCall) ? node.FuncCall : undefined;
  if (call !== undefined && functionName(call) === 'set_config') {
    const first = Array.isArray(call.args) ? call.args[0] : undefined;
    const name = literalString(first);
    if (name === undefined || name.toLowerCase() === 'search_path') return true;
  }
  return Object.values(node).some(callsSetConfigOfSearchPath);
}

function functionName(call: Node): string | undefined {
  const parts = Array.isArray(call.funcname) ? call.funcname : [];
  const last = parts[parts.length - 1];
  const value = isObject(last) && isObject(last.String) ? last.String.sval : undefined;
  return typeof value === 'string' ? value.toLowerCase() : undefined;
}

/** A string constant (`'x'`, `'x'::text`), or undefined for anything computed. */
function literalString(node: unknown): string | undefined {
  if (!isObject(node)) return undefined;
  if (isObject(node.TypeCast)) return literalString(node.TypeCast.arg);
  const constant = isObject(node.A_Const) ? node.A_Const : undefined;
  const sval = constant && isObject(constant.sval) ? constant.sval.sval : undefined;
  return typeof sval === 'string' ? sval : undefined;
}
