/**
 * The small internal representation that each dialect's parse is lowered into, so the taint
 * analysis (analyse.ts) is written once. It keeps only what lineage needs: relations in scope,
 * the outputs of each query, and the column references inside expressions. Anything a lowering
 * cannot express becomes an `unresolved` node, which the analysis treats as "could be anything".
 */

export type Expr =
  /** A column reference: [column], [relation, column], [schema, relation, column], ... */
  | { kind: 'column'; path: string[] }
  /** `t.*` or `*` inside an expression (row(t.*), count(t.*)): the whole row. */
  | { kind: 'star'; qualifier: string[] }
  /** `(c).email`: one field of a composite value. */
  | { kind: 'field'; base: Expr; field: string }
  /** Anything computed from its operands: operators, casts, functions, CASE, aggregates, ... */
  | { kind: 'compute'; args: Expr[] }
  /** A function call; `name` is lower-case, `schema` when qualified. */
  | { kind: 'call'; name: string; schema: string | undefined; args: Expr[] }
  /** `x IS NULL` / `x IS NOT NULL`: tells only whether the value is null. */
  | { kind: 'nullness'; arg: Expr }
  /** A subquery used as a value (scalar, ARRAY(...), EXISTS, IN). */
  | { kind: 'subquery'; query: Query; scalar: boolean }
  /** A literal, a parameter, or a value that depends on no relation. */
  | { kind: 'const' }
  /** ORDER BY / GROUP BY by output position (1-based). */
  | { kind: 'ordinal'; position: number }
  | { kind: 'unresolved'; reason: string };

export type Target =
  | { kind: 'expr'; name: string | undefined; expr: Expr }
  /** `*` (qualifier empty) or `t.*` in the select list: expands to the relation's columns. */
  | { kind: 'star'; qualifier: string[] };

export type FromItem =
  | {
      kind: 'relation';
      schema: string | undefined;
      name: string;
      alias: string | undefined;
      columnAliases: string[] | undefined;
    }
  | { kind: 'subquery'; query: Query; alias: string | undefined; columnAliases: string[] | undefined }
  | {
      kind: 'join';
      left: FromItem;
      right: FromItem;
      on: Expr | undefined;
      /** JOIN ... USING (cols): those columns appear once in `*`; NATURAL: every common column. */
      using: string[] | 'natural' | undefined;
      alias: string | undefined;
    }
  | {
      kind: 'function';
      name: string;
      schema: string | undefined;
      args: Expr[];
      alias: string | undefined;
      columnAliases: string[] | undefined;
    }
  | { kind: 'unresolved'; reason: string };

export interface Cte {
  name: string;
  columnAliases: string[] | undefined;
  query: Query;
}

/** Expressions that decide which rows or in which order, but are not outputs. */
export interface Filters {
  /** WHERE, JOIN ON, HAVING, LIMIT, window PARTITION BY/ORDER BY: bound against the input. */
  input: Expr[];
  /** ORDER BY / GROUP BY keys: a bare name may also mean an output column. */
  keys: Expr[];
}

export type Query =
  | {
      kind: 'select';
      ctes: Cte[];
      recursive: boolean;
      from: FromItem[];
      targets: Target[];
      filters: Filters;
    }
  | { kind: 'set'; ctes: Cte[]; recursive: boolean; branches: Query[]; filters: Filters }
  | { kind: 'values'; rows: Expr[][] }
  | { kind: 'unresolved'; reason: string };

/** One statement as lineage sees it. */
export type Statement =
  /** Returns rows: SELECT, VALUES, DECLARE ... FOR (its query), COPY (query) TO, RETURNING. */
  | { kind: 'query'; query: Query; cursor: string | undefined }
  /** Returns rows that come from no table (SHOW, EXPLAIN, SET, BEGIN, ...). */
  | { kind: 'no-data' }
  /** FETCH / MOVE from a named cursor: the rows are those of the cursor's query. */
  | { kind: 'fetch'; cursor: string }
  | { kind: 'unresolved'; reason: string };

export const noFilters = (): Filters => ({ input: [], keys: [] });
