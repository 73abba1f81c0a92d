import t, { type Test } from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
// @ts-expect-error the parser ships no type declarations
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { pino } from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import { assembleGateway } from '../../src/cli/assemble.js';
import { HttpServer } from '../../src/http/server.js';

interface Family {
  name: string;
  type: string;
  metrics: {
    labels?: Record<string, string>;
    value?: string;
    buckets?: Record<string, string>;
    count?: string;
  }[];
}
const parse = parsePrometheusTextFormat as (text: string) => Family[];

const dir = mkdtempSync(join(tmpdir(), 'sluice-metrics-'));
const config = parseConfigText(
  `
targets:
  pg: { engine: postgres, host: 127.0.0.1, port: 5432, database: postgres, user: postgres, tls: disable }
  gone: { engine: postgres, host: 127.0.0.1, port: 1, database: postgres, user: postgres, tls: disable, connectTimeout: 1s }
policies:
  - name: agents
    when: { groups: [agents] }
    statements: { default: deny, allow: [read] }
    masking: [{ detect: [email], strategy: redact }]
    limits: { maxRows: 3 }
recording: { store: file, file: { dir: recordings } }
state: { dir: state }
`,
  { baseDir: dir, env: {} },
);
const logger = pino({ level: 'silent' });
const parts = await assembleGateway(config, logger);
const http = new HttpServer({
  gateway: parts.gateway,
  authenticator: parts.authenticator,
  recorder: parts.recorder,
  logger,
});
await http.listen('127.0.0.1', 0);
t.teardown(async () => {
  await http.close();
  await parts.close();
});

async function scrape(t: Test): Promise<Map<string, Family>> {
  const res = await fetch(`${http.baseUrl}/metrics`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type') ?? '', /text\/plain/);
  return new Map(parse(await res.text()).map((f) => [f.name, f]));
}

function counter(families: Map<string, Family>, name: string, labels: Record<string, string>): number {
  const family = families.get(name);
  const metric = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return Number(metric?.value ?? 0);
}

t.test('/healthz answers while /readyz names the unreachable target', async (t) => {
  t.equal((await fetch(`${http.baseUrl}/healthz`)).status, 200);
  const res = await fetch(`${http.baseUrl}/readyz`);
  t.equal(res.status, 503);
  const body = (await res.json()) as { checks: Record<string, string> };
  t.same(body.checks, { recording: 'ok', 'target:pg': 'ok', 'target:gone': 'unreachable' });
});

t.test('/metrics parses as Prometheus text and its counters move when statements run', async (t) => {
  const before = await scrape(t);
  t.ok(before.has('sluice_statements_total'));
  t.ok(before.has('sluice_open_sessions'));
  t.ok(before.has('sluice_statement_duration_seconds'));
  t.ok(before.has('sluice_recording_queued_events'));
  const allowedBefore = counter(before, 'sluice_statements_total', {
    decision: 'allow',
    channel: 'mcp-http',
  });
  const deniedBefore = counter(before, 'sluice_statements_total', { decision: 'deny', channel: 'mcp-http' });
  const maskedBefore = counter(before, 'sluice_masked_fields_total', { channel: 'mcp-http' });
  const truncatedBefore = counter(before, 'sluice_results_truncated_total', { channel: 'mcp-http' });

  const token = await parts.authenticator.mint({ subject: 'agent', groups: ['agents'] });
  const client = new Client({ name: 'metrics-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${http.baseUrl}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  t.teardown(() => client.close());
  await client.callTool({ name: 'query', arguments: { database: 'pg', sql: 'SELECT 1 AS one' } });
  await client.callTool({
    name: 'query',
    arguments: { database: 'pg', sql: "SELECT 'someone@example.com' AS contact" },
  });
  await client.callTool({ name: 'query', arguments: { database: 'pg', sql: 'DROP TABLE nothing' } });
  await client.callTool({
    name: 'query',
    arguments: { database: 'pg', sql: 'SELECT generate_series(1, 10) AS n' },
  });

  const after = await scrape(t);
  t.equal(
    counter(after, 'sluice_results_truncated_total', { channel: 'mcp-http' }),
    truncatedBefore + 1,
    'the result past maxRows counted as cut',
  );
  t.equal(
    counter(after, 'sluice_statements_total', { decision: 'allow', channel: 'mcp-http' }),
    allowedBefore + 3,
  );
  t.equal(
    counter(after, 'sluice_statements_total', { decision: 'deny', channel: 'mcp-http' }),
    deniedBefore + 1,
  );
  t.ok(
    counter(after, 'sluice_masked_fields_total', { channel: 'mcp-http' }) > maskedBefore,
    'masked fields counted',
  );
  t.equal(
    counter(after, 'sluice_open_sessions', { channel: 'mcp-http' }),
    1,
    'the MCP session on pg is open',
  );
  const duration = after.get('sluice_statement_duration_seconds');
  // This parser keeps a histogram's buckets (not its labels): the +Inf bucket is the count.
  t.equal(Number(duration?.metrics[0]?.buckets?.['+Inf']), 3, 'the allowed statements were timed');
});
