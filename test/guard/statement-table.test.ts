import t from 'tap';
import type { Effect } from '../../src/config/schema.js';
import type { DecisionAction, Dialect } from '../../src/gateway/types.js';
import { createStatementAnalyzer } from '../../src/guard/analyzer.js';
import { compileStatementPolicy } from '../../src/guard/policy.js';
import { testPolicies } from './fixtures/policies.js';

/**
 * [dialect, SQL, decision under the read-only policy, decision under the read-write policy,
 *  effects the guard must report (all statements together), unbounded (any statement)].
 */
type Row = [Dialect, string, DecisionAction, DecisionAction, Effect[]?, boolean?];

const A: DecisionAction = 'allow';
const D: DecisionAction = 'deny';
const R: DecisionAction = 'review';

const psqlListTables = `SELECT n.nspname as "Schema", c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r','p','') AND n.nspname <> 'pg_catalog' AND n.nspname !~ '^pg_toast'
  AND n.nspname <> 'information_schema' AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;`;
const psqlDescribeLookup = `SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c
LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(orders)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 2, 3;`;
const psqlDescribeColumns = `SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true) FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull, (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation
FROM pg_catalog.pg_attribute a WHERE a.attrelid = '16384' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum;`;
const psqlIndexes = `SELECT c2.relname, i.indisprimary, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),
  pg_catalog.pg_get_constraintdef(con.oid, true), contype
FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i
  LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))
WHERE c.oid = '16384' AND c.oid = i.indrelid AND i.indexrelid = c2.oid
ORDER BY i.indisprimary DESC, c2.relname;`;
const driverTypes = `SELECT t.oid, t.typname, t.typtype, t.typelem, t.typarray FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = ANY($1::oid[])`;

