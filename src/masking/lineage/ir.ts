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
      /** TABLESAMPLE's arguments and REPEATABLE seed: which rows come back depends on them. */
      sample?: Expr[];
    }
  | {
      kind: 'subquery';
      query: Query;
      alias: string | undefined;
      columnAliases: string[] | undefined;
      /**
       * Without column aliases, name the outputs by position after this relation's columns (the
       * row an INSERT without a column list proposes: Postgres's EXCLUDED, MySQL's VALUES(col)).
       */
      columnsOf?: { schema: string | undefined; name: string };
    }
  | {
      kind: 'join';
      left: FromItem;
      right: FromItem;
      on: Expr | undefined;
      /** JOIN ... USING (cols): those columns appear once in `*`; NATURAL: every common column. */
      using: string[] | 'natural' | undefined;
      alias: string | undefined;
      /**
       * How `*` orders a USING / NATURAL join. Undefined (Postgres, any join type): the shared
       * columns in USING order (NATURAL: the left side's), then the left side's others, then the
       * right's. MySQL / MariaDB: the shared columns in the order of the first table, then its
       * others, then the second's, where the first table is the left one ('mysql-left': INNER,
       * LEFT, CROSS) or, for RIGHT JOIN, the right one ('mysql-right').
       */
      starOrder?: 'mysql-left' | 'mysql-right';
    }
  | {
      kind: 'function';
      name: string;
      schema: string | undefined;
      /** The arguments; how many rows the function returns depends on them (a filter input). */
      args: Expr[];
      alias: string | undefined;
      columnAliases: string[] | undefined;
      /** ROWS FROM (f(...), g(...)): the functions after the first, whose rows are zipped with its. */
      more?: { name: string; schema: string | undefined; args: Expr[] }[];
    }
  | {
      kind: 'unresolved';
      reason: string;
      /** Expressions it evaluates that decide its rows (XMLTABLE's document): filter inputs. */
      inputs?: Expr[];
    };

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
      /** SELECT DISTINCT: rows are compared on every output (a key, like GROUP BY all outputs). */
      distinct?: boolean;
    }
  | {
      kind: 'set';
      ctes: Cte[];
      recursive: boolean;
      branches: Query[];
      /** ORDER BY / LIMIT of the whole operation, bound against its outputs. */
      filters: Filters;
      /**
       * The operation compares rows: UNION without ALL, INTERSECT and EXCEPT (with or without
       * ALL), so every output is a key. False for UNION ALL, which only concatenates.
       */
      compares: boolean;
    }
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
