import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigFile, parseConfigText } from '../../src/config/load.js';
import { parseDuration } from '../../src/config/duration.js';

const minimal = `
targets:
  orders: { engine: postgres, host: 127.0.0.1, port: 5432, database: orders, user: reader, password: env:ORDERS_PW }
policies:
  - name: agents
    when: { groups: [ai-agents], targets: [orders] }
    statements: { default: deny, allow: [read], review: [write], deny: [ddl, { effect: write, unbounded: true }] }
    masking:
      - columns: [customers.email]
        strategy: email
`;

t.test('a valid file loads with defaults filled and secrets resolved', async (t) => {
  const config = parseConfigText(minimal, { env: { ORDERS_PW: 's3cret' } });
  const orders = config.targets.get('orders');
  t.equal(orders?.password?.reveal(), 's3cret');
  t.equal(orders?.tls, 'prefer');
  t.equal(config.policies[0]?.limits.maxRows, 1000);
  t.equal(config.policies[0]?.limits.statementTimeout, 30_000);
  t.equal(config.recording.onStoreFailure, 'refuse');
  t.equal(config.identity.gatewayTokens.ttl, 15 * 60_000);
});

t.test('a secret never prints its value', async (t) => {
  const config = parseConfigText(minimal, { env: { ORDERS_PW: 's3cret' } });
  const orders = config.targets.get('orders');
  t.notMatch(JSON.stringify(orders), /s3cret/);
  t.notMatch(String(orders?.password), /s3cret/);
  const { inspect } = await import('node:util');
  t.notMatch(inspect(orders, { depth: 5 }), /s3cret/);
});

t.test('every problem is listed by key path', async (t) => {
  const bad = `
targets:
  orders: { engine: oracle, host: 127.0.0.1, port: "x", database: orders, user: reader }
policies:
  - name: agents
    when: { groups: [a] }
    statements: { allow: [reed] }
recording: { retention: forever, colour: blue }
`;
  const err = t.throws(() => parseConfigText(bad)) as unknown as ConfigError;
  t.ok(err instanceof ConfigError);
  const text = err.problems.join('\n');
  t.match(text, /targets\.orders\.port: expected a number, got string/);
  t.match(text, /targets\.orders\.engine: expected one of "postgres", "mysql"/);
  t.match(text, /recording\.retention: expected a duration/);
  t.match(text, /recording\.colour: unknown key/);
  t.match(text, /policies\.0\.statements\.allow\.0/);
});

t.test('a missing secret names the variable or file', async (t) => {
  const err = t.throws(() => parseConfigText(minimal, { env: {} })) as unknown as ConfigError;
  t.match(err.problems.join('\n'), /targets\.orders\.password: environment variable ORDERS_PW is not set/);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-config-'));
  const file = join(dir, 'sluice.yaml');
  writeFileSync(file, minimal.replace('env:ORDERS_PW', 'file:missing-secret'));
  const err2 = t.throws(() => loadConfigFile(file)) as unknown as ConfigError;
  t.match(err2.problems.join('\n'), /secret file .*missing-secret cannot be read \(ENOENT\)/);
  writeFileSync(join(dir, 'pw'), 'from-file\n');
  writeFileSync(file, minimal.replace('env:ORDERS_PW', 'file:pw'));
  t.equal(loadConfigFile(file).targets.get('orders')?.password?.reveal(), 'from-file');
});

t.test('broken YAML and unknown policy targets are refused', async (t) => {
  const err = t.throws(() => parseConfigText('targets: [unclosed')) as unknown as ConfigError;
  t.match(err.problems[0], /line 1/);
  const err2 = t.throws(() =>
    parseConfigText(minimal.replace('targets: [orders]', 'targets: [nowhere]'), { env: { ORDERS_PW: 'x' } }),
  ) as unknown as ConfigError;
  t.match(err2.problems.join('\n'), /policies\.0\.when\.targets: unknown target "nowhere"/);
  t.throws(
    () => loadConfigFile('/nonexistent/sluice.yaml'),
    /cannot read the configuration file\n {2}- the file cannot be read \(no such file\)/,
  );
});

t.test('durations', async (t) => {
  t.equal(parseDuration('15m'), 900_000);
  t.equal(parseDuration('500ms'), 500);
  t.equal(parseDuration('1.5h'), 5_400_000);
  t.equal(parseDuration('soon'), undefined);
});