const rows: Row[] = [
  // ---- Postgres: benign reads and analytics ----
  ['postgres', 'SELECT 1', A, A, ['read']],
  ['postgres', 'SELECT version()', A, A, ['read']],
  ['postgres', "SELECT current_setting('search_path')", A, A, ['read']],
  ['postgres', 'SHOW search_path', A, A, ['read']],
  ['postgres', 'SHOW ALL', A, A, ['read']],
  ['postgres', 'SELECT current_user, session_user, current_database()', A, A, ['read']],
  [
    'postgres',
    'SELECT id, sum(amount) OVER (PARTITION BY customer_id ORDER BY created_at ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM orders',
    A,
    A,
    ['read'],
  ],
  [
    'postgres',
    'SELECT rank() OVER w, lag(amount) OVER w FROM orders WINDOW w AS (ORDER BY amount DESC)',
    A,
    A,
    ['read'],
  ],
  [
    'postgres',
    'WITH a AS (SELECT * FROM orders), b AS (WITH c AS (SELECT * FROM a) SELECT * FROM c) SELECT count(*) FROM b',
    A,
    A,
    ['read'],
  ],
  [
    'postgres',
    'SELECT o.id, l.* FROM orders o CROSS JOIN LATERAL (SELECT * FROM lines WHERE order_id = o.id LIMIT 3) l',
    A,
    A,
    ['read'],
  ],
  [
    'postgres',
    `SELECT data->>'name', data #>> '{a,b}' FROM events WHERE data @> '{"type":"click"}'`,
    A,
    A,
    ['read'],
  ],
  ['postgres', 'SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) FROM orders', A, A, ['read']],
  [
    'postgres',
    'SELECT region, product, sum(amount) FROM sales GROUP BY GROUPING SETS ((region), (product), ())',
    A,
    A,
  ],
  ['postgres', 'SELECT region, product, sum(amount) FROM sales GROUP BY ROLLUP (region, product)', A, A],
  ['postgres', 'SELECT region, product, sum(amount) FROM sales GROUP BY CUBE (region, product)', A, A],
  [
    'postgres',
    'WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 10) SELECT sum(n) FROM t',
    A,
    A,
  ],
  ['postgres', psqlListTables, A, A, ['read']],
  ['postgres', psqlDescribeLookup, A, A, ['read']],
  ['postgres', psqlDescribeColumns, A, A, ['read']],
  ['postgres', psqlIndexes, A, A, ['read']],
  ['postgres', driverTypes, A, A, ['read']],
  ['postgres', "SELECT 'public.orders'::regclass::oid, 'orders'::regclass", A, A, ['read']],
  ['postgres', "SELECT * FROM information_schema.columns WHERE table_name = 'orders'", A, A],
  ['postgres', "SELECT count(*) FILTER (WHERE status = 'paid') FROM orders", A, A],
  ['postgres', 'SELECT DISTINCT ON (customer_id) * FROM orders ORDER BY customer_id, created_at DESC', A, A],
  [
    'postgres',
    'SELECT * FROM orders WHERE id IN (SELECT order_id FROM lines) AND EXISTS (SELECT 1 FROM customers c WHERE c.id = orders.customer_id)',
    A,
    A,
  ],
  ['postgres', "VALUES (1, 'a'), (2, 'b')", A, A, ['read']],
  ['postgres', 'TABLE orders', A, A, ['read']],
  ['postgres', 'SELECT jsonb_agg(o) FROM orders o', A, A],
  ['postgres', 'SELECT x FROM generate_series(1, 10) AS x', A, A],
  ['postgres', 'SELECT a FROM t1 UNION SELECT b FROM t2 EXCEPT SELECT c FROM t3', A, A],
  ['postgres', "SELECT now() - interval '1 day', date_trunc('month', created_at) FROM orders", A, A],
  ['postgres', "SELECT currval('orders_id_seq')", A, A, ['read']],
  ['postgres', "SELECT pg_size_pretty(pg_total_relation_size('orders'))", A, A],
  ['postgres', 'SELECT pid, state, query FROM pg_stat_activity', A, A],
  ['postgres', "SELECT pg_catalog.obj_description(c.oid, 'pg_class') FROM pg_catalog.pg_class c", A, A],
  ['postgres', "SELECT string_agg(name, ', ' ORDER BY name) FROM customers", A, A],
  ['postgres', 'SELECT ARRAY(SELECT id FROM orders), CASE WHEN 1 > 0 THEN 1 END', A, A],
  ['postgres', 'SELECT * FROM orders TABLESAMPLE SYSTEM (10)', A, A],
  ['postgres', "SELECT 'é' || name AS naïve FROM customers", A, A],
  ['postgres', 'SELECT 1; SELECT 2', A, A, ['read']],
  ['postgres', '', A, A, []],
  ['postgres', '-- only a comment', A, A, []],
  ['postgres', 'EXPLAIN SELECT * FROM orders', A, A, ['read']],
  // Plain EXPLAIN plans without running: the inner DELETE is read-only here.
  ['postgres', 'EXPLAIN DELETE FROM orders', A, A, ['read']],
  ['postgres', 'EXPLAIN (ANALYZE false) UPDATE orders SET a = 1', A, A, ['read']],
  ['postgres', 'EXPLAIN SELECT pg_terminate_backend(1)', A, A, ['read']],
  ['postgres', 'EXPLAIN (ANALYZE 0, VERBOSE) DELETE FROM orders', A, A, ['read']],
  ['postgres', 'EXPLAIN (ANALYZE 1) DELETE FROM orders WHERE id = 1', D, A, ['read', 'delete']],
  ['postgres', "EXPLAIN (ANALYZE 'on') DELETE FROM orders", D, R, ['read', 'delete'], true],
  ['postgres', 'EXPLAIN ANALYZE VERBOSE DELETE FROM orders', D, R, ['read', 'delete'], true],
  ['postgres', "SET application_name = 'psql'", A, A, ['read']],
  ['postgres', 'SET extra_float_digits = 3', A, A, ['read']],
  ['postgres', 'COPY orders TO STDOUT', A, A, ['read']],
  ['postgres', 'FETCH 10 FROM c', A, A, ['read']],
  ['postgres', 'PREPARE q AS SELECT * FROM orders WHERE id = $1', A, A, ['read']],
  // ---- Postgres: bounded writes ----
  ['postgres', 'INSERT INTO orders (id) VALUES (1)', D, A, ['write'], false],
  [
    'postgres',
    'INSERT INTO orders (id, x) VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET x = EXCLUDED.x',
    D,
    A,
    ['write'],
  ],
  ['postgres', "UPDATE orders SET status = 'x' WHERE id = 1", D, A, ['write'], false],
  ['postgres', 'DELETE FROM orders WHERE id = 1', D, A, ['delete'], false],
  ['postgres', "DELETE FROM orders WHERE created_at < now() - interval '1 year'", D, A, ['delete'], false],
  ['postgres', 'UPDATE orders SET a = 1 WHERE id IN (SELECT id FROM x)', D, A, ['read', 'write'], false],
  ['postgres', 'DELETE FROM orders WHERE CURRENT OF c', D, A, ['delete'], false],
  [
    'postgres',
    'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a WHEN NOT MATCHED THEN INSERT VALUES (s.id)',
    D,
    A,
    ['write'],
  ],
  ['postgres', 'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE', D, A, ['write', 'delete']],
  ['postgres', "SELECT nextval('orders_id_seq')", D, A, ['read', 'write']],
  ['postgres', 'INSERT INTO t SELECT * FROM u', D, A, ['read', 'write']],
  ['postgres', 'WITH x AS (INSERT INTO t VALUES (1) RETURNING id) SELECT * FROM x', D, A, ['read', 'write']],
  ['postgres', 'EXPLAIN ANALYZE INSERT INTO t VALUES (1)', D, A, ['read', 'write']],
  ['postgres', 'EXPLAIN (ANALYZE, FORMAT JSON) UPDATE t SET a = 1 WHERE id = 2', D, A, ['read', 'write']],
  ['postgres', 'REFRESH MATERIALIZED VIEW mv', D, A, ['write']],
  ['postgres', "NOTIFY chan, 'x'", D, A, ['write']],
  ['postgres', 'COPY orders FROM STDIN', D, A, ['write']],
  ['postgres', 'SELECT 1; UPDATE orders SET a = 1 WHERE id = 3', D, A, ['read', 'write']],
  // ---- Postgres: unbounded writes ----
  ['postgres', 'UPDATE orders SET a = 1', D, R, ['write'], true],
  ['postgres', 'DELETE FROM orders', D, R, ['delete'], true],
  ['postgres', 'DELETE FROM orders WHERE 1=1', D, R, ['delete'], true],
  ['postgres', 'DELETE FROM orders WHERE true', D, R, ['delete'], true],
  ['postgres', "UPDATE orders SET a = 1 WHERE 'a' = 'a'", D, R, ['write'], true],
  ['postgres', 'DELETE FROM orders WHERE 1', D, R, ['delete'], true],
  ['postgres', 'DELETE FROM orders WHERE id = id', D, R, ['delete'], true],
  ['postgres', 'DELETE FROM orders WHERE 1=1 OR id = 5', D, R, ['delete'], true],
  ['postgres', 'UPDATE orders SET a = 1 WHERE NOT false', D, R, ['write'], true],
  ['postgres', "DELETE FROM orders WHERE 't'::boolean", D, R, ['delete'], true],
  ['postgres', 'DELETE FROM orders WHERE 2 > 1 AND true', D, R, ['delete'], true],
  ['postgres', 'WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d', D, R, ['read', 'delete'], true],
  ['postgres', 'EXPLAIN ANALYZE DELETE FROM orders', D, R, ['read', 'delete'], true],
  ['postgres', 'PREPARE p AS DELETE FROM orders', D, R, ['delete'], true],
  ['postgres', 'MERGE INTO t USING s ON true WHEN MATCHED THEN UPDATE SET a = 1', D, R, ['write'], true],
  ['postgres', 'SELECT 1; DELETE FROM orders', D, R, ['read', 'delete'], true],
  // ---- Postgres: DDL ----
  ['postgres', 'CREATE TABLE x (id int)', D, D, ['ddl']],
  ['postgres', 'DROP TABLE orders', D, D, ['ddl']],
  ['postgres', 'ALTER TABLE orders ADD COLUMN x int', D, D, ['ddl']],
  ['postgres', 'TRUNCATE orders', D, D, ['ddl', 'delete'], true],
  ['postgres', 'CREATE INDEX ON orders (id)', D, D, ['ddl']],
  ['postgres', 'CREATE VIEW v AS SELECT 1', D, D, ['ddl']],
  ['postgres', 'SELECT * INTO new_orders FROM orders', D, D, ['read', 'write', 'ddl']],
  ['postgres', 'CREATE TABLE x AS SELECT * FROM orders', D, D, ['read', 'write', 'ddl']],
  ['postgres', 'CREATE MATERIALIZED VIEW mv AS SELECT 1', D, D, ['read', 'write', 'ddl']],
  ['postgres', "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'", D, D, ['ddl', 'procedural']],
  ['postgres', 'CREATE EXTENSION dblink', D, D, ['ddl', 'admin']],
  ['postgres', "COMMENT ON TABLE orders IS 'x'", D, D, ['ddl']],
  ['postgres', 'CREATE SCHEMA s CREATE TABLE t (id int)', D, D, ['ddl']],
  ['postgres', 'ALTER SEQUENCE s RESTART', D, D, ['ddl']],
  [
    'postgres',
    'CREATE TRIGGER tr AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION f()',
    D,
    D,
    ['ddl', 'procedural'],
  ],
  ['postgres', 'SELECT 1; DROP TABLE orders', D, D, ['read', 'ddl']],
  // ---- Postgres: DCL ----
  ['postgres', 'GRANT SELECT ON orders TO bob', D, D, ['dcl']],
  ['postgres', 'REVOKE SELECT ON orders FROM bob', D, D, ['dcl']],
  ['postgres', 'CREATE ROLE x', D, D, ['dcl']],
  ['postgres', 'ALTER ROLE x SUPERUSER', D, D, ['dcl']],
  ['postgres', 'DROP ROLE x', D, D, ['dcl']],
  ['postgres', 'GRANT admin TO bob', D, D, ['dcl']],
  ['postgres', "CREATE USER u PASSWORD 'x'", D, D, ['dcl']],
  ['postgres', 'ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO x', D, D, ['dcl']],
  // ---- Postgres: admin ----
  ['postgres', 'VACUUM', D, D, ['admin']],
  ['postgres', 'VACUUM FULL orders', D, D, ['admin']],
  ['postgres', 'ANALYZE orders', D, D, ['admin']],
  ['postgres', "ALTER SYSTEM SET work_mem = '1GB'", D, D, ['admin']],
  ['postgres', 'SELECT pg_terminate_backend(123)', D, D, ['read', 'admin']],
  ['postgres', 'SELECT pg_cancel_backend(1)', D, D, ['read', 'admin']],
  ['postgres', 'SELECT pg_reload_conf()', D, D, ['read', 'admin']],
  ['postgres', 'SELECT pg_catalog.pg_rotate_logfile()', D, D, ['read', 'admin']],
  ['postgres', 'CHECKPOINT', D, D, ['admin']],
  ['postgres', 'REINDEX TABLE orders', D, D, ['admin']],
  ['postgres', 'CLUSTER orders', D, D, ['admin']],
  ['postgres', "LOAD 'auto_explain'", D, D, ['admin', 'file']],
  [
    'postgres',
    'SELECT * FROM orders WHERE id = (SELECT pg_terminate_backend(1)::int)',
    D,
    D,
    ['read', 'admin'],
  ],
  [
    'postgres',
    'SELECT coalesce(pg_terminate_backend(pid), false) FROM pg_stat_activity',
    D,
    D,
    ['read', 'admin'],
  ],
  [
    'postgres',
    'SELECT * FROM orders o WHERE EXISTS (SELECT 1 WHERE pg_cancel_backend(o.id))',
    D,
    D,
    ['read', 'admin'],
  ],
  // ---- Postgres: session and transaction ----
  ['postgres', 'SET ROLE admin', D, D, ['session']],
  ['postgres', 'SET SESSION AUTHORIZATION postgres', D, D, ['session']],
  ['postgres', 'SET search_path = evil, public', D, D, ['session']],
  ['postgres', 'SET transaction_read_only = off', D, D, ['session']],
  ['postgres', 'SET standard_conforming_strings = off', D, D, ['session']],
  ['postgres', 'SET LOCAL statement_timeout = 0', D, D, ['session']],
  ['postgres', 'RESET ALL', D, D, ['session']],
  ['postgres', 'RESET role', D, D, ['session']],
  ['postgres', 'DISCARD ALL', D, D, ['session']],
  ['postgres', 'LISTEN x', D, D, ['session']],
  ['postgres', "SELECT set_config('role', 'admin', false)", D, D, ['read', 'session']],
  ['postgres', 'SET TRANSACTION READ WRITE', D, D, ['session']],
  ['postgres', 'BEGIN', D, D, ['transaction']],
  ['postgres', 'BEGIN READ WRITE', D, D, ['session', 'transaction']],
  ['postgres', 'START TRANSACTION ISOLATION LEVEL SERIALIZABLE', D, D, ['transaction']],
  ['postgres', 'COMMIT', D, D, ['transaction']],
  ['postgres', "PREPARE TRANSACTION 'x'", D, D, ['admin', 'transaction']],
  // ---- Postgres: files and programs ----
  ['postgres', "COPY orders TO '/tmp/x'", D, D, ['read', 'file']],
  ['postgres', "COPY orders FROM '/tmp/x'", D, D, ['write', 'file']],
  ['postgres', "SELECT pg_read_file('/etc/passwd')", D, D, ['read', 'file']],
  ['postgres', "SELECT lo_import('/etc/passwd')", D, D, ['read', 'file']],
  ['postgres', "SELECT lo_export(1, '/tmp/x')", D, D, ['read', 'file']],
  ['postgres', "SELECT * FROM pg_ls_dir('.')", D, D, ['read', 'file']],
  ['postgres', "SELECT pg_stat_file('x')", D, D, ['read', 'file']],
  ['postgres', "SELECT length(pg_read_binary_file('x'))", D, D, ['read', 'file']],
  ['postgres', "SELECT * FROM orders WHERE name = (SELECT pg_read_file('x'))", D, D, ['read', 'file']],
  ['postgres', `SELECT U&"pg_read\\005ffile"('x')`, D, D, ['read', 'file']],
  ['postgres', `SELECT "pg_read_file"('x'), PG_CATALOG . PG_LS_DIR('.')`, D, D, ['read', 'file']],
  ['postgres', "SELECT * FROM ROWS FROM (pg_ls_dir('.'))", D, D, ['read', 'file']],
  ['postgres', 'COPY (DELETE FROM orders RETURNING *) TO STDOUT', D, R, ['read', 'delete'], true],
  ['postgres', 'DECLARE c CURSOR FOR SELECT pg_terminate_backend(1)', D, D, ['read', 'admin']],
  ['postgres', "COPY orders FROM PROGRAM 'curl x'", D, D, ['write', 'program']],
  ['postgres', "COPY (SELECT 1) TO PROGRAM 'sh'", D, D, ['read', 'program']],
  // ---- Postgres: procedural ----
  ['postgres', 'DO $$ BEGIN PERFORM 1; END $$', D, D, ['read', 'procedural']],
  ['postgres', 'DO $$ BEGIN DELETE FROM orders; END $$', D, D, ['delete', 'procedural'], true],
  ['postgres', "DO $$ BEGIN EXECUTE 'DROP TABLE orders'; END $$", D, D, ['read', 'procedural']],
  [
    'postgres',
    'DO $$ DECLARE n int; BEGIN n := (SELECT pg_terminate_backend(1)::int); END $$',
    D,
    D,
    ['read', 'admin', 'procedural'],
  ],
  ['postgres', 'DO LANGUAGE plpython3u $$ import os $$', D, D, ['procedural', 'unknown']],
  ['postgres', 'CALL p(1)', D, D, ['procedural']],
  ['postgres', "SELECT dblink_exec('host=x', 'DROP TABLE t')", D, D, ['read', 'procedural', 'unknown']],
  ['postgres', "SELECT query_to_xml('DELETE FROM t', true, true, '')", D, D, ['read', 'procedural']],
  // ---- Postgres: locks ----
  ['postgres', 'SELECT * FROM orders FOR UPDATE', D, D, ['read', 'lock']],
  ['postgres', 'SELECT * FROM orders FOR SHARE SKIP LOCKED', D, D, ['read', 'lock']],
  ['postgres', 'LOCK TABLE orders IN ACCESS EXCLUSIVE MODE', D, D, ['lock']],
  ['postgres', 'SELECT pg_advisory_lock(1)', D, D, ['read', 'lock']],
  // ---- Postgres: not understood ----
  ['postgres', 'SELEC 1', D, D],
  ['postgres', 'EXECUTE not_prepared_here', D, D, ['unknown']],
  ['postgres', 'SELECT 1; SELEC 2', D, D],

  // ---- MySQL: reads ----
  ['mysql', 'SELECT 1', A, A, ['read']],
  ['mysql', 'SELECT VERSION()', A, A, ['read']],
  ['mysql', 'SELECT @@version', A, A, ['read']],
  ['mysql', 'SHOW TABLES', A, A, ['read']],
  ['mysql', 'SHOW DATABASES', A, A, ['read']],
  ['mysql', 'SHOW CREATE TABLE orders', A, A, ['read']],
  ['mysql', 'SHOW FULL PROCESSLIST', A, A, ['read']],
  ['mysql', 'DESCRIBE orders', A, A, ['read']],
  ['mysql', 'SELECT * FROM information_schema.tables WHERE table_schema = DATABASE()', A, A, ['read']],
  ['mysql', 'SELECT ROW_NUMBER() OVER (PARTITION BY a ORDER BY b) FROM t', A, A, ['read']],
  [
    'mysql',
    'WITH RECURSIVE r AS (SELECT 1 n UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r',
    A,
    A,
  ],
  ['mysql', "SELECT JSON_EXTRACT(doc, '$.a'), doc->>'$.b' FROM t", A, A, ['read']],
  ['mysql', 'SELECT a, COUNT(*) FROM t GROUP BY a WITH ROLLUP', A, A, ['read']],
  ['mysql', 'SELECT * FROM (SELECT a FROM t) x', A, A, ['read']],
  ['mysql', 'SELECT a FROM t1 UNION SELECT b FROM t2', A, A, ['read']],
  ['mysql', 'EXPLAIN SELECT * FROM orders', A, A, ['read']],
  ['mysql', 'EXPLAIN DELETE FROM orders', A, A, ['read']],
  ['mysql', 'SELECT * FROM orders LIMIT 10 OFFSET 5', A, A, ['read']],
  ['mysql', 'SELECT /*+ MAX_EXECUTION_TIME(1000) */ * FROM orders', A, A, ['read']],
  ['mysql', 'SET NAMES utf8mb4', A, A, ['read']],
  ['mysql', 'SET @a = 1', A, A, ['read']],
  ['mysql', 'SELECT 1 -- trailing comment', A, A, ['read']],
  ['mysql', 'SELECT 1 # hash comment', A, A, ['read']],
  ['mysql', "SELECT 'a--b', 'it''s', 'c\\'d'", A, A, ['read']],
  ['mysql', 'SELECT 1; SELECT 2', A, A, ['read']],
  ['mysql', '', A, A, []],
  // ---- MySQL: writes ----
  ['mysql', 'INSERT INTO orders (id) VALUES (1)', D, A, ['write']],
  ['mysql', 'REPLACE INTO orders VALUES (1)', D, A, ['write']],
  ['mysql', 'INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = 1', D, A, ['write']],
  ['mysql', 'UPDATE orders SET a = 1 WHERE id = 1', D, A, ['write'], false],
  ['mysql', 'DELETE FROM orders WHERE id = 1', D, A, ['delete'], false],
  ['mysql', 'UPDATE orders SET a = 1 WHERE id = 1 LIMIT 1', D, A, ['write'], false],
  ['mysql', 'INSERT INTO t SELECT * FROM u', D, A, ['read', 'write']],
  ['mysql', "PREPARE s FROM 'DELETE FROM orders WHERE id = 1'", D, A, ['delete'], false],
  // ---- MySQL: unbounded ----
  ['mysql', 'UPDATE orders SET a = 1', D, R, ['write'], true],
  ['mysql', 'DELETE FROM orders', D, R, ['delete'], true],
  ['mysql', 'DELETE FROM orders WHERE 1=1', D, R, ['delete'], true],
  ['mysql', 'DELETE FROM orders WHERE 1', D, R, ['delete'], true],
  ['mysql', "UPDATE orders SET a = 1 WHERE 'a' = 'a'", D, R, ['write'], true],
  ['mysql', 'DELETE FROM orders WHERE TRUE', D, R, ['delete'], true],
  ['mysql', 'DELETE FROM orders WHERE NOT 0', D, R, ['delete'], true],
  ['mysql', 'DELETE FROM orders WHERE id = id', D, R, ['delete'], true],
  ['mysql', 'DELETE FROM orders WHERE 1=1 OR id = 5', D, R, ['delete'], true],
  ['mysql', 'EXPLAIN ANALYZE DELETE FROM orders', D, R, ['read', 'delete'], true],
  // ---- MySQL: DDL ----
  ['mysql', 'CREATE TABLE x (id INT)', D, D, ['ddl']],
  ['mysql', 'DROP TABLE orders', D, D, ['ddl']],
  ['mysql', 'ALTER TABLE orders ADD c INT', D, D, ['ddl']],
  ['mysql', 'TRUNCATE orders', D, D, ['ddl', 'delete'], true],
  ['mysql', 'RENAME TABLE a TO b', D, D, ['ddl']],
  ['mysql', 'CREATE TABLE x AS SELECT * FROM orders', D, D, ['read', 'write', 'ddl']],
  ['mysql', 'CREATE VIEW v AS SELECT 1', D, D, ['ddl']],
  ['mysql', 'BEGIN NOT ATOMIC SELECT 1; DELETE FROM t; END', D, D],
  ['mysql', 'CREATE DATABASE x', D, D, ['ddl']],
  ['mysql', 'CREATE PROCEDURE p() BEGIN DELETE FROM t; END', D, D],
  // ---- MySQL: DCL ----
  ['mysql', 'GRANT ALL ON *.* TO u', D, D, ['dcl']],
  ['mysql', 'REVOKE ALL ON *.* FROM u', D, D, ['dcl']],
  ['mysql', 'CREATE USER u', D, D, ['dcl']],
  ['mysql', 'DROP USER u', D, D, ['dcl']],
  ['mysql', "ALTER USER u IDENTIFIED BY 'x'", D, D, ['dcl']],
  ['mysql', "SET PASSWORD = 'x'", D, D, ['dcl']],
  // ---- MySQL: admin ----
  ['mysql', 'KILL 3', D, D, ['admin']],
  ['mysql', 'KILL QUERY 3', D, D, ['admin']],
  ['mysql', 'SHUTDOWN', D, D, ['admin']],
  ['mysql', 'FLUSH PRIVILEGES', D, D, ['admin']],
  ['mysql', 'SET GLOBAL general_log = 1', D, D, ['admin']],
  ['mysql', 'SET @@global.max_connections = 1', D, D, ['admin']],
  ['mysql', 'SELECT SLEEP(10)', D, D, ['read', 'admin']],
  ['mysql', 'OPTIMIZE TABLE orders', D, D, ['admin']],
  ['mysql', "INSTALL PLUGIN x SONAME 'x.so'", D, D, ['admin', 'program']],
  ['mysql', "PURGE BINARY LOGS TO 'x'", D, D, ['admin']],
  // ---- MySQL: files ----
  ['mysql', "SELECT * INTO OUTFILE '/tmp/x' FROM orders", D, D, ['read', 'file']],
  ['mysql', "SELECT * FROM orders INTO DUMPFILE '/tmp/x'", D, D, ['read', 'file']],
  ['mysql', "LOAD DATA INFILE '/x' INTO TABLE orders", D, D, ['write', 'file']],
  ['mysql', "LOAD DATA LOCAL INFILE '/x' INTO TABLE orders", D, D, ['write', 'file']],
  ['mysql', "SELECT LOAD_FILE('/etc/passwd')", D, D, ['read', 'file']],
  ['mysql', "SELECT * FROM t WHERE a = (SELECT LOAD_FILE('x'))", D, D, ['read', 'file']],
  ['mysql', "INSERT INTO t (a) VALUES ((SELECT LOAD_FILE('/x')))", D, D, ['read', 'write', 'file']],
  // ---- MySQL: session and transaction ----
  ['mysql', 'USE other', D, D, ['session']],
  ['mysql', "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'", D, D, ['session']],
  ['mysql', 'SET ROLE admin', D, D, ['session']],
  ['mysql', 'SET NAMES gbk', D, D, ['session']],
  ['mysql', 'SET SESSION TRANSACTION READ WRITE', D, D, ['session']],
  ['mysql', 'SET autocommit = 0', D, D, ['transaction']],
  ['mysql', 'BEGIN', D, D, ['transaction']],
  ['mysql', 'START TRANSACTION', D, D, ['transaction']],
  ['mysql', 'START TRANSACTION READ WRITE', D, D, ['session', 'transaction']],
  ['mysql', 'COMMIT', D, D, ['transaction']],
  ['mysql', 'ROLLBACK', D, D, ['transaction']],
  // ---- MySQL: procedural, locks, handler ----
  ['mysql', 'CALL p()', D, D, ['procedural']],
  ['mysql', 'DO SLEEP(1)', D, D, ['read', 'admin']],
  ['mysql', 'SELECT * FROM orders WHERE id = 1 FOR UPDATE', D, D, ['read', 'lock']],
  ['mysql', 'SELECT * FROM orders LOCK IN SHARE MODE', D, D, ['read', 'lock']],
  ['mysql', 'LOCK TABLES orders WRITE', D, D, ['lock']],
  ['mysql', 'UNLOCK TABLES', D, D, ['lock']],
  ['mysql', "SELECT GET_LOCK('x', 10)", D, D, ['read', 'lock']],
  ['mysql', 'HANDLER orders OPEN', D, D, ['read', 'session']],
  // ---- MySQL: hidden statements and what is not understood ----
  ['mysql', 'SELECT /*! 1 */', D, D],
  ['mysql', "SELECT 1 /*!50000 , (SELECT LOAD_FILE('x')) */", D, D],
  ['mysql', '/*M!100100 DROP TABLE t */ SELECT 1', D, D],
  ['mysql', 'SELECT 1 --1; DROP TABLE t', D, D],
  ['mysql', 'SELECT 1; DROP TABLE orders', D, D, ['read', 'ddl']],
  ['mysql', 'PREPARE s FROM @sql', D, D, ['unknown']],
  ['mysql', 'EXECUTE s', D, D, ['unknown']],
  ['mysql', 'DEALLOCATE PREPARE s', D, D, ['session']],
  ['mysql', 'SELEC 1', D, D],
  ['mysql', 'FROBNICATE the database', D, D],
];

