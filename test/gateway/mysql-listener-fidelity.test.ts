/**
 * The MySQL listener answers as the target would (#26): the target's OK packet (insertId,
 * changedRows from info, warnings, in-transaction status) field for field as a direct connection
 * reports them, its server version, its error text without a gateway prefix, 1064 for a text that
 * does not parse; a read-only agent opens, commits and rolls back transactions; a login without a
 * database lists the targets and waits for USE.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import mysql, { type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import { pino } from 'pino';
import { assembleGateway } from '../../src/cli/assemble.js';
import { parseConfigText } from '../../src/config/load.js';
import { startMysqlListener } from '../../src/gateway/mysql/index.js';
import { createRecordingReader } from '../../src/recording/create.js';

const database = `sluice_myok_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${database}`);
await admin.query(`USE ${database}`);
await admin.query('CREATE TABLE events (id INT AUTO_INCREMENT PRIMARY KEY, kind VARCHAR(20), n TINYINT)');
await admin.query("INSERT INTO events (kind, n) VALUES ('a', 1), ('a', 1), ('b', 2)");

const dir = mkdtempSync(join(tmpdir(), 'sluice-mysql-ok-'));
const config = parseConfigText(
  `
server: { mysql: { listen: 127.0.0.1:0 } }
targets:
  shop: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${database}, user: root, tls: disable }
policies:
  - name: dba
    when: { groups: [dba], targets: [shop] }
    statements: { default: allow }
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
    statements: { default: deny, allow: [read] }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  { baseDir: dir, env: {} },
);
const logger = pino({ level: 'silent' });
const parts = await assembleGateway(config, logger);
const listener = await startMysqlListener(parts, config, logger);
t.teardown(async () => {
  await listener.close();
  await parts.close();
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});

async function through(groups: string[], database: string | null = 'shop'): Promise<mysql.Connection> {
  const token = await parts.authenticator.mint({ subject: 'u-1', groups });
  return mysql.createConnection({
    host: '127.0.0.1',
    port: listener.address.port,
    user: 'u-1',
    password: token,
    ...(database !== null ? { database } : {}),
    ssl: { rejectUnauthorized: false },
    enableCleartextPlugin: true,
  });
}

const direct = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', database });
t.teardown(() => direct.end());

/** The OK fields a client reads, without the ones that differ by connection. */
function okOf(header: ResultSetHeader): Record<string, unknown> {
  return {
    affectedRows: header.affectedRows,
    changedRows: header.changedRows,
    info: header.info,
    warningStatus: header.warningStatus,
    inTransaction: (header.serverStatus & 1) === 1,
  };
}

t.test('insertId, changedRows, info and warnings are the target own', async (t) => {
  const dba = await through(['dba']);
  t.teardown(() => dba.end());
  const [insertedThrough] = await dba.query<ResultSetHeader>(
    "INSERT INTO events (kind, n) VALUES ('c', 3), ('c', 4)",
  );
  const [insertedDirect] = await direct.query<ResultSetHeader>(
    "INSERT INTO events (kind, n) VALUES ('d', 3), ('d', 4)",
  );
  t.equal(insertedThrough.insertId, 4, 'the first id of the rows just inserted');
  t.equal(insertedDirect.insertId, 6);
  t.same(okOf(insertedThrough), okOf(insertedDirect));
  t.match(insertedThrough.info, /^Records: 2 {2}Duplicates: 0 {2}Warnings: 0/);

  const [updatedThrough] = await dba.query<ResultSetHeader>(
    "UPDATE events SET n = 1 WHERE kind = 'a' OR id = 3",
  );
  await direct.query('UPDATE events SET n = 2 WHERE id = 3');
  const [updatedDirect] = await direct.query<ResultSetHeader>(
    "UPDATE events SET n = 1 WHERE kind = 'a' OR id = 3",
  );
  t.equal(updatedThrough.affectedRows, 3, 'rows matched (mysql2 asks for CLIENT_FOUND_ROWS)');
  t.equal(updatedThrough.changedRows, 1, 'matched 3, changed 1');
  t.same(okOf(updatedThrough), okOf(updatedDirect));

  // A value out of range: one warning, as directly.
  const [warnedThrough] = await dba.query<ResultSetHeader>(
    "INSERT IGNORE INTO events (kind, n) VALUES ('w', 999)",
  );
  const [warnedDirect] = await direct.query<ResultSetHeader>(
    "INSERT IGNORE INTO events (kind, n) VALUES ('w', 999)",
  );
  t.equal(warnedThrough.warningStatus, 1);
  t.same(okOf(warnedThrough), okOf(warnedDirect));
});

