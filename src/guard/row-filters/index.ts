import { deparseSync } from 'pgsql-deparser';
import type { JWTPayload } from 'jose';
import type { Catalog, CatalogRelation, CatalogSnapshot } from '../../masking/catalog.js';
import type { SessionContext } from '../../gateway/types.js';
import { readClaim } from '../../identity/claims.js';
import type { PgParseResult, PostgresParser } from '../postgres/parser.js';
import { RowFilterRefusal } from './condition.js';
import { mysqlFilteredNames, mysqlNamesOtherSessions } from './mysql.js';
import { rewriteMysqlStatement, UnknownRelation } from './mysql-rewrite.js';
import { FilteredRelations } from './relations.js';
import { rewriteStatement } from './rewrite.js';
import type { RowFilterRule } from './template.js';
import { type PgNode, sameTree, walkNodes } from './tree.js';

export { compileRowFilters, RowFilterConfigError, type RowFilterRule } from './template.js';

/** What a policy's row filters make of a statement. */
export type RowFilterOutcome =
  | { kind: 'unchanged' }
  /** The text to run in its place: every read of a filtered table goes through its filter. */
  | { kind: 'rewritten'; sql: string }
  | { kind: 'refused'; reason: string };

const UNCHANGED: RowFilterOutcome = { kind: 'unchanged' };

export interface RowFiltersOptions {
  parser: PostgresParser;
  catalogFor: (target: string) => Catalog;
}

/**
 * Row filters (policy `rowFilters`) on the statements of a session. Postgres: the statement is
 * parsed, rewritten on its tree (rewrite.ts), printed back with pgsql-deparser, and the printed
 * text is parsed again and must give the same tree, so the text that runs means exactly the
 * rewritten statement. MySQL: a statement's reads of a filtered table are replaced by text, and a
 * single-table UPDATE or DELETE of one gets the filter in its WHERE (mysql-rewrite.ts); a
 * statement that names one anywhere else is refused.
 */
export class RowFilters {
  readonly #parser: PostgresParser;
  readonly #catalogFor: (target: string) => Catalog;
  readonly #relations = new WeakMap<CatalogSnapshot, Map<readonly RowFilterRule[], FilteredRelations>>();
  readonly #views = new WeakMap<CatalogRelation, PgNode | null>();

  constructor(options: RowFiltersOptions) {
    this.#parser = options.parser;
    this.#catalogFor = options.catalogFor;
  }

  async apply(
    sql: string,
    session: SessionContext,
    rules: readonly RowFilterRule[],
  ): Promise<RowFilterOutcome> {
    if (rules.length === 0) return UNCHANGED;
    try {
      if (session.dialect === 'mysql') {
        const shown = mysqlNamesOtherSessions(sql);
        if (shown !== undefined) {
          throw new RowFilterRefusal(
            `${shown} shows other sessions' statements, other callers' among them; it cannot be read under row filters`,
          );
        }
        return await this.#applyMysql(sql, session, rules);
      }
      return await this.#applyPostgres(sql, session, rules);
    } catch (err) {
      if (err instanceof RowFilterRefusal) return { kind: 'refused', reason: err.message };
      const reason = err instanceof Error ? err.message : String(err);
      return { kind: 'refused', reason: `the row filters could not be applied: ${reason}` };
    }
  }

