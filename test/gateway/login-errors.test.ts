import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import { assembleGateway } from '../../src/cli/assemble.js';
import { parseConfigText } from '../../src/config/load.js';
import { startMysqlListener } from '../../src/gateway/mysql/index.js';
import { startPostgresListener } from '../../src/gateway/postgres/listener.js';
import { createServer } from 'node:net';

/**
 * A refused login tells the client why, as far as it is safe to: the token is malformed, has
 * expired, or is signed by a key this gateway does not know; the target cannot be reached (and
 * how), without its address or credentials. psql and mysql2 as the clients.
 */
/** A loopback port nothing listens on (taken, then released). */
const closedPort = await new Promise<number>((resolve) => {
  const server = createServer();
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    server.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
  });
});

async function gateway(t: Tap, stateDir: string) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-login-'));
  const config = parseConfigText(
    `
server:
  postgres: { listen: 127.0.0.1:0, allowPlaintextAuth: true }
  mysql: { listen: 127.0.0.1:0, allowPlaintextAuth: true }
targets:
  shop: { engine: postgres, host: 127.0.0.1, port: 5432, database: postgres, user: postgres, tls: disable }
  gone: { engine: postgres, host: 127.0.0.1, port: ${closedPort}, database: x, user: secret_user, password: "hunter2-secret", tls: disable }
policies:
  - name: agents
    when: { groups: [ai-agents] }
    statements: { default: deny, allow: [read] }
recording: { store: file, file: { dir: recordings } }
state: { dir: ${stateDir} }
`,
    { baseDir: dir, env: {} },
  );
  const logger = pino({ level: 'silent' });
  const parts = await assembleGateway(config, logger);
  const pg = await startPostgresListener(parts, config, logger);
  const my = await startMysqlListener(parts, config, logger);
  t.teardown(async () => {
    await my.close();
    await pg.close();
    await parts.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { parts, pgPort: pg.address.port, myPort: my.address.port };
}

type Tap = { teardown(fn: () => unknown): void };

const stateA = mkdtempSync(join(tmpdir(), 'sluice-login-state-a-'));
const stateB = mkdtempSync(join(tmpdir(), 'sluice-login-state-b-'));
t.teardown(() => {
  rmSync(stateA, { recursive: true, force: true });
  rmSync(stateB, { recursive: true, force: true });
});
const g = await gateway(t, stateA);
const other = await gateway(t, stateB);

function psql(password: string, database = 'shop'): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      'psql',
      ['-X', '-h', '127.0.0.1', '-p', String(g.pgPort), '-U', 'agent-1', '-d', database, '-c', 'SELECT 1'],
      { env: { ...process.env, PGPASSWORD: password, PGSSLMODE: 'disable' }, timeout: 20_000 },
      (_err, stdout, stderr) => resolve(`${stdout}${stderr}`),
    );
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('psql: a malformed, an expired and a foreign token each say so', async (t) => {
  t.match(
    await psql('not-a-token'),
    /password authentication failed for user "agent-1": the token is malformed/,
  );
  const foreign = await other.parts.authenticator.mint({ subject: 'agent-1', groups: ['ai-agents'] });
  t.match(
    await psql(foreign),
    /password authentication failed for user "agent-1": (the token is signed by a key this gateway does not know|invalid token)/,
  );
  const short = await g.parts.authenticator.mint({ subject: 'agent-1', groups: ['ai-agents'], ttlMs: 1_000 });
  await sleep(2_200);
  t.match(await psql(short), /password authentication failed for user "agent-1": the token has expired/);
  const good = await g.parts.authenticator.mint({ subject: 'agent-1', groups: ['ai-agents'] });
  t.match(await psql(good), /\(1 row\)/, 'a good token still works');
});

t.test('psql: an unreachable target says how, and nothing of its address or credentials', async (t) => {
  const token = await g.parts.authenticator.mint({ subject: 'agent-1', groups: ['ai-agents'] });
  const out = await psql(token, 'gone');
  t.match(out, /database "gone" is not available now: the database server refused the connection/);
  t.notMatch(out, new RegExp(`${closedPort}|secret_user|hunter2`), 'no port, user or password');
});

t.test('MySQL listener: a malformed token says so', async (t) => {
  const err = await mysql
    .createConnection({
      host: '127.0.0.1',
      port: g.myPort,
      user: 'agent-1',
      password: 'not-a-token',
      database: 'shop',
      enableCleartextPlugin: true,
    })
    .then(
      (c) => c.end().then(() => undefined),
      (e: Error) => e,
    );
  t.match(String(err?.message), /Access denied for user 'agent-1' \(the token is malformed\)/);
});
