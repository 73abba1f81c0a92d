import { type ClaimReader, RowFilterRefusal } from './condition.js';
import type { RowFilterRule } from './template.js';
import type { PgNode } from './tree.js';

/**
 * New rows of a filtered table (INSERT ... VALUES) are checked before the statement runs: each
 * must hold the caller's own claim in every column the filter pins. That is provable only for a
 * filter made of `column = {claims.NAME}` conjuncts and rows of plain constants; anything else
 * (INSERT ... SELECT, DEFAULT, an expression, a filter of another form) is refused. A row that
 * names another value is refused too, with the column it gets wrong: nothing is written.
 */

/** One row's values, by position: a constant's text, or undefined for anything else. */
export type NewRow = readonly (string | undefined)[];

interface Pin {
  column: string;
  claim: string;
}

/** The rule's `column = {claims.NAME}` conjuncts; undefined when it is not made of them alone. */
function pinsOf(rule: RowFilterRule): Pin[] | undefined {
  const pins: Pin[] = [];
  const collect = (node: PgNode): boolean => {
    const bool = node['BoolExpr'] as { boolop?: string; args?: PgNode[] } | undefined;
    if (bool !== undefined) return bool.boolop === 'AND_EXPR' && (bool.args ?? []).every(collect);
    const expr = node['A_Expr'] as
      { kind?: string; name?: { String?: { sval?: string } }[]; lexpr?: PgNode; rexpr?: PgNode } | undefined;
    if (expr?.kind !== 'AEXPR_OP' || expr.name?.length !== 1 || expr.name[0]?.String?.sval !== '=')
      return false;
    const pin = pinOf(rule, expr.lexpr, expr.rexpr) ?? pinOf(rule, expr.rexpr, expr.lexpr);
    if (pin !== undefined) pins.push(pin);
    return pin !== undefined;
  };
  return collect(rule.condition) ? pins : undefined;
}

function pinOf(rule: RowFilterRule, column: PgNode | undefined, value: PgNode | undefined): Pin | undefined {
  const fields = (column?.['ColumnRef'] as { fields?: { String?: { sval?: string } }[] } | undefined)?.fields;
  const name = fields?.length === 1 ? fields[0]?.String?.sval : undefined;
  const param = (value?.['ParamRef'] as { number?: number } | undefined)?.number;
  const claim = param === undefined ? undefined : rule.claims[param - 1];
  return name === undefined || claim === undefined ? undefined : { column: name, claim };
}

/**
 * Throws RowFilterRefusal unless every row sets each column the rule pins to the caller's claim.
 * `columns` are the INSERT's column names, in order (undefined: the statement names none), as
 * the engine reads them: Postgres names are exact (the parser folded unquoted ones), MySQL's are
 * compared without case.
 */
export function checkNewRows(
  rule: RowFilterRule,
  readClaim: ClaimReader,
  columns: readonly string[] | undefined,
  rows: readonly NewRow[],
  caseless: boolean,
): void {
  const pins = pinsOf(rule);
  if (pins === undefined) {
    throw new RowFilterRefusal(
      `INSERT into ${rule.table} is refused: its row filter (${rule.where}) is not made of column = {claims.NAME} conditions, so new rows cannot be checked against it`,
    );
  }
  if (columns === undefined) {
    throw new RowFilterRefusal(
      `INSERT into ${rule.table} must name its columns, so that the row filter's (${rule.where}) can be checked`,
    );
  }
  const fold = (name: string) => (caseless ? name.toLowerCase() : name);
  const named = columns.map(fold);
  for (const pin of pins) {
    const at = named.indexOf(fold(pin.column));
    if (at < 0 || named.lastIndexOf(fold(pin.column)) !== at) {
      throw new RowFilterRefusal(
        `INSERT into ${rule.table} must set ${pin.column} (once), which its row filter (${rule.where}) reads`,
      );
    }
    const value = readClaim(pin.claim);
    const own =
      typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))
        ? String(value)
        : undefined;
    if (own === undefined) {
      throw new RowFilterRefusal(
        `the row filter on ${rule.table} needs the claim ${pin.claim} to be a string or a number to check new rows`,
      );
    }
    rows.forEach((row, i) => {
      if (row.length !== named.length || row[at] !== own) {
        throw new RowFilterRefusal(
          `INSERT into ${rule.table}: row ${i + 1} must set ${pin.column} to the caller's own ${pin.claim}, written as a plain constant`,
        );
      }
    });
  }
}