  async #snapshot(target: string): Promise<CatalogSnapshot> {
    try {
      return await this.#catalogFor(target).snapshot();
    } catch (err) {
      throw new RowFilterRefusal(
        `the catalog of ${target} cannot be read to apply the row filters: ${(err as Error).message}`,
      );
    }
  }

  async #applyMysql(
    sql: string,
    session: SessionContext,
    rules: readonly RowFilterRule[],
  ): Promise<RowFilterOutcome> {
    const claims = session.identity.claims ?? { sub: session.identity.subject };
    const readTheClaim = (path: string) => readClaim(claims as JWTPayload, path);
    const rewrite = async (fresh: boolean): Promise<string | undefined> => {
      const snapshot = await this.#snapshot(session.target);
      return rewriteMysqlStatement(
        sql,
        rules,
        mysqlFilteredNames(rules, snapshot),
        readTheClaim,
        (db, table) => (fresh ? true : snapshot.lookup(db ?? undefined, table) !== undefined),
      );
    };
    let rewritten: string | undefined;
    try {
      rewritten = await rewrite(false);
    } catch (err) {
      if (!(err instanceof UnknownRelation)) throw err;
      // A view made since the catalog was read could be over a filtered table: read it again
      // (what it still lacks, `dual` or a temporary table, is no view).
      this.#catalogFor(session.target).invalidate();
      rewritten = await rewrite(true);
    }
    return rewritten === undefined ? UNCHANGED : { kind: 'rewritten', sql: rewritten };
  }

  async #applyPostgres(
    sql: string,
    session: SessionContext,
    rules: readonly RowFilterRule[],
  ): Promise<RowFilterOutcome> {
    const parsed = this.#parser.parse(sql);
    if (parsed.stmts.length === 0) return UNCHANGED;
    let snapshot = await this.#snapshot(session.target);
    if (namesUnknownRelations(parsed, snapshot)) {
      // A partition or view made since the catalog was read would otherwise go unfiltered.
      this.#catalogFor(session.target).invalidate();
      snapshot = await this.#snapshot(session.target);
    }
    const relations = this.#filteredRelations(snapshot, rules);
    const claims = session.identity.claims ?? { sub: session.identity.subject };
    const context = {
      relations,
      readClaim: (path: string) => readClaim(claims as JWTPayload, path),
      viewQuery: (view: CatalogRelation) => this.#viewQuery(view),
      isUserFunction: (schema: string | undefined, name: string) => snapshot.isUserFunction(schema, name),
    };
    const stmts = parsed.stmts.map((s) => structuredClone(s.stmt));
    let changed = false;
    for (const stmt of stmts) if (rewriteStatement(stmt, context)) changed = true;
    if (!changed) return UNCHANGED;
    // One statement at a time: the printer separates several by blank lines, not semicolons.
    const text = stmts
      .map((stmt) => deparseSync({ version: parsed.version, stmts: [{ stmt }] } as never, { pretty: false }))
      .join(';\n');
    let again: PgParseResult;
    try {
      // The wire cannot carry a NUL (it would be dropped, changing the text): refused below.
      again = text.includes('\0') ? { version: 0, stmts: [] } : this.#parser.parse(text);
    } catch {
      again = { version: 0, stmts: [] };
    }
    if (
      !sameTree(
        again.stmts.map((s) => s.stmt),
        stmts,
      )
    ) {
      throw new RowFilterRefusal(
        'the statement could not be rewritten for the row filters (its printed form does not read back the same); simplify it',
      );
    }
    return { kind: 'rewritten', sql: text };
  }

  #filteredRelations(snapshot: CatalogSnapshot, rules: readonly RowFilterRule[]): FilteredRelations {
    let byRules = this.#relations.get(snapshot);
    if (byRules === undefined) {
      byRules = new Map();
      this.#relations.set(snapshot, byRules);
    }
    let relations = byRules.get(rules);
    if (relations === undefined) {
      relations = new FilteredRelations(snapshot, rules, (view) => this.#viewQuery(view));
      byRules.set(rules, relations);
    }
    return relations;
  }

  /** A view's definition as a `{ SelectStmt }` node, a fresh copy per call; undefined when unreadable. */
  #viewQuery(view: CatalogRelation): PgNode | undefined {
    let tree = this.#views.get(view);
    if (tree === undefined) {
      try {
        const parsed = this.#parser.parse(view.definition ?? '');
        const stmt = parsed.stmts.length === 1 ? parsed.stmts[0]?.stmt : undefined;
        tree = stmt !== undefined && 'SelectStmt' in stmt ? stmt : null;
      } catch {
        tree = null;
      }
      this.#views.set(view, tree);
    }
    return tree === null ? undefined : structuredClone(tree);
  }
}

/** Whether a parse names a relation the snapshot does not know that is not one of its CTEs. */
function namesUnknownRelations(parsed: PgParseResult, snapshot: CatalogSnapshot): boolean {
  const ctes = new Set<string>();
  const named: { schema: string | undefined; name: string }[] = [];
  walkNodes(parsed.stmts, (type, fields) => {
    if (type === 'CommonTableExpr') ctes.add(String((fields as { ctename?: string }).ctename).toLowerCase());
    if (type === 'RangeVar') {
      const rv = fields as { schemaname?: string; relname: string };
      named.push({ schema: rv.schemaname, name: rv.relname });
    }
  });
  return named.some(
    (r) =>
      !(r.schema === undefined && ctes.has(r.name.toLowerCase())) &&
      snapshot.lookup(r.schema, r.name) === undefined,
  );
}
