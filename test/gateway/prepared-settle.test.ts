/**
 * What a text does to the session's SQL prepared statements holds only once the target ran all
 * of it. A text that fails part way, is refused by the target, or waits for an approver who never
 * comes must leave the guard and masking judging EXECUTE by the body the target still has: a
 * DEALLOCATE and a PREPARE that never ran cannot swap in a harmless body (whose plain columns
 * masking would let through, or whose effects need no approval).
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import t from 'tap';
import { startChannels } from '../support/channels.js';
import { adminQuery, createScratchDatabase } from '../support/postgres.js';

const { name: pgDb } = await createScratchDatabase(t, 'sluice_settle');
await adminQuery(
  `CREATE TABLE customers (id int PRIMARY KEY, name text, ssn text);
   INSERT INTO customers VALUES (1, 'Ada', '123-45-6789'), (2, 'Bob', '987-65-4321');
   CREATE TABLE notes (id int PRIMARY KEY, body text);
   INSERT INTO notes VALUES (1, 'first'), (2, 'second');`,
  [],
  pgDb,
);
const myDb = `sluice_settle_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);
await admin.query(`CREATE TABLE ${myDb}.customers (id INT PRIMARY KEY, name VARCHAR(40), ssn VARCHAR(20))`);
await admin.query(
  `INSERT INTO ${myDb}.customers VALUES (1, 'Ada', '123-45-6789'), (2, 'Bob', '987-65-4321')`,
);
await admin.query(`CREATE TABLE ${myDb}.notes (id INT PRIMARY KEY, body VARCHAR(40))`);
await admin.query(`INSERT INTO ${myDb}.notes VALUES (1, 'first'), (2, 'second')`);
t.teardown(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${myDb}`);
  await admin.end();
});

// Session statements (DEALLOCATE among them) are allowed, deletes wait for an approver.
const channels = await startChannels(
  t,
  `
server:
  postgres: { listen: 127.0.0.1:0, allowPlaintextAuth: true }
  mysql: { listen: 127.0.0.1:0 }
targets:
  shop: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${pgDb}, user: postgres, tls: disable }
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${myDb}, user: root, tls: disable }
policies:
  - name: agents
    when: { groups: [ai-agents] }
    statements:
      default: deny
      allow: [read, session, routine]
      review: [{ effect: delete, unbounded: false }]
    masking:
      - columns: [customers.ssn]
        strategy: redact
approvals: { keyPrefix: "sluice:{approvals-${process.pid}}:", approvers: { groups: [dba] }, timeout: 20s, wireWait: 1s }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-settle-',
);

const SECRETS = ['123-45-6789', '987-65-4321'];
const FORMS = SECRETS.flatMap((v) => [v, [...v].reverse().join(''), v.toUpperCase()]);
const leaks = (text: string) => FORMS.filter((f) => text.includes(f));

async function myNotes(): Promise<string> {
  const [rows] = await admin.query(`SELECT id, body FROM ${myDb}.notes ORDER BY id`);
  return JSON.stringify(rows);
}

/** Steps on one MySQL connection; `execute:` sends the step as a prepared (binary) statement. */
async function mysqlSteps(steps: string[], subject: string): Promise<string[]> {
  const conn = await channels.mysql(subject, ['ai-agents'], 'legacy', t);
  const received: string[] = [];
  for (const step of steps) {
    const prepared = step.startsWith('execute:');
    const sql = prepared ? step.slice('execute:'.length) : step;
    received.push(
      await (prepared ? conn.execute(sql) : conn.query(sql)).then(
        (r) => JSON.stringify(r[0]),
        (e: Error & { errno?: number }) => `ERR ${e.errno} ${e.message}`,
      ),
    );
  }
  return received;
}

/** `clear`: the EXECUTE's rows; `refused`: EXECUTE is refused (the target has no such statement). */
const MYSQL_SEQUENCES: { label: string; steps: string[]; clear?: string; refused?: true }[] = [
  {
    label: 'the text fails at its first statement',
    steps: [
      "PREPARE p FROM 'SELECT UPPER(ssn) AS name, REVERSE(ssn) AS id FROM customers'",
      "SELECT * FROM missing; DEALLOCATE PREPARE p; PREPARE p FROM 'SELECT name, id FROM customers'",
      'EXECUTE p',
    ],
  },
  {
    label: 'the text fails after its DEALLOCATE, which ran',
    steps: [
      "PREPARE p FROM 'SELECT CONCAT(ssn, name) AS name FROM customers'",
      "DEALLOCATE PREPARE p; SELECT * FROM missing; PREPARE p FROM 'SELECT name FROM customers'",
      'EXECUTE p',
    ],
    refused: true,
  },
  {
    label: 'the target refuses DEALLOCATE and PREPARE as prepared statements',
    steps: [
      "PREPARE p FROM 'SELECT UPPER(ssn) AS name FROM customers'",
      'execute:DEALLOCATE PREPARE p',
      "execute:PREPARE p FROM 'SELECT name FROM customers'",
      'EXECUTE p',
    ],
  },
  {
    label: 'the text waits for an approver who never answers',
    steps: [
      "PREPARE p FROM 'SELECT LOWER(ssn) AS name FROM customers'",
      "DELETE FROM notes WHERE id = 1; DEALLOCATE PREPARE p; PREPARE p FROM 'SELECT name FROM customers'",
      'EXECUTE p',
    ],
  },
  {
    label: 'a DEALLOCATE and PREPARE that ran: the new body is traced, its plain column clear',
    steps: [
      "PREPARE p FROM 'SELECT UPPER(ssn) AS name FROM customers'",
      "DEALLOCATE PREPARE p; PREPARE p FROM 'SELECT name FROM customers ORDER BY id'",
      'EXECUTE p',
    ],
    clear: '[{"name":"Ada"},{"name":"Bob"}]',
  },
  {
    label: 'the same, one statement per text',
    steps: [
      "PREPARE p FROM 'SELECT UPPER(ssn) AS name FROM customers'",
      'DEALLOCATE PREPARE p',
      "PREPARE p FROM 'SELECT name FROM customers ORDER BY id'",
      'EXECUTE p',
    ],
    clear: '[{"name":"Ada"},{"name":"Bob"}]',
  },
];

