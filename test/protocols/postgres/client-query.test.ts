import t from 'tap';
import {
  PgClientError,
  PgConnection,
  PgServerError,
  type PgField,
  type PgNotice,
} from '../../../protocols/postgres/client/index.js';
import { createScratchDatabase, PG_HOST, PG_PORT, PG_SUPERUSER } from '../../support/postgres.js';

async function connect(
  database = 'postgres',
  extra: { onNotice?: (n: PgNotice) => void } = {},
): Promise<PgConnection> {
  return PgConnection.connect({
    host: PG_HOST,
    port: PG_PORT,
    user: PG_SUPERUSER,
    database,
    tls: 'disable',
    ...extra,
  });
}

/** Collects a whole result for assertions. */
function collector() {
  const seen: { columns: PgField[][]; rows: (string | null)[][] } = { columns: [], rows: [] };
  return {
    seen,
    handler: {
      columns: (fields: PgField[]) => void seen.columns.push(fields),
      row: (values: (string | null)[]) => void seen.rows.push(values),
    },
  };
}

t.test('connects with trust auth and keeps ParameterStatus and BackendKeyData', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  t.equal(conn.state, 'idle');
  t.equal(conn.encrypted, false);
  t.match(conn.parameters.get('server_version'), /^\d+/);
  t.equal(conn.parameters.get('client_encoding'), 'UTF8');
  t.equal(conn.parameters.get('DateStyle'), 'ISO, MDY');
  t.type(conn.backendKey?.processId, 'number');
  t.type(conn.backendKey?.secretKey, 'number');
  t.equal(conn.transactionStatus, 'I');
});

t.test('a simple query streams columns first, then rows, and returns the tag and count', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  const order: string[] = [];
  const result = await conn.query("SELECT 1::int4 AS a, 'x'::text AS b UNION ALL SELECT 2, NULL", {
    columns: (fields) => void order.push(`columns:${fields.map((f) => f.name).join(',')}`),
    row: (values) => void order.push(`row:${values.join('|')}`),
  });
  t.same(order, ['columns:a,b', 'row:1|x', 'row:2|']);
  t.equal(result.command, 'SELECT 2');
  t.equal(result.rowCount, 2);
  t.equal(result.rowsReceived, 2);
});

t.test('RowDescription carries table OID, attribute number, type OID and modifier', async (t) => {
  const db = await createScratchDatabase(t);
  const conn = await connect(db.name);
  t.teardown(() => conn.close());
  await conn.query('CREATE TABLE people (id int4 PRIMARY KEY, name varchar(20))', {});
  const oid = collector();
  await conn.query("SELECT 'people'::regclass::oid", oid.handler);
  const tableOid = Number(oid.seen.rows[0]?.[0]);
  const { seen, handler } = collector();
  await conn.query('SELECT name, id, id + 1 AS next FROM people', handler);
  const [name, id, next] = seen.columns[0] ?? [];
  t.match(name, { name: 'name', tableOid, columnAttr: 2, typeOid: 1043, typeModifier: 24, format: 'text' });
  t.match(id, { name: 'id', tableOid, columnAttr: 1, typeOid: 23, typeSize: 4 });
  t.match(next, { name: 'next', tableOid: 0, columnAttr: 0, typeOid: 23 });
});

t.test('the extended protocol sends parameters as text and null as NULL', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  const { seen, handler } = collector();
  const result = await conn.query(
    'SELECT $1::int4 + 1 AS n, $2::text AS s, $3::text IS NULL AS isnull, $4::bool AS b, $5::bytea AS raw, $6::int4[] AS arr, $7::jsonb AS doc',
    handler,
    { params: [41, "it's", null, true, Buffer.from([1, 2, 255]), [1, null, 3], { a: [1, 'b'] }] },
  );
  t.same(seen.rows, [['42', "it's", 't', 't', '\\x0102ff', '{1,NULL,3}', '{"a": [1, "b"]}']]);
  t.equal(result.command, 'SELECT 1');
});

t.test('an empty params array still uses the extended protocol (one statement only)', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  const err = await conn.query('SELECT 1; SELECT 2', {}, { params: [] }).catch((e: unknown) => e);
  t.ok(err instanceof PgServerError);
  t.equal((err as PgServerError).code, '42601');
});

t.test('a multi-statement simple query reports every statement and columns per result set', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  const { seen, handler } = collector();
  const result = await conn.query(
    'CREATE TEMP TABLE t1 (a int); INSERT INTO t1 VALUES (1),(2); SELECT a FROM t1 ORDER BY a',
    handler,
  );
  t.same(
    result.results.map((r) => r.tag),
    ['CREATE TABLE', 'INSERT 0 2', 'SELECT 2'],
  );
  t.same(
    result.results.map((r) => r.rowCount),
    [0, 2, 2],
  );
  t.equal(seen.columns.length, 1);
  t.same(seen.rows, [['1'], ['2']]);
});

