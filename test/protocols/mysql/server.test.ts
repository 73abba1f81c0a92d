import t from 'tap';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import mysqlCallbacks from 'mysql2';
import mysql from 'mysql2/promise';
import { ColumnType } from '../../../protocols/mysql/codec/column-types.js';
import type { MysqlCommand } from '../../../protocols/mysql/codec/commands.js';
import { MysqlClient } from '../../../protocols/mysql/client.js';
import { selfSignedTls, startTinyServer, tinyHandler } from './fixtures/tiny-server.js';

interface RawStatement {
  id: number;
  parameters: unknown[];
  columns: { name: string; orgTable: string }[];
  close(): void;
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function mariadbCli(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile('mariadb', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

t.test('the mariadb CLI connects over TLS with a clear-text token and gets SELECT 1', async (t) => {
  const tls = selfSignedTls(t);
  const seen: MysqlCommand[] = [];
  let authTls: boolean | undefined;
  const server = await startTinyServer(t, {
    secureContext: tls.context,
    handler: tinyHandler(seen),
    authenticate: async ({ user, password, tls: overTls, database }) => {
      authTls = overTls;
      return user === 'alice' && password === 'TOKEN' && database === 'shop' ? { ok: true } : { ok: false };
    },
  });
  const result = await mariadbCli([
    '-h127.0.0.1',
    `-P${server.port}`,
    '-ualice',
    '--password=TOKEN',
    // This MariaDB client allows mysql_clear_password by default (--enable-cleartext-plugin is obsolete).
    '--ssl',
    '--skip-ssl-verify-server-cert',
    '--batch',
    '-e',
    'SELECT 1',
    'shop',
  ]);
  t.equal(result.stderr, '', 'no error from the CLI');
  t.equal(result.code, 0);
  t.equal(result.stdout, '1\n1\n', 'the column header and the row');
  t.equal(authTls, true, 'the password arrived over TLS');
  t.ok(
    seen.some((c) => c.kind === 'query' && c.sql === 'SELECT 1'),
    'the statement reached the handler as COM_QUERY',
  );
});

t.test('the mariadb CLI without TLS is refused before it sends a password', async (t) => {
  let asked = false;
  const server = await startTinyServer(t, {
    authenticate: async () => {
      asked = true;
      return { ok: true };
    },
  });
  const result = await mariadbCli([
    '-h127.0.0.1',
    `-P${server.port}`,
    '-ualice',
    '--password=TOKEN',
    '--skip-ssl',
    '-e',
    'SELECT 1',
  ]);
  t.not(result.code, 0);
  t.match(result.stderr, /3159|insecure transport/);
  t.equal(asked, false, 'authenticate was never called');
});

t.test('mysql2 queries the tiny server over TLS and reads rows, nulls and column origins', async (t) => {
  const tls = selfSignedTls(t);
  const server = await startTinyServer(t, { secureContext: tls.context });
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: server.port,
    user: 'alice',
    password: 'TOKEN',
    ssl: { ca: tls.cert, rejectUnauthorized: true },
    enableCleartextPlugin: true,
  });
  t.teardown(() => conn.destroy());
  const [rows, fields] = await conn.query({ sql: 'SELECT MANY', rowsAsArray: true });
  t.same(rows, [
    [1, 'row 1'],
    [2, null],
    [3, 'row 3'],
  ]);
  t.match(fields[0], { name: 'n', orgName: 'id', orgTable: 'customers', table: 'c', db: 'shop' });
  await t.rejects(conn.query('DROP TABLE x'), { errno: 1064, sqlState: '42000', message: /cannot run/ });
  await conn.ping();
  const [one] = await conn.query('SELECT 1');
  t.same(one, [{ 1: 1 }]);
});

t.test('plaintext auth works only when allowed, and a wrong password gets 1045', async (t) => {
  const refused = await startTinyServer(t);
  await t.rejects(
    mysql.createConnection({
      host: '127.0.0.1',
      port: refused.port,
      user: 'alice',
      password: 'TOKEN',
      enableCleartextPlugin: true,
    }),
    { errno: 3159, message: /insecure transport/ },
  );
  const allowed = await startTinyServer(t, { allowPlaintextAuth: true });
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: allowed.port,
    user: 'alice',
    password: 'TOKEN',
    enableCleartextPlugin: true,
  });
  t.teardown(() => conn.destroy());
  const [rows] = await conn.query({ sql: 'SELECT 1', rowsAsArray: true });
  t.same(rows, [[1]]);
  await t.rejects(
    mysql.createConnection({
      host: '127.0.0.1',
      port: allowed.port,
      user: 'alice',
      password: 'wrong',
      enableCleartextPlugin: true,
    }),
    { errno: 1045, sqlState: '28000', message: /Access denied/ },
  );
});