t.test('a read-only agent runs the transaction statements drivers send', async (t) => {
  const agent = await through(['ai-agents']);
  t.teardown(() => agent.end());
  for (const sql of [
    'SET autocommit = 0',
    "SET sql_mode = concat(@@sql_mode, ',STRICT_TRANS_TABLES')",
    'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED',
    'START TRANSACTION',
  ]) {
    await agent.query(sql);
  }
  const [began] = await agent.query<ResultSetHeader>('SAVEPOINT s1');
  t.ok((began.serverStatus & 1) === 1, 'the OK says a transaction is open');
  const [rows] = await agent.query('SELECT COUNT(*) AS n FROM events');
  t.ok(Number((rows as { n: number }[])[0]?.n) > 0);
  const [committed] = await agent.query<ResultSetHeader>('COMMIT');
  t.equal(committed.serverStatus & 1, 0, 'and none after COMMIT');
  await agent.query('BEGIN');
  await agent.query('ROLLBACK');
  await t.rejects(agent.query("SET sql_mode = 'ANSI_QUOTES'"), { message: /denied/ });
  await t.rejects(agent.query("INSERT INTO events (kind) VALUES ('x')"), { message: /denied/ });
});

t.test('the server version, error texts and syntax errors are the target own', async (t) => {
  const agent = await through(['ai-agents']);
  t.teardown(() => agent.end());
  const announced = (
    agent as unknown as {
      connection: { serverVersion?: string; _handshakePacket?: { serverVersion: string } };
    }
  ).connection;
  const directVersion = (
    direct as unknown as { connection: { _handshakePacket?: { serverVersion: string } } }
  ).connection._handshakePacket?.serverVersion;
  t.ok(directVersion, 'the direct greeting has a version');
  t.equal(announced._handshakePacket?.serverVersion, directVersion);
  await t.rejects(agent.query('SELECT * FROM nosuch'), {
    errno: 1146,
    sqlState: '42S02',
    message: `Table '${database}.nosuch' doesn't exist`,
  });
  const directSyntax = await direct.query('SELEC 1').then(
    () => undefined,
    (err: Error) => err.message,
  );
  t.match(directSyntax, /You have an error in your SQL syntax.*near 'SELEC 1'/);
  await t.rejects(agent.query('SELEC 1'), { errno: 1064, sqlState: '42000', message: String(directSyntax) });
  await t.rejects(agent.query('DROP TABLE events'), { errno: 1142, sqlState: '42000', message: /denied/ });
});

t.test('a login without a database lists the targets and waits for USE', async (t) => {
  const agent = await through(['ai-agents'], null);
  t.teardown(() => agent.end());
  const [databases] = await agent.query('SHOW DATABASES');
  t.same(databases, [{ Database: 'shop' }]);
  const [selected] = await agent.query('SELECT DATABASE()');
  t.same(selected, [{ 'DATABASE()': null }]);
  await t.rejects(agent.query('SELECT COUNT(*) FROM events'), {
    errno: 1046,
    sqlState: '3D000',
    message: /No database selected: USE one of the databases you may use \(shop\)/,
  });
  await t.rejects(agent.query('USE nowhere'), { errno: 1044, message: /databases you may use: shop/ });
  await agent.query('USE shop');
  const [rows] = await agent.query('SELECT COUNT(*) AS n FROM events');
  t.ok(Number((rows as { n: number }[])[0]?.n) > 0, 'bound to the target, statements run');
  await t.rejects(agent.query('DELETE FROM events'), { errno: 1142, message: /denied/ });
  const outsider = await through(['nobody'], null);
  t.teardown(() => outsider.end());
  const [none] = await outsider.query('SHOW DATABASES');
  t.same(none, [], 'an identity no policy matches sees no database');
});

