/**
 * A MySQL write the text calls bounded by a pin (`WHERE body = 0`) is checked against the pinned
 * columns' types: MySQL compares a string column with a number as numbers, converting every
 * row's value, so `body = 0` matches each body not starting with a digit. Under a policy that
 * denies unbounded writes such a write is denied on every channel (MCP, the MySQL listener's text
 * and prepared statements) and the table keeps its rows; pins on numeric columns, and string
 * columns compared with quoted strings, still bound.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import t from 'tap';
import { startChannels } from '../support/channels.js';

const myDb = `sluice_mypin_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);
await admin.query(
  `CREATE TABLE ${myDb}.notes (id INT PRIMARY KEY, code VARCHAR(20), body VARCHAR(40), created DATE, price DECIMAL(8,2))`,
);
const ROWS = `(1, 'a1', 'alpha', '2026-01-01', 1.00), (2, 'b2', 'beta', '2026-01-02', 2.00), (3, '7x', 'gamma', '2026-01-03', 3.00)`;
t.teardown(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${myDb}`);
  await admin.end();
});
async function restore(): Promise<void> {
  await admin.query(`DELETE FROM ${myDb}.notes`);
  await admin.query(`INSERT INTO ${myDb}.notes VALUES ${ROWS}`);
}
async function count(): Promise<number> {
  const [rows] = await admin.query(`SELECT COUNT(*) AS n FROM ${myDb}.notes`);
  return Number((rows as { n: number }[])[0]?.n);
}

const channels = await startChannels(
  t,
  `
server:
  http: { listen: 127.0.0.1:0 }
  mysql: { listen: 127.0.0.1:0 }
targets:
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${myDb}, user: root, tls: disable }
policies:
  - name: writers
    when: { groups: [writers] }
    statements:
      default: deny
      allow: [read, write, delete]
      deny: [{ effect: write, unbounded: true }, { effect: delete, unbounded: true }]
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-mypin-',
);

type Run = (sql: string, params?: (string | number)[]) => Promise<{ ok: true } | { ok: false; text: string }>;
async function runs(t: { teardown(fn: () => unknown): void }): Promise<Record<string, Run>> {
  const conn = await channels.mysql('writer-1', ['writers'], 'legacy', t);
  const mcp = await channels.mcp('writer-1', ['writers'], t);
  const wire =
    (prepared: boolean): Run =>
    async (sql, params) => {
      try {
        await (prepared ? conn.execute(sql, params ?? []) : conn.query(sql, params));
        return { ok: true };
      } catch (err) {
        return { ok: false, text: (err as Error).message };
      }
    };
  return {
    mcp: async (sql, params) => {
      if (params !== undefined) return { ok: true };
      const r = await mcp(sql, 'legacy');
      return r.isError ? { ok: false, text: r.text } : { ok: true };
    },
    text: wire(false),
    prepared: wire(true),
  };
}

const UNPINNED: [string, (string | number)[]?][] = [
  ['DELETE FROM notes WHERE code = 0'],
  ["UPDATE notes SET body = 'x' WHERE code = 0"],
  ['DELETE FROM notes WHERE code IN (0, 7)'],
  ['DELETE FROM notes WHERE code = TRUE'],
  ['DELETE FROM notes WHERE code = 1 - 1'],
  ['DELETE FROM notes WHERE `CODE` = 0.0'],
  ['DELETE FROM notes WHERE notes.code = 0'],
  ['DELETE FROM notes WHERE code = 0 OR id = 1'],
  ['DELETE FROM notes WHERE created = 0'],
  ['DELETE FROM notes WHERE code = ?', [0]],
  ["DELETE FROM notes WHERE code = X'30'"],
];
const PINNED: [string, number, (string | number)[]?][] = [
  ['DELETE FROM notes WHERE id = 1', 2],
  ["DELETE FROM notes WHERE id = '1'", 2],
  ["DELETE FROM notes WHERE code = '0'", 3],
  ["DELETE FROM notes WHERE code IN ('a1', 'b2')", 1],
  ['DELETE FROM notes WHERE id = 1 AND code = 0', 2],
  ['DELETE FROM notes WHERE price = 2', 2],
  ["DELETE FROM notes WHERE created = '2026-01-03'", 2],
  ['DELETE FROM notes WHERE id = ?', 2, [1]],
];

t.test('a string column pinned to a number bounds nothing: denied, and no row goes', async (t) => {
  const channelsOf = await runs(t);
  for (const [sql, params] of UNPINNED) {
    for (const [channel, run] of Object.entries(channelsOf)) {
      if (params !== undefined && channel === 'mcp') continue;
      await restore();
      const result = await run(sql, params);
      const label = `${channel}: ${sql}`;
      t.equal(result.ok, false, label);
      if (!result.ok) t.match(result.text, /MySQL converts every row's value/, label);
      t.equal(await count(), 3, `no row deleted: ${label}`);
    }
  }
  // Directly, the first of them empties the table: what the check stands between.
  await restore();
  await admin.query(`DELETE FROM ${myDb}.notes WHERE code = 0`);
  t.equal(await count(), 1, 'MariaDB deleted every row whose code does not start with a digit');
});

t.test('pins on numeric columns and on strings compared with strings still bound', async (t) => {
  const channelsOf = await runs(t);
  for (const [sql, left, params] of PINNED) {
    for (const [channel, run] of Object.entries(channelsOf)) {
      if (params !== undefined && channel === 'mcp') continue;
      await restore();
      const result = await run(sql, params);
      const label = `${channel}: ${sql}`;
      t.same(result, { ok: true }, label);
      t.equal(await count(), left, label);
    }
  }
});

t.test('the decision records why', async (t) => {
  const { text } = await runs(t);
  await restore();
  await text!('DELETE FROM notes WHERE code = 0');
  const decisions = (await channels.recorded('writer-1')).filter((e) => e.type === 'decision');
  t.match(decisions.at(-1), { action: 'deny', reason: /code is not numeric/ });
});

t.test('pins that cannot be checked bound nothing (fail closed)', async (t) => {
  const { unpinnedByTypes } = await import('../../src/gateway/mysql-pinned-columns.js');
  const noColumns = {
    dialect: 'mysql',
    query: async () => ({ command: 'SELECT 0' }),
  } as unknown as Parameters<typeof unpinnedByTypes>[0];
  t.match(await unpinnedByTypes(noColumns, 'DELETE FROM gone WHERE id = 1', 'gone'), /could not be found/);
  t.match(await unpinnedByTypes(noColumns, 'DELETE FROM', 'gone'), /could not be read again/);
  // Through the gateway, a table the catalog does not know (made since, or another database's).
  const { text } = await runs(t);
  const result = await text!('DELETE FROM no_such_table WHERE id = 1');
  t.equal(result.ok, false);
});
