/**
 * Row filters on the parse tree, without a database: what the rewrite makes of statements against
 * a fixed catalog, what it refuses, and what a configuration may say. The behaviour against a real
 * server, on every channel, is test/gateway/row-filters.test.ts.
 */
import t from 'tap';
import { compileRowFilters, RowFilters } from '../../src/guard/row-filters/index.js';
import { PostgresParser } from '../../src/guard/postgres/parser.js';
import { createStaticCatalog } from '../../src/masking/catalog.js';
import type { SessionContext } from '../../src/gateway/types.js';

const parser = new PostgresParser();
await parser.ready();

const catalog = createStaticCatalog({
  dialect: 'postgres',
  searchPath: ['pg_catalog', 'public'],
  relations: [
    { oid: 1, schema: 'public', name: 'orders', kind: 'table', columns: ['id', 'tenant', 'item'] },
    {
      oid: 2,
      schema: 'public',
      name: 'orders_old',
      kind: 'table',
      columns: ['id', 'tenant', 'item'],
      parents: [1],
    },
    { oid: 3, schema: 'public', name: 'base', kind: 'table', columns: ['id', 'tenant', 'item'] },
    { oid: 4, schema: 'public', name: 'customers', kind: 'table', columns: ['id', 'name'] },
    {
      oid: 5,
      schema: 'public',
      name: 'v',
      kind: 'view',
      columns: ['id'],
      definition: ' SELECT id FROM orders WHERE id > 0;',
    },
  ],
  userFunctions: ['leak', 'public.leak'],
});
// orders inherits from base: base holds orders' rows.
(catalog.loaded()!.relations[0] as { parents?: number[] }).parents = [3];

const rules = compileRowFilters('p', [{ table: 'orders', where: 'tenant = {claims.tenant}' }], parser);
const filters = new RowFilters({ parser, catalogFor: () => catalog });
const session = (claims: Record<string, unknown>): SessionContext => ({
  id: 's',
  identity: { subject: 'a', groups: ['g'], issuer: 'i', via: 'gateway', claims },
  target: 'shop',
  dialect: 'postgres',
  channel: 'mcp-http',
});
const apply = (sql: string, claims: Record<string, unknown> = { tenant: 'acme' }) =>
  filters.apply(sql, session(claims), rules);

