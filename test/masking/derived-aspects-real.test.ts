import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { pino } from 'pino';
import { assembleGateway } from '../../src/cli/assemble.js';
import { parseConfigText } from '../../src/config/load.js';
import { startMysqlListener } from '../../src/gateway/mysql/index.js';
import { startPostgresListener } from '../../src/gateway/postgres/listener.js';
import { adminQuery, createScratchDatabase } from '../support/postgres.js';

/**
 * `derived: [length]` on a rule, against PostgreSQL (psql's simple and extended protocol) and
 * MariaDB (text and prepared): the length and nullness of the masked column come back as the
 * database computed them, the column itself and every other derivation stay masked.
 */
const { name: pgDb } = await createScratchDatabase(t, 'sluice_aspects');
await adminQuery(
  `CREATE TABLE customers (id int PRIMARY KEY, ssn text);
   INSERT INTO customers VALUES (1, '123-45-6789'), (2, NULL);`,
  [],
  pgDb,
);
const myDb = `sluice_aspects_${randomBytes(5).toString('hex')}`;
const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
await admin.query(`CREATE DATABASE ${myDb}`);
await admin.query(`CREATE TABLE ${myDb}.customers (id INT PRIMARY KEY, ssn VARCHAR(20))`);
await admin.query(`INSERT INTO ${myDb}.customers VALUES (1, '123-45-6789'), (2, NULL)`);

const dir = mkdtempSync(join(tmpdir(), 'sluice-aspects-'));
const config = parseConfigText(
  `
server:
  postgres: { listen: 127.0.0.1:0, allowPlaintextAuth: true }
  mysql: { listen: 127.0.0.1:0 }
targets:
  shop: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${pgDb}, user: postgres, tls: disable }
  legacy: { engine: mysql, host: 127.0.0.1, port: 3306, database: ${myDb}, user: root, tls: disable }
policies:
  - name: agents
    when: { groups: [ai-agents] }
    statements: { default: deny, allow: [read] }
    masking:
      - columns: [customers.ssn]
        strategy: redact
        derived: [length]
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
const token = await parts.authenticator.mint({ subject: 'agent-1', groups: ['ai-agents'] });

const SQL =
  'SELECT id, length(ssn) AS n, ssn IS NULL AS missing, ssn, upper(ssn) AS up FROM customers ORDER BY id';

t.test('Postgres listener, simple and extended protocol', async (t) => {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: pgListener.address.port,
    user: 'agent-1',
    password: token,
    database: 'shop',
  });
  await client.connect();
  t.teardown(() => client.end());
  for (const query of [SQL, { text: SQL, values: [] }]) {
    const { rows } = await client.query(query);
    t.same(
      rows,
      [
        { id: 1, n: 11, missing: false, ssn: '****', up: '****' },
        { id: 2, n: null, missing: true, ssn: null, up: null },
      ],
      typeof query === 'string' ? 'simple' : 'extended',
    );
  }
});

t.test('MySQL listener, text and prepared', async (t) => {
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: myListener.address.port,
    user: 'agent-1',
    password: token,
    database: 'legacy',
    ssl: { rejectUnauthorized: false },
    enableCleartextPlugin: true,
  });
  t.teardown(() => conn.end());
  for (const prepared of [false, true]) {
    const [rows] = await (prepared ? conn.execute(SQL) : conn.query(SQL));
    t.same(
      rows,
      [
        { id: 1, n: 11, missing: 0, ssn: '****', up: '****' },
        { id: 2, n: null, missing: 1, ssn: null, up: null },
      ],
      prepared ? 'prepared' : 'text',
    );
  }
  const [one] = await conn.execute('SELECT 1 AS one');
  t.same(one, [{ one: 1 }], 'a prepared SELECT 1 is not masked');
});