t.test('a handler that throws or never answers gives the client 1105 without details', async (t) => {
  const server = await startTinyServer(t, { allowPlaintextAuth: true });
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: server.port,
    user: 'alice',
    password: 'TOKEN',
    enableCleartextPlugin: true,
  });
  t.teardown(() => conn.destroy());
  const err = await conn.query('FAIL now').catch((e: unknown) => e);
  t.match(err, { errno: 1105, message: 'Internal error' });
  t.notMatch(String((err as Error).message), /secret/);
  await t.rejects(conn.query('SILENT'), { errno: 1105, message: 'Internal error' });
  t.ok(
    server.errors.some((e) => /exploded/.test(e.message)),
    'the real error went to onError',
  );
  const [rows] = await conn.query({ sql: 'SELECT 1', rowsAsArray: true });
  t.same(rows, [[1]], 'the connection is still usable');
});

t.test('a client that stops mid-handshake is disconnected by the timeout', async (t) => {
  const server = await startTinyServer(t, { handshakeTimeoutMs: 200 });
  const socket = connect(server.port, '127.0.0.1');
  const started = Date.now();
  let received = 0;
  socket.on('data', (chunk) => (received += chunk.length));
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const elapsed = Date.now() - started;
  t.ok(received > 0, 'the server sent its handshake');
  t.ok(elapsed >= 150 && elapsed < 4000, `closed after ${elapsed} ms`);
  await server.connections[0]?.closed;
  t.equal(server.connections[0]?.state, 'closed');
  t.match(server.errors, [{ code: 'ERR_HANDSHAKE_TIMEOUT' }]);
  t.equal(server.sockets.size, 0, 'no socket is held');
});

t.test('a packet announcing more than the handshake cap is refused with 1153 and closed', async (t) => {
  const server = await startTinyServer(t);
  const socket = connect(server.port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    if (chunks.length === 1) socket.write(Buffer.from([0xff, 0xff, 0xff, 0x01, 0x00]));
  });
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const reply = Buffer.concat(chunks);
  const handshakeLength = reply.readUIntLE(0, 3);
  const err = reply.subarray(4 + handshakeLength + 4);
  t.equal(err[0], 0xff, 'an ERR packet follows the handshake');
  t.equal(err.readUInt16LE(1), 1153);
  t.match(server.errors, [{ code: 'ERR_PACKET_TOO_LARGE' }]);
});

t.test('unknown commands get 1047 and the connection carries on', async (t) => {
  const server = await startTinyServer(t, { allowPlaintextAuth: true });
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: server.port,
    user: 'alice',
    password: 'TOKEN',
    enableCleartextPlugin: true,
  });
  t.teardown(() => conn.destroy());
  // COM_STMT_PREPARE is decoded and handed to the handler, which does not support it here.
  await t.rejects(conn.prepare('SELECT ?'), { errno: 1047, message: /stmt-prepare/ });
  await conn.changeUser({ user: 'alice', password: 'TOKEN' }).catch(() => {});
  t.pass('a COM_CHANGE_USER did not crash the server');
});

t.test('our MysqlClient verifies the server certificate and never sends a clear-text password', async (t) => {
  const tls = selfSignedTls(t);
  const other = selfSignedTls(t);
  let asked = false;
  const server = await startTinyServer(t, {
    secureContext: tls.context,
    passwordPlugin: 'mysql_clear_password',
    authenticate: async () => {
      asked = true;
      return { ok: true };
    },
  });
  const base = { host: '127.0.0.1', port: server.port, user: 'alice', password: 'TOKEN', database: 'shop' };
  const wrongCa = new MysqlClient({ ...base, tls: 'verify-full', ca: other.cert });
  t.teardown(() => wrongCa.close());
  await t.rejects(wrongCa.query('SELECT 1', { columns() {}, row() {} }), { code: 'ERR_TARGET_TLS' });

  const rightCa = new MysqlClient({ ...base, tls: 'verify-full', ca: tls.cert });
  t.teardown(() => rightCa.close());
  const err = await rightCa.query('SELECT 1', { columns() {}, row() {} }).catch((e: unknown) => e);
  t.match(
    err,
    { code: 'ERR_TARGET_AUTH', message: /mysql_clear_password/ },
    'TLS verified; the clear-text switch is refused',
  );
  t.equal(asked, false, 'the password was never sent in clear text');
  t.notMatch(String((err as Error).message), /TOKEN/);
  t.ok(server.connections.at(-1)?.tls, 'the connection was upgraded to TLS');
});

