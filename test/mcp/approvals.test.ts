import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { pino } from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import { assembleGateway } from '../../src/cli/assemble.js';
import { HttpServer } from '../../src/http/server.js';

const db = `sluice_mcp_appr_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
await admin.connect();
await admin.query(`CREATE DATABASE ${db}`);
t.teardown(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin.end();
});
const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: db });
await direct.connect();
t.teardown(() => direct.end());
await direct.query(
  `CREATE TABLE stock (sku text PRIMARY KEY, qty int); INSERT INTO stock VALUES ('pen', 10), ('ink', 3);`,
);

const dir = mkdtempSync(join(tmpdir(), 'sluice-mcp-appr-'));
const config = parseConfigText(
  `
targets:
  shop: { engine: postgres, host: 127.0.0.1, port: 5432, database: ${db}, user: postgres, tls: disable }
policies:
  - name: agents
    when: { groups: [agents] }
    statements: { default: deny, allow: [read], review: [write] }
  - name: dba
    when: { groups: [dba] }
    statements: { default: allow }
recording: { store: file, file: { dir: recordings } }
approvals: { keyPrefix: "sluice:{approvals-${process.pid}}:", approvers: { groups: [dba] }, timeout: 1m, wait: 300ms }
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
  approvals: parts.approvals!.service,
  logger,
});
await http.listen('127.0.0.1', 0);
t.teardown(async () => {
  await http.close();
  await parts.close();
});
const agentToken = await parts.authenticator.mint({ subject: 'agent-7', groups: ['agents'] });
const dbaToken = await parts.authenticator.mint({ subject: 'dana', groups: ['dba'] });

const client = new Client({ name: 'approvals-test', version: '1.0.0' });
await client.connect(
  new StreamableHTTPClientTransport(new URL(`${http.baseUrl}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${agentToken}` } },
  }),
);
t.teardown(() => client.close());

const update = "UPDATE stock SET qty = qty + 1 WHERE sku = 'ink'";
const qty = async () => (await direct.query(`SELECT qty FROM stock WHERE sku = 'ink'`)).rows[0].qty as number;

async function api(
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${http.baseUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

t.test('a reviewed statement waits, is approved by a dba, and runs exactly once', async (t) => {
  const first = await client.callTool({ name: 'query', arguments: { database: 'shop', sql: update } });
  t.equal(first.isError, true, 'pending is reported to the agent');
  const pending = first.structuredContent as { approval: { requestId: string; state: string } };
  t.equal(pending.approval.state, 'pending');
  const id = pending.approval.requestId;
  t.equal(await qty(), 3, 'nothing ran while pending');

  const self = await api(`/api/approvals/${id}/approve`, agentToken, {});
  t.equal(self.status, 403, 'the agent cannot approve its own request');

  const status = await client.callTool({ name: 'approval_status', arguments: { requestId: id } });
  t.equal((status.structuredContent as { state: string }).state, 'pending');

  const approved = await api(`/api/approvals/${id}/approve`, dbaToken, { reason: 'restock' });
  t.equal(approved.status, 200);
  const after = await client.callTool({ name: 'approval_status', arguments: { requestId: id } });
  t.equal((after.structuredContent as { state: string }).state, 'approved');

  const run = await client.callTool({ name: 'query', arguments: { database: 'shop', sql: update } });
  t.notOk(run.isError, JSON.stringify(run.content));
  t.equal(await qty(), 4, 'the approved statement ran');

  const replay = await client.callTool({ name: 'query', arguments: { database: 'shop', sql: update } });
  t.equal(replay.isError, true, 'a replay needs a new approval');
  t.not((replay.structuredContent as { approval: { requestId: string } }).approval.requestId, id);
  t.equal(await qty(), 4, 'the replay did not run');
});

t.test('a denied request is refused with the reason', async (t) => {
  const sql = "UPDATE stock SET qty = 0 WHERE sku = 'pen'";
  const first = await client.callTool({ name: 'query', arguments: { database: 'shop', sql } });
  const id = (first.structuredContent as { approval: { requestId: string } }).approval.requestId;
  const denied = await api(`/api/approvals/${id}/deny`, dbaToken, { reason: 'not today' });
  t.equal(denied.status, 200);
  const status = await client.callTool({ name: 'approval_status', arguments: { requestId: id } });
  t.equal((status.structuredContent as { state: string; reason: string }).state, 'denied');
  t.equal((status.structuredContent as { reason: string }).reason, 'not today');
  const list = await api('/api/approvals', dbaToken);
  t.equal(list.status, 200);
});

t.test(
  'approval_status of an unknown id, and of another caller’s request, answer ERR_APPROVAL_UNKNOWN alike',
  async (t) => {
    const unknown = await client.callTool({
      name: 'approval_status',
      arguments: { requestId: '00000000-0000-4000-8000-000000000000' },
    });
    t.equal(unknown.isError, true);
    const error = (unknown.structuredContent as { error: { code: string; message: string } }).error;
    t.equal(error.code, 'ERR_APPROVAL_UNKNOWN');
    t.match(error.message, /was not found/);

    // A request of the agent's, asked about by another agent: the same answer as a made-up id.
    const first = await client.callTool({
      name: 'query',
      arguments: { database: 'shop', sql: "UPDATE stock SET qty = 1 WHERE sku = 'pen'" },
    });
    const id = (first.structuredContent as { approval: { requestId: string } }).approval.requestId;
    const otherToken = await parts.authenticator.mint({ subject: 'agent-8', groups: ['agents'] });
    const other = new Client({ name: 'approvals-test-other', version: '1.0.0' });
    await other.connect(
      new StreamableHTTPClientTransport(new URL(`${http.baseUrl}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${otherToken}` } },
      }),
    );
    t.teardown(() => other.close());
    const foreign = await other.callTool({ name: 'approval_status', arguments: { requestId: id } });
    const foreignError = (foreign.structuredContent as { error: { code: string; message: string } }).error;
    t.equal(foreignError.code, 'ERR_APPROVAL_UNKNOWN');
    t.equal(foreignError.message, `approval request ${id} was not found`);
  },
);

t.test('describe_table of a missing table carries an error code in structuredContent', async (t) => {
  const missing = await client.callTool({
    name: 'describe_table',
    arguments: { database: 'shop', table: 'no_such_table' },
  });
  t.equal(missing.isError, true);
  t.same((missing.structuredContent as { error: { code: string } }).error.code, 'ERR_TABLE_NOT_FOUND');
});
