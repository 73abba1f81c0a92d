/**
 * Cursors through the Postgres listener (simple and extended protocol) and MCP, against a real
 * server: a FETCH or MOVE is masked, and its errors screened, by the lineage of the cursor it
 * really reads. Cursor names follow Postgres's identifier rules (read from the parse tree, never
 * from the text), so `"C"` and `c` are two cursors and a trailing comment names nothing; every
 * DECLARE of a text is tracked; a cursor the session does not know is untraceable; and a cursor
 * WITH HOLD, computed whole when its transaction commits, makes that commit's errors its query's.
 */
import { createHash } from 'node:crypto';
import t, { type Test } from 'tap';
import type pg from 'pg';
import { serialize } from 'pg-protocol/dist/serializer';
import { startChannels } from '../support/channels.js';
import { adminQuery, createScratchDatabase } from '../support/postgres.js';
import { ATTACK_POLICY } from '../guard/fixtures/adversarial-corpus.js';
import { RawClient, field, sqlstate } from './postgres-raw-client.js';
import { SUBJECT } from './postgres-listener-harness.js';

const RAW = ['ada@example.com', '123-45-6789', 'bob@example.org', '987-65-4321'];
/** Every form of a masked value that must never reach the client. */
const FORMS: string[] = [
  ...RAW.flatMap((v) => [
    v,
    v.toUpperCase(),
    [...v].reverse().join(''),
    Buffer.from(v).toString('hex'),
    Buffer.from(v).toString('base64').replace(/=+$/, ''),
    createHash('md5').update(v).digest('hex'),
  ]),
  '123456789',
  '987654321',
  'example.',
  'ada@',
  'bob@',
  '6789',
  '4321',
  '45-67',
  '65-43',
];
const leaks = (text: string) => FORMS.filter((f) => text.toLowerCase().includes(f.toLowerCase()));

const { name: db } = await createScratchDatabase(t, 'sluice_curnames');
await adminQuery(
  `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, ssn text);
   INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', '123-45-6789'),
     (2, 'Bob', 'bob@example.org', '987-65-4321');
   CREATE TABLE notes (id int PRIMARY KEY, body text);
   INSERT INTO notes VALUES (1, 'first'), (2, 'second');
   -- A check the database runs at COMMIT, whose error quotes a masked value of the row.
   CREATE FUNCTION check_customer() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN IF NEW.name = 'boom' THEN RAISE EXCEPTION 'check failed for %', NEW.email; END IF; RETURN NEW; END $$;
   CREATE CONSTRAINT TRIGGER check_customer AFTER UPDATE ON customers
     DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_customer();`,
  [],
  db,
);
const masking = `
    masking:
      - columns: [customers.email, customers.ssn]
        strategy: redact`;