t.test('tls require and prefer encrypt when the server offers TLS', async (t) => {
  const tls = selfSignedTls(t);
  const server = await startTinyServer(t, {
    secureContext: tls.context,
    passwordPlugin: 'mysql_clear_password',
  });
  for (const mode of ['require', 'prefer'] as const) {
    const client = new MysqlClient({
      host: '127.0.0.1',
      port: server.port,
      user: 'alice',
      password: 'TOKEN',
      database: 'shop',
      tls: mode,
    });
    t.teardown(() => client.close());
    const err = await client.query('SELECT 1', { columns() {}, row() {} }).catch((e: unknown) => e);
    t.match(err, { code: 'ERR_TARGET_AUTH' }, `${mode}: TLS was set up, then clear-text auth refused`);
    t.ok(server.connections.at(-1)?.tls, `${mode}: the server saw TLS`);
  }
});

t.test('column types the tiny server sends are the ones the client reads back', async (t) => {
  const server = await startTinyServer(t, {
    allowPlaintextAuth: true,
    handler: {
      async command(_command, reply) {
        const rows = reply.resultSet([
          { name: 'd', type: ColumnType.NewDecimal, decimals: 2 },
          { name: 'b', type: ColumnType.Blob },
          { name: 'when', type: ColumnType.DateTime },
        ]);
        await rows.row(['12.50', Buffer.from([1, 2, 3]), '2024-01-02 03:04:05']);
        rows.end();
      },
    },
  });
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: server.port,
    user: 'alice',
    password: 'TOKEN',
    enableCleartextPlugin: true,
    dateStrings: true,
  });
  t.teardown(() => conn.destroy());
  const [rows] = await conn.query({ sql: 'anything', rowsAsArray: true });
  t.same(rows, [['12.50', Buffer.from([1, 2, 3]), '2024-01-02 03:04:05']]);
});

t.test(
  'COM_STMT_PREPARE is answered with statement metadata and COM_STMT_CLOSE needs no answer',
  async (t) => {
    const seen: MysqlCommand[] = [];
    const server = await startTinyServer(t, {
      allowPlaintextAuth: true,
      handler: {
        async command(command, reply) {
          seen.push(command);
          if (command.kind === 'stmt-prepare') {
            reply.prepared({
              statementId: 41,
              params: [{ name: '?', type: ColumnType.VarString }],
              columns: [
                { name: 'email', type: ColumnType.VarString, orgTable: 'customers', orgName: 'email' },
              ],
            });
            t.throws(() => reply.ok(), /already answered/, 'a command is answered once');
            return;
          }
          if (command.kind === 'stmt-close') return reply.none();
          reply.ok();
        },
      },
    });
    // The callback API exposes what the server answered (id, parameter and column definitions).
    const conn = mysqlCallbacks.createConnection({
      host: '127.0.0.1',
      port: server.port,
      user: 'alice',
      password: 'TOKEN',
      enableCleartextPlugin: true,
    });
    t.teardown(() => conn.destroy());
    const statement = await new Promise<RawStatement>((resolve, reject) =>
      conn.prepare('SELECT email FROM customers WHERE id = ?', (err, stmt) =>
        err ? reject(err) : resolve(stmt as unknown as RawStatement),
      ),
    );
    t.equal(statement.id, 41);
    t.equal(statement.parameters.length, 1);
    t.match(statement.columns[0], { name: 'email', orgTable: 'customers' });
    statement.close();
    await new Promise<void>((resolve, reject) => conn.ping((err) => (err ? reject(err) : resolve())));
    t.match(seen, [
      { kind: 'stmt-prepare', sql: 'SELECT email FROM customers WHERE id = ?' },
      { kind: 'stmt-close', statementId: 41 },
    ]);
  },
);

t.test('rows wait for a slow client: row() returns a promise when the socket is full', async (t) => {
  let sawBackpressure = false;
  const server = await startTinyServer(t, {
    allowPlaintextAuth: true,
    handler: {
      async command(_command, reply) {
        const rows = reply.resultSet([{ name: 'pad', type: ColumnType.VarString }]);
        const pad = 'x'.repeat(8192);
        for (let i = 0; i < 2000; i++) {
          const wait = rows.row([pad]);
          if (wait) {
            sawBackpressure = true;
            await wait;
          }
        }
        rows.end();
        t.throws(() => rows.end(), /ended/);
      },
    },
  });
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: server.port,
    user: 'alice',
    password: 'TOKEN',
    enableCleartextPlugin: true,
  });
  t.teardown(() => conn.destroy());
  const [rows] = await conn.query({ sql: 'SELECT pad', rowsAsArray: true });
  t.equal((rows as unknown[]).length, 2000);
  t.ok(sawBackpressure, 'the writer was told to wait at least once');
});