t.test('COM_RESET_CONNECTION starts the session over on a fresh target connection', async (t) => {
  const dba = await through(['dba']);
  t.teardown(() => dba.end());
  await dba.query('SET @kept = 41');
  await dba.query('CREATE TEMPORARY TABLE scratch (a INT)');
  await dba.query('START TRANSACTION');
  await dba.query("INSERT INTO events (kind, n) VALUES ('reset', 1)");
  const [before] = await dba.query('SELECT @kept AS v, CONNECTION_ID() AS id');
  await dba.reset();
  const [after] = await dba.query('SELECT @kept AS v, CONNECTION_ID() AS id');
  const was = (before as { v: unknown; id: number }[])[0];
  const now = (after as { v: unknown; id: number }[])[0];
  t.equal(Number(was?.v), 41);
  t.equal(now?.v, null, 'user variables are gone');
  t.not(now?.id, was?.id, 'a fresh target connection');
  await t.rejects(dba.query('SELECT * FROM scratch'), { errno: 1146, message: /scratch/ });
  const [rows] = await direct.query("SELECT COUNT(*) AS n FROM events WHERE kind = 'reset'");
  t.equal(Number((rows as { n: number }[])[0]?.n), 0, 'the open transaction was rolled back');
});

t.test(
  'stock clients log in with default options: caching_sha2_password full authentication inside TLS',
  async (t) => {
    const token = await parts.authenticator.mint({ subject: 'u-1', groups: ['ai-agents'] });
    // No enableCleartextPlugin: mysql2 answers the switch to caching_sha2_password, then sends the
    // token only because the connection is encrypted.
    for (const authPlugin of ['mysql_native_password', 'caching_sha2_password']) {
      const conn = await mysql.createConnection({
        host: '127.0.0.1',
        port: listener.address.port,
        user: 'u-1',
        password: token,
        database: 'shop',
        ssl: { rejectUnauthorized: false },
        // The plugin the client starts with; the listener asks for full authentication either way.
        authPlugins: {},
        ...(authPlugin === 'caching_sha2_password' ? { flags: ['PLUGIN_AUTH'] } : {}),
      });
      const [rows] = await conn.query('SELECT COUNT(*) AS n FROM events');
      t.ok(Number((rows as { n: number }[])[0]?.n) > 0, `logged in (${authPlugin})`);
      await conn.end();
    }
    await t.rejects(
      mysql.createConnection({
        host: '127.0.0.1',
        port: listener.address.port,
        user: 'u-1',
        password: 'not-a-token',
        database: 'shop',
        ssl: { rejectUnauthorized: false },
      }),
      { errno: 1045, message: /Access denied for user 'u-1' \(the token is malformed\)/ },
    );
  },
);

t.test(
  'an error after the result set began ends that result with the target ERR; the session goes on',
  async (t) => {
    const agent = await through(['ai-agents']);
    t.teardown(() => agent.end());
    // The server sends the column definitions, then fails on the first row.
    const sql = 'SELECT id, (SELECT id FROM events UNION SELECT 999) AS x FROM events';
    const directErr = await direct.query(sql).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.match(directErr, { errno: 1242, sqlState: '21000' });
    await t.rejects(agent.query(sql), {
      errno: 1242,
      sqlState: '21000',
      message: 'Subquery returns more than 1 row',
    });
    await t.rejects(agent.execute(sql), { errno: 1242, sqlState: '21000', message: /more than 1 row/ });
    const [rows] = await agent.query('SELECT 1 AS one');
    t.same(rows, [{ one: 1 }], 'the connection carries on');
  },
);

/** What a client reads from a column definition, all of it. */
function definitionOf(field: mysql.FieldPacket): Record<string, unknown> {
  return {
    catalog: field.catalog,
    schema: field.schema,
    table: field.table,
    orgTable: field.orgTable,
    name: field.name,
    orgName: field.orgName,
    characterSet: field.characterSet,
    columnLength: field.columnLength,
    columnType: field.columnType,
    flags: field.flags,
    decimals: field.decimals,
    // MariaDB's extended metadata, which tells JSON, UUID and INET6 from text.
    extendedTypeName: field.extendedTypeName,
    extendedFormat: field.extendedFormat,
  };
}

