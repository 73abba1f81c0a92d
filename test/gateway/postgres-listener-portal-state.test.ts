/**
 * The gateway's picture of the target's portals and statements when the target refuses or skips
 * a message (found by the attack round): a Bind onto a name the target already holds (a WITH HOLD
 * cursor, a suspended portal kept across ROLLBACK TO SAVEPOINT) fails there and leaves the old
 * portal, which an Execute must not run under the new statement's masking plan; a Parse skipped
 * after an error leaves the old unnamed statement, which must not run again unjudged and
 * unrecorded. An Execute of a portal the session did not bind through Sluice is refused. Raw
 * protocol, every message the client receives checked for masked values; the database unchanged.
 */
import { serialize } from 'pg-protocol/dist/serializer';
import t from 'tap';
import { startChannels } from '../support/channels.js';
import { adminQuery, createScratchDatabase } from '../support/postgres.js';
import { SUBJECT } from './postgres-listener-harness.js';
import { RawClient, field } from './postgres-raw-client.js';

const { name: db } = await createScratchDatabase(t, 'sluice_portals');
await adminQuery(
  `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, ssn text);
   INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', '123-45-6789'), (2, 'Bob', 'bob@example.org', '987-65-4321');
   CREATE TABLE notes (id int PRIMARY KEY, body text);
   INSERT INTO notes VALUES (1, 'first'), (2, 'second');`,
  [],
  db,
);
const MASKING = `
    masking:
      - columns: [customers.ssn, customers.email]
        strategy: redact`;
