/**
 * Malformed packets on the MySQL listener (seeded, so a failure can be run again with
 * SLUICE_FUZZ_SEED): after a real login (mysql2, over TLS), commands of every kind the listener
 * reads — COM_QUERY, COM_STMT_PREPARE/EXECUTE/SEND_LONG_DATA/CLOSE/RESET/FETCH, COM_FIELD_LIST,
 * COM_INIT_DB, COM_CHANGE_USER, COM_SET_OPTION and unknown ones — with random bodies, null
 * bitmaps, parameter types, sequence ids and lying lengths. Whatever arrives, no masked value
 * reaches the client, nothing is written, and the gateway goes on serving other sessions.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import t from 'tap';
import { startChannels } from '../support/channels.js';
import { fuzzSeed, SeededRandom } from '../support/seeded-random.js';

const myDb = `sluice_myfz_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);
await admin.query(`CREATE TABLE ${myDb}.customers (id INT PRIMARY KEY, name VARCHAR(20), ssn VARCHAR(20))`);
await admin.query(
  `INSERT INTO ${myDb}.customers VALUES (1, 'Ada', '123-45-6789'), (2, 'Bob', '987-65-4321')`,
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
  - name: agents
    when: { groups: [ai-agents] }
    statements: { default: deny, allow: [read, session, transaction] }
    masking:
      - { columns: [customers.ssn], strategy: redact }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-myfz-',
);
const seed = fuzzSeed(0x5eed_0002);
const random = new SeededRandom(seed);
const SECRET = /123-45-6789|987-65-4321|3132332d34352d/;

const TEXTS = [
  'SELECT ssn FROM customers',
  'SELECT ssn, name FROM customers WHERE id = ?',
  'SELECT 1 /*',
  "SELECT 'a",
  'SET NAMES gbk',
  '\u0000SELECT ssn FROM customers',
  'SELECT ssn FROM customers; SELECT 1',
  "UPDATE customers SET name = 'x'",
  'SELECT ? , ?',
];

function packet(sequence: number, body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(body.length, 0, 3);
  header[3] = sequence;
  return Buffer.concat([header, body]);
}

function idField(statement: number): Buffer {
  const id = Buffer.alloc(4);
  id.writeUInt32LE(random.int(3) === 0 ? random.int(2 ** 32) : statement);
  return id;
}

/** COM_STMT_EXECUTE: flags, iteration count, then null bitmap, bound flag, types and values (or noise). */
function execute(statement: number): Buffer {
  const head = Buffer.concat([
    Buffer.from([0x17]),
    idField(statement),
    Buffer.from([random.int(256), 1, 0, 0, 0]),
  ]);
  if (random.int(2) === 0) return Buffer.concat([head, random.bytes(random.int(0, 24))]);
  const type = random.pick([0x01, 0x03, 0x08, 0x0f, 0xfd, 0xfe, 0xf5, 0x0c, random.int(256)]);
  const value = random.pick([
    Buffer.from([0xfc, 0xff, 0xff]),
    Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
    Buffer.from([3, 0x31, 0x32, 0x33]),
    random.bytes(random.int(0, 12)),
  ]);
  return Buffer.concat([head, Buffer.from([random.int(256), 1, type, random.int(2) ? 0x80 : 0]), value]);
}

function command(statement: number): Buffer {
  const code = random.pick([
    0x02,
    0x03,
    0x04,
    0x09,
    0x0a,
    0x0c,
    0x0d,
    0x0e,
    0x11,
    0x12,
    0x16,
    0x17,
    0x18,
    0x19,
    0x1a,
    0x1b,
    0x1c,
    0x1f,
    random.int(256),
  ]);
  switch (code) {
    case 0x17:
      return execute(statement);
    case 0x18: {
      const parameter = Buffer.alloc(2);
      parameter.writeUInt16LE(random.int(3));
      return Buffer.concat([
        Buffer.from([0x18]),
        idField(statement),
        parameter,
        random.bytes(random.int(0, 16)),
      ]);
    }
    case 0x19:
    case 0x1a:
    case 0x1c:
      return Buffer.concat([Buffer.from([code]), idField(statement), random.bytes(random.int(0, 5))]);
    case 0x03:
    case 0x16:
      return Buffer.concat([Buffer.from([code]), Buffer.from(random.pick(TEXTS))]);
    case 0x04:
      return Buffer.concat([
        Buffer.from([code]),
        Buffer.from(random.pick(['customers\0', 'customers', '\0', 'cust%\0ssn'])),
      ]);
    default:
      return Buffer.concat([Buffer.from([code]), random.bytes(random.int(0, 40))]);
  }
}

interface RawStream {
  write(bytes: Buffer): void;
  on(event: 'data', listener: (chunk: Buffer) => void): void;
  destroy(): void;
}

t.test(`malformed packets leak nothing, write nothing and stop no one else (seed ${seed})`, async (t) => {
  const [before] = await admin.query(`SELECT * FROM ${myDb}.customers ORDER BY id`);
  const other = await channels.mysql('fz-other', ['ai-agents'], 'legacy', t);
  for (let round = 0; round < 120; round++) {
    const conn = await mysql.createConnection({
      host: '127.0.0.1',
      port: channels.mysqlPort!,
      user: 'fz',
      password: await channels.token('fz', ['ai-agents']),
      database: 'legacy',
      ssl: { rejectUnauthorized: false },
    });
    const prepared = await conn.prepare('SELECT ssn, name FROM customers WHERE id = ?');
    const internal = conn as unknown as {
      connection: { stream: RawStream; on(e: string, f: () => void): void };
    };
    internal.connection.on('error', () => undefined);
    const stream = internal.connection.stream;
    const chunks: Buffer[] = [];
    stream.on('data', (chunk) => chunks.push(chunk));
    const sent: string[] = [];
    for (let n = random.int(1, 5); n > 0; n--) {
      let bytes = packet(
        random.int(4) === 0 ? random.int(256) : 0,
        command((prepared as unknown as { id: number }).id),
      );
      if (random.int(6) === 0) {
        bytes = Buffer.from(bytes);
        bytes.writeUIntLE(random.int(2 ** 24), 0, 3);
      }
      sent.push(bytes.toString('hex'));
      stream.write(bytes);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    stream.destroy();
    const received = Buffer.concat(chunks);
    if (SECRET.test(`${received.toString('latin1')} ${received.toString('hex')}`)) {
      t.fail(`round ${round}: a masked value reached the client`, { sent });
    }
    if (round % 20 === 0) {
      const [rows] = await other.query('SELECT name, ssn FROM customers ORDER BY id');
      t.equal((rows as { name: string }[])[0]?.name, 'Ada', `round ${round}: the other session goes on`);
      t.notMatch(JSON.stringify(rows), SECRET);
    }
  }
  const [after] = await admin.query(`SELECT * FROM ${myDb}.customers ORDER BY id`);
  t.same(after, before, 'nothing was written');
});
