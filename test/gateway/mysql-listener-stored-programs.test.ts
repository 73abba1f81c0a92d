/**
 * Stored programs through the MySQL listener and MCP (#26): a CREATE PROCEDURE / FUNCTION /
 * TRIGGER whose body (`BEGIN ... END`) holds statements of its own is one statement, as the server
 * reads it; a CALL answers with each result set of its procedure and then its own OK, field for
 * field as a direct connection reports them (text and prepared), and MCP returns every result set.
 * Attacks: a body that never closes, a `begin` name that opens a block nothing closes, a statement
 * after the END, a masked column read by a procedure: each is refused or fails, the database is as
 * it was, and no masked value reaches the client.
 */
import { randomBytes } from 'node:crypto';
import mysql, { type ResultSetHeader } from 'mysql2/promise';
import t from 'tap';
import { startChannels } from '../support/channels.js';

const myDb = `sluice_stored_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);
await admin.query(`CREATE TABLE ${myDb}.people (id INT PRIMARY KEY, name VARCHAR(40), ssn VARCHAR(20))`);
await admin.query(`INSERT INTO ${myDb}.people VALUES (1, 'Ada', '123-45-6789'), (2, 'Bob', '987-65-4321')`);
await admin.query(`CREATE TABLE ${myDb}.log (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(40))`);
// A procedure the target already has, which reads the masked column.
await admin.query(
  `CREATE PROCEDURE ${myDb}.everyone() BEGIN SELECT id, name FROM people ORDER BY id; SELECT ssn FROM people ORDER BY id; END`,
);
t.teardown(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${myDb}`);
  await admin.end();
});