t.test('reads of a filtered table become a fenced subquery with the claim as a constant', async (t) => {
  const out = await apply('SELECT o.id FROM orders o WHERE o.id = 1');
  t.equal(out.kind, 'rewritten');
  const sql = out.kind === 'rewritten' ? out.sql : '';
  t.match(
    sql,
    /FROM \( SELECT \* FROM orders AS sluice_row_filter WHERE sluice_row_filter\.tenant = 'acme' OFFSET 0 \) AS o/,
  );
  t.same(await apply('SELECT name FROM customers'), { kind: 'unchanged' });
  t.same(await apply(''), { kind: 'unchanged' });
  const child = await apply('SELECT id FROM orders_old');
  t.match(child.kind === 'rewritten' ? child.sql : '', /orders_old AS sluice_row_filter/);
  const view = await apply('SELECT id FROM v');
  t.match(
    view.kind === 'rewritten' ? view.sql : '',
    /FROM \( SELECT \* FROM \( SELECT id FROM \( SELECT \* FROM orders AS sluice_row_filter/,
  );
  const quoted = await apply('SELECT 1 FROM orders', { tenant: "x' OR true --\\" });
  t.match(quoted.kind === 'rewritten' ? quoted.sql : '', /tenant = E?'x'' OR true --\\{1,2}'/);
  const list = await filters.apply(
    'SELECT 1 FROM orders',
    session({ tenants: ['a', 'b"c'] }),
    compileRowFilters('p', [{ table: 'orders', where: 'tenant = ANY ({claims.tenants})' }], parser),
  );
  t.match(list.kind === 'rewritten' ? list.sql : '', /ANY \(E'\{"a","b\\\\"c"\}'\)/);
});

t.test('writes: UPDATE and DELETE are filtered, the rest refused', async (t) => {
  const update = await apply('UPDATE orders SET item = 1 WHERE id = 2');
  t.match(
    update.kind === 'rewritten' ? update.sql : '',
    /WHERE orders\.tenant = 'acme' AND CASE WHEN orders\.tenant = 'acme' THEN id = 2 ELSE false END/,
  );
  const del = await apply('DELETE FROM orders');
  t.match(del.kind === 'rewritten' ? del.sql : '', /DELETE FROM orders WHERE orders\.tenant = 'acme'/);
  for (const sql of [
    'INSERT INTO orders VALUES (1)',
    "UPDATE orders SET tenant = 'b'",
    'UPDATE orders SET item = 1 WHERE CURRENT OF c',
    'SELECT * FROM base',
    'SELECT * FROM pg_stats',
    'SELECT query FROM pg_stat_activity',
    'SELECT query FROM pg_stat_get_activity(NULL)',
    'DECLARE c CURSOR FOR SELECT query FROM pg_stat_activity',
    'SELECT leak()',
    'DO $$ BEGIN END $$',
    'CALL p()',
    'TRUNCATE orders',
    'DROP TABLE orders',
    'CREATE VIEW w AS SELECT * FROM orders',
    'COPY orders FROM STDIN',
    'UPDATE v SET id = 1',
  ]) {
    const out = await apply(sql);
    t.equal(out.kind, 'refused', sql);
  }
  t.same(await apply('SELECT * FROM ONLY base'), { kind: 'unchanged' });
});

t.test('claims: a missing or unusable claim refuses', async (t) => {
  for (const claims of [{}, { tenant: { nested: 1 } }, { tenant: null }, { tenant: 'a\u0000b' }]) {
    const out = await apply('SELECT 1 FROM orders', claims);
    t.equal(out.kind, 'refused', JSON.stringify(claims));
    t.match(out.kind === 'refused' ? out.reason : '', /claim tenant/);
  }
  const number = await apply('SELECT 1 FROM orders', { tenant: 42 });
  t.match(number.kind === 'rewritten' ? number.sql : '', /tenant = '42'/);
});

t.test('configuration: a condition that is not one plain condition is refused at load', async (t) => {
  for (const where of [
    'tenant = $1',
    'true) UNION SELECT 1 WHERE (true',
    'tenant = {claims.tenant}; DROP TABLE x',
    'tenant = {claims.}',
    'tenant ==',
  ]) {
    t.throws(
      () => compileRowFilters('p', [{ table: 'orders', where }], parser),
      { name: 'RowFilterConfigError' },
      where,
    );
  }
  t.throws(() => compileRowFilters('p', [{ table: 'a.b.c', where: 'true' }], parser), {
    name: 'RowFilterConfigError',
  });
  const [rule] = compileRowFilters('p', [{ table: 'Sales.Orders', where: 'org = {claims.org.id}' }], parser);
  t.equal(rule?.schema, 'sales');
  t.same(rule?.claims, ['org.id']);
});

t.test('MySQL: where other sessions show their statements is named and refused', async (t) => {
  const { mysqlNamesOtherSessions } = await import('../../src/guard/row-filters/mysql.js');
  for (const [sql, word] of [
    ['SELECT info FROM information_schema.PROCESSLIST', 'processlist'],
    ['SELECT sql_text FROM performance_schema.events_statements_current', 'performance_schema'],
    ['SELECT * FROM `sys`.`x$processlist`', 'sys'],
    ['SELECT trx_query FROM information_schema.innodb_trx', 'innodb_trx'],
  ] as const) {
    t.equal(mysqlNamesOtherSessions(sql), word, sql);
  }
  t.equal(mysqlNamesOtherSessions('SELECT body FROM notes'), undefined);
});
