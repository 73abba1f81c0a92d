import { loadModule, parse as parsePostgres, parseSync } from 'libpg-query';
import { astifyMySql } from '../../guard/mysql/readable.js';
import type { Dialect } from '../../gateway/types.js';
import type { CatalogRelation } from '../catalog.js';
import type { Query, Statement } from './ir.js';
import { lowerMysql, lowerMysqlWrites } from './mysql.js';
import { lowerPostgres, lowerPostgresWrites } from './postgres.js';

/** Lowers a guard parse (libpg-query's or node-sql-parser's) into lineage statements. */
export function lowerParsed(dialect: Dialect, parsed: unknown): Statement[] {
  return dialect === 'postgres' ? lowerPostgres(parsed) : lowerMysql(parsed);
}

/** The values a guard parse's writes store, as queries (see lowerPostgresWrites). */
export function lowerWrites(dialect: Dialect, parsed: unknown): Query[] {
  return dialect === 'postgres' ? lowerPostgresWrites(parsed) : lowerMysqlWrites(parsed);
}

/** Like lowerWrites, from SQL text (when the guard gave no parse). Never throws. */
export async function parseWrites(dialect: Dialect, sql: string): Promise<Query[]> {
  try {
    if (dialect === 'postgres') return lowerPostgresWrites(await parsePostgres(sql));
    return lowerMysqlWrites(astifyMySql(sql));
  } catch (err) {
    return [{ kind: 'unresolved', reason: `the statement does not parse (${(err as Error).message})` }];
  }
}

/** Parses SQL text with the dialect's parser (when the guard gave no parse). Never throws. */
export async function parseStatements(dialect: Dialect, sql: string): Promise<Statement[]> {
  try {
    if (dialect === 'postgres') return lowerPostgres(await parsePostgres(sql));
    return lowerMysql(astifyMySql(sql));
  } catch (err) {
    return [{ kind: 'unresolved', reason: `the statement does not parse (${(err as Error).message})` }];
  }
}

/** Makes the Postgres parser usable synchronously (for view definitions during analysis). */
export async function readyParsers(): Promise<void> {
  await loadModule();
}

/** A view's definition lowered to a query; unresolved when it is missing or does not parse. */
export function viewQuery(dialect: Dialect, view: CatalogRelation): Query {
  const text = view.definition;
  if (!text)
    return {
      kind: 'unresolved',
      reason: `the definition of view ${view.schema}.${view.name} is not readable`,
    };
  let stmts: Statement[];
  try {
    stmts = dialect === 'postgres' ? lowerPostgres(parseSync(text)) : lowerMysql(astifyMySql(text));
  } catch {
    stmts = [];
  }
  const first = stmts[0];
  if (stmts.length === 1 && first?.kind === 'query') return first.query;
  return { kind: 'unresolved', reason: `the definition of view ${view.schema}.${view.name} does not parse` };
}
