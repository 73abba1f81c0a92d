/**
 * LOAD DATA LOCAL INFILE through the MySQL listener (#26): the target's request for the client's
 * file is relayed to the client (only for the file the client's own statement names), the file
 * streams through with backpressure, and the answer is the target's, as directly: mysql2 with
 * and without a stream factory, and the mariadb CLI with --local-infile. It needs `file` and
 * `write` allowed: a read policy denies it before any file is asked for; under masking, a SET that would store a masked value is
 * refused; a client that goes away mid-file leaves nothing loaded; MCP has no file to send.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import mysql, { type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import { assembleGateway } from '../../src/cli/assemble.js';
import { parseConfigText } from '../../src/config/load.js';
import { startMysqlListener } from '../../src/gateway/mysql/index.js';
import { LocalFileRelay, localInfileName } from '../../src/gateway/mysql/local-infile.js';
import { HttpServer } from '../../src/http/server.js';
import type { MysqlReply } from '../../protocols/mysql/server/index.js';
import type { LocalFileTransfer } from '../../protocols/mysql/server/local-file.js';

const database = `sluice_myinfile_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${database}`);
await admin.query(`USE ${database}`);
await admin.query('CREATE TABLE items (id INT PRIMARY KEY, title VARCHAR(255))');
await admin.query('CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40), ssn VARCHAR(20))');
await admin.query("INSERT INTO customers VALUES (1, 'Ada', '123-45-6789')");
await admin.query('CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(80))');

const dir = mkdtempSync(join(tmpdir(), 'sluice-mysql-infile-'));
const config = parseConfigText(
  `
server:
  mysql: { listen: 127.0.0.1:0 }
  http: { listen: 127.0.0.1:0 }
targets:
  shop: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${database}, user: root, tls: disable }
policies:
  - name: dba
    when: { groups: [dba], targets: [shop] }
    statements: { default: allow }
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
    statements: { default: deny, allow: [read] }
  - name: loaders
    when: { groups: [loaders], targets: [shop] }
    statements: { default: deny, allow: [read, write, file] }
    masking:
      - columns: [customers.ssn]
        strategy: redact
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  { baseDir: dir, env: {} },
);
const logger = pino({ level: 'silent' });
const parts = await assembleGateway(config, logger);
const listener = await startMysqlListener(parts, config, logger);
const http = new HttpServer({
  gateway: parts.gateway,
  authenticator: parts.authenticator,
  recorder: parts.recorder,
  logger,
});
await http.listen('127.0.0.1', 0);
t.teardown(async () => {
  await http.close();
  await listener.close();
  await parts.close();
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});

const csv = join(dir, 'items.csv');
writeFileSync(csv, '1,Hello World\n2,Second\n3,Third\n4,Fourth\n');

async function through(groups: string[], subject = 'u-1'): Promise<mysql.Connection> {
  const connection = await mysql.createConnection({
    host: '127.0.0.1',
    port: listener.address.port,
    user: subject,
    password: await parts.authenticator.mint({ subject, groups }),
    database: 'shop',
    ssl: { rejectUnauthorized: false },
  });
  connection.on('error', () => {});
  return connection;
}

const direct = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', database });
t.teardown(() => direct.end());

const fileOf = (text: string) => () => Readable.from([Buffer.from(text)]);
const load = (table: string) =>
  `LOAD DATA LOCAL INFILE ? INTO TABLE ${table} FIELDS TERMINATED BY ',' (id, title)`;

async function itemsNow(): Promise<unknown[]> {
  const [rows] = await admin.query<RowDataPacket[]>('SELECT id, title FROM items ORDER BY id');
  return rows.map((r) => [r.id, r.title]);
}

t.test('the text forms that name a local file', async (t) => {
  t.equal(localInfileName("LOAD DATA LOCAL INFILE '/tmp/a.csv' INTO TABLE t"), '/tmp/a.csv');
  t.equal(localInfileName("load data low_priority local infile 'it''s' into table t"), "it's");
  t.equal(localInfileName(`LOAD XML LOCAL INFILE "C:\\\\x\\\\y.xml" INTO TABLE t`), 'C:\\x\\y.xml');
  t.equal(localInfileName("LOAD DATA INFILE '/tmp/a.csv' INTO TABLE t"), undefined, 'not LOCAL');
  t.equal(localInfileName("SELECT 'LOAD DATA LOCAL INFILE ''x'''"), undefined);
});

t.test('the relay asks the client only for the file its statement names, once', async (t) => {
  const asked: string[] = [];
  const reply = {
    localFile(name: string): LocalFileTransfer | undefined {
      asked.push(name);
      return undefined;
    },
  } as unknown as MysqlReply;
  const relay = new LocalFileRelay("LOAD DATA LOCAL INFILE '/data/ok.csv' INTO TABLE t", reply);
  const errorOf = (stream: Readable) =>
    new Promise<Error & { errno?: number }>((resolve) => stream.once('error', resolve));
  const other = await errorOf(relay.open('/etc/passwd'));
  t.match(other.message, /does not name/);
  t.equal(other.errno, 1148);
  t.same(asked, [], 'the client was not asked for a file its statement does not name');
  const unable = await errorOf(relay.open('/data/ok.csv'));
  t.match(unable.message, /CLIENT_LOCAL_FILES/);
  t.same(asked, ['/data/ok.csv']);
  await errorOf(relay.open('/data/ok.csv'));
  t.same(asked, ['/data/ok.csv'], 'asked once only');
  const notLoad = new LocalFileRelay('SELECT 1', reply);
  await errorOf(notLoad.open('/data/ok.csv'));
  t.same(asked, ['/data/ok.csv']);
});

t.test('a dba loads a file as directly: rows, OK fields, the next statement', async (t) => {
  const dba = await through(['dba']);
  t.teardown(() => dba.end());
  const [viaSluice] = await dba.query<ResultSetHeader>({
    sql: load('items'),
    values: [csv, ','],
    infileStreamFactory: fileOf('1,Hello World\n2,Second\n3,Third\n4,Fourth\n'),
  });
  const loaded = await itemsNow();
  t.same(loaded, [
    [1, 'Hello World'],
    [2, 'Second'],
    [3, 'Third'],
    [4, 'Fourth'],
  ]);
  await admin.query('DELETE FROM items');
  const [directly] = await direct.query<ResultSetHeader>({
    sql: load('items'),
    values: [csv],
    infileStreamFactory: fileOf('1,Hello World\n2,Second\n3,Third\n4,Fourth\n'),
  });
  t.same(await itemsNow(), loaded);
  for (const field of ['affectedRows', 'info', 'warningStatus'] as const) {
    t.equal(viaSluice[field], directly[field], field);
  }
  t.equal(viaSluice.affectedRows, 4);
  const [rows] = await dba.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM items');
  t.same(rows, [{ n: 4 }], 'the session goes on');
  await admin.query('DELETE FROM items');
});

t.test('without a stream factory mysql2 fails as it does directly, and nothing is loaded', async (t) => {
  const dba = await through(['dba']);
  t.teardown(() => dba.end());
  const failure = (c: mysql.Connection) =>
    c.query({ sql: load('items'), values: ['/does_not_exist.csv'] }).then(
      () => 'loaded',
      (err: Error) => err.message,
    );
  const expected = await failure(direct);
  t.match(expected, /must provide streamFactory/);
  t.equal(await failure(dba), expected);
  t.same(await itemsNow(), []);
  const [rows] = await dba.query<RowDataPacket[]>('SELECT 1 AS one');
  t.same(rows, [{ one: 1 }]);
});

t.test('a large file streams through (with backpressure) and loads whole', async (t) => {
  const dba = await through(['dba']);
  t.teardown(() => dba.end());
  const rows = 200_000;
  let sent = 0;
  const big = () =>
    new Readable({
      read() {
        if (sent >= rows) {
          this.push(null);
          return;
        }
        const lines: string[] = [];
        for (let i = 0; i < 1000 && sent < rows; i++) lines.push(`${++sent},${'x'.repeat(90)}`);
        this.push(`${lines.join('\n')}\n`);
      },
    });
  const [ok] = await dba.query<ResultSetHeader>({
    sql: load('items'),
    values: ['big.csv'],
    infileStreamFactory: big,
  });
  t.equal(ok.affectedRows, rows);
  const [count] = await admin.query<RowDataPacket[]>('SELECT COUNT(*) AS n, MAX(id) AS top FROM items');
  t.same(count, [{ n: rows, top: rows }]);
  await admin.query('DELETE FROM items');
});

t.test('the mariadb CLI with --local-infile loads the file it names', async (t) => {
  const token = await parts.authenticator.mint({ subject: 'u-1', groups: ['dba'] });
  const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      'mariadb',
      [
        '-h127.0.0.1',
        `-P${listener.address.port}`,
        '-uu-1',
        `--password=${token}`,
        '--ssl',
        '--skip-ssl-verify-server-cert',
        '--local-infile=1',
        '--batch',
        '-e',
        `LOAD DATA LOCAL INFILE '${csv}' INTO TABLE items FIELDS TERMINATED BY ',' (id, title); SELECT COUNT(*) AS n FROM items`,
        'shop',
      ],
      { timeout: 10_000 },
      (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }),
    );
  });
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /n\n4\n/);
  t.equal((await itemsNow()).length, 4);
  await admin.query('DELETE FROM items');
});

t.test('a read policy denies it before the client is asked for any file', async (t) => {
  const agent = await through(['ai-agents']);
  t.teardown(() => agent.end());
  let asked = 0;
  await t.rejects(
    agent.query({
      sql: load('items'),
      values: [csv],
      infileStreamFactory: () => {
        asked++;
        return fileOf('9,x\n')();
      },
    }),
    { errno: 1142, message: /denied/ },
  );
  t.equal(asked, 0);
  t.same(await itemsNow(), []);
});

t.test('under masking a SET that would store a masked value is refused; a plain load runs', async (t) => {
  const loader = await through(['loaders']);
  t.teardown(() => loader.end());
  let asked = 0;
  const file = () => {
    asked++;
    return fileOf('1,x\n')();
  };
  for (const sql of [
    "LOAD DATA LOCAL INFILE 'n.csv' INTO TABLE notes FIELDS TERMINATED BY ',' (id, @b) SET body = (SELECT ssn FROM customers LIMIT 1)",
    "LOAD DATA LOCAL INFILE 'n.csv' INTO TABLE notes FIELDS TERMINATED BY ',' (id, @b) SET body = (SELECT CONCAT(ssn, @b) FROM customers LIMIT 1)",
  ]) {
    await t.rejects(
      loader.query({ sql, infileStreamFactory: file }),
      { errno: 1142, message: /masked/ },
      sql,
    );
  }
  t.equal(asked, 0, 'refused before the file was asked for');
  const [[notes]] = await admin.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM notes');
  t.equal(Number(notes?.n), 0);
  const [ok] = await loader.query<ResultSetHeader>({
    sql: "LOAD DATA LOCAL INFILE 'n.csv' INTO TABLE notes FIELDS TERMINATED BY ',' (id, body)",
    infileStreamFactory: fileOf('1,hello\n2,world\n'),
  });
  t.equal(ok.affectedRows, 2);
  await admin.query('DELETE FROM notes');
});

t.test('a client that goes away mid-file leaves nothing loaded; others go on', async (t) => {
  const dba = await through(['dba']);
  const other = await through(['dba']);
  t.teardown(() => other.end());
  const half = new PassThrough();
  const loading = dba
    .query({ sql: load('items'), values: ['half.csv'], infileStreamFactory: () => half })
    .catch(() => undefined);
  half.write('1,one\n2,two\n');
  await new Promise((resolve) => setTimeout(resolve, 300));
  dba.destroy();
  void loading;
  // The target's statement is cancelled and its connection dropped: wait until it is gone.
  const deadline = Date.now() + 5000;
  const loadsRunning = async () => {
    const [rows] = await admin.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE 'LOAD DATA%'",
    );
    return Number(rows[0]?.n);
  };
  while ((await loadsRunning()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.equal(await loadsRunning(), 0, 'the target statement ended');
  t.same(await itemsNow(), [], 'the half file was not committed');
  const [rows] = await other.query<RowDataPacket[]>('SELECT 1 AS one');
  t.same(rows, [{ one: 1 }]);
});

t.test('MCP has no file to send: the statement fails and loads nothing', async (t) => {
  const token = await parts.authenticator.mint({ subject: 'u-1', groups: ['dba'] });
  const client = new Client({ name: 'loader', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${http.baseUrl}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  t.teardown(() => client.close());
  const result = (await client.callTool({
    name: 'query',
    arguments: {
      database: 'shop',
      sql: `LOAD DATA LOCAL INFILE '${csv}' INTO TABLE items FIELDS TERMINATED BY ',' (id, title)`,
    },
  })) as { isError?: boolean; content: { text: string }[] };
  t.equal(result.isError, true);
  t.match(result.content[0]?.text, /needs a client that sends the file/);
  t.same(await itemsNow(), []);
});