t.test('column definitions and values are relayed as the target sent them, text and binary', async (t) => {
  await admin.query(`CREATE TABLE ${database}.kinds (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    big BIGINT UNSIGNED, tiny TINYINT(1), medium MEDIUMINT, yr YEAR,
    flags BIT(3), doc JSON, place POINT, price DECIMAL(10,2), ratio FLOAT, exact DOUBLE,
    at DATETIME(6), day DATE, span TIME(3), code CHAR(3) NOT NULL DEFAULT '', note TEXT,
    raw VARBINARY(8), image BLOB, colour ENUM('red','blue'), tags SET('a','b'), uid UUID, addr INET6,
    UNIQUE KEY (code, medium)
  )`);
  t.teardown(() => admin.query(`DROP TABLE IF EXISTS ${database}.kinds`));
  await admin.query(`INSERT INTO ${database}.kinds
    (big, tiny, medium, yr, flags, doc, place, price, ratio, exact, at, day, span, code, note, raw, image, colour, tags, uid, addr)
    VALUES
    (18446744073709551615, 1, -8388608, 2024, b'101', '{"b": [1, 2.50], "a": "é"}', ST_GeomFromText('POINT(1.5 -2)', 4326),
     12345678.90, 1.1, 0.1, '2024-01-02 03:04:05.123456', '2024-02-29', '-838:59:58.5', 'abc', 'naïve ✓',
     x'00ff10', x'89504e47', 'blue', 'a,b', '123e4567-e89b-12d3-a456-426614174000', '::ffff:10.0.0.1'),
    (NULL, 0, 0, NULL, b'0', 'null', NULL, -0.01, -3.4e38, 1e308, '0000-00-00 00:00:00', NULL, '00:00:00', '', '', x'', NULL, NULL, '', NULL, NULL)`);
  const dba = await through(['dba']);
  t.teardown(() => dba.end());
  const sql = 'SELECT *, id + 1 AS next, k.code AS alias FROM kinds AS k ORDER BY id';

  // Text protocol, raw bytes: nothing decoded on the client side.
  const [rawThrough, fieldsThrough] = await dba.query({ sql, rowsAsArray: true, typeCast: false });
  const [rawDirect, fieldsDirect] = await direct.query({ sql, rowsAsArray: true, typeCast: false });
  t.same(fieldsThrough.map(definitionOf), fieldsDirect.map(definitionOf), 'column definitions');
  t.same(rawThrough, rawDirect, 'text rows byte for byte');

  // Binary protocol (a prepared statement with a parameter), as the driver decodes it.
  const prepared = `${sql.replace(' ORDER BY', ' WHERE id > ? ORDER BY')}`;
  const [binThrough, binFieldsThrough] = await dba.execute({ sql: prepared, rowsAsArray: true }, [0]);
  const [binDirect, binFieldsDirect] = await direct.execute({ sql: prepared, rowsAsArray: true }, [0]);
  t.same(binFieldsThrough.map(definitionOf), binFieldsDirect.map(definitionOf), 'binary column definitions');
  // A zero DATETIME decodes to an invalid Date on both sides, which tap cannot print.
  const comparable = (rows: unknown) =>
    (rows as unknown[][]).map((row) =>
      row.map((v) =>
        v instanceof Date ? (Number.isNaN(v.getTime()) ? 'invalid date' : v.toISOString()) : v,
      ),
    );
  t.same(comparable(binThrough), comparable(binDirect), 'binary rows decode to the same values');

  // An agent sees the same definitions for what it may read.
  const agent = await through(['ai-agents']);
  t.teardown(() => agent.end());
  const [, agentFields] = await agent.query({ sql: 'SELECT id, tiny, doc FROM kinds', typeCast: false });
  const [, directFields] = await direct.query({ sql: 'SELECT id, tiny, doc FROM kinds', typeCast: false });
  t.same(agentFields.map(definitionOf), directFields.map(definitionOf));
});

