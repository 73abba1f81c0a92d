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
 * pgJDBC and MariaDB Connector/J (Debian libpostgresql-jdbc-java, libmariadb-java) run one Java
 * program (test/compat/java/JdbcFeatures.java, compiled here with javac) directly and through
 * Sluice's listeners over TLS: as a dba under a policy that allows everything, every feature that
 * passes directly must pass through Sluice (or KNOWN_GAPS says why not); as an agent under the
 * usual read-only policy, the metadata calls BI tools make on connect, transactions and a
 * prepared statement reused past pgJDBC's server-side threshold all work, and the masked column
 * comes back masked. A missing JDK or driver fails the test (.ci/run installs them).
 */
const here = new URL('./java/', import.meta.url).pathname;
const CLASSPATH_JARS = ['/usr/share/java/postgresql.jar', '/usr/share/java/mariadb-java-client.jar'];

const { name: pgDb } = await createScratchDatabase(t, 'sluice_jdbc');
await adminQuery(
  `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, ssn text);
   INSERT INTO customers VALUES (1, 'Ada', '123-45-6789'), (2, 'Bob', '987-65-4321');`,
  [],
  pgDb,
);
const myDb = `sluice_jdbc_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);
await admin.query(
  `CREATE TABLE ${myDb}.customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, ssn VARCHAR(20))`,
);
await admin.query(
  `INSERT INTO ${myDb}.customers VALUES (1, 'Ada', '123-45-6789'), (2, 'Bob', '987-65-4321')`,
);

const dir = mkdtempSync(join(tmpdir(), 'sluice-jdbc-'));
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
    masking:
      - columns: [customers.ssn]
        strategy: redact
  - name: agents
    when: { groups: [ai-agents] }
    statements: { default: deny, allow: [read] }
    masking:
      - columns: [customers.ssn]
        strategy: redact
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

const classes = join(dir, 'classes');
await new Promise<void>((resolve, reject) =>
  execFile('javac', ['-d', classes, join(here, 'JdbcFeatures.java')], (err, _out, stderr) =>
    err ? reject(new Error(`javac: ${stderr || err.message}`)) : resolve(),
  ),
);

function runJava(args: string[]): Promise<FeatureResult[]> {
  return new Promise((resolve, reject) => {
    execFile(
      'java',
      ['-cp', [classes, ...CLASSPATH_JARS].join(':'), 'JdbcFeatures', ...args],
      { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const results = stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as FeatureResult);
        if (results.length === 0)
          reject(new Error(`java ${args[0]}: no results (${err?.message ?? ''}) ${stderr}`));
        else resolve(results);
      },
    );
  });
}

const pgPort = pgListener.address.port;
const myPort = myListener.address.port;
const clients = {
  pgJDBC: {
    kind: 'pg',
    direct: [`jdbc:postgresql://127.0.0.1:5432/${pgDb}?sslmode=disable`, 'postgres', ''],
    through: (user: string, token: string) => [
      `jdbc:postgresql://127.0.0.1:${pgPort}/shop?sslmode=require`,
      user,
      token,
    ],
  },
  'MariaDB Connector/J': {
    kind: 'mariadb',
    direct: [`jdbc:mariadb://127.0.0.1:3306/${myDb}`, 'root', ''],
    through: (user: string, token: string) => [
      `jdbc:mariadb://127.0.0.1:${myPort}/legacy?useSsl=true&trustServerCertificate=true`,
      user,
      token,
    ],
  },
} as const;

const rows: { client: string; feature: string; direct: FeatureResult; through: FeatureResult }[] = [];

async function compare(t: Test, client: keyof typeof clients): Promise<void> {
  const c = clients[client];
  const direct = await runJava([c.kind, ...c.direct, 'direct']);
  const through = await runJava([c.kind, ...c.through('dba-1', dbaToken), 'through']);
  for (const d of direct) {
    const s = through.find((r) => r.feature === d.feature) ?? {
      feature: d.feature,
      ok: false,
      detail: 'not run',
    };
    rows.push({ client, feature: d.feature, direct: d, through: s });
    t.ok(d.ok, `directly: ${client}: ${d.feature} (${String(d.detail)})`);
    const gap = KNOWN_GAPS[`${client}: ${d.feature}`];
    if (gap !== undefined) {
      t.notOk(s.ok, `${client}: ${d.feature} is listed as a gap (${gap}); it passes now: remove it`);
      continue;
    }
    t.ok(s.ok, `${client}: ${d.feature} passes through Sluice (${String(s.detail)})`);
    if (d.feature.startsWith('metadata')) t.same(s.detail, d.detail, `${client}: ${d.feature} says the same`);
  }
}

async function asAgent(t: Test, client: keyof typeof clients): Promise<void> {
  const c = clients[client];
  const results = await runJava([c.kind, ...c.through('agent-1', agentToken), 'agent']);
  for (const r of results) {
    rows.push({ client: `${client} (agent)`, feature: r.feature, direct: { ...r, ok: true }, through: r });
    t.ok(r.ok, `as an agent: ${client}: ${r.feature} (${String(r.detail)})`);
  }
  t.equal(
    results.find((r) => r.feature === 'masked column read')?.detail,
    '[1/Ada/****, 2/Bob/****]',
    'the masked column comes back masked',
  );
  t.match(results.find((r) => r.feature === 'metadata: getColumns')?.detail, /id:0, name:0, ssn:1/);
}

t.test('pgJDBC through the Postgres listener', async (t) => {
  await compare(t, 'pgJDBC');
  await asAgent(t, 'pgJDBC');
});

t.test('MariaDB Connector/J through the MySQL listener', async (t) => {
  await compare(t, 'MariaDB Connector/J');
  await asAgent(t, 'MariaDB Connector/J');
});

t.test('the JDBC compatibility table', async (t) => {
  t.comment(`\n${compatTable(rows)}`);
  t.ok(rows.length > 20, `${rows.length} client x feature rows`);
});
