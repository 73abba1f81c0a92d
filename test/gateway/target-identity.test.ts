/**
 * The caller's identity inside the target (#19): with `targets.X.identity`, each caller's
 * statements run as its own role (`setRole: "<prefix>_{sub}"`) with `sluice.sub`, `sluice.groups`
 * and `sluice.session` set, so the target's own row-level security and audit see who asks. On
 * the shared pool (MCP) the connection is set before each statement and cleared after; on the
 * Postgres listener they are startup settings of the session's connection. A caller cannot
 * change them, and a role name Postgres would truncate is refused.
 */
import t from 'tap';
import { parseConfigText } from '../../src/config/load.js';
import { readRows } from '../../src/gateway/row-estimates.js';
import { startChannels } from '../support/channels.js';
import { adminQuery, createScratchDatabase, randomSuffix } from '../support/postgres.js';

const prefix = `tid${randomSuffix()}`;
const roles = [`${prefix}_alice`, `${prefix}_bob`];
const { name: db } = await createScratchDatabase(t, 'sluice_tid');
for (const role of roles) await adminQuery(`CREATE ROLE ${role} NOLOGIN`);
t.teardown(async () => {
  for (const role of roles) {
    await adminQuery(`DROP OWNED BY ${role}`, [], db).catch(() => undefined);
    await adminQuery(`DROP ROLE IF EXISTS ${role}`);
  }
});
await adminQuery(
  `CREATE TABLE docs (id int PRIMARY KEY, owner text NOT NULL, body text, secret text);
   INSERT INTO docs VALUES (1, 'alice', 'a1', 's1'), (2, 'alice', 'a2', 's2'), (3, 'bob', 'b1', 's3');
   ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
   CREATE POLICY own_rows ON docs USING (owner = current_setting('sluice.sub', true));
   GRANT SELECT ON docs TO ${roles.join(', ')};`,
  [],
  db,
);