t.test("a client's own character set: statements decoded from it, text sent back in it", async (t) => {
  await admin.query(
    `CREATE TABLE ${database}.words (id INT PRIMARY KEY, word VARCHAR(20), note TEXT, raw VARBINARY(4)) CHARSET utf8mb4`,
  );
  t.teardown(() => admin.query(`DROP TABLE IF EXISTS ${database}.words`));
  const token = await parts.authenticator.mint({ subject: 'u-1', groups: ['dba'] });
  // `bytes` is a binary literal's text, and the bytes it stands for in that set: SJIS's ソ ends
  // in 0x5c, a backslash to a reader that scans bytes.
  for (const [charset, word, id, bytes, hex] of [
    ['CP1251_GENERAL_CI', 'Привет', 1, 'я\\\\n', 'FF5C6E'],
    ['KOI8R_GENERAL_CI', 'ёжик', 2, 'Ъ\\\\n', 'FF5C6E'],
    ['SJIS_JAPANESE_CI', 'ソース表', 3, 'ソn', '835C6E'],
    ['LATIN1_SWEDISH_CI', 'naïve café', 4, 'ÿ\\\\n', 'FF5C6E'],
  ] as const) {
    const options = { charset, supportBigNumbers: true };
    const viaSluice = await mysql.createConnection({
      host: '127.0.0.1',
      port: listener.address.port,
      user: 'u-1',
      password: token,
      database: 'shop',
      ssl: { rejectUnauthorized: false },
      ...options,
    });
    const viaTarget = await mysql.createConnection({
      host: '127.0.0.1',
      port: 3306,
      user: 'root',
      database,
      ...options,
    });
    // Written through Sluice as text (with a binary literal) and as a prepared parameter.
    await viaSluice.query(`INSERT INTO words VALUES (${id}, '${word}', NULL, _binary'${bytes}')`);
    await viaSluice.execute('UPDATE words SET note = ? WHERE id = ?', [`${word}!`, id]);
    const [stored] = await admin.query(
      `SELECT word, note, HEX(raw) AS raw FROM ${database}.words WHERE id = ?`,
      [id],
    );
    t.same(stored, [{ word, note: `${word}!`, raw: hex }], `${charset}: stored as the client meant it`);

    const sql = `SELECT id, word, note, raw, CONCAT(word, '?') AS made FROM words WHERE word = '${word}'`;
    const [rawThrough, fieldsThrough] = await viaSluice.query({ sql, rowsAsArray: true, typeCast: false });
    const [rawDirect, fieldsDirect] = await viaTarget.query({ sql, rowsAsArray: true, typeCast: false });
    t.same(fieldsThrough.map(definitionOf), fieldsDirect.map(definitionOf), `${charset}: column definitions`);
    t.same(rawThrough, rawDirect, `${charset}: the bytes of every value`);
    const [decoded] = await viaSluice.execute(
      { sql: 'SELECT word FROM words WHERE id = ?', rowsAsArray: true },
      [id],
    );
    t.same(decoded, [[word]], `${charset}: binary rows in the client's set`);
    await t.rejects(viaSluice.query(`SELECT nope_${id} FROM words`), {
      errno: 1054,
      message: `Unknown column 'nope_${id}' in 'SELECT'`,
    });
    await viaSluice.end();
    await viaTarget.end();
  }
});

