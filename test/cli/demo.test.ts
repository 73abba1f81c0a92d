import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { runDemo } from '../../src/cli/demo.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-demo-'));
const stop = new AbortController();
let out = '';
let finished: Promise<number> = Promise.resolve(0);
const printed = new Promise<void>((resolve) => {
  finished = runDemo(
    ['--dir', dir, '--http-port', '0', '--pg-port', '0'],
    {
      stdout: (s) => {
        out += s;
        if (out.includes('Replay afterwards')) resolve();
      },
      stderr: () => undefined,
      env: {},
    },
    stop.signal,
  );
});
t.teardown(() => stop.abort());
await printed;

const url = /MCP \(Streamable HTTP\): (\S+)/.exec(out)?.[1] ?? '';
const agent = /Agent token:\n(\S+)/.exec(out)?.[1] ?? '';
const dba = /DBA token:\n(\S+)/.exec(out)?.[1] ?? '';

async function connect(token: string): Promise<Client> {
  const client = new Client({ name: 'demo-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

t.test('the demo prints the MCP URL and two tokens', async (t) => {
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
  t.match(agent, /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
  t.match(dba, /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
});

t.test('the agent gets masked rows, the dba clear ones', async (t) => {
  const asAgent = await connect(agent);
  t.teardown(() => asAgent.close());
  const sql = 'SELECT name, email, card_number, city FROM customers ORDER BY id LIMIT 2';
  const masked = await asAgent.callTool({ name: 'query', arguments: { database: 'shop', sql } });
  t.notOk(masked.isError, JSON.stringify(masked.content));
  const m = masked.structuredContent as { columns: { name: string; masked: boolean }[]; rows: string[][] };
  t.same(
    m.columns.map((c) => c.masked),
    [false, true, true, false],
  );
  const asDba = await connect(dba);
  t.teardown(() => asDba.close());
  const clear = await asDba.callTool({ name: 'query', arguments: { database: 'shop', sql } });
  const c = clear.structuredContent as { rows: string[][] };
  t.match(c.rows[0]?.[1], /@example\.com$/);
  t.match(c.rows[0]?.[2], /^\d{15,16}$/);
  const text = JSON.stringify(masked);
  for (const row of c.rows) {
    t.notMatch(text, row[1] as string, 'no clear email reaches the agent');
    t.notMatch(text, row[2] as string, 'no clear card number reaches the agent');
  }
  t.equal(m.rows[0]?.[0], c.rows[0]?.[0], 'unmasked columns are the same');
  t.match(m.rows[0]?.[1], /@example\.com$/, 'the email strategy keeps the domain');
  t.match(m.rows[0]?.[2], /^\*+\d{4}$/, 'partial keeps the last four digits');
});

t.test('the agent cannot drop a table', async (t) => {
  const asAgent = await connect(agent);
  t.teardown(() => asAgent.close());
  const drop = await asAgent.callTool({
    name: 'query',
    arguments: { database: 'shop', sql: 'DROP TABLE orders' },
  });
  t.equal(drop.isError, true);
  t.match((drop.content as { text: string }[])[0]?.text, /denied/);
});

t.test('psql as the agent sees masked rows and cannot drop a table', async (t) => {
  const line = /psql as the agent:\n\s+PGPASSWORD='([^']+)' psql "([^"]+)"/.exec(out);
  t.ok(line, 'the demo prints a psql line for the agent');
  const [, password, conninfo] = line ?? [];
  // Asynchronous: the demo serves from this very process, so a blocking spawn would deadlock.
  const psql = (sql: string) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        'psql',
        [conninfo as string, '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql],
        { encoding: 'utf8', env: { ...process.env, PGPASSWORD: password }, timeout: 20_000 },
        (err, stdout, stderr) =>
          resolve({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
      );
    });
  const select = await psql('SELECT email, card_number FROM customers ORDER BY id LIMIT 1');
  t.equal(select.status, 0, select.stderr);
  t.match(select.stdout.trim(), /^\*+@example\.com\|\*+\d{4}$/);
  const drop = await psql('DROP TABLE orders');
  t.not(drop.status, 0);
  t.match(drop.stderr, /denied/);
});

t.test('Ctrl-C (here an abort) stops the demo cleanly', async (t) => {
  stop.abort();
  t.equal(await finished, 0);
  t.match(out, /Stopping the demo/);
});
