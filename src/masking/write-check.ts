import { analyseStatement, type LineageEnvironment, type Taint } from './lineage/analyse.js';
import { noFilters, type Query, type Statement } from './lineage/ir.js';
import type { StatementSummary } from '../gateway/types.js';
import { relationOfObject, type CatalogSnapshot } from './catalog.js';
import { maskingRuleOf, type CompiledMaskingPolicy } from './policy.js';

/**
 * Masking rewrites values on their way to the caller; it cannot follow a value the caller has the
 * database store. A masked value written into a table (`INSERT INTO notes SELECT ssn FROM
 * customers`, `UPDATE customers SET name = ssn`), a setting (`set_config`), a notification or a
 * large object comes back in clear from the next read. So a statement that would store values
 * derived from masked columns, or values whose origin cannot be told while masked data is in
 * reach, is refused before it runs. What the rule returns in clear (`derived: [length]`) may be
 * stored, as it may be read. Returns why, or undefined when nothing masked would be stored.
 */
export function maskedWriteRefusal(
  written: readonly Query[],
  statements: readonly Statement[],
  env: LineageEnvironment,
  policy: CompiledMaskingPolicy,
): string | undefined {
  const refusal = (what: string, into: string) =>
    `the statement would store ${what} ${into}, and a later read would return it unmasked; ` +
    `policy ${policy.policy} does not let masked data be copied`;
  // What is stored is the select list; a WHERE (which a sink in it may read) is looked at below.
  for (const query of written) {
    if (query.kind === 'select' && query.targets.length === 0) continue;
    const values = query.kind === 'select' ? { ...query, filters: noFilters() } : query;
    const lineage = analyseStatement({ kind: 'query', query: values, cursor: undefined }, env);
    for (const output of lineage.outputs ?? []) {
      const hit = maskedSource(output.taint, policy);
      if (hit) return refusal(`values of masked column ${hit}`, 'in a table');
    }
    const untraced = lineage.outputs === undefined || lineage.unresolved.length > 0;
    if (untraced && (lineage.opaque || maskedInReach(lineage.tablesRead, policy) !== undefined)) {
      return refusal(
        `values whose origin cannot be told (${lineage.unresolved[0] ?? 'untraced'})`,
        'in a table',
      );
    }
  }
  // With their WHERE: a write's row count tells which rows its filter matched, as a read's rows do.
  const lineages = written.map((query) => analyseStatement({ kind: 'query', query, cursor: undefined }, env));
  if (policy.maskedFilters === 'refuse') {
    for (const lineage of lineages) {
      const hit = lineage.filtered.find((f) => policy.columnRule(f.schema, f.table, f.column));
      if (hit) {
        return (
          `the statement filters on masked column ${hit.schema}.${hit.table}.${hit.column}; ` +
          `policy ${policy.policy} refuses that because its row count would reveal it by inference`
        );
      }
    }
  }
  if (env.sinkFunctions === undefined) return undefined;
  for (const statement of statements) {
    if (statement.kind === 'query') lineages.push(analyseStatement(statement, env));
  }
  for (const lineage of lineages) {
    for (const sink of lineage.sinks) {
      const hit = maskedSource(sink.taint, policy);
      if (hit) return refusal(`values of masked column ${hit}`, `through ${sink.name}()`);
    }
    // A store next to what lineage cannot see into (a user function, which may itself be the
    // store and read masked tables inside): nothing tells what it keeps.
    if (lineage.sinks.length > 0 && lineage.opaque) {
      const sink = lineage.sinks[0]?.name ?? '';
      return refusal(
        `values whose origin cannot be told (${lineage.unresolved[0] ?? 'untraced'})`,
        `through ${sink}()`,
      );
    }
  }
  return undefined;
}

/**
 * DDL on a table with masked columns (`ALTER TABLE customers RENAME COLUMN ssn TO x`, a
 * generated column computed from one, `RENAME TABLE customers TO c2`) would take its values out of
 * the rules that name them: refused for a caller from whom they are masked. Returns why, or
 * undefined.
 */
export function maskedDdlRefusal(
  statements: readonly StatementSummary[],
  snapshot: CatalogSnapshot,
  policy: CompiledMaskingPolicy,
): string | undefined {
  for (const statement of statements) {
    // A view is read through its definition, whatever it names its columns.
    if (!statement.effects.includes('ddl') || /^CREATE (OR REPLACE )?VIEW\b/i.test(statement.command))
      continue;
    if (statement.objects.length === 0 && statement.command === 'DDL') {
      // A MySQL schema change the parser could not read (ALTER ONLINE, ALTER TABLE IF EXISTS):
      // which tables it changes is not known, so it may be one whose columns are masked.
      return (
        `the statement changes the schema in a form whose tables Sluice cannot read; ` +
        `policy ${policy.policy} masks columns, and does not let a masked caller redefine what masking protects`
      );
    }
    for (const object of statement.objects) {
      const rel = relationOfObject(snapshot, object);
      if (rel === undefined || rel.kind === 'view') continue;
      const masked = maskedInReach([rel], policy);
      if (masked !== undefined) {
        return (
          `the statement changes table ${rel.schema}.${rel.name}, whose column ${masked} is masked for this caller; ` +
          `policy ${policy.policy} does not let a masked caller redefine what masking protects`
        );
      }
    }
  }
  return undefined;
}

/** The first masked source of a taint that its rule does not return in clear, as schema.table.column. */
function maskedSource(taint: Taint, policy: CompiledMaskingPolicy): string | undefined {
  for (const [key, source] of taint.sources) {
    if (maskingRuleOf(policy, taint, key, source)) return `${source.schema}.${source.table}.${source.column}`;
  }
  return undefined;
}

function maskedInReach(
  tables: readonly { schema: string; name: string; columns: readonly string[] }[],
  policy: CompiledMaskingPolicy,
): string | undefined {
  for (const t of tables) {
    for (const column of t.columns) {
      if (policy.columnRule(t.schema, t.name, column)) return `${t.schema}.${t.name}.${column}`;
    }
  }
  return undefined;
}

/**
 * A routine's body is not traced: a `CALL`, a `DO` block, or a routine, trigger or event being
 * created may read masked columns and store them (`CREATE PROCEDURE p() INSERT INTO notes SELECT
 * ssn FROM customers`, then `CALL p()`), where a later read returns them in clear. Refused for a
 * caller with column masking. Returns why, or undefined.
 */
export function maskedRoutineRefusal(
  statements: readonly StatementSummary[],
  policy: CompiledMaskingPolicy,
): string | undefined {
  const routine = statements.find((s) => s.effects.includes('procedural'));
  if (routine === undefined) return undefined;
  return (
    `${routine.command} runs code whose reads and writes masking cannot trace, which may copy ` +
    `masked values where a later read returns them unmasked; policy ${policy.policy} masks columns, ` +
    'so it is refused'
  );
}