const channels = await startChannels(
  t,
  `
server:
  http: { listen: 127.0.0.1:0 }
  mysql: { listen: 127.0.0.1:0 }
targets:
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${myDb}, user: root, tls: disable }
policies:
  - name: dba
    when: { groups: [dba] }
    statements: { default: allow }
  - name: builders
    when: { groups: [builders] }
    statements: { default: deny, allow: [read, ddl, procedural, routine] }
  - name: agents
    when: { groups: [agents] }
    statements: { default: deny, allow: [read, procedural, routine] }
    masking:
      - columns: [people.ssn]
        strategy: redact
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-stored-',
);

const direct = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', database: myDb });
t.teardown(() => direct.end());

const SECRETS = ['123-45-6789', '987-65-4321'];
const leaks = (text: string) => SECRETS.filter((s) => text.includes(s) || text.includes(s.replace(/-/g, '')));

async function state(): Promise<string> {
  const [people] = await admin.query(`SELECT * FROM ${myDb}.people ORDER BY id`);
  const [log] = await admin.query(`SELECT * FROM ${myDb}.log ORDER BY id`);
  const [routines] = await admin.query(
    `SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY 1`,
    [myDb],
  );
  const [triggers] = await admin.query(
    `SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY 1`,
    [myDb],
  );
  return JSON.stringify([people, log, routines, triggers]);
}

/** A CALL's answer without what differs by connection (status flags the listener sets itself). */
function comparable(answer: unknown): unknown {
  if (!Array.isArray(answer)) return answer;
  return answer.map((part: unknown) =>
    Array.isArray(part) ? part : { affectedRows: (part as ResultSetHeader).affectedRows },
  );
}

t.test('a stored program with a BEGIN ... END body is created as one statement', async (t) => {
  const conn = await channels.mysql('dba-1', ['dba'], 'legacy', t);
  await conn.query(
    `CREATE PROCEDURE two_sets(IN n INT) BEGIN
       DECLARE i INT DEFAULT 0;
       WHILE i < n DO SET i = i + 1; END WHILE;
       IF i > 0 THEN SELECT i AS counted; END IF;
       SELECT CASE WHEN n > 1 THEN 'many' ELSE 'few' END AS size;
     END`,
  );
  await conn.query(
    `CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC BEGIN DECLARE y INT; SET y = x * 2; RETURN y; END`,
  );
  await conn.query(
    `CREATE TRIGGER log_people AFTER UPDATE ON people FOR EACH ROW BEGIN INSERT INTO log (what) VALUES ('updated'); END`,
  );
  const [routines] = await admin.query(
    `SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY 1`,
    [myDb],
  );
  t.same(
    (routines as { ROUTINE_NAME: string }[]).map((r) => r.ROUTINE_NAME),
    ['everyone', 'twice', 'two_sets'],
  );
  const [triggers] = await admin.query(
    `SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?`,
    [myDb],
  );
  t.same(triggers, [{ TRIGGER_NAME: 'log_people' }]);
  await admin.query(`DROP TRIGGER ${myDb}.log_people`);

  // From a client sending several statements in one text: the body stays whole, the next runs.
  const [answer] = await conn.query(
    'CREATE PROCEDURE one_more() BEGIN SELECT 1 AS a; SELECT 2 AS b; END; SELECT 3 AS c',
  );
  t.same((answer as unknown[])[1], [{ c: 3 }]);
});

t.test('a CALL answers with every result set and then its own OK, as the target does', async (t) => {
  const conn = await channels.mysql('dba-2', ['dba'], 'legacy', t);
  for (const sql of ['CALL two_sets(3)', 'CALL one_more()', 'CALL everyone()']) {
    const [through] = await conn.query(sql);
    const [straight] = await direct.query(sql);
    t.same(comparable(through), comparable(straight), `text: ${sql}`);
    t.equal((through as unknown[]).length, 3, `two result sets and an OK: ${sql}`);
    const [prepared] = await conn.execute(sql);
    t.same(comparable(prepared), comparable(straight), `prepared: ${sql}`);
  }
  const [several] = await conn.query('CALL one_more(); SELECT 4 AS d');
  t.same(comparable(several), [[{ a: 1 }], [{ b: 2 }], { affectedRows: 0 }, [{ d: 4 }]]);

  // A procedure that only writes answers with its OK alone, affected rows and all.
  await conn.query('CREATE PROCEDURE note(IN w VARCHAR(40)) INSERT INTO log (what) VALUES (w)');
  const [ok] = await conn.query("CALL note('x')");
  t.equal((ok as ResultSetHeader).affectedRows, 1);
  await admin.query(`DELETE FROM ${myDb}.log`);

  // The session goes on, and the recording holds both result sets of the CALL.
  const [after] = await conn.query('SELECT 5 AS e');
  t.same(after, [{ e: 5 }]);
  const events = await channels.recorded('dba-2');
  const call = events.find((e) => e.type === 'statement' && e['sql'] === 'CALL one_more()');
  t.ok(call, 'the CALL is recorded');
  const sets = events.filter(
    (e) => e.type === 'result.columns' && e['statementId'] === call?.['statementId'],
  );
  t.same(
    sets.map((e) => (e['columns'] as { name: string }[]).map((c) => c.name)),
    [['a'], ['b']],
  );
});

t.test('MCP returns every result set of a CALL', async (t) => {
  const mcp = await channels.mcp('dba-3', ['dba'], t);
  const result = await mcp('CALL one_more()', 'legacy');
  t.equal(result.isError, false, result.text);
  t.same(result.rows, [[1]]);
  // Both tables in the text, one after the other.
  t.match(result.text, /a\\n-+\\n1\\n\\nb\\n-+\\n2\\n\(2 rows\)/);
});

t.test('attacks on the body split: refused or failed, nothing ran', async (t) => {
  const before = await state();
  const conn = await channels.mysql('builder-1', ['builders'], 'legacy', t);
  const mcp = await channels.mcp('builder-mcp', ['builders'], t);
  const attacks = [
    // `begin` as a name opens a block nothing closes: DELETE stays its own statement (denied).
    'CREATE PROCEDURE a1(begin INT) SELECT 1; DELETE FROM people',
    // A body that never closes: the DELETE is read on its own.
    'CREATE PROCEDURE a2() BEGIN SELECT 1; DELETE FROM people',
    // A statement after the END.
    'CREATE PROCEDURE a3() BEGIN SELECT 1; END; DELETE FROM people',
    "CREATE PROCEDURE a4() BEGIN SELECT 'END;'; END; UPDATE people SET name = 'x'",
    // Joined by a miscount (a `begin` name closed by a later END): the target runs one
    // statement per text, so the whole text fails there.
    'CREATE PROCEDURE a5() SELECT `begin` FROM people; DELETE FROM people; SELECT 1 END',
    // Run at once, not stored: not a stored program, its pieces are read on their own.
    'BEGIN NOT ATOMIC DELETE FROM people; END',
  ];
  for (const sql of attacks) {
    for (const prepared of [false, true]) {
      const label = `${prepared ? 'prepared' : 'text'}: ${sql}`;
      const failed = await (prepared ? conn.execute(sql) : conn.query(sql)).then(
        () => undefined,
        (e: Error & { errno?: number }) => e,
      );
      t.ok(failed, label);
      t.equal(await state(), before, `database unchanged: ${label}`);
    }
    const viaMcp = await mcp(sql, 'legacy');
    t.equal(viaMcp.isError, true, `MCP: ${sql}`);
    t.equal(await state(), before, `database unchanged: MCP: ${sql}`);
  }
  // The session is alive.
  const [rows] = await conn.query('SELECT COUNT(*) AS n FROM people');
  t.same(rows, [{ n: 2 }]);
});

t.test('a procedure never hands a masked column to a masked caller', async (t) => {
  const before = await state();
  const conn = await channels.mysql('agent-1', ['agents'], 'legacy', t);
  const mcp = await channels.mcp('agent-mcp', ['agents'], t);
  for (const sql of [
    'CALL everyone()',
    'CREATE PROCEDURE leak() BEGIN SELECT ssn FROM people; END',
    'CALL one_more()',
  ]) {
    for (const prepared of [false, true]) {
      const label = `${prepared ? 'prepared' : 'text'}: ${sql}`;
      const outcome = await (prepared ? conn.execute(sql) : conn.query(sql)).then(
        ([rows]) => ({ ok: true, text: JSON.stringify(rows) }),
        (e: Error) => ({ ok: false, text: e.message }),
      );
      t.equal(outcome.ok, false, label);
      t.same(leaks(outcome.text), [], label);
    }
    const viaMcp = await mcp(sql, 'legacy');
    t.equal(viaMcp.isError, true, `MCP: ${sql}`);
    t.same(leaks(viaMcp.text), [], `MCP: ${sql}`);
  }
  t.equal(await state(), before);
  const [rows] = await conn.query('SELECT name, ssn FROM people ORDER BY id');
  t.same(leaks(JSON.stringify(rows)), []);
});
