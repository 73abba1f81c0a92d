import type { ResultColumn } from '../gateway/types.js';
import { ancestorsOf, type CatalogRelation, type CatalogSnapshot } from './catalog.js';
import {
  analyseStatement,
  analyseView,
  type LineageEnvironment,
  type StatementLineage,
} from './lineage/analyse.js';
import type { Statement } from './lineage/ir.js';
import { CLEAN, type SourceColumn, type Taint, tableColumnTaint, unionTaints } from './lineage/taint.js';
import type { ColumnOrigin, PlanContext } from './plan.js';
import type { CompiledMaskingPolicy } from './policy.js';

/** The lineage of a cursor's query, kept by the integrator per session and handed back at FETCH. */
export interface CursorLineage {
  /**
   * The cursor name as Postgres knows it (from the parse tree: an unquoted name folded to lower
   * case, a quoted one exact). Compared exactly: `"C"` and `c` are two cursors.
   */
  readonly name: string;
  readonly lineage: StatementLineage;
  /** Declared WITH HOLD: its whole result is computed when its transaction commits. */
  readonly hold?: boolean;
}

/** What the wire says a column is: a plain column of a table or view, or nothing. */
function wireTaint(
  column: ResultColumn,
  snapshot: CatalogSnapshot,
  env: LineageEnvironment,
  seen: Map<string, CatalogRelation>,
): Taint | undefined {
  let rel: CatalogRelation | undefined;
  let name: string | undefined;
  let index = -1;
  if (column.tableOid && column.columnAttr && column.columnAttr > 0) {
    rel = snapshot.relationByOid(column.tableOid);
    index = rel?.attnums ? rel.attnums.indexOf(column.columnAttr) : column.columnAttr - 1;
    name = rel?.columns[index];
  } else if (column.orgTable && column.orgName) {
    rel = snapshot.lookup(column.orgSchema || undefined, column.orgTable);
    name = column.orgName;
    index = rel ? rel.columns.findIndex((c) => c.toLowerCase() === column.orgName?.toLowerCase()) : -1;
  }
  if (!rel || name === undefined || index < 0) return undefined;
  if (rel.kind === 'table') {
    seen.set(`${rel.schema}.${rel.name}`, rel);
    const ancestors = ancestorsOf(snapshot, rel);
    for (const a of ancestors) seen.set(`${a.schema}.${a.name}`, a);
    return tableColumnTaint(rel, rel.columns[index] as string, ancestors);
  }
  // A view column: what the view's definition computes it from.
  const view = analyseView(rel, env);
  for (const t of view.tablesRead) seen.set(`${t.schema}.${t.name}`, t);
  return view.outputs?.[index]?.taint;
}

/** Whether any wire origin names a relation the snapshot does not know (the catalog is stale). */
export function wireNamesUnknown(columns: readonly ResultColumn[], snapshot: CatalogSnapshot): boolean {
  return columns.some((c) =>
    c.tableOid && c.columnAttr && c.columnAttr > 0
      ? !snapshot.relationByOid(c.tableOid)
      : Boolean(c.orgTable && c.orgName && !snapshot.lookup(c.orgSchema || undefined, c.orgTable)),
  );
}

/**
 * Picks the lineage of the statement that produced this result. A text may hold several
 * statements and the result does not say which one it is: every row-returning statement of the
 * same width is a candidate, and their taints are united (stricter than guessing).
 */
function resultLineage(
  statements: readonly StatementLineage[],
  width: number,
  cursor: CursorLineage | undefined,
): { outputs: Taint[] | undefined; reasons: string[] } {
  const declared = new Map<string, StatementLineage>();
  const candidates: StatementLineage[] = [];
  let noData = false;
  const reasons: string[] = [];
  // A FETCH of a cursor whose query is not known may be the statement this result is from, and
  // the result does not say which it is: then no statement's outputs may stand for it.
  let unknownFetch = false;
  for (const s of statements) {
    if (s.kind === 'no-data') noData = true;
    else if (s.kind === 'fetch') {
      const name = s.cursor ?? '';
      const source = declared.get(name) ?? (cursor && cursor.name === name ? cursor.lineage : undefined);
      if (source) candidates.push(source);
      else {
        unknownFetch = true;
        reasons.push(`FETCH from cursor ${s.cursor ?? ''} whose query is not known`);
      }
    } else if (s.cursor !== undefined) declared.set(s.cursor, s);
    else if (s.outputs === undefined)
      reasons.push(...(s.unresolved.length > 0 ? s.unresolved : ['unresolved']));
    else candidates.push(s);
  }
  const matching = candidates.filter((c) => c.outputs?.length === width);
  for (const c of matching) reasons.push(...c.unresolved);
  if (matching.length === 0 || unknownFetch) {
    if (candidates.length > 0)
      reasons.push(`the statement's outputs do not match the ${width} result columns`);
    else if (!noData && reasons.length === 0) reasons.push('no statement of the text returns rows');
    return { outputs: undefined, reasons };
  }
  const outputs = Array.from({ length: width }, (_, i) =>
    unionTaints(
      matching.map((c) => c.outputs?.[i]?.taint ?? CLEAN),
      false,
    ),
  );
  return { outputs, reasons };
}

/** Joins the wire origin and the parse lineage of each column; the stricter wins. */
export function resolveOrigins(
  columns: readonly ResultColumn[],
  statements: readonly Statement[],
  snapshot: CatalogSnapshot,
  env: LineageEnvironment,
  policy: CompiledMaskingPolicy,
  cursor: CursorLineage | undefined,
): { origins: ColumnOrigin[]; context: PlanContext } {
  const analysed = statements.map((s) => analyseStatement(s, env));
  const { outputs, reasons } = resultLineage(analysed, columns.length, cursor);
  const tables = new Map<string, CatalogRelation>();
  const filtered = new Map<string, SourceColumn>();
  const computed = new Map<string, SourceColumn>();
  let opaque = false;
  const involved = [...analysed];
  if (cursor && analysed.some((s) => s.kind === 'fetch')) involved.push(cursor.lineage);
  for (const s of involved) {
    for (const t of s.tablesRead) tables.set(`${t.schema}.${t.name}`, t);
    for (const f of s.filtered) filtered.set(`${f.schema}.${f.table}.${f.column}`, f);
    for (const f of s.computed ?? []) computed.set(`${f.schema}.${f.table}.${f.column}`, f);
    opaque ||= s.opaque;
  }
  if (outputs === undefined && reasons.length > 0) opaque ||= analysed.some((s) => s.kind !== 'no-data');
  const unknown = reasons.length > 0;
  const origins = columns.map((column, i): ColumnOrigin => {
    const wire = wireTaint(column, snapshot, env, tables);
    const parsed = outputs?.[i];
    const taints = [wire, parsed].filter((t): t is Taint => t !== undefined);
    return { taint: taints.length > 0 ? unionTaints(taints, false) : CLEAN, unknown };
  });
  const maskedRead: SourceColumn[] = [];
  for (const t of tables.values()) {
    for (const column of t.columns) {
      if (policy.columnRule(t.schema, t.name, column))
        maskedRead.push({ schema: t.schema, table: t.name, column });
    }
  }
  return {
    origins,
    context: {
      maskedRead,
      opaque,
      filtered: [...filtered.values()],
      computed: [...computed.values()],
      unresolved: reasons,
    },
  };
}