t.test('SET NAMES changes the set the listener speaks; the target connection stays UTF-8', async (t) => {
  await admin.query(
    `CREATE TABLE ${database}.greetings (id INT PRIMARY KEY, word VARCHAR(20)) CHARSET utf8mb4`,
  );
  await admin.query(`INSERT INTO ${database}.greetings VALUES (1, 'Привет')`);
  t.teardown(() => admin.query(`DROP TABLE IF EXISTS ${database}.greetings`));
  const token = await parts.authenticator.mint({ subject: 'u-1', groups: ['dba'] });
  // The mariadb CLI sends what it reads as it is: after SET NAMES cp1251, cp1251 bytes.
  const script = iconv.encode(
    "SET NAMES cp1251;\nSELECT word, HEX(word) FROM greetings WHERE word = 'Привет';\nINSERT INTO greetings VALUES (2, 'ёж');\nSET NAMES utf8mb4;\n",
    'cp1251',
  );
  const out = await new Promise<Buffer>((resolve, reject) => {
    const child = spawn('mariadb', [
      '-h127.0.0.1',
      `-P${listener.address.port}`,
      '-uu-1',
      `--password=${token}`,
      '--ssl',
      '--skip-ssl-verify-server-cert',
      '--default-character-set=utf8mb4',
      '--batch',
      '--skip-column-names',
      'shop',
    ]);
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    child.on('close', () => resolve(Buffer.concat(chunks)));
    child.stdin.end(script);
  });
  t.equal(
    iconv.decode(out, 'cp1251'),
    'Привет\tD09FD180D0B8D0B2D0B5D182\n',
    'read in cp1251; HEX shows utf8mb4 at the target',
  );
  const [rows] = await admin.query(`SELECT word FROM ${database}.greetings WHERE id = 2`);
  t.same(rows, [{ word: 'ёж' }], 'written from cp1251 bytes, stored as the characters meant');

  const agent = await through(['ai-agents']);
  t.teardown(() => agent.end());
  await t.rejects(agent.query('SET NAMES cp1251'), { errno: 1142, message: /statement denied/ });
  await agent.query('SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci');
  const [read] = await agent.query('SELECT word FROM greetings WHERE id = 1');
  t.same(read, [{ word: 'Привет' }], 'a UTF-8 SET NAMES is routine for an agent');
  const dba = await through(['dba']);
  t.teardown(() => dba.end());
  await t.rejects(dba.query('SET NAMES dec8'), { errno: 1115, message: /Unknown character set/ });
  // The listener answers SET NAMES itself; each is recorded, with its decision and its end.
  await parts.recorder.flush();
  const reader = createRecordingReader(config);
  const events: Record<string, unknown>[] = [];
  for (const s of await reader.listSessions({ identity: 'u-1' })) {
    for await (const e of reader.readEvents(s.id)) events.push(e);
  }
  await reader.close();
  /** For each recording of `sql`: what followed its statement event. */
  const ended = (sql: string) =>
    events
      .filter((e) => e.type === 'statement' && e.sql === sql)
      .map((statement) =>
        events
          .filter((e) => e.statementId === statement.statementId && e.type !== 'statement')
          .map((e) => (e.type === 'decision' ? `decision ${String(e.action)}` : String(e.type)))
          .join(', '),
      );
  t.same(
    ended('SET NAMES cp1251'),
    ['decision allow, result.end', 'decision deny, error'],
    'allowed for the dba (the CLI), refused for the agent: both recorded',
  );
  t.same(ended('SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci'), ['decision allow, result.end']);
  t.same(ended('SET NAMES dec8'), ['decision allow, error'], 'an unknown set is recorded with its error');
  // character_set_results alone: statements still arrive as UTF-8, text comes back in koi8r,
  // each column announced in it (mysql2 decodes by the announced set).
  await dba.query('SET character_set_results = koi8r');
  const [koi, fields] = await dba.query<RowDataPacket[]>("SELECT word FROM greetings WHERE word = 'Привет'");
  t.same(koi, [{ word: 'Привет' }], 'read back through koi8r');
  t.equal(fields[0]?.characterSet, 7, 'announced as koi8r_general_ci');

  // Prepared, with the set as a parameter.
  const tracked = await through(['dba']);
  t.teardown(() => tracked.end());
  const text = 'привет, мир';
  await tracked.execute('SET character_set_results = ?', ['cp1251']);
  const [viaExecute, executeFields] = await tracked.execute<RowDataPacket[]>('SELECT ? AS result', [text]);
  t.same(viaExecute, [{ result: text }]);
  t.equal(executeFields[0]?.characterSet, 51, 'announced as cp1251_general_ci');
});

