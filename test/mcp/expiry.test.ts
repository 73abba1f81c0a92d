import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { assembleGateway } from '../../src/cli/assemble.js';
import { parseConfigText } from '../../src/config/load.js';
import { McpToolSession } from '../../src/mcp/tools.js';

const config = parseConfigText(
  `
targets:
  pg: { engine: postgres, host: 127.0.0.1, port: 5432, database: postgres, user: postgres, tls: disable }
policies:
  - name: agents
    when: { groups: [agents] }
    statements: { allow: [read] }
recording: { store: file }
`,
  { baseDir: mkdtempSync(join(tmpdir(), 'sluice-expiry-')), env: {} },
);
const parts = await assembleGateway(config, pino({ level: 'silent' }));
t.teardown(() => parts.close());

t.test(
  'a tool session stops serving once its token has expired (stdio checks the token only at start)',
  async (t) => {
    let now = 1_000_000;
    const identity = {
      subject: 'agent',
      groups: ['agents'],
      issuer: 'sluice',
      via: 'gateway' as const,
      expiresAt: now + 60_000,
    };
    const tools = new McpToolSession(
      parts.gateway,
      identity,
      'mcp-stdio',
      undefined,
      pino({ level: 'silent' }),
      () => now,
    );
    t.teardown(() => tools.close('test over'));
    const before = await tools.query('pg', 'SELECT 1 AS one', undefined, undefined);
    t.notOk(before.isError, 'served while the token is valid');
    now += 60_000;
    const after = await tools.query('pg', 'SELECT 1 AS one', undefined, undefined);
    t.equal(after.isError, true);
    t.match((after.content as { text: string }[])[0]?.text, /token has expired/);
    t.equal(tools.listDatabases().isError, true, 'list_databases too');
  },
);
