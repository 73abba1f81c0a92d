import { GuardError } from '../errors.js';
import type { StatementFacts } from '../statement-facts.js';
import type { PgClassifyContext } from './classify.js';
import { visitEmbedded } from './classify.js';

type Node = Record<string, unknown>;

/** PLpgSQL_expr.parseMode values (RawParseMode in the Postgres source). */
const PARSE_DEFAULT = 0;
const PARSE_EXPR = 2;
const PARSE_ASSIGN_FIRST = 3;
const PARSE_ASSIGN_LAST = 5;

/**
 * Classifies the body of a DO block: every SQL statement and expression in it is parsed and
 * classified into the DO statement's facts. Dynamic SQL (EXECUTE of a string, FOR ... IN EXECUTE,
 * RETURN QUERY EXECUTE, OPEN ... FOR EXECUTE) cannot be seen and counts as `procedural`. A body
 * in another language, or one that does not parse, is `unknown`.
 */
export function classifyPlPgSql(doStmt: Node, facts: StatementFacts, ctx: PgClassifyContext): void {
  let language = 'plpgsql';
  let body: string | undefined;
  for (const item of Array.isArray(doStmt.args) ? doStmt.args : []) {
    const def = (item as Node | null)?.DefElem as Node | undefined;
    const value = ((def?.arg as Node | undefined)?.String as Node | undefined)?.sval;
    if (typeof value !== 'string') continue;
    if (def?.defname === 'language') language = value.toLowerCase();
    if (def?.defname === 'as') body = value;
  }
  if (language !== 'plpgsql' || body === undefined) {
    facts.add('unknown');
    return;
  }
  let tree: unknown;
  try {
    tree = ctx.parser.parsePlPgSql(`DO ${dollarQuote(body)}`);
  } catch (err) {
    if (err instanceof GuardError) {
      facts.add('unknown');
      return;
    }
    throw err;
  }
  visitPlPgSql(tree, facts, ctx);
}

/** A dollar quote whose tag does not occur in the body, so the body comes back unchanged. */
function dollarQuote(body: string): string {
  let tag = 'sluice';
  for (let i = 0; body.includes(`$${tag}$`); i++) tag = `sluice${i}`;
  return `$${tag}$${body}$${tag}$`;
}

function visitPlPgSql(node: unknown, facts: StatementFacts, ctx: PgClassifyContext): void {
  if (typeof node !== 'object' || node === null) return;
  if (Array.isArray(node)) {
    for (const item of node) visitPlPgSql(item, facts, ctx);
    return;
  }
  const obj = node as Node;
  if ('dynquery' in obj && obj.dynquery) facts.add('procedural');
  for (const key in obj) {
    const value = obj[key];
    if (typeof value !== 'object' || value === null) continue;
    if (key === 'PLpgSQL_expr') {
      embedded(value as Node, facts, ctx);
      continue;
    }
    if (key === 'PLpgSQL_stmt_dynexecute' || key === 'PLpgSQL_stmt_dynfors') facts.add('procedural');
    visitPlPgSql(value, facts, ctx);
  }
}

function embedded(expr: Node, facts: StatementFacts, ctx: PgClassifyContext): void {
  const query = expr.query;
  if (typeof query !== 'string') return;
  const mode = typeof expr.parseMode === 'number' ? expr.parseMode : PARSE_DEFAULT;
  if (mode === PARSE_DEFAULT) {
    visitEmbedded(query, facts, ctx);
  } else if (mode === PARSE_EXPR) {
    visitEmbedded(`SELECT ${query}`, facts, ctx);
  } else if (mode >= PARSE_ASSIGN_FIRST && mode <= PARSE_ASSIGN_LAST) {
    // `target := expression`: only the expression runs.
    const at = query.indexOf(':=');
    const eq = at >= 0 ? at + 2 : query.indexOf('=') + 1;
    if (eq <= 0) facts.add('unknown');
    else visitEmbedded(`SELECT ${query.slice(eq)}`, facts, ctx);
  } else {
    facts.add('unknown');
  }
}