t.test('several statements in one COM_QUERY: each run on its own, results relayed in turn', async (t) => {
  const token = await parts.authenticator.mint({ subject: 'u-1', groups: ['dba'] });
  const options = { multipleStatements: true, rowsAsArray: true } as const;
  const viaSluice = await mysql.createConnection({
    host: '127.0.0.1',
    port: listener.address.port,
    user: 'u-1',
    password: token,
    database: 'shop',
    ssl: { rejectUnauthorized: false },
    ...options,
  });
  const viaTarget = await mysql.createConnection({
    host: '127.0.0.1',
    port: 3306,
    user: 'root',
    database,
    ...options,
  });
  t.teardown(async () => {
    await viaSluice.end();
    await viaTarget.end();
  });
  const shape = (result: unknown): unknown =>
    (result as unknown[]).map((r) =>
      Array.isArray(r)
        ? r
        : { affectedRows: (r as ResultSetHeader).affectedRows, info: (r as ResultSetHeader).info },
    );
  const sql =
    "SELECT 1 AS a; SELECT kind FROM events WHERE id = 1; UPDATE events SET n = n WHERE kind = 'none'; SELECT 'x;y' AS `;`";
  const [relayed] = await viaSluice.query(sql);
  const [expected] = await viaTarget.query(sql);
  t.same(shape(relayed), shape(expected), 'the same results, in order');
  t.equal((relayed as unknown[]).length, 4);

  // The first error ends the answer; what follows it does not run.
  await t.rejects(
    viaSluice.query("SELECT 1; SELECT nope FROM events; INSERT INTO events (kind, n) VALUES ('after', 0)"),
    { errno: 1054, message: /nope/ },
  );
  const [after] = await direct.query("SELECT COUNT(*) AS n FROM events WHERE kind = 'after'");
  t.same(after, [{ n: 0 }], 'nothing after the error ran');
  const [next] = await viaSluice.query('SELECT 2 AS b');
  t.same(next, [[2]], 'the connection carries on');

  // An agent's text with one refused statement is refused whole: nothing in it runs.
  const agent = await through(['ai-agents']);
  t.teardown(() => agent.end());
  const agentMulti = await mysql.createConnection({
    host: '127.0.0.1',
    port: listener.address.port,
    user: 'u-1',
    password: await parts.authenticator.mint({ subject: 'u-1', groups: ['ai-agents'] }),
    database: 'shop',
    ssl: { rejectUnauthorized: false },
    multipleStatements: true,
  });
  t.teardown(() => agentMulti.end());
  const [reads] = await agentMulti.query('SELECT 1 AS a; SELECT 2 AS b');
  t.same(reads, [[{ a: 1 }], [{ b: 2 }]], 'reads run one after the other');
  await t.rejects(agentMulti.query("SELECT 1; INSERT INTO events (kind, n) VALUES ('agent', 0)"), {
    errno: 1142,
    message: /statement denied/,
  });
  const [none] = await direct.query("SELECT COUNT(*) AS n FROM events WHERE kind = 'agent'");
  t.same(none, [{ n: 0 }]);
});

t.test('COM_CHANGE_USER logs in again with a new token; a refused one closes the connection', async (t) => {
  const agent = await through(['ai-agents']);
  t.teardown(() => agent.end());
  // A user variable is session state, which the agent policy does not allow.
  await t.rejects(agent.query('SET @before = 1'), { errno: 1142, message: /session/ });
  await t.rejects(agent.query("INSERT INTO events (kind, n) VALUES ('changed', 0)"), {
    errno: 1142,
    message: /denied/,
  });
  const dbaToken = await parts.authenticator.mint({ subject: 'u-2', groups: ['dba'] });
  await agent.changeUser({ user: 'u-2', password: dbaToken, database: 'shop' });
  await agent.query("INSERT INTO events (kind, n) VALUES ('changed', 0)");
  await agent.query('SET @before = 1');
  const [rows] = await agent.query("SELECT COUNT(*) AS n, @before AS v FROM events WHERE kind = 'changed'");
  t.same(rows, [{ n: 1, v: 1 }], 'the new identity decides');
  const againToken = await parts.authenticator.mint({ subject: 'u-2', groups: ['dba'] });
  await agent.changeUser({ user: 'u-2', password: againToken, database: 'shop' });
  const [after] = await agent.query('SELECT @before AS v');
  t.same(after, [{ v: null }], 'the old session state is gone');

  const other = await through(['dba']);
  await t.rejects(other.changeUser({ user: 'u-3', password: 'not-a-token', database: 'shop' }), {
    errno: 1045,
    message: /Access denied for user 'u-3'/,
  });
  await t.rejects(
    other.query('SELECT 1'),
    /closed|Can't add new command/,
    'nothing of the old login stays usable',
  );
  other.destroy();
});