t.test('MySQL listener: EXECUTE is masked by the body the target runs', async (t) => {
  const before = await myNotes();
  let n = 0;
  for (const { label, steps, clear, refused } of MYSQL_SEQUENCES) {
    const received = await mysqlSteps(steps, `my-agent-${++n}`);
    const last = received.at(-1) ?? '';
    t.same(leaks(received.join('\n')), [], `${label}: ${received.join(' / ')}`);
    if (label.includes('approver'))
      t.match(received[1], /^ERR 1142 statement not approved in time: request \S+; send it again/, label);
    if (refused) t.match(last, /^ERR 1142 statement denied: EXECUTE/, `${label}: EXECUTE refused`);
    else if (clear !== undefined) t.equal(last, clear, `${label}: EXECUTE of the new body`);
    else t.match(last, /^\[\{"name":"\*\*\*\*"/, `${label}: EXECUTE of the old body, masked`);
  }
  t.equal(await myNotes(), before, 'nothing was deleted');
});

t.test('Postgres listener: EXECUTE of a DELETE waits for approval after a text that failed', async (t) => {
  const approvals = channels.parts.approvals;
  if (approvals === undefined) throw new Error('approvals are not configured');
  const client = await channels.psql('pg-agent', ['ai-agents'], 'shop', t);
  const requested: string[] = [];
  client.on('notice', (n) => {
    const id = /waiting for approval: request (\S+)/.exec(n.message ?? '')?.[1];
    if (id && !requested.includes(id)) requested.push(id);
  });
  // A human approves preparing the DELETE once; running it needs approval each time.
  const prepare = client.query('PREPARE d AS DELETE FROM notes WHERE id = 1');
  while (requested.length === 0) await new Promise((r) => setTimeout(r, 20));
  await approvals.service.approve(
    requested[0] as string,
    { subject: 'dba-ann', groups: ['dba'], issuer: 'test', via: 'gateway' },
    'prepare only',
  );
  await prepare;
  await t.rejects(client.query('SELECT 1/0; DEALLOCATE d; PREPARE d AS SELECT 1'), { code: '22012' });
  await t.rejects(client.query('EXECUTE d'), {
    code: '42501',
    message: /not approved in time/,
  });
  // A refused review: nothing of the text ran, so d is still the DELETE.
  await t.rejects(client.query('DEALLOCATE d; PREPARE d AS SELECT 2; DELETE FROM notes WHERE id = 2'), {
    code: '42501',
  });
  await t.rejects(client.query('EXECUTE d'), { code: '42501', message: /not approved in time/ });
  const rows = await adminQuery('SELECT id FROM notes ORDER BY id', [], pgDb);
  t.same(
    rows.rows.map((r: { id: number }) => r.id),
    [1, 2],
    'the DELETE never ran',
  );
  // Once a DEALLOCATE and PREPARE ran, EXECUTE is the new body's.
  await client.query('DEALLOCATE d');
  await client.query('PREPARE d AS SELECT name FROM customers ORDER BY id');
  const executed = await client.query('EXECUTE d');
  t.equal(executed.rowCount, 2);
  t.same(leaks(JSON.stringify(executed.rows)), []);
});

t.test('Postgres listener, extended protocol: the same through Parse and Execute', async (t) => {
  const client = await channels.psql('pg-agent-2', ['ai-agents'], 'shop', t);
  await client.query('PREPARE e AS SELECT upper(ssn) AS name FROM customers');
  // A text of one statement, sent as Parse/Bind/Execute: the target refuses the PREPARE (e exists).
  await t.rejects(client.query({ text: 'PREPARE e AS SELECT name FROM customers', values: [] }), {
    code: '42P05',
  });
  const rows = await client.query('EXECUTE e');
  t.equal(rows.rowCount, 2);
  t.same(leaks(JSON.stringify(rows.rows)), []);
});
