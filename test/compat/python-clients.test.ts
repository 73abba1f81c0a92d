import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import { assembleGateway } from '../../src/cli/assemble.js';
import { parseConfigText } from '../../src/config/load.js';
import { startMysqlListener } from '../../src/gateway/mysql/index.js';
import { startPostgresListener } from '../../src/gateway/postgres/listener.js';
import { adminQuery, createScratchDatabase } from '../support/postgres.js';
import { KNOWN_GAPS, type FeatureResult, compatTable } from './matrix.js';

/**
 * Python clients (psycopg2, psycopg 3, PyMySQL, SQLAlchemy) run the same feature scripts
 * (test/compat/python) directly against PostgreSQL and MariaDB and through Sluice's listeners
 * under a dba policy that allows everything, with recording on. Every feature that passes
 * directly must pass through Sluice, unless KNOWN_GAPS says why it cannot. SQLAlchemy also
 * reflects the schema as an agent under a read-only policy with masking: the catalog queries
 * ORMs send on connect are allowed, and the rows it reads come back masked.
 *
 * The Debian packages python3-psycopg2, python3-psycopg, python3-pymysql and
 * python3-sqlalchemy provide the drivers (.ci/run installs them); a missing one fails the test.
 */
const PYTHON = '/usr/bin/python3';
const here = new URL('./python/', import.meta.url).pathname;

const { name: pgDb } = await createScratchDatabase(t, 'sluice_compat');
await adminQuery(
  `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, ssn text);
   INSERT INTO customers VALUES (1, 'Ada', '123-45-6789'), (2, 'Bob', '987-65-4321');
   CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers (id), total numeric(10,2));
   CREATE INDEX orders_by_customer ON orders (customer_id);
   CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;`,
  [],
  pgDb,
);
const myDb = `sluice_compat_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);

const dir = mkdtempSync(join(tmpdir(), 'sluice-compat-'));
const config = parseConfigText(
  `
server:
  postgres: { listen: 127.0.0.1:0 }
  mysql: { listen: 127.0.0.1:0 }
targets:
  shop: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${pgDb}, user: postgres, tls: disable }
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${myDb}, user: root, tls: disable }
policies:
  - name: dba
    when: { groups: [dba] }
    statements: { default: allow }
    limits: { maxRows: 100000, statementTimeout: 60s }
  - name: agents
    when: { groups: [ai-agents] }
    statements: { default: deny, allow: [read] }
    masking:
      - columns: [customers.ssn]
        strategy: redact
guard: { sideEffectFunctions: { postgres: { pg_sleep: [] } } }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  { baseDir: dir, env: {} },
);
const logger = pino({ level: 'silent' });
const parts = await assembleGateway(config, logger);
const pgListener = await startPostgresListener(parts, config, logger);
const myListener = await startMysqlListener(parts, config, logger);
t.teardown(async () => {
  await myListener.close();
  await pgListener.close();
  await parts.close();
  await admin.query(`DROP DATABASE IF EXISTS ${myDb}`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});
const dbaToken = await parts.authenticator.mint({ subject: 'dba-1', groups: ['dba'] });
const agentToken = await parts.authenticator.mint({ subject: 'agent-1', groups: ['ai-agents'] });

function runPython(args: string[], env: NodeJS.ProcessEnv): Promise<FeatureResult[]> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      args,
      { env: { PATH: process.env.PATH, ...env }, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const results = stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as FeatureResult);
        if (results.length === 0)
          reject(new Error(`${args[0]}: no results (${err?.message ?? ''}) ${stderr}`));
        else resolve(results);
      },
    );
  });
}

const pgDirect = {
  PGHOST: '127.0.0.1',
  PGPORT: '5432',
  PGUSER: 'postgres',
  PGDATABASE: pgDb,
  PGSSLMODE: 'disable',
};
const pgThrough = {
  PGHOST: '127.0.0.1',
  PGPORT: String(pgListener.address.port),
  PGUSER: 'dba-1',
  PGPASSWORD: dbaToken,
  PGDATABASE: 'shop',
  PGSSLMODE: 'require',
};
const myDirect = { MYSQL_HOST: '127.0.0.1', MYSQL_PORT: '3306', MYSQL_USER: 'root', MYSQL_DATABASE: myDb };
const myThrough = {
  MYSQL_HOST: '127.0.0.1',
  MYSQL_PORT: String(myListener.address.port),
  MYSQL_USER: 'dba-1',
  MYSQL_PASSWORD: dbaToken,
  MYSQL_DATABASE: 'legacy',
  MYSQL_TLS: '1',
};

const rows: { client: string; feature: string; direct: FeatureResult | undefined; through: FeatureResult }[] =
  [];