const channels = await startChannels(
  t,
  `
server:
  postgres: { listen: 127.0.0.1:0, allowPlaintextAuth: true }
targets:
  shop: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${db}, user: postgres, tls: disable }
policies:
  - name: readers
    when: { groups: [readers] }
    statements: { default: deny, allow: [read] }${MASKING}
  - name: rw
    when: { groups: [rw] }
    statements: { default: deny, allow: [read, write, delete, transaction] }${MASKING}
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-portals-',
);

const SECRETS = ['123-45-6789', '987-65-4321', 'ada@example.com', 'bob@example.org'];
const leaks = (text: string) => SECRETS.filter((s) => text.includes(s) || text.includes(s.replace(/-/g, '')));

/** Everything a client received, readable: message types, errors with code, rows as text. */
function shown(messages: [string, Buffer][]): string {
  return messages
    .map(([type, body]) =>
      type === 'E' || type === 'N'
        ? `${type}(${field(body, 'C')} ${field(body, 'M')})`
        : type === 'D' || type === 'C'
          ? `${type}(${body.toString('latin1')})`
          : type,
    )
    .join(' ');
}

/** The raw client logs in as SUBJECT, whose token this is. */
async function login(group: string, t: { teardown(fn: () => unknown): void }): Promise<RawClient> {
  const raw = await RawClient.login(channels.postgresPort as number, await channels.token(SUBJECT, [group]));
  t.teardown(() => raw.close());
  return raw;
}

async function notes(): Promise<string> {
  return JSON.stringify((await adminQuery('SELECT id, body FROM notes ORDER BY id', [], db)).rows);
}

t.test('a failed Bind onto a held cursor leaves the cursor, which Execute does not run', async (t) => {
  const raw = await login('readers', t);
  raw.send(serialize.query("DECLARE c CURSOR WITH HOLD FOR SELECT ssn || '', email || '' FROM customers"));
  t.match(shown(await raw.until('Z')), /C\(DECLARE CURSOR/);
  raw.send(
    Buffer.concat([
      serialize.parse({ name: 's2', text: 'SELECT name, name FROM customers', types: [] }),
      serialize.bind({ portal: 'c', statement: 's2', values: [] }),
      serialize.sync(),
    ]),
  );
  t.match(shown(await raw.until('Z')), /E\(42P03/, 'the target refuses the Bind');
  raw.send(Buffer.concat([serialize.execute({ portal: 'c', rows: 0 }), serialize.sync()]));
  const executed = shown(await raw.until('Z'));
  t.match(executed, /E\(34000 portal "c" was not bound through Sluice/);
  t.notMatch(executed, /D\(/, 'no rows');
  t.same(leaks(executed), []);
  // The cursor itself is still read masked through FETCH, and the session goes on.
  raw.send(serialize.query('FETCH ALL FROM c'));
  const fetched = shown(await raw.until('Z'));
  t.same(leaks(fetched), [], fetched);
  raw.send(serialize.query('CLOSE c'));
  await raw.until('Z');
});

t.test('a failed Bind onto a suspended portal, rolled back to a savepoint, does not run', async (t) => {
  const raw = await login('rw', t);
  raw.send(serialize.query('BEGIN'));
  await raw.until('Z');
  raw.send(
    Buffer.concat([
      serialize.parse({ name: 's1', text: "SELECT ssn || '', email || '' FROM customers", types: [] }),
      serialize.parse({ name: 's2', text: 'SELECT name, name FROM customers', types: [] }),
      serialize.bind({ portal: 'p', statement: 's1', values: [] }),
      serialize.execute({ portal: 'p', rows: 1 }),
      serialize.sync(),
    ]),
  );
  const first = shown(await raw.until('Z'));
  t.match(first, /s\b|PortalSuspended|D\(/, 'one row, suspended');
  t.same(leaks(first), [], first);
  raw.send(serialize.query('SAVEPOINT a'));
  await raw.until('Z');
  raw.send(Buffer.concat([serialize.bind({ portal: 'p', statement: 's2', values: [] }), serialize.sync()]));
  t.match(shown(await raw.until('Z')), /E\(42P03/);
  raw.send(serialize.query('ROLLBACK TO SAVEPOINT a'));
  await raw.until('Z');
  raw.send(Buffer.concat([serialize.execute({ portal: 'p', rows: 0 }), serialize.sync()]));
  const executed = shown(await raw.until('Z'));
  t.match(executed, /E\(34000/);
  t.same(leaks(executed), [], executed);
  raw.send(serialize.query('ROLLBACK'));
  await raw.until('Z');
});

t.test('a Bind skipped after an error leaves no portal to Execute', async (t) => {
  const raw = await login('readers', t);
  raw.send(
    Buffer.concat([
      serialize.parse({ name: 'ok', text: 'SELECT name FROM customers', types: [] }),
      serialize.bind({ portal: 'q', statement: 'ok', values: [] }),
      serialize.sync(),
    ]),
  );
  await raw.until('Z');
  // The Bind of q to the masked statement is skipped (an error comes first), so q stays bound to
  // `ok` at the target, and the gateway must not think it is bound to `m`.
  raw.send(
    Buffer.concat([
      serialize.parse({ name: 'm', text: "SELECT ssn || '' FROM customers", types: [] }),
      serialize.execute({ portal: 'nope', rows: 0 }),
      serialize.bind({ portal: 'q', statement: 'm', values: [] }),
      serialize.sync(),
    ]),
  );
  const skipped = shown(await raw.until('Z'));
  t.match(skipped, /E\(34000/);
  raw.send(Buffer.concat([serialize.execute({ portal: 'q', rows: 0 }), serialize.sync()]));
  const executed = shown(await raw.until('Z'));
  t.same(leaks(executed), [], executed);
});

t.test('a skipped unnamed Parse does not let the old unnamed statement run unjudged', async (t) => {
  const before = await notes();
  const raw = await login('rw', t);
  raw.send(
    Buffer.concat([
      serialize.parse({ name: '', text: "UPDATE notes SET body = body || 'X' WHERE id = 1", types: [] }),
      serialize.bind({ portal: '', statement: '', values: [] }),
      serialize.execute({ portal: '', rows: 0 }),
      serialize.sync(),
    ]),
  );
  t.match(shown(await raw.until('Z')), /C\(UPDATE 1/);
  const once = await notes();
  t.not(once, before);
  raw.send(
    Buffer.concat([
      serialize.execute({ portal: 'nope', rows: 0 }),
      serialize.parse({ name: '', text: 'SELECT 1', types: [] }),
      serialize.sync(),
    ]),
  );
  await raw.until('Z');
  for (let i = 0; i < 3; i++) {
    raw.send(
      Buffer.concat([
        serialize.bind({ portal: '', statement: '', values: [] }),
        serialize.execute({ portal: '', rows: 0 }),
        serialize.sync(),
      ]),
    );
    const again = shown(await raw.until('Z'));
    t.notMatch(again, /C\(UPDATE/, `run ${i + 1} refused: ${again}`);
  }
  t.equal(await notes(), once, 'the UPDATE ran once');
  await adminQuery("UPDATE notes SET body = 'first' WHERE id = 1", [], db);
  // Each UPDATE that ran is recorded: one.
  raw.close();
  await new Promise((resolve) => setTimeout(resolve, 200));
  const events = await channels.recorded(SUBJECT);
  t.equal(events.filter((e) => e.type === 'result.end' && /^UPDATE/.test(String(e['command']))).length, 1);
});

t.test('Execute of a DECLAREd cursor is refused; normal Bind / Execute still runs', async (t) => {
  const raw = await login('readers', t);
  raw.send(serialize.query("BEGIN; DECLARE k CURSOR FOR SELECT ssn || '' FROM customers"));
  await raw.until('Z');
  raw.send(Buffer.concat([serialize.execute({ portal: 'k', rows: 0 }), serialize.sync()]));
  const executed = shown(await raw.until('Z'));
  t.match(executed, /E\(34000/);
  t.same(leaks(executed), []);
  raw.send(serialize.query('ROLLBACK'));
  await raw.until('Z');
  raw.send(
    Buffer.concat([
      serialize.parse({ name: '', text: 'SELECT name, ssn FROM customers ORDER BY id', types: [] }),
      serialize.bind({ portal: 'r', statement: '', values: [] }),
      serialize.execute({ portal: 'r', rows: 1 }),
      serialize.execute({ portal: 'r', rows: 1 }),
      serialize.sync(),
    ]),
  );
  const rows = shown(await raw.until('Z'));
  t.match(rows, /D\([^)]*Ada[^)]*\).*D\([^)]*Bob/);
  t.same(leaks(rows), []);
});
