import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import { assembleGateway } from '../../src/cli/assemble.js';
import { parseConfigText } from '../../src/config/load.js';
import { startMysqlListener } from '../../src/gateway/mysql/index.js';

const database = `sluice_myvar_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${database}`);
await admin.query(`USE ${database}`);
await admin.query('CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40), email VARCHAR(80))');
await admin.query(
  "INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com'), (2, 'Bob', 'bob@example.org')",
);
await admin.query('CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(80))');
await admin.query("INSERT INTO notes VALUES (1, 'first'), (2, 'second')");
const dir = mkdtempSync(join(tmpdir(), 'sluice-myvar-'));
const config = parseConfigText(
  `
server: { mysql: { listen: 127.0.0.1:0 } }
targets:
  shop: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${database}, user: root, tls: disable }
policies:
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
    statements: { default: deny, allow: [read, session, transaction] }
    masking:
      - columns: [customers.email]
        strategy: redact
  - name: writers
    when: { groups: [writers], targets: [shop] }
    statements: { default: deny, allow: [read, write, session, transaction] }
    masking:
      - columns: [customers.email]
        strategy: redact
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
const token = await parts.authenticator.mint({ subject: 'agent-1', groups: ['ai-agents'] });

const RAW = ['ada@example.com', 'bob@example.org'];
const leaks = (text: string): string[] =>
  RAW.flatMap((v) => [
    v,
    v.split('@')[0] as string,
    Buffer.from(v).toString('hex'),
    Buffer.from(v).toString('base64'),
  ]).filter((f) => text.toLowerCase().includes(f.toLowerCase()));

t.test('a user variable never hands a masked value back in clear', async (t) => {
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: listener.address.port,
    user: 'agent-1',
    password: token,
    database: 'shop',
    ssl: { rejectUnauthorized: false },
    enableCleartextPlugin: true,
  });
  t.teardown(() => conn.end());
  const seen: string[] = [];
  const run = async (sql: string, prepared = false) => {
    const out = await (prepared ? conn.execute(sql) : conn.query(sql)).then(
      (r) => JSON.stringify(r[0]),
      (e: Error) => `ERR ${e.message}`,
    );
    seen.push(`${sql} => ${out}`);
    return out;
  };
  await run('SELECT @v := email FROM customers WHERE id = 1');
  await run('SELECT email INTO @w FROM customers WHERE id = 2');
  await run('SET @x = (SELECT email FROM customers WHERE id = 1)');
  await run("SET @q = 'SELECT email FROM customers'");
  for (const read of [
    'SELECT @v',
    'SELECT @w AS w',
    'SELECT @x, CONCAT(@x, "") AS y, UPPER(@x), HEX(@x), TO_BASE64(@x), REVERSE(REVERSE(@x))',
    'SELECT (SELECT @v) AS s',
    'SELECT * FROM (SELECT @w AS w) d',
    'SELECT @v UNION SELECT @w',
    "SELECT ExtractValue('<a/>', CONCAT('~', @x))",
    "SELECT UpdateXML('<a/>', CONCAT('~', @w), 'x')",
    'SELECT CAST(@x AS SIGNED)',
    'PREPARE s FROM @q',
    'EXECUTE s',
    // A prepared statement's parameters hold what the USING variables hold.
    "PREPARE p FROM 'SELECT ?'",
    'EXECUTE p USING @v',
    "PREPARE p2 FROM 'SELECT CONCAT(?, ?) AS x, UPPER(?) AS u, name FROM customers WHERE id = 1'",
    'EXECUTE p2 USING @w, @x, @v',
    "PREPARE p3 FROM 'SELECT * FROM (SELECT ? AS a) d'",
    'EXECUTE p3 USING @x',
  ]) {
    await run(read);
    await run(read, true);
  }
  // Warnings quote the value a conversion truncated: SHOW WARNINGS is a result like any other.
  await run('SELECT CAST(email AS SIGNED) FROM customers');
  await run('SHOW WARNINGS');
  await run('SELECT email + 0 FROM customers');
  await run('SHOW WARNINGS LIMIT 1');
  const all = seen.join('\n');
  t.same(leaks(all), [], all);
  t.match(
    await run('SELECT @@version_comment AS v'),
    /"v":"(?!\*\*\*\*)/,
    'system variables are not user variables',
  );
  t.match(await run('SELECT id, name FROM customers ORDER BY id'), /"name":"Ada"/, 'the session goes on');
});

t.test('a prepared write of USING variables that may hold masked values is refused', async (t) => {
  const writerToken = await parts.authenticator.mint({ subject: 'writer-1', groups: ['writers'] });
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: listener.address.port,
    user: 'writer-1',
    password: writerToken,
    database: 'shop',
    ssl: { rejectUnauthorized: false },
    enableCleartextPlugin: true,
  });
  t.teardown(() => conn.end());
  await conn.query('SELECT @v := email FROM customers WHERE id = 2');
  for (const [prepare, execute] of [
    ["PREPARE u FROM 'UPDATE notes SET body = ? WHERE id = 2'", 'EXECUTE u USING @v'],
    ["PREPARE i FROM 'INSERT INTO notes VALUES (3, ?)'", 'EXECUTE i USING @v'],
    [
      "PREPARE c FROM 'INSERT INTO notes SELECT 4, CONCAT(?, name) FROM customers WHERE id = 1'",
      'EXECUTE c USING @v',
    ],
  ] as const) {
    await conn.query(prepare);
    await t.rejects(conn.query(execute), { errno: 1142, message: /origin cannot be told/ }, execute);
  }
  const [rows] = await admin.query('SELECT id, body FROM notes ORDER BY id');
  t.same(rows, [
    { id: 1, body: 'first' },
    { id: 2, body: 'second' },
  ]);
  t.same(leaks(JSON.stringify(rows)), []);
  // Without masked data in reach a prepared write of a literal parameter runs.
  await conn.query("SET @plain = 'plain text'");
  await conn.query("PREPARE ok FROM 'UPDATE notes SET body = CONCAT(body, ?) WHERE id = 1'");
  await conn.query("EXECUTE ok USING '-1'");
  const [[first]] = (await admin.query('SELECT body FROM notes WHERE id = 1')) as unknown as [
    { body: string }[],
  ];
  t.equal(first?.body, 'first-1');
  await t.rejects(
    conn.query('EXECUTE ok USING @plain'),
    { errno: 1142, message: /origin/ },
    'a user variable is of unknown origin',
  );
});