t.test(
  'a server error carries SQLSTATE, severity, message, position and hint; the connection stays usable',
  async (t) => {
    const conn = await connect();
    t.teardown(() => conn.close());
    const err = await conn.query('SELECT * FROM no_such_table_here', {}).catch((e: unknown) => e);
    t.ok(err instanceof PgServerError);
    const e = err as PgServerError;
    t.equal(e.code, '42P01');
    t.equal(e.sqlstate, '42P01');
    t.equal(e.severity, 'ERROR');
    t.match(e.message, /no_such_table_here/);
    t.equal(e.position, 15);
    const hinted = (await conn
      .query('SELECT lenght($1)', {}, { params: ['x'] })
      .catch((x: unknown) => x)) as PgServerError;
    t.equal(hinted.code, '42883');
    t.match(hinted.hint, /function/i);
    t.equal(conn.state, 'idle');
    const { seen, handler } = collector();
    await conn.query('SELECT 7', handler);
    t.same(seen.rows, [['7']]);
  },
);

t.test('a constraint violation carries detail, table and constraint', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  await conn.query('CREATE TEMP TABLE u (id int PRIMARY KEY); INSERT INTO u VALUES (1)', {});
  const err = (await conn
    .query('INSERT INTO u VALUES ($1)', {}, { params: [1] })
    .catch((e: unknown) => e)) as PgServerError;
  t.equal(err.code, '23505');
  t.match(err.detail, /Key \(id\)=\(1\) already exists/);
  t.equal(err.table, 'u');
  t.equal(err.constraint, 'u_pkey');
});

t.test('an error in a transaction leaves status E until ROLLBACK', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  await conn.query('BEGIN', {});
  t.equal(conn.transactionStatus, 'T');
  await conn.query('SELECT 1/0', {}).catch(() => undefined);
  t.equal(conn.transactionStatus, 'E');
  t.equal(conn.reusable, false);
  await conn.query('ROLLBACK', {});
  t.equal(conn.transactionStatus, 'I');
  t.equal(conn.reusable, true);
});

t.test('notices go to the notice callback', async (t) => {
  const notices: PgNotice[] = [];
  const conn = await connect('postgres', { onNotice: (n) => notices.push(n) });
  t.teardown(() => conn.close());
  await conn.query("DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$", {});
  t.equal(notices.length, 1);
  t.match(notices[0], { severity: 'NOTICE', code: '00000', message: 'hello 42' });
});

t.test('an empty query completes with an empty tag', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  const result = await conn.query('', {});
  t.equal(result.command, '');
  t.equal(result.rowCount, 0);
});

t.test('a second query while one runs is refused with ERR_PG_BUSY', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  const first = conn.query('SELECT pg_sleep(0.05)', {});
  const err = await conn.query('SELECT 1', {}).catch((e: unknown) => e);
  t.ok(err instanceof PgClientError);
  t.equal((err as PgClientError).code, 'ERR_PG_BUSY');
  await first;
});

t.test('COPY FROM STDIN is refused and the connection stays usable', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  await conn.query('CREATE TEMP TABLE c (a int)', {});
  const err = (await conn.query('COPY c FROM STDIN', {}).catch((e: unknown) => e)) as PgServerError;
  t.equal(err.code, '57014');
  t.match(err.message, /not supported/);
  const { seen, handler } = collector();
  await conn.query('SELECT count(*) FROM c', handler);
  t.same(seen.rows, [['0']]);
});

t.test('session-changing statements make the connection not reusable', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  t.equal(conn.reusable, true);
  await conn.query('SET search_path TO pg_catalog', {});
  t.equal(conn.reusable, false);
});

t.test('a query on a closed connection fails with ERR_PG_CONNECTION_CLOSED', async (t) => {
  const conn = await connect();
  await conn.close();
  t.equal(conn.state, 'closed');
  const err = (await conn.query('SELECT 1', {}).catch((e: unknown) => e)) as PgClientError;
  t.equal(err.code, 'ERR_PG_CONNECTION_CLOSED');
});

t.test('a server-side termination fails the running query with the server error', async (t) => {
  const conn = await connect();
  const killer = await connect();
  t.teardown(() => killer.close());
  const running = conn.query('SELECT pg_sleep(5)', {}).catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 100));
  await killer.query(`SELECT pg_terminate_backend(${conn.backendKey?.processId})`, {});
  const err = (await running) as PgServerError;
  t.equal(err.code, '57P01');
  t.equal(conn.state, 'closed');
});

t.test('a statement containing a NUL byte is refused before it is sent', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  const err = (await conn.query('SELECT 1\0; DROP TABLE x', {}).catch((e: unknown) => e)) as PgClientError;
  t.equal(err.code, 'ERR_PG_INVALID_TEXT');
  t.equal(conn.reusable, true);
});

t.test('switching client_encoding away from UTF8 ends the connection', async (t) => {
  const conn = await connect();
  const err = (await conn
    .query("SET client_encoding = 'LATIN1'", {})
    .catch((e: unknown) => e)) as PgClientError;
  t.equal(err.code, 'ERR_PG_PROTOCOL');
  t.equal(conn.state, 'closed');
});

t.test('a parameter without a text form fails the query before anything is sent', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  const err = (await conn
    .query('SELECT $1', {}, { params: [() => 1] })
    .catch((e: unknown) => e)) as PgClientError;
  t.equal(err.code, 'ERR_PG_PARAMETER');
  t.equal(conn.state, 'idle');
});

t.test('a reported setting changed through a function makes the connection not reusable', async (t) => {
  const conn = await connect();
  t.teardown(() => conn.close());
  await conn.query("SELECT set_config('application_name', 'changed', false)", {});
  t.equal(conn.parameters.get('application_name'), 'changed');
  t.equal(conn.reusable, false);
});
