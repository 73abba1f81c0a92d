/**
 * Malformed frontend messages on the Postgres listener (seeded, so a failure can be run again with
 * SLUICE_FUZZ_SEED): valid messages of every kind a client sends, with their length, type byte,
 * fields and terminators corrupted, sent in random sequences after login. Whatever arrives, no
 * masked value reaches the client in any byte, nothing is written, and the gateway goes on
 * serving other sessions.
 */
import { connect } from 'node:net';
import t from 'tap';
import { serialize } from 'pg-protocol/dist/serializer';
import { fuzzSeed, SeededRandom } from '../support/seeded-random.js';
import { startHarness, SUBJECT } from './postgres-listener-harness.js';

// Reads only: any row written (COPY FROM, UPDATE) would be a message that got past the guard.
const h = await startHarness(t, {
  policy: `
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
    statements: { default: deny, allow: [read, session, transaction] }
    masking:
      - { columns: [customers.email], strategy: email }
      - { columns: [customers.ssn], strategy: redact }
`,
});
const seed = fuzzSeed(0x5eed_0001);
const random = new SeededRandom(seed);
/** The masked columns' values (ssn, email), as text and as the hex a binary format would show. */
const SECRET = /123-45-6789|987-65-4321|ada@example|bob@example|3132332d34352d/;

const SEEDS: Buffer[] = [
  serialize.query('SELECT ssn, email FROM customers'),
  serialize.query('SELECT ssn FROM customers; DELETE FROM notes'),
  serialize.parse({ name: 's1', text: 'SELECT ssn, email FROM customers WHERE id = $1', types: [23] }),
  serialize.parse({ text: 'UPDATE notes SET body = $1', types: [25] }),
  serialize.bind({ statement: 's1', portal: 'p', values: ['1'] }),
  serialize.bind({ values: ['x'] }),
  serialize.describe({ type: 'S', name: 's1' }),
  serialize.describe({ type: 'P', name: 'p' }),
  serialize.execute({ portal: 'p', rows: 0 }),
  serialize.execute({ rows: 1 }),
  serialize.sync(),
  serialize.flush(),
  serialize.close({ type: 'S', name: 's1' }),
  serialize.copyData(Buffer.from('9\tx\n')),
  serialize.copyDone(),
  serialize.copyFail('no'),
  serialize.query('COPY notes FROM STDIN'),
  serialize.query('COPY customers TO STDOUT'),
];

const EDGE_INTS = [-1, -2, 0, 1, 0x7fffffff, 65535, 1 << 20];

function mutate(message: Buffer): Buffer {
  const b = Buffer.from(message);
  switch (random.int(8)) {
    case 0: // the length lies
      b.writeInt32BE(random.pick([...EDGE_INTS, random.int(0, 2 ** 31 - 1)]), 1);
      return b;
    case 1: // another type byte
      b[0] = random.int(256);
      return b;
    case 2: // a few bytes of the body
      for (let n = random.int(1, 4); n > 0 && b.length > 5; n--) b[random.int(5, b.length)] = random.int(256);
      return b;
    case 3: {
      // cut short, with a length that says so
      if (b.length <= 6) return b;
      const cut = Buffer.from(b.subarray(0, random.int(5, b.length)));
      cut.writeInt32BE(cut.length - 1, 1);
      return cut;
    }
    case 4: {
      // trailing bytes the message does not hold
      const grown = Buffer.concat([b, random.bytes(random.int(1, 64))]);
      grown.writeInt32BE(grown.length - 1, 1);
      return grown;
    }
    case 5: // a NUL in a string (a name or the SQL ends early)
      if (b.length > 6) b[random.int(5, b.length - 1)] = 0;
      return b;
    case 6: // a count or length field set to an edge value
      if (b.length > 9) b.writeInt32BE(random.pick(EDGE_INTS), random.int(5, b.length - 4));
      return b;
    default:
      return b;
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Logs in, sends the messages, and returns every byte the listener sent back. */
async function session(messages: Buffer[]): Promise<Buffer> {
  const socket = connect({ host: '127.0.0.1', port: h.port });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(serialize.startup({ user: SUBJECT, database: 'shop' }));
  await pause(10);
  socket.write(serialize.password(h.token));
  await pause(25);
  for (const message of messages) socket.write(message);
  await pause(60);
  socket.destroy();
  return Buffer.concat(chunks);
}

t.test(`malformed messages leak nothing, write nothing and stop no one else (seed ${seed})`, async (t) => {
  const before = JSON.stringify([
    (await h.direct('SELECT * FROM notes ORDER BY id')).rows,
    (await h.direct('SELECT * FROM customers ORDER BY id')).rows,
  ]);
  const other = await h.client();
  t.teardown(() => other.end());
  for (let round = 0; round < 150; round++) {
    const messages: Buffer[] = [];
    for (let n = random.int(1, 6); n > 0; n--) {
      const message = random.pick(SEEDS);
      messages.push(random.int(3) === 0 ? message : mutate(message));
    }
    if (random.int(2) === 0) messages.push(serialize.sync());
    const received = await session(messages);
    const shown = `${received.toString('latin1')} ${received.toString('hex')}`;
    if (SECRET.test(shown)) {
      t.fail(`round ${round}: a masked value reached the client`, {
        sent: messages.map((m) => m.toString('hex')),
      });
    }
    if (round % 25 === 0) {
      // A session open all along, and a new one, are served as before.
      const { rows } = await other.query('SELECT name, ssn FROM customers ORDER BY id');
      t.equal(rows[0]?.name, 'Ada', `round ${round}: the other session goes on`);
      t.notMatch(JSON.stringify(rows), SECRET);
      const fresh = await h.client();
      t.same(
        (await fresh.query('SELECT 1 AS one')).rows,
        [{ one: 1 }],
        `round ${round}: a new session logs in`,
      );
      await fresh.end();
    }
  }
  const after = JSON.stringify([
    (await h.direct('SELECT * FROM notes ORDER BY id')).rows,
    (await h.direct('SELECT * FROM customers ORDER BY id')).rows,
  ]);
  t.equal(after, before, 'nothing was written');
});