async function compare(t: Test, client: string, script: string[], direct: object, through: object) {
  const a = await runPython(script, { ...direct, COMPAT_PREFIX: 'direct' });
  const b = await runPython(script, { ...through, COMPAT_PREFIX: 'through' });
  for (const d of a) {
    const s = b.find((r) => r.feature === d.feature) ?? { feature: d.feature, ok: false, detail: 'not run' };
    rows.push({ client, feature: d.feature, direct: d, through: s });
    if (!d.ok) continue;
    const gap = KNOWN_GAPS[`${client}: ${d.feature}`];
    if (gap !== undefined) {
      t.notOk(s.ok, `${client}: ${d.feature} is listed as a gap (${gap}); it passes now: remove it`);
      continue;
    }
    t.ok(
      s.ok,
      `${client}: ${d.feature} passes directly and through Sluice${s.ok ? '' : ` (${String(s.detail)})`}`,
    );
  }
}

t.test('psycopg2 through the Postgres listener', async (t) => {
  await compare(t, 'psycopg2', [join(here, 'pg_features.py'), 'psycopg2'], pgDirect, pgThrough);
});

t.test('psycopg 3 through the Postgres listener', async (t) => {
  await compare(t, 'psycopg 3', [join(here, 'pg_features.py'), 'psycopg3'], pgDirect, pgThrough);
});

t.test('PyMySQL through the MySQL listener', async (t) => {
  await compare(t, 'PyMySQL', [join(here, 'mysql_features.py')], myDirect, myThrough);
});

t.test('SQLAlchemy reflects the schema as an agent, and reads masked rows', async (t) => {
  const script = join(here, 'sqlalchemy_reflect.py');
  const direct = await runPython(
    [script, `postgresql+psycopg2://postgres@127.0.0.1:5432/${pgDb}?sslmode=disable`],
    {},
  );
  const agent = await runPython(
    [
      script,
      `postgresql+psycopg2://agent-1:${encodeURIComponent(agentToken)}@127.0.0.1:${pgListener.address.port}/shop?sslmode=require`,
    ],
    {},
  );
  for (const d of direct) {
    const a = agent.find((r) => r.feature === d.feature) ?? {
      feature: d.feature,
      ok: false,
      detail: 'not run',
    };
    rows.push({ client: 'SQLAlchemy (agent)', feature: d.feature, direct: d, through: a });
    t.ok(d.ok, `directly: ${d.feature} (${JSON.stringify(d.detail)})`);
    t.ok(a.ok, `as an agent: ${d.feature} (${JSON.stringify(a.detail)})`);
    if (d.feature !== 'rows') t.same(a.detail, d.detail, `${d.feature}: the agent sees what the owner sees`);
  }
  t.same(
    agent.find((r) => r.feature === 'rows')?.detail,
    [
      [1, 'Ada', '****'],
      [2, 'Bob', '****'],
    ],
    'the masked column comes back masked',
  );
});

t.test('psycopg2 and psycopg 3 log in with SCRAM-SHA-256-PLUS (channel_binding=require)', async (t) => {
  // libpq refuses a cleartext password request here: only a SCRAM exchange bound to TLS logs in.
  const script = [
    '-c',
    [
      'import json, sys',
      'driver = sys.argv[1]',
      'db = __import__("psycopg2" if driver == "psycopg2" else "psycopg")',
      'conn = db.connect("channel_binding=require")',
      'cur = conn.cursor()',
      'cur.execute("SELECT name, ssn FROM customers ORDER BY id")',
      'print(json.dumps({"feature": "SCRAM-SHA-256-PLUS login", "ok": True, "detail": cur.fetchall()}))',
    ].join('\n'),
  ];
  for (const driver of ['psycopg2', 'psycopg3']) {
    const scram = {
      ...pgThrough,
      PGUSER: agentToken.slice(0, agentToken.lastIndexOf('.')),
      PGPASSWORD: agentToken,
    };
    const [through] = await runPython([...script, driver], scram);
    const cleartext = await runPython([...script, driver], {
      ...pgThrough,
      PGUSER: 'agent-1',
      PGPASSWORD: agentToken,
    }).catch((e: Error) => e.message);
    const client = driver === 'psycopg2' ? 'psycopg2' : 'psycopg 3';
    rows.push({
      client: `${client} (agent)`,
      feature: 'SCRAM-SHA-256-PLUS login (channel_binding=require)',
      // The direct server trusts loopback: it asks for no password at all.
      direct: undefined,
      through: through ?? { feature: 'SCRAM', ok: false, detail: 'no result' },
    });
    t.same(
      through?.detail,
      [
        ['Ada', '****'],
        ['Bob', '****'],
      ],
      `${client}: logged in as the agent, the masked column masked`,
    );
    t.match(
      cleartext,
      /channel binding required/,
      `${client}: a plain user name is asked for a cleartext password, which libpq refuses`,
    );
  }
});

t.test('the compatibility table', async (t) => {
  t.comment(`\n${compatTable(rows)}`);
  t.ok(rows.length > 30, `${rows.length} client x feature rows`);
});
