/**
 * Startup parameters are the SETs they stand for (#25 item 4): decided by the policy, applied on
 * the target connection when allowed, and the startup refused, naming the parameter, when not.
 */
import t from 'tap';
import { startHarness } from './postgres-listener-harness.js';

const h = await startHarness(t, {
  policy: `
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
    statements:
      default: deny
      allow: [read]
    session: { allow: [statement_timeout, search_path, idle_in_transaction_session_timeout] }
    masking:
      - columns: [customers.ssn]
        strategy: redact
`,
});

const showSettings = [
  '-A',
  '-t',
  '-c',
  "SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout'), current_setting('application_name')",
];

t.test('settings the policy allows, given as -c options, reach the target', async (t) => {
  const out = await h.psql(showSettings, {
    PGOPTIONS: '-c statement_timeout=4321 -c idle_in_transaction_session_timeout=9000',
  });
  t.equal(out.code, 0, out.stderr);
  t.equal(out.stdout.trim(), '4321ms|9s|psql');
  // The policy allows search_path, but it masks columns: masking reads names by the catalog's
  // search path, so a session may not change it (test/gateway/postgres-search-path.test.ts).
  const path = await h.psql(showSettings, { PGOPTIONS: '-c search_path=public,pg_catalog' });
  t.not(path.code, 0);
  t.match(path.stderr, /startup parameter "search_path" is refused: .*search path/);
});

t.test('--name=value options and settings given as their own startup parameters', async (t) => {
  const options = await h.psql(showSettings, { PGOPTIONS: '--statement-timeout=777' });
  t.equal(options.stdout.trim().split('|')[0], '777ms', options.stderr);
  const client = await h.client({ statement_timeout: 2500, application_name: 'reporter' });
  t.teardown(() => client.end());
  const row = (
    await client.query(
      "SELECT current_setting('statement_timeout') AS timeout, current_setting('application_name') AS app",
    )
  ).rows[0];
  t.same(row, { timeout: '2500ms', app: 'reporter' });
});

t.test('a setting the policy does not allow refuses the startup, naming it', async (t) => {
  const out = await h.psql(['-c', 'SELECT 1'], { PGOPTIONS: '-c work_mem=1GB' });
  t.not(out.code, 0);
  t.match(
    out.stderr,
    /startup parameter "work_mem" is denied: as SET work_mem it has effect session, denied by agents: default deny/,
  );
  const role = await h.psql(['-c', 'SELECT 1'], { PGOPTIONS: '-c role=postgres' });
  t.match(role.stderr, /startup parameter "role" is denied/);
  const client = h.client({ options: '-c session_authorization=postgres' });
  await t.rejects(client, { code: '42501', message: /startup parameter "session_authorization" is denied/ });
  // The same setting as a SET is refused alike, and allowed ones are allowed as SETs too.
  const set = await h.psql(['-c', 'SET work_mem = 1024']);
  t.match(set.stderr, /denied/);
  const allowed = await h.psql([
    '-A',
    '-t',
    '-c',
    'SET statement_timeout = 900',
    '-c',
    'SHOW statement_timeout',
  ]);
  t.equal(allowed.stdout.trim().split('\n').at(-1), '900ms', allowed.stderr);
});

t.test('backend switches other than -c, and replication connections, are refused', async (t) => {
  const debug = await h.psql(['-c', 'SELECT 1'], { PGOPTIONS: '-d 5' });
  t.match(debug.stderr, /startup option "-d" is not available through Sluice/);
  const replication = await h.psql(['-d', 'dbname=shop replication=database', '-c', 'IDENTIFY_SYSTEM']);
  t.match(replication.stderr, /replication connections are not available through Sluice/);
});

t.test('a startup setting lives only as long as its session', async (t) => {
  await h.psql(['-c', 'SELECT 1'], { PGOPTIONS: '-c statement_timeout=1111' });
  const next = await h.psql(['-A', '-t', '-c', 'SHOW statement_timeout']);
  t.equal(next.stdout.trim(), '0', 'the next session has the target default');
});
