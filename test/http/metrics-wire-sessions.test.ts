import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
// @ts-expect-error the parser ships no type declarations
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import pg from 'pg';
import { pino } from 'pino';
import { assembleGateway } from '../../src/cli/assemble.js';
import { startListeners } from '../../src/cli/listeners.js';
import { parseConfigText } from '../../src/config/load.js';
import { GatewayMetrics, renderSummed } from '../../src/gateway/metrics.js';
import { HttpServer } from '../../src/http/server.js';

interface Family {
  name: string;
  metrics: { labels?: Record<string, string>; value?: string }[];
}
const parse = parsePrometheusTextFormat as (text: string) => Family[];

const dir = mkdtempSync(join(tmpdir(), 'sluice-metrics-wire-'));
const config = parseConfigText(
  `
server:
  postgres: { listen: 127.0.0.1:0 }
  mysql: { listen: 127.0.0.1:0 }
targets:
  pgdb: { engine: postgres, host: 127.0.0.1, port: 5432, database: postgres, user: postgres, tls: disable }
  mydb: { engine: mysql, host: 127.0.0.1, port: 3306, database: mysql, user: root, tls: disable }
policies:
  - name: agents
    when: { groups: [agents] }
    statements: { default: deny, allow: [read] }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  { baseDir: dir, env: {} },
);
const logger = pino({ level: 'silent' });
const parts = await assembleGateway(config, logger);
const listeners = await startListeners(parts, config, logger);
const http = new HttpServer({
  gateway: parts.gateway,
  authenticator: parts.authenticator,
  recorder: parts.recorder,
  logger,
});
await http.listen('127.0.0.1', 0);
t.teardown(async () => {
  await http.close();
  await listeners.close();
  await parts.close();
  rmSync(dir, { recursive: true, force: true });
});
const token = await parts.authenticator.mint({ subject: 'agent', groups: ['agents'] });

/** `sluice_open_sessions` by channel, as /metrics says. */
async function openSessions(): Promise<Record<string, number>> {
  const res = await fetch(`${http.baseUrl}/metrics`);
  const family = parse(await res.text()).find((f) => f.name === 'sluice_open_sessions');
  const out: Record<string, number> = {};
  for (const m of family?.metrics ?? []) out[m.labels?.channel ?? ''] = Number(m.value);
  return out;
}

/** The gauge once it reads `expected` (a closed connection's session ends a moment after the client left). */
async function openSessionsReach(expected: Record<string, number>): Promise<Record<string, number>> {
  let seen = await openSessions();
  for (let i = 0; i < 50; i++) {
    if (Object.entries(expected).every(([channel, n]) => seen[channel] === n)) return seen;
    await new Promise((resolve) => setTimeout(resolve, 50));
    seen = await openSessions();
  }
  return seen;
}

t.test(
  'sluice_open_sessions counts psql-protocol and mysql connections by channel, and drops when they close',
  async (t) => {
    t.same(
      await openSessions(),
      { 'mcp-stdio': 0, 'mcp-http': 0, postgres: 0, mysql: 0, cli: 0 },
      'every channel has a series, at zero before anyone connects',
    );

    const pgClient = new pg.Client({
      host: '127.0.0.1',
      port: listeners.postgres?.port,
      user: 'agent',
      database: 'pgdb',
      password: token,
      ssl: { rejectUnauthorized: false },
    });
    await pgClient.connect();
    const myClient = await mysql.createConnection({
      host: '127.0.0.1',
      port: listeners.mysql?.port,
      user: 'agent',
      password: token,
      database: 'mydb',
      ssl: { rejectUnauthorized: false },
      enableCleartextPlugin: true,
    });
    t.equal((await pgClient.query('SELECT 1 AS one')).rows[0]?.one, 1);
    t.same((await myClient.query('SELECT 1 AS one'))[0], [{ one: 1 }]);

    t.match(await openSessions(), { postgres: 1, mysql: 1, 'mcp-http': 0 }, 'one open session on each wire');

    const second = new pg.Client({
      host: '127.0.0.1',
      port: listeners.postgres?.port,
      user: 'agent',
      database: 'pgdb',
      password: token,
      ssl: { rejectUnauthorized: false },
    });
    await second.connect();
    t.match(await openSessions(), { postgres: 2, mysql: 1 }, 'a second psql-protocol connection counts');

    await pgClient.end();
    t.match(await openSessionsReach({ postgres: 1 }), { postgres: 1, mysql: 1 });
    await myClient.end();
    await second.end();
    t.same(
      await openSessionsReach({ postgres: 0, mysql: 0 }),
      { 'mcp-stdio': 0, 'mcp-http': 0, postgres: 0, mysql: 0, cli: 0 },
      'back to zero once both clients left',
    );
    t.equal(parts.gateway.openSessions, 0);
  },
);

t.test('with several workers the open sessions of each channel are summed', async (t) => {
  const worker = (counts: Partial<Record<string, number>>) =>
    new GatewayMetrics({ openSessions: (channel) => counts[channel] ?? 0, recorder: () => undefined });
  const summed = await renderSummed([
    await worker({ postgres: 2, mysql: 1 }).snapshot(),
    await worker({ postgres: 3, 'mcp-http': 1 }).snapshot(),
  ]);
  const family = parse(summed.text).find((f) => f.name === 'sluice_open_sessions');
  const by = Object.fromEntries((family?.metrics ?? []).map((m) => [m.labels?.channel, Number(m.value)]));
  t.same(by, { 'mcp-stdio': 0, 'mcp-http': 1, postgres: 5, mysql: 1, cli: 0 });
});
