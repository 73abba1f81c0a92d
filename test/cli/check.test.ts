import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCheck } from '../../src/cli/check.js';

const config = `
targets:
  orders: { engine: postgres, host: 127.0.0.1, port: 5432, database: orders, user: reader }
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: legacy, user: reporter }
policies:
  - name: agents
    when: { groups: [ai-agents], targets: [orders, legacy] }
    statements:
      default: deny
      allow: [read]
      review: [write]
      deny: [ddl, { effect: write, unbounded: true }]
  - name: everyone
    when: { groups: [ai-agents, staff] }
    statements: { default: allow }
`;

const dir = mkdtempSync(join(tmpdir(), 'sluice-check-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'sluice.yaml');
writeFileSync(file, config);

async function runWith(env: NodeJS.ProcessEnv, ...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCheck(argv, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    env,
  });
  return { code, stdout, stderr };
}

const run = (...argv: string[]) => runWith({}, ...argv);

const base = ['--config', file, '--groups', 'ai-agents'];

t.test('an allowed read exits 0 and names the rule and the statement', async (t) => {
  const r = await run(...base, '--target', 'orders', 'SELECT id FROM public.orders');
  t.equal(r.code, 0);
  t.match(r.stdout, /decision: allow/);
  t.match(r.stdout, /rule: +agents: allow read/);
  t.match(r.stdout, /effects: +read/);
  t.match(r.stdout, /objects: +public\.orders/);
  t.equal(r.stderr, '');
});

t.test('a denied statement exits 10 with the deciding rule', async (t) => {
  const r = await run(...base, '--target', 'orders', 'DROP TABLE orders');
  t.equal(r.code, 10);
  t.match(r.stdout, /decision: deny/);
  t.match(r.stdout, /agents: deny ddl/);
});

t.test('a statement under review exits 11', async (t) => {
  const r = await run(...base, '--target', 'orders', 'UPDATE orders SET a = 1 WHERE id = 2');
  t.equal(r.code, 11);
  t.match(r.stdout, /decision: review/);
});

t.test('an unbounded write is denied by the object rule', async (t) => {
  const r = await run(...base, '--target', 'orders', 'UPDATE orders SET a = 1');
  t.equal(r.code, 10);
  t.match(r.stdout, /deny \{effect: write, unbounded: true\}/);
  t.match(r.stdout, /unbounded: yes/);
});

t.test('--json prints one JSON object with every statement', async (t) => {
  const r = await run(...base, '--target', 'orders', '--json', 'SELECT 1; DELETE FROM orders WHERE id = 1');
  t.equal(r.code, 10);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  t.equal(out.decision, 'deny');
  t.equal(out.policy, 'agents');
  t.equal(out.dialect, 'postgres');
  t.equal(out.rule, 'agents: default deny');
  t.same(out.statements, [
    { text: 'SELECT 1', command: 'SELECT', effects: ['read'], objects: [], unbounded: false },
    {
      text: 'DELETE FROM orders WHERE id = 1',
      command: 'DELETE',
      effects: ['delete'],
      objects: ['orders'],
      unbounded: false,
    },
  ]);
});

t.test('the dialect comes from the target engine', async (t) => {
  const r = await run(...base, '--target', 'legacy', '--json', 'KILL 3');
  t.equal(r.code, 10);
  const out = JSON.parse(r.stdout) as { dialect: string; statements: { effects: string[] }[] };
  t.equal(out.dialect, 'mysql');
  t.same(out.statements[0]?.effects, ['admin']);
});

t.test('the first matching policy in file order decides', async (t) => {
  const agents = await run(
    '--config',
    file,
    '--groups',
    'staff,ai-agents',
    '--target',
    'orders',
    'DROP TABLE x',
  );
  t.equal(agents.code, 10, 'agents comes first and denies ddl');
  const staff = await run('--config', file, '--groups', 'staff', '--target', 'orders', 'DROP TABLE x');
  t.equal(staff.code, 0, 'staff only matches the second policy, which allows by default');
  t.match(staff.stdout, /policy: +everyone/);
});

t.test('groups no policy names are denied with a reason', async (t) => {
  const r = await run('--config', file, '--groups', 'nobody', '--target', 'orders', '--json', 'SELECT 1');
  t.equal(r.code, 10);
  const out = JSON.parse(r.stdout) as { reason: string; policy: unknown };
  t.equal(out.policy, null);
  t.match(out.reason, /no policy grants groups nobody access to orders/);
});

t.test('a statement that does not parse is denied with the parser message', async (t) => {
  const r = await run(...base, '--target', 'orders', 'SELEC 1');
  t.equal(r.code, 10);
  t.match(r.stdout, /syntax error at or near "SELEC"/);
});

t.test('usage errors exit 2 and name the bad argument', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--config', file, '--groups', 'g', 'SELECT 1'], /--target T is required/],
    [['--config', file, '--target', 'orders', 'SELECT 1'], /--groups/],
    [['--config', file, '--target', 'orders', '--groups', ' , ', 'SELECT 1'], /--groups/],
    [['--config', file, '--target', 'orders', '--groups', 'g'], /SQL to check is missing/],
    [['--config', file, '--target', 'orders', '--groups', 'g', 'SELECT', '1'], /"1" is extra/],
    [['--config', file, '--target', 'nope', '--groups', 'g', 'SELECT 1'], /--target "nope" is not a target/],
    [['--config', file, '--colour', 'x'], /colour/],
  ];
  for (const [argv, message] of cases) {
    const r = await run(...argv);
    t.equal(r.code, 2, argv.join(' '));
    t.match(r.stderr, message);
    t.equal(r.stdout, '');
  }
});

t.test('an unreadable or invalid configuration exits 1 naming the file', async (t) => {
  const missing = await run(
    '--config',
    join(dir, 'missing.yaml'),
    '--target',
    'orders',
    '--groups',
    'g',
    'SELECT 1',
  );
  t.equal(missing.code, 1);
  t.match(
    missing.stderr,
    /missing\.yaml: cannot read the configuration file\n {2}- the file cannot be read \(no such file\)/,
  );
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'targets: 3\n');
  const invalid = await run('--config', bad, '--target', 'orders', '--groups', 'g', 'SELECT 1');
  t.equal(invalid.code, 1);
  t.match(invalid.stderr, /targets/);
});

t.test('--help prints the usage and exits 0', async (t) => {
  const r = await run('--help');
  t.equal(r.code, 0);
  t.match(r.stdout, /Usage: sluice check \[--config FILE\] --target T --groups G1,G2 \[--json\] "SQL"/);
  t.match(r.stdout, /0 allow, 10 deny, 11 review/);
});

t.test('SQL beginning with a comment can follow --', async (t) => {
  const r = await run(...base, '--target', 'orders', '--', '-- why\nSELECT 1');
  t.equal(r.code, 0);
});

t.test('without --config, $SLUICE_CONFIG and then sluice.yaml are read', async (t) => {
  const viaEnv = await runWith(
    { SLUICE_CONFIG: file },
    '--target',
    'orders',
    '--groups',
    'ai-agents',
    'SELECT 1',
  );
  t.equal(viaEnv.code, 0, viaEnv.stderr);
  const neither = await runWith({}, '--target', 'orders', '--groups', 'g', 'SELECT 1');
  t.equal(neither.code, 1);
  t.match(neither.stderr, /sluice\.yaml: cannot read the configuration file/);
});
