import t from 'tap';
import { startHarness } from './postgres-listener-harness.js';

/**
 * A write the text calls bounded (it pins a column) that the target expects to touch (nearly)
 * every row is decided as unbounded: `status = 'done'` where every order is done. The estimate
 * only makes decisions stricter; a pinned key stays bounded.
 */
const h = await startHarness(t, {
  seed: `
  CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, note text);
  INSERT INTO orders SELECT g, 'done', NULL FROM generate_series(1, 2000) g;
  UPDATE orders SET status = 'open' WHERE id = 1;
  ANALYZE orders;
  CREATE TABLE notes (id int PRIMARY KEY, body text);
  INSERT INTO notes VALUES (1, 'first');
`,
  policy: `
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
    statements:
      default: deny
      allow: [read, { effect: write, unbounded: false }, { effect: delete, unbounded: false }]
      deny: [{ effect: write, unbounded: true }, { effect: delete, unbounded: true }]
`,
});

const count = async (where: string) =>
  Number((await h.direct(`SELECT count(*)::int AS n FROM orders WHERE ${where}`)).rows[0].n);

t.test('Postgres listener: a pinned column that holds one value everywhere is unbounded', async (t) => {
  const client = await h.client();
  t.teardown(() => client.end());
  for (const sql of [
    "DELETE FROM orders WHERE status = 'done'",
    "UPDATE orders SET note = 'x' WHERE status = 'done'",
    "DELETE FROM orders WHERE status IN ('done', 'open')",
  ]) {
    await t.rejects(client.query(sql), {
      code: '42501',
      message:
        /without a limiting WHERE, denied by agents.*the database estimates it touches \d+ of \d+ rows/,
    });
    await t.rejects(client.query({ text: sql, values: [] }), { code: '42501' }, `${sql} (extended)`);
  }
  t.equal(await count("status = 'done'"), 1999, 'nothing was deleted');
  t.equal(await count('note IS NOT NULL'), 0, 'nothing was updated');
});

t.test('a pinned key, or a value few rows hold, stays bounded and runs', async (t) => {
  const client = await h.client();
  t.teardown(() => client.end());
  t.equal((await client.query("UPDATE orders SET note = 'one' WHERE id = 7")).rowCount, 1);
  t.equal((await client.query("DELETE FROM orders WHERE status = 'open'")).rowCount, 1);
  t.equal((await client.query("UPDATE notes SET body = 'b' WHERE id = 1")).rowCount, 1);
  t.equal(await count("note = 'one'"), 1);
});

t.test('MCP query: decided the same way', async (t) => {
  const session = h.parts.gateway.openSession({
    identity: { subject: 'agent-1', groups: ['ai-agents'], issuer: 'test', via: 'gateway' },
    target: 'shop',
    channel: 'mcp-http',
  });
  t.teardown(() => session.close('done'));
  await t.rejects(
    session.execute(
      { sql: "DELETE FROM orders WHERE status = 'done'" },
      { columns: () => {}, row: () => {} },
    ),
    { message: /the database estimates it touches/ },
  );
  t.equal(await count("status = 'done'"), 1999);
});