const channels = await startChannels(
  t,
  `
server:
  http: { listen: 127.0.0.1:0 }
  postgres: { listen: 127.0.0.1:0, allowPlaintextAuth: true }
targets:
  shop:
    engine: postgres
    host: 127.0.0.1
    port: 5432
    database: ${db}
    user: postgres
    tls: disable
    identity: { settings: true, setRole: "${prefix}_{sub}" }
policies:
  - name: agents
    when: { groups: [agents] }
    statements: { default: deny, allow: [read] }
    masking:
      - { columns: [docs.secret], strategy: redact }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  'sluice-tid-',
);
const { parts } = channels;
const mcp = async (subject: string, t: { teardown(fn: () => unknown): void }) => {
  const query = await channels.mcp(subject, ['agents'], t);
  return (sql: string) => query(sql, 'shop');
};

/** What the shared pool's connections are set to when the gateway itself uses them. */
async function poolIdentity(): Promise<Record<string, unknown>[]> {
  return readRows(
    parts.gateway.engineFor('shop'),
    "SELECT current_user AS role, coalesce(current_setting('sluice.sub', true), '') AS sub",
  );
}

t.test('MCP: each caller runs as its role with its settings; the pool is cleared after', async (t) => {
  const alice = await mcp('alice', t);
  const bob = await mcp('bob', t);
  const who = await alice(
    "SELECT current_user, current_setting('sluice.sub') AS sub, current_setting('sluice.groups') AS groups, length(current_setting('sluice.session')) AS session",
  );
  t.same(who.rows, [[`${prefix}_alice`, 'alice', 'agents', 36]]);
  const mine = await alice('SELECT id, owner, secret FROM docs ORDER BY id');
  t.same(
    mine.rows,
    [
      [1, 'alice', '****'],
      [2, 'alice', '****'],
    ],
    "the target's RLS sees alice; masking still applies",
  );
  // Interleaved on the same shared pool.
  const theirs = await bob('SELECT id, owner FROM docs ORDER BY id');
  t.same(theirs.rows, [[3, 'bob']]);
  const again = await alice('SELECT count(*) FROM docs');
  t.same(again.rows, [[2]]);
  t.same(await poolIdentity(), [{ role: 'postgres', sub: '' }], 'no caller is left on the connection');
});

t.test('MCP: a caller cannot change its identity at the target', async (t) => {
  const alice = await mcp('alice', t);
  for (const sql of [
    'SET ROLE postgres',
    'RESET ROLE',
    "SET sluice.sub = 'bob'",
    "SELECT set_config('sluice.sub', 'bob', false)",
    "SELECT set_config('role', 'postgres', false)",
    'RESET ALL',
    'DISCARD ALL',
    "SELECT id FROM docs WHERE set_config('sluice.sub', 'bob', true) IS NOT NULL",
  ]) {
    const result = await alice(sql);
    t.equal(result.isError, true, sql);
    t.match(result.text, /denied/, sql);
  }
  const still = await alice("SELECT current_user, current_setting('sluice.sub')");
  t.same(still.rows, [[`${prefix}_alice`, 'alice']]);
});

t.test('the Postgres listener: startup settings of the session connection', async (t) => {
  const client = await channels.psql('alice', ['agents'], 'shop', t);
  const { rows: who } = await client.query<{ current_user: string; sub: string }>(
    "SELECT current_user, current_setting('sluice.sub') AS sub",
  );
  t.same(who, [{ current_user: `${prefix}_alice`, sub: 'alice' }]);
  const { rows } = await client.query('SELECT id, owner FROM docs ORDER BY id');
  t.same(rows, [
    { id: 1, owner: 'alice' },
    { id: 2, owner: 'alice' },
  ]);
  const extended = await client.query({ text: 'SELECT id FROM docs WHERE id > $1 ORDER BY id', values: [0] });
  t.same(extended.rows, [{ id: 1 }, { id: 2 }], 'extended protocol too');
  await t.rejects(client.query('SET ROLE postgres'), { code: '42501' });
  await t.rejects(client.query("SELECT set_config('sluice.sub', 'bob', false)"), { code: '42501' });
  await t.rejects(client.query('RESET ALL'), { code: '42501' });
  const { rows: after } = await client.query("SELECT current_setting('sluice.sub') AS sub");
  t.same(after, [{ sub: 'alice' }]);

  // A caller sending the settings itself at startup is refused: they are `session` settings.
  await t.rejects(channels.psql('bob', ['agents'], 'shop', t, { options: '-c sluice.sub=alice' }), {
    code: '42501',
  });
});

t.test('a role name Postgres would truncate, or one that does not exist, is refused', async (t) => {
  const long = 'x'.repeat(70);
  const call = await mcp(long, t);
  const result = await call('SELECT 1');
  t.equal(result.isError, true);
  t.match(result.text, /longer than 63 bytes/);
  await t.rejects(channels.psql(long, ['agents'], 'shop', t), {
    code: '42501',
    message: /longer than 63 bytes/,
  });

  // A subject with quotes reaches the target only as a parameter: no such role, nothing runs.
  const odd = await mcp('o\'brien"; DROP TABLE docs; --', t);
  const refused = await odd('SELECT 1');
  t.equal(refused.isError, true);
  t.match(refused.text, /role .* does not exist/);
  const { rows } = await adminQuery('SELECT count(*)::int AS n FROM docs', [], db);
  t.same(rows, [{ n: 3 }]);
  t.same(await poolIdentity(), [{ role: 'postgres', sub: '' }]);
});

t.test('identity on a MySQL target loads (test/gateway/mysql-target-identity.test.ts)', async (t) => {
  const config = parseConfigText(
    `
targets:
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: x, user: root, identity: { settings: true, setRole: "agent_{sub}" } }
`,
    { baseDir: channels.dir, env: {} },
  );
  t.same(config.targets.get('legacy')?.identity, { settings: true, setRole: 'agent_{sub}' });
});