t.test('COM_STMT_PREPARE answers with the target own parameters and columns', async (t) => {
  const dba = await through(['dba']);
  t.teardown(() => dba.end());
  const sql = 'SELECT id, kind, n + ? AS bumped FROM events WHERE kind = ?';
  const viaSluice = await dba.prepare(sql);
  const viaTarget = await direct.prepare(sql);
  const shape = (s: mysql.PreparedStatementInfo) => {
    const { statement } = s as unknown as {
      statement: { columns: mysql.FieldPacket[]; parameters: mysql.FieldPacket[] };
    };
    return { columns: statement.columns.map(definitionOf), parameters: statement.parameters.length };
  };
  t.same(shape(viaSluice), shape(viaTarget));
  t.equal(shape(viaSluice).columns.length, 3);
  const [rows] = await viaSluice.execute([1, 'a']);
  t.ok((rows as unknown[]).length > 0, 'and executes');
  await viaSluice.close();
  await viaTarget.close();
  await t.rejects(
    dba.prepare('SELECT nope FROM events'),
    { errno: 1054, message: /nope/ },
    'fails where the target fails',
  );

  // A negative AUTO_INCREMENT id: the OK packet's insert id is signed.
  await dba.query(
    'CREATE TEMPORARY TABLE neg (id INT SIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, t VARCHAR(9))',
  );
  const [inserted] = await dba.query<ResultSetHeader>("INSERT INTO neg VALUES (-999, 'x')");
  t.equal(inserted.insertId, -999);
});

t.test(
  "a statement the client closes is closed on the target too (its max_prepared_stmt_count is the server's)",
  async (t) => {
    const conn = await through(['dba']);
    t.teardown(() => conn.end());
    for (let i = 0; i < 20; i++) {
      const [rows] = await conn.execute<RowDataPacket[]>(`SELECT ${i} AS n`);
      t.same(rows, [{ n: i }]);
      conn.unprepare(`SELECT ${i} AS n`);
    }
    // The session's target connection counts its own closes.
    const [status] = await conn.query<RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Com_stmt_close'");
    t.ok(Number(status[0]?.['Value']) >= 20, `closed on the target: ${JSON.stringify(status)}`);
  },
);

t.test("a text neither the guard nor the target reads gets the target's own syntax error", async (t) => {
  const agent = await through(['ai-agents']);
  t.teardown(() => agent.end());
  const directError = async (sql: string) =>
    direct.query(sql).then(
      () => undefined,
      (err: Error & { errno?: number }) => ({ errno: err.errno, message: err.message }),
    );
  for (const sql of ['SELECT * FROM `events', "SELECT 'x' FROM events WHERE"]) {
    const expected = await directError(sql);
    t.equal(expected?.errno, 1064, `directly a syntax error: ${sql}`);
    await t.rejects(
      agent.query(sql),
      { errno: 1064, sqlState: '42000', message: String(expected?.message) },
      sql,
    );
    await t.rejects(
      agent.prepare(sql),
      { errno: 1064, message: String(expected?.message) },
      `prepared: ${sql}`,
    );
  }
  // One the target reads and the guard does not: still refused in Sluice's words, and the
  // target's prepare of it is closed again (nothing stays prepared, nothing ran).
  // The count is the server's, which other test files change as they run: the probe runs often
  // enough that a leak would stand out of that noise.
  const preparedCount = async () => {
    const [[row]] = await admin.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'");
    return Number(row?.Value);
  };
  const before = await preparedCount();
  const PROBES = 30;
  for (let i = 0; i < PROBES; i++) {
    await t.rejects(agent.query("SELECT 'a' SOUNDS LIKE 'b'"), { errno: 1064, message: /could not read it/ });
  }
  let grown = (await preparedCount()) - before;
  for (let wait = 0; wait < 20 && grown >= PROBES / 2; wait++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    grown = (await preparedCount()) - before;
  }
  t.ok(grown < PROBES / 2, `the probes left no prepared statement on the target (${grown} more)`);
  // mysql2's regression #433: KOI8-R names, and the error names them in the client's set.
  const koi8 = await mysql.createConnection({
    host: '127.0.0.1',
    port: listener.address.port,
    user: 'u-1',
    password: await parts.authenticator.mint({ subject: 'u-1', groups: ['dba'] }),
    database: 'shop',
    charset: 'KOI8R_GENERAL_CI',
    ssl: { rejectUnauthorized: false },
  });
  t.teardown(() => koi8.end());
  await koi8.query('CREATE TEMPORARY TABLE `МояТаблица` (`поле1` varchar(20))');
  await t.rejects(koi8.query('SELECT * FROM `МояТаблица'), {
    errno: 1064,
    message:
      "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near '`МояТаблица' at line 1",
  });
});