const ch = await startChannels(
  t,
  `
server:
  http: { listen: 127.0.0.1:0 }
  postgres: { listen: 127.0.0.1:0, allowPlaintextAuth: true }
targets:
  shop: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${db}, user: postgres, tls: disable }
policies:
  - name: reader
    when: { groups: [reader] }
    statements:${ATTACK_POLICY}${masking}
    limits: { maxRows: 1000, statementTimeout: 10s }
  - name: writer
    when: { groups: [writer] }
    statements:
      default: deny
      allow: [read, write, delete, transaction]${masking}
    limits: { maxRows: 1000, statementTimeout: 10s }
  - name: all
    when: { groups: [all] }
    statements: { default: allow }${masking}
    limits: { maxRows: 1000, statementTimeout: 10s }
  - name: strict
    when: { groups: [strict] }
    statements:${ATTACK_POLICY}
    maskedFilters: refuse
    maskedDerivations: refuse${masking}
    limits: { maxRows: 1000, statementTimeout: 10s }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-curnames-',
);

type Mode = 'simple' | 'extended';
const MODES: Mode[] = ['simple', 'extended'];

interface Step {
  command?: string | null;
  rows?: Record<string, unknown>[];
  error?: { code: string; text: string };
}

interface Session {
  steps: Step[];
  /** Everything the client received: rows, errors (every field), notices. */
  text: string;
}

/** Runs each statement in its own message (simple Query, or Parse/Bind/Execute/Sync), in order. */
async function run(group: string, mode: Mode, statements: string[]): Promise<Session> {
  const client: pg.Client = await ch.psql(`u-${group}`, [group], 'shop', t);
  const notices: string[] = [];
  client.on('notice', (n) => notices.push(JSON.stringify(n)));
  const steps: Step[] = [];
  let i = 0;
  for (const sql of statements) {
    const query = mode === 'simple' ? sql : { name: `s${i++}`, text: sql };
    try {
      const r = (await client.query(query)) as unknown as pg.QueryResult | pg.QueryResult[];
      const last = Array.isArray(r) ? r[r.length - 1] : r;
      steps.push({ command: last?.command ?? null, rows: last?.rows ?? [] });
    } catch (err) {
      const e = err as pg.DatabaseError;
      steps.push({ error: { code: e.code ?? '', text: JSON.stringify({ ...e, message: e.message }) } });
    }
  }
  await client.end().catch(() => undefined);
  return { steps, text: JSON.stringify(steps) + notices.join('\n') };
}

function noLeak(tt: Test, s: Session, what: string) {
  tt.same(leaks(s.text), [], `${what}: no masked value reaches the client`);
}

const withheld = /its text is withheld/;

t.test('case-distinct cursor names: "C" and c are two cursors; a trailing comment names none', async (t) => {
  for (const group of ['strict', 'writer', 'reader', 'all']) {
    for (const mode of MODES) {
      const what = `${group}/${mode}`;
      const s = await run(group, mode, [
        'BEGIN',
        'DECLARE "C" CURSOR FOR SELECT ssn AS a FROM customers UNION ALL SELECT email FROM customers',
        'DECLARE c CURSOR FOR SELECT body AS a FROM notes ORDER BY id',
        'FETCH ALL FROM "C" -- c',
        'FETCH ALL FROM c /* "C" */',
        'COMMIT',
      ]);
      noLeak(t, s, what);
      t.equal(s.steps[3]?.rows?.length, 4, `${what}: "C" returns its 4 rows, masked`);
      t.same(
        s.steps[4]?.rows?.map((r) => r.a),
        ['first', 'second'],
        `${what}: c reads its own (unmasked) query`,
      );
    }
  }
  for (const mode of MODES) {
    // The other way round: the lower-case one holds the masked query.
    const s = await run('writer', mode, [
      'BEGIN',
      'DECLARE c CURSOR FOR SELECT ssn AS a FROM customers',
      'DECLARE "C" CURSOR FOR SELECT body AS a FROM notes',
      'FETCH ALL FROM c -- "C"',
      'FETCH ALL IN "C"',
      'COMMIT',
    ]);
    noLeak(t, s, `reversed/${mode}`);
    t.same(s.steps[4]?.rows?.map((r) => r.a).sort(), ['first', 'second']);
  }
  // WITH HOLD, outside a transaction block.
  for (const mode of MODES) {
    const s = await run('reader', mode, [
      'DECLARE "C" CURSOR WITH HOLD FOR SELECT ssn AS a FROM customers UNION ALL SELECT email FROM customers',
      'DECLARE c CURSOR WITH HOLD FOR SELECT body AS a FROM notes',
      'FETCH ALL FROM "C" -- c',
      'CLOSE "C"',
      'CLOSE c',
    ]);
    noLeak(t, s, `hold/${mode}`);
    t.equal(s.steps[2]?.rows?.length, 4);
  }
});

t.test('quoted, escaped and Unicode-escaped names are the names Postgres reads', async (t) => {
  for (const mode of MODES) {
    const s = await run('writer', mode, [
      'BEGIN',
      `DECLARE "a""b" CURSOR FOR SELECT ssn AS a FROM customers`,
      `DECLARE "a" CURSOR FOR SELECT body AS a FROM notes`,
      `DECLARE "b" CURSOR FOR SELECT body AS a FROM notes`,
      `FETCH ALL FROM "a""b"`,
      `DECLARE U&"d\\0061t\\+000061" CURSOR FOR SELECT email AS a FROM customers`,
      `DECLARE "DATA" CURSOR FOR SELECT body AS a FROM notes`,
      `FETCH ALL FROM data`,
      `FETCH ALL FROM "DATA"`,
      'COMMIT',
    ]);
    noLeak(t, s, mode);
    t.equal(s.steps[4]?.rows?.length, 2, `${mode}: "a""b" is read`);
    t.equal(s.steps[7]?.rows?.length, 2, `${mode}: U&"d\\0061t\\+000061" is data`);
    t.same(s.steps[8]?.rows?.map((r) => r.a).sort(), ['first', 'second'], `${mode}: "DATA" is not data`);
  }
});

t.test('every DECLARE of a text is tracked', async (t) => {
  const s = await run('writer', 'simple', [
    'BEGIN',
    "DECLARE a CURSOR FOR SELECT 1 AS x; DECLARE b CURSOR FOR SELECT current_setting(ssn || '.b') FROM customers",
    'FETCH ALL FROM b',
    'ROLLBACK',
    'BEGIN',
    "DECLARE a CURSOR FOR SELECT body AS x FROM notes; DECLARE b CURSOR FOR SELECT ssn || '' AS x FROM customers",
    'FETCH ALL FROM b',
    'FETCH ALL FROM a',
    'COMMIT',
  ]);
  noLeak(t, s, 'two DECLAREs');
  t.match(s.steps[2]?.error?.text, withheld, 'the error of b is withheld');
  t.equal(s.steps[6]?.rows?.length, 2, 'b returns its rows, masked');
  t.same(
    s.steps[7]?.rows?.map((r) => r.x),
    ['first', 'second'],
    'a stays readable',
  );
});

t.test('MOVE runs the query of the cursor it reads: its errors are screened', async (t) => {
  for (const mode of MODES) {
    for (const query of [
      'SELECT ssn::int FROM customers',
      "SELECT current_setting(email || '.b') FROM customers",
    ]) {
      const s = await run('writer', mode, [
        'BEGIN',
        `DECLARE m CURSOR FOR ${query}`,
        'MOVE ALL IN m',
        'ROLLBACK',
      ]);
      noLeak(t, s, `${mode}: ${query}`);
      t.match(s.steps[2]?.error?.text, withheld);
    }
  }
});

t.test('WITH HOLD: the commit that computes the cursor has its errors screened', async (t) => {
  const queries = ['SELECT ssn::int FROM customers', "SELECT current_setting(email || '.b') FROM customers"];
  const ends = ['COMMIT', 'END', 'COMMIT AND CHAIN', 'SELECT 1; COMMIT'];
  for (const group of ['writer', 'reader', 'all']) {
    for (const mode of MODES) {
      for (const query of queries) {
        for (const end of ends) {
          if (mode === 'extended' && end.includes(';')) continue;
          const s = await run(group, mode, [
            'BEGIN',
            `DECLARE h CURSOR WITH HOLD FOR ${query}`,
            end,
            'ROLLBACK',
          ]);
          const what = `${group}/${mode}: ${query} / ${end}`;
          noLeak(t, s, what);
          t.match(s.steps[2]?.error?.text, withheld, what);
        }
      }
    }
  }
  // In one text, and without a transaction block (the DECLARE itself commits).
  for (const mode of MODES) {
    const s = await run('writer', mode, [
      'DECLARE h CURSOR WITH HOLD FOR SELECT ssn::int FROM customers',
      "DECLARE h2 CURSOR WITH HOLD FOR SELECT current_setting(email || '.b') FROM customers",
    ]);
    noLeak(t, s, `autocommit/${mode}`);
    for (const step of s.steps) t.match(step.error?.text, withheld);
  }
  const one = await run('writer', 'simple', [
    'BEGIN; DECLARE h CURSOR WITH HOLD FOR SELECT ssn::int FROM customers; COMMIT',
  ]);
  noLeak(t, one, 'one text');
  // PREPARE TRANSACTION (refused by Postgres with a cursor WITH HOLD, or prepared transactions off).
  const prepared = await run('all', 'simple', [
    'BEGIN',
    'DECLARE h CURSOR WITH HOLD FOR SELECT ssn::int FROM customers',
    "PREPARE TRANSACTION 'curnames'",
    'ROLLBACK',
  ]);
  noLeak(t, prepared, 'PREPARE TRANSACTION');
});

t.test('WITH HOLD benign: unmasked cursors still work across COMMIT, their errors pass', async (t) => {
  for (const mode of MODES) {
    const s = await run('all', mode, [
      'BEGIN',
      'DECLARE h CURSOR WITH HOLD FOR SELECT id, name, email FROM customers ORDER BY id',
      'COMMIT',
      'FETCH 1 FROM h',
      'MOVE ABSOLUTE 0 IN h',
      'FETCH ALL FROM h',
      'CLOSE h',
      'BEGIN',
      'DECLARE bad CURSOR WITH HOLD FOR SELECT body::int FROM notes',
      'COMMIT',
    ]);
    noLeak(t, s, mode);
    t.same(
      s.steps[3]?.rows?.map((r) => r.name),
      ['Ada'],
      `${mode}: names read through the held cursor`,
    );
    t.same(
      s.steps[5]?.rows?.map((r) => r.name),
      ['Ada', 'Bob'],
    );
    t.notOk(
      s.steps[5]?.rows?.some((r) => r.email === null),
      'email comes back masked, not dropped',
    );
    t.notOk(s.steps[6]?.error, `${mode}: CLOSE h`);
    // Deferred checks run at COMMIT and may quote any row the transaction wrote: under masking
    // its error text is withheld, the SQLSTATE kept.
    t.match(s.steps[9]?.error?.text, withheld, `${mode}: an error at COMMIT is withheld`);
  }
});

t.test('a cursor the session does not know is untraceable: masked, its errors withheld', async (t) => {
  // A cursor opened inside DO (the gateway sees no DECLARE).
  for (const mode of MODES) {
    const s = await run('all', mode, [
      'BEGIN',
      "DO $$DECLARE c refcursor := 'u'; BEGIN OPEN c FOR SELECT ssn || '' AS a FROM customers; END$$",
      'FETCH ALL FROM u',
      'ROLLBACK',
      'BEGIN',
      'DECLARE u CURSOR FOR SELECT body AS a FROM notes',
      'CLOSE u',
      "DO $$DECLARE c refcursor := 'u'; BEGIN OPEN c FOR SELECT ssn || '' AS a FROM customers; END$$",
      'FETCH ALL FROM u',
      'ROLLBACK',
      'BEGIN',
      "DO $$DECLARE c refcursor := 'u'; BEGIN OPEN c FOR SELECT current_setting(ssn || '.u') FROM customers; END$$",
      'FETCH ALL FROM u',
      'ROLLBACK',
    ]);
    noLeak(t, s, mode);
    // Under masking a DO block is refused (its body is not traced), so it opens no cursor.
    for (const i of [1, 7, 11])
      t.match(s.steps[i]?.error?.text, /masking|masks columns/, `${mode}: DO refused`);
    t.ok(s.steps[12]?.error, `${mode}: the cursor does not exist`);
  }
  // A cursor of an earlier transaction is gone with it; the name opened again is not the old one.
  for (const mode of MODES) {
    const s = await run('all', mode, [
      'BEGIN',
      'DECLARE u CURSOR FOR SELECT body AS a FROM notes',
      'COMMIT',
      'BEGIN',
      "DO $$DECLARE c refcursor := 'u'; BEGIN OPEN c FOR SELECT ssn || '' AS a FROM customers; END$$",
      'FETCH ALL FROM u',
      'ROLLBACK',
      'BEGIN',
      'SAVEPOINT s',
      'DECLARE u CURSOR FOR SELECT body AS a FROM notes',
      'ROLLBACK TO SAVEPOINT s',
      "DO $$DECLARE c refcursor := 'u'; BEGIN OPEN c FOR SELECT ssn || '' AS a FROM customers; END$$",
      'FETCH ALL FROM u',
      'ROLLBACK',
    ]);
    noLeak(t, s, `stale/${mode}`);
  }
});

t.test('benign cursor use: FETCH, MOVE and CLOSE of quoted and unquoted names', async (t) => {
  for (const group of ['all', 'strict']) {
    for (const mode of MODES) {
      const what = `${group}/${mode}`;
      const s = await run(group, mode, [
        'BEGIN',
        'DECLARE "Mixed Case" SCROLL CURSOR FOR SELECT id, name, ssn FROM customers ORDER BY id',
        'FETCH 1 FROM "Mixed Case"',
        'MOVE LAST IN "Mixed Case"',
        'FETCH PRIOR FROM "Mixed Case"',
        'CLOSE "Mixed Case"',
        'DECLARE Plain CURSOR FOR SELECT name FROM customers ORDER BY id',
        'FETCH NEXT FROM PLAIN',
        'MOVE FORWARD 0 IN plain',
        'FETCH ALL IN "plain"',
        'CLOSE plain',
        'COMMIT',
      ]);
      noLeak(t, s, what);
      const closes = group === 'all';
      t.same(s.steps[2]?.rows, [{ id: 1, name: 'Ada', ssn: '****' }], `${what}: first row, ssn masked`);
      t.notOk(s.steps[3]?.error, `${what}: MOVE`);
      t.same(
        s.steps[4]?.rows?.map((r) => r.name),
        ['Ada'],
        `${what}: FETCH PRIOR`,
      );
      if (!closes) continue;
      t.notOk(s.steps[5]?.error, `${what}: CLOSE "Mixed Case"`);
      t.same(s.steps[7]?.rows, [{ name: 'Ada' }], `${what}: PLAIN is plain`);
      t.same(s.steps[9]?.rows, [{ name: 'Bob' }], `${what}: "plain" is plain`);
      t.notOk(s.steps[10]?.error, `${what}: CLOSE plain`);
    }
  }
});

t.test('CLOSE ALL and DISCARD ALL forget every cursor', async (t) => {
  for (const mode of MODES) {
    const s = await run('all', mode, [
      'BEGIN',
      'DECLARE u CURSOR FOR SELECT body AS a FROM notes',
      'CLOSE ALL',
      "DO $$DECLARE c refcursor := 'u'; BEGIN OPEN c FOR SELECT ssn || '' AS a FROM customers; END$$",
      'FETCH ALL FROM u',
      'ROLLBACK',
      'DECLARE h CURSOR WITH HOLD FOR SELECT body AS a FROM notes',
      'DISCARD ALL',
      'BEGIN',
      "DO $$DECLARE c refcursor := 'h'; BEGIN OPEN c FOR SELECT ssn || '' AS a FROM customers; END$$",
      'FETCH ALL FROM h',
      'ROLLBACK',
    ]);
    noLeak(t, s, mode);
    // Under masking a DO block is refused (its body is not traced): nothing reopens the names.
    t.match(s.steps[3]?.error?.text, /masking|masks columns/, `${mode}: DO refused`);
    t.match(s.steps[9]?.error?.text, /masking|masks columns/, `${mode}: DO refused`);
  }
});

t.test('a cursor declared before a savepoint survives ROLLBACK TO and stays readable', async (t) => {
  const s = await run('writer', 'simple', [
    'BEGIN',
    'DECLARE keep CURSOR FOR SELECT body AS a FROM notes ORDER BY id',
    'SAVEPOINT s',
    'DECLARE gone CURSOR FOR SELECT body AS a FROM notes',
    'ROLLBACK TO SAVEPOINT s',
    'FETCH ALL FROM keep',
    'COMMIT',
  ]);
  t.same(
    s.steps[5]?.rows?.map((r) => r.a),
    ['first', 'second'],
  );
});

/** A raw protocol client of `group`. */
async function raw(group: string): Promise<RawClient> {
  const client = await RawClient.login(ch.postgresPort as number, await ch.token(SUBJECT, [group]));
  t.teardown(() => client.close());
  return client;
}

function received(messages: [string, Buffer][]): string {
  return messages
    .map(([type, body]) => {
      if (type === 'E' || type === 'N') return `${type} ${sqlstate(body)} ${body.toString('utf8')}`;
      return `${type} ${body.toString('utf8')}`;
    })
    .join('\n');
}

t.test('extended protocol: the implicit commit at Sync computes a cursor WITH HOLD', async (t) => {
  for (const query of [
    'SELECT ssn::int FROM customers',
    "SELECT current_setting(email || '.b') FROM customers",
  ]) {
    const client = await raw('writer');
    client.send(
      Buffer.concat([
        serialize.parse({ text: `DECLARE h CURSOR WITH HOLD FOR ${query}` }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.sync(),
      ]),
    );
    const answer = await client.until('Z');
    const error = answer.find(([type]) => type === 'E');
    t.ok(error, 'the commit at Sync fails');
    t.match(error ? field(error[1], 'M') : '', withheld);
    t.same(leaks(received(answer)), [], query);
    // The cursor is gone with its transaction.
    client.send(serialize.query('FETCH ALL FROM h'));
    const after = await client.until('Z');
    t.equal(sqlstate((after.find(([type]) => type === 'E') ?? ['', Buffer.alloc(0)])[1]), '34000');
  }
});

t.test('portals made by Bind and closed by Close share the cursor namespace', async (t) => {
  const client = await raw('writer');
  const send = async (...messages: Buffer[]) => {
    client.send(Buffer.concat(messages));
    return client.until('Z');
  };
  const out: [string, Buffer][] = [];
  out.push(...(await send(serialize.query('BEGIN'))));
  // A portal made by Bind, read by FETCH: the session never saw a DECLARE of it.
  out.push(
    ...(await send(
      serialize.parse({ name: 'p1', text: "SELECT current_setting(ssn || '.p') FROM customers" }),
      serialize.bind({ statement: 'p1', portal: 'p' }),
      serialize.sync(),
    )),
  );
  const fetched = await send(serialize.query('FETCH ALL FROM p'));
  out.push(...fetched);
  const error = fetched.find(([type]) => type === 'E');
  t.match(error ? field(error[1], 'M') : '', withheld, "the Bind portal's error is withheld");
  out.push(...(await send(serialize.query('ROLLBACK'))));
  // A DECLAREd cursor closed by a protocol Close, its name then bound to a masked query.
  out.push(...(await send(serialize.query('BEGIN'))));
  out.push(...(await send(serialize.query('DECLARE q CURSOR FOR SELECT body AS a FROM notes'))));
  out.push(...(await send(serialize.close({ type: 'P', name: 'q' }), serialize.sync())));
  out.push(
    ...(await send(
      serialize.parse({ name: 'p2', text: "SELECT ssn || '' AS a FROM customers" }),
      serialize.bind({ statement: 'p2', portal: 'q' }),
      serialize.sync(),
    )),
  );
  const rows = await send(serialize.query('FETCH ALL FROM q'));
  out.push(...rows);
  t.equal(rows.filter(([type]) => type === 'D').length, 2, 'the rows come, masked');
  out.push(...(await send(serialize.query('ROLLBACK'))));
  t.same(leaks(received(out)), [], 'nothing leaks');
});

t.test('pipelined: a CLOSE sent ahead of a FETCH is taken into account', async (t) => {
  const client = await raw('all');
  client.send(
    Buffer.concat([
      serialize.query('BEGIN'),
      serialize.query('DECLARE u CURSOR FOR SELECT body AS a FROM notes'),
      serialize.query('CLOSE u'),
      serialize.query(
        "DO $$DECLARE c refcursor := 'u'; BEGIN OPEN c FOR SELECT ssn || '' AS a FROM customers; END$$",
      ),
      serialize.query('FETCH ALL FROM u'),
      serialize.query('ROLLBACK'),
    ]),
  );
  const out: [string, Buffer][] = [];
  for (let i = 0; i < 6; i++) out.push(...(await client.until('Z')));
  t.same(leaks(received(out)), [], 'nothing leaks');
  // Under masking the DO is refused (its body is not traced): the closed cursor stays closed.
  t.equal(out.filter(([type]) => type === 'D').length, 0, 'no rows: the cursor is gone');
  t.match(received(out), /masks columns/, 'the DO was refused');
});

t.test('MCP: cursors in one text follow the same rules', async (t) => {
  for (const group of ['writer', 'all']) {
    const query = await ch.mcp(`m-${group}`, [group], t);
    const texts = [
      'BEGIN; DECLARE "C" CURSOR FOR SELECT ssn AS a FROM customers UNION ALL SELECT email FROM customers; ' +
        'DECLARE c CURSOR FOR SELECT body AS a FROM notes; FETCH ALL FROM "C"; COMMIT',
      'BEGIN; DECLARE h CURSOR WITH HOLD FOR SELECT ssn::int FROM customers; COMMIT',
      "BEGIN; DECLARE a CURSOR FOR SELECT 1; DECLARE b CURSOR FOR SELECT current_setting(ssn || '.b') FROM customers; FETCH ALL FROM b; COMMIT",
      'BEGIN; DECLARE m CURSOR FOR SELECT ssn::int FROM customers; MOVE ALL IN m; COMMIT',
      'DECLARE h CURSOR WITH HOLD FOR SELECT ssn::int FROM customers',
      'BEGIN',
      'DECLARE h CURSOR WITH HOLD FOR SELECT ssn::int FROM customers',
      'COMMIT',
      'FETCH ALL FROM h',
    ];
    for (const text of texts) {
      const r = await query(text, 'shop');
      t.same(leaks(r.text), [], `${group}: ${text}`);
    }
    const benign = await query(
      'BEGIN; DECLARE "N" CURSOR FOR SELECT body FROM notes ORDER BY id; FETCH ALL FROM "N"; COMMIT',
      'shop',
    );
    t.notOk(benign.isError, 'a benign cursor text runs');
  }
});

t.test('a prepared FETCH run again reads the cursor as it is now', async (t) => {
  const client: pg.Client = await ch.psql('u-prepared', ['all'], 'shop', t);
  const fetch = { name: 'fetch_c', text: 'FETCH ALL FROM c' };
  const out: unknown[] = [];
  await client.query('BEGIN');
  await client.query('DECLARE c CURSOR FOR SELECT body AS a FROM notes ORDER BY id');
  const first = await client.query(fetch);
  t.same(
    first.rows.map((r) => r.a),
    ['first', 'second'],
  );
  await client.query('CLOSE c');
  await client.query('DECLARE c CURSOR FOR SELECT ssn AS a FROM customers ORDER BY id');
  out.push((await client.query(fetch)).rows);
  await client.query('CLOSE c');
  // Under masking a DO block is refused (its body is not traced): it cannot reopen the name.
  await t.rejects(
    client.query(
      "DO $$DECLARE r refcursor := 'c'; BEGIN OPEN r FOR SELECT email || '' AS a FROM customers; END$$",
    ),
    { code: '42501', message: /masks columns/ },
  );
  await client.query('ROLLBACK');
  await client.end();
  t.same(leaks(JSON.stringify(out)), [], 'no masked value');
});

t.test('two FETCHes in one text: each result is masked, whichever cursor it is from', async (t) => {
  for (const group of ['reader', 'all']) {
    const s = await run(group, 'simple', [
      'BEGIN',
      'DECLARE a CURSOR FOR SELECT body AS x FROM notes',
      "DECLARE b CURSOR FOR SELECT ssn || '' AS x FROM customers",
      'FETCH ALL FROM a; FETCH ALL FROM b',
      'FETCH 1 FROM a; FETCH ALL FROM b; FETCH 1 FROM a',
      'ROLLBACK',
      'DECLARE a CURSOR WITH HOLD FOR SELECT body AS x FROM notes',
      'DECLARE b CURSOR WITH HOLD FOR SELECT md5(ssn) AS x FROM customers',
      'MOVE ABSOLUTE 0 IN a; FETCH ALL FROM a; FETCH ALL FROM b',
      'CLOSE a; CLOSE b',
    ]);
    noLeak(t, s, group);
    t.equal(s.steps[3]?.rows?.length, 2, `${group}: the second cursor's rows come, masked`);
  }
});

t.test('errors of deferred checks at COMMIT are withheld', async (t) => {
  for (const mode of MODES) {
    const s = await run('writer', mode, [
      'BEGIN',
      "UPDATE customers SET name = 'boom' WHERE id = 1",
      'COMMIT',
      'BEGIN',
      "UPDATE customers SET name = 'boom' WHERE id = 1",
      'SET CONSTRAINTS ALL IMMEDIATE',
      'ROLLBACK',
    ]);
    noLeak(t, s, mode);
    t.match(s.steps[2]?.error?.text, withheld, `${mode}: COMMIT's error is withheld`);
    t.match(s.steps[5]?.error?.text, withheld, `${mode}: SET CONSTRAINTS' error is withheld`);
  }
  const { rows } = await adminQuery('SELECT name FROM customers WHERE id = 1', [], db);
  t.same(rows, [{ name: 'Ada' }], 'nothing committed');
});
