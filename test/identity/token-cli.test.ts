import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runToken, TOKEN_HELP } from '../../src/cli/token.js';
import { loadConfigFile } from '../../src/config/load.js';
import { createAuthenticator } from '../../src/identity/authenticator.js';
import { captureLogger, tempDir } from './fixtures/index.js';

const CONFIG = `
targets:
  orders: { engine: postgres, host: 127.0.0.1, port: 5432, database: orders, user: reader }
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: legacy, user: reporter }
policies:
  - name: agents
    when: { groups: [ai-agents], targets: [orders] }
identity:
  gatewayTokens: { ttl: 20m }
`;

function configFile(text = CONFIG): string {
  const path = join(tempDir(), 'sluice.yaml');
  writeFileSync(path, text);
  return path;
}

async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runToken(argv, {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    env: {},
  });
  return { code, stdout, stderr };
}

t.test('a minted token is printed alone and accepted by a gateway with the same config', async (t) => {
  const path = configFile();
  const before = Date.now();
  const out = await run([
    '--config',
    path,
    '--sub',
    'ana',
    '--groups',
    'ai-agents, dba',
    '--target',
    'orders',
  ]);
  t.equal(out.code, 0, out.stderr);
  t.match(out.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, 'stdout is the token and a newline');
  t.equal(out.stderr, '', 'nothing else is said on a normal run');
  const serve = await createAuthenticator(loadConfigFile(path, {}), { logger: captureLogger().logger });
  const identity = await serve.authenticate(out.stdout.trim(), { channel: 'test' });
  t.match(identity, { subject: 'ana', groups: ['ai-agents', 'dba'], target: 'orders', via: 'gateway' });
  t.ok(
    (identity.expiresAt ?? 0) <= Date.now() + 20 * 60_000 &&
      (identity.expiresAt ?? 0) >= before + 19 * 60_000,
  );
  const short = await run(['--config', path, '--sub', 'ana', '--groups', 'ai-agents', '--ttl', '90s']);
  const shortIdentity = await serve.authenticate(short.stdout.trim(), { channel: 'test' });
  t.ok((shortIdentity.expiresAt ?? Infinity) <= Date.now() + 90_000, '--ttl shortens the lifetime');
});

t.test('--help prints the usage and exits 0', async (t) => {
  const out = await run(['--help']);
  t.same(out, { code: 0, stdout: TOKEN_HELP, stderr: '' });
});

t.test('usage errors name the bad argument and exit 2', async (t) => {
  const path = configFile();
  const cases: [string[], RegExp][] = [
    [['--config', path, '--groups', 'g'], /--sub is required/],
    [['--config', path, '--sub', 'ana'], /--groups is required/],
    [['--config', path, '--sub', 'ana', '--groups', 'a,,b'], /--groups: a group name is empty/],
    [
      ['--config', path, '--sub', 'ana', '--groups', 'ai-agents', '--ttl', 'soon'],
      /--ttl: expected a duration/,
    ],
    [
      ['--config', path, '--sub', 'ana', '--groups', 'ai-agents', '--ttl', '1h'],
      /--ttl: 1h is longer than .*\(20m\)/,
    ],
    [['--config', path, '--sub', 'ana', '--groups', 'ai-agents', '--colour', 'red'], /--colour/],
    [['--config', path, '--sub', 'ana', '--groups', 'ai-agents', 'extra'], /extra/],
    [
      ['--config', path, '--sub', 'ana', '--groups', 'ai-agents', '--target', 'nowhere'],
      /--target: unknown target "nowhere" \(configured: orders, legacy\)/,
    ],
    [
      ['--config', path, '--sub', 'ana', '--groups', 'ai-agents', '--target', 'legacy'],
      /--target: no policy gives groups ai-agents access to "legacy"/,
    ],
    [
      ['--config', path, '--sub', 'ana', '--groups', 'nobody'],
      /--groups: no policy gives groups nobody access/,
    ],
    [['--config', path, '--sub', 'a\tb', '--groups', 'ai-agents'], /subject: must be a non-empty string/],
  ];
  for (const [argv, message] of cases) {
    const out = await run(argv);
    t.equal(out.code, 2, `exit 2 for ${argv.join(' ')}`);
    t.match(out.stderr, message);
    t.equal(out.stdout, '', 'no token is printed');
  }
});

t.test('an unusable configuration exits 1 naming the file or key', async (t) => {
  const missing = await run(['--config', '/nonexistent/sluice.yaml', '--sub', 'a', '--groups', 'g']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /\/nonexistent\/sluice\.yaml: cannot read the configuration file/);
  const badKey = configFile(CONFIG.replace('{ ttl: 20m }', '{ ttl: 20m, signingKey: not-a-key }'));
  const out = await run(['--config', badKey, '--sub', 'ana', '--groups', 'ai-agents']);
  t.equal(out.code, 1);
  t.match(out.stderr, /identity\.gatewayTokens\.signingKey: not a PEM private key/);
  t.notMatch(out.stderr, /not-a-key/, 'the key material is not echoed');
});