t.test('the statement table is large enough to mean something', async (t) => {
  t.ok(rows.length >= 150, `${rows.length} statements`);
  t.ok(rows.filter((r) => r[0] === 'mysql').length >= 50, 'MySQL is covered too');
});

t.test('each statement gets its expected decision under both policies', async (t) => {
  const analyzer = createStatementAnalyzer();
  const { readOnly, readWrite } = testPolicies();
  const ro = compileStatementPolicy(readOnly);
  const rw = compileStatementPolicy(readWrite);
  for (const [dialect, sql, expectRo, expectRw, effects, unbounded] of rows) {
    const analysis = await analyzer.analyze(sql, dialect);
    const label = `${dialect}: ${sql.replace(/\s+/g, ' ').slice(0, 100)}`;
    const roVerdict = ro.decide(analysis);
    const rwVerdict = rw.decide(analysis);
    t.equal(roVerdict.action, expectRo, `read-only ${label} (${roVerdict.reason})`);
    t.equal(rwVerdict.action, expectRw, `read-write ${label} (${rwVerdict.reason})`);
    if (effects !== undefined) {
      t.ok(analysis.ok, `${label} is understood`);
      if (analysis.ok) {
        const found = [...new Set(analysis.statements.flatMap((s) => s.effects))].sort();
        t.same(found, [...effects].sort(), `effects of ${label}`);
      }
    }
    if (unbounded !== undefined && analysis.ok) {
      t.equal(
        analysis.statements.some((s) => s.unbounded),
        unbounded,
        `unbounded of ${label}`,
      );
    }
  }
});
