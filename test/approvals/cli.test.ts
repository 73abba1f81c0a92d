import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import { ApprovalService } from '../../src/approvals/service.js';
import { runApprovals, runApprovalsWith, type ApprovalsCommandDeps } from '../../src/cli/approvals.js';
import { loadConfigFile } from '../../src/config/load.js';
import { createAuthenticator } from '../../src/identity/authenticator.js';
import type { Identity } from '../../src/identity/types.js';
import { agent, alice, connect, mallory, prefix, statement } from './fixtures/approvals.js';

function io(env: NodeJS.ProcessEnv = {}) {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: { stdout: (s: string) => void (out.stdout += s), stderr: (s: string) => void (out.stderr += s), env },
  };
}

/** Tokens are the names of the fixture identities; anything else is refused like a bad token. */
const tokens: Record<string, Identity> = {
  'agent-token': agent,
  'alice-token': alice,
  'mallory-token': mallory,
};
const authenticate = async (token: string): Promise<Identity> => {
  const identity = tokens[token];
  if (!identity) throw new Error('signature verification failed');
  return identity;
};

async function setup(t: { teardown(fn: () => unknown): void }) {
  const redis = await connect(t);
  const service = new ApprovalService({
    redis,
    policy: { approvers: { groups: ['dba'] }, timeout: 60_000 },
    keyPrefix: prefix(t, redis),
  });
  const open = (sql: string) =>
    service.create({
      requester: { subject: agent.subject, issuer: agent.issuer, groups: agent.groups },
      target: 'orders',
      channel: 'postgres',
      sessionId: 's',
      sql,
      statements: [statement(sql)],
      guard: { reason: 'writes need review', rule: 'agents: review write' },
    });
  const deps: ApprovalsCommandDeps = { service, authenticate };
  return { service, open, deps };
}

t.test(
  'list prints one pending request a line with its id and statement; --json prints objects',
  async (t) => {
    const { open, deps } = await setup(t);
    const a = await open('UPDATE orders SET a = 1\n  WHERE id = 1');
    const b = await open('UPDATE orders SET a = 2 WHERE id = 2');
    const { out, io: cli } = io({ SLUICE_TOKEN: 'alice-token' });
    t.equal(await runApprovalsWith(['list', '--config', 'unused.yaml'], cli, deps), 0);
    const lines = out.stdout.trimEnd().split('\n');
    t.equal(lines.length, 2);
    t.same(lines.map((l) => l.split('\t')[0]).sort(), [a.id, b.id].sort());
    t.ok(
      lines.includes(`${a.id}\tpending\tagent-7\torders\tUPDATE orders SET a = 1 WHERE id = 1`),
      'one line per request',
    );
    const json = io();
    t.equal(await runApprovalsWith(['list', '--json', '--token', 'alice-token'], json.io, deps), 0);
    const objects = json.out.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; sql: string });
    t.same(objects.map((o) => o.id).sort(), [a.id, b.id].sort());
    const own = io();
    t.equal(await runApprovalsWith(['list', '--token', 'mallory-token'], own.io, deps), 0);
    t.equal(own.out.stdout, '', 'a non-approver sees only their own requests');
    const tty = io({ SLUICE_TOKEN: 'alice-token' });
    t.equal(await runApprovalsWith(['list'], { ...tty.io, isTTY: true }, deps), 0);
    t.equal(
      tty.out.stdout.split('\n')[0],
      'request\tstate\trequester\ttarget\tstatement',
      'a header line on a terminal, none when piped',
    );
    t.equal(tty.out.stdout.trimEnd().split('\n').length, 3);
  },
);

t.test('a hostile statement cannot forge lines or terminal escapes in the listing', async (t) => {
  const { open, deps } = await setup(t);
  await open('UPDATE orders SET a = 1 WHERE id = 1\r\nfake-id\tpending\t\u001b[2J\u202eevil');
  const { out, io: cli } = io();
  t.equal(await runApprovalsWith(['list', '--token', 'alice-token'], cli, deps), 0);
  t.equal(out.stdout.trimEnd().split('\n').length, 1);
  t.notOk(out.stdout.includes('\u001b') || out.stdout.includes('\u202e'), 'no raw escape or bidi override');
  t.match(out.stdout, /\\u0009pending\\u0009\\u001b\[2J\\u202eevil/);
});

t.test('approve with a reason and a grant, and deny, act as the token holder', async (t) => {
  const { open, deps, service } = await setup(t);
  const a = await open('UPDATE orders SET a = 1 WHERE id = 1');
  const approve = io({ SLUICE_TOKEN: 'alice-token' });
  t.equal(
    await runApprovalsWith(
      ['approve', a.id, '--reason', 'ticket 9', '--grant-minutes', '10'],
      approve.io,
      deps,
    ),
    0,
  );
  t.match(
    approve.out.stdout,
    new RegExp(`^approved ${a.id}\ngranted agent-7 write on public.orders of orders until `),
  );
  t.match(await service.get(a.id), { state: 'approved', decision: { by: 'alice', reason: 'ticket 9' } });
  const b = await open('UPDATE orders SET a = 2 WHERE id = 2');
  const deny = io();
  t.equal(
    await runApprovalsWith(
      ['deny', b.id, '--reason', 'no', '--json', '--token', 'alice-token'],
      deny.io,
      deps,
    ),
    0,
  );
  t.match(JSON.parse(deny.out.stdout), { id: b.id, state: 'denied', decision: { reason: 'no' } });
  const c = await open('UPDATE orders SET a = 3 WHERE id = 3');
  const plain = io();
  t.equal(await runApprovalsWith(['deny', c.id, '--token', 'alice-token'], plain.io, deps), 0);
  t.equal(plain.out.stdout, `denied ${c.id}\n`);
  const d = await open('UPDATE orders SET a = 4 WHERE id = 4');
  const asJson = io();
  t.equal(await runApprovalsWith(['approve', d.id, '--json', '--token', 'alice-token'], asJson.io, deps), 0);
  t.match(JSON.parse(asJson.out.stdout), { request: { id: d.id, state: 'approved' } });
});

t.test(
  'refusals exit 1 with the reason: non-approver, own request, decided, unknown, bad token',
  async (t) => {
    const { open, deps } = await setup(t);
    const a = await open('UPDATE orders SET a = 1 WHERE id = 1');
    const cases: Array<[string[], RegExp]> = [
      [['approve', a.id, '--token', 'mallory-token'], /mallory is not an approver/],
      [['approve', a.id, '--token', 'nope'], /your token was refused: signature verification failed/],
      [['deny', randomUUID(), '--token', 'alice-token'], /does not exist/],
    ];
    for (const [argv, message] of cases) {
      const { out, io: cli } = io();
      t.equal(await runApprovalsWith(argv, cli, deps), 1, argv.join(' '));
      t.match(out.stderr, message);
    }
    const own = io();
    const selfDeps = {
      ...deps,
      authenticate: async () => ({ ...alice, subject: agent.subject, issuer: agent.issuer }),
    };
    t.equal(await runApprovalsWith(['approve', a.id, '--token', 'x'], own.io, selfDeps), 1);
    t.match(own.out.stderr, /is your own/);
    await runApprovalsWith(['deny', a.id, '--token', 'alice-token'], io().io, deps);
    const twice = io();
    t.equal(await runApprovalsWith(['approve', a.id, '--token', 'alice-token'], twice.io, deps), 1);
    t.match(twice.out.stderr, /already denied/);
  },
);

t.test('bad arguments exit 2 and name the problem; --help prints the usage', async (t) => {
  const { deps } = await setup(t);
  const cases: Array<[string[], RegExp]> = [
    [[], /a command is required/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['approve'], /approve needs the request ID/],
    [['list', 'abc'], /list takes no ID/],
    [['approve', 'a', 'b'], /unexpected argument "b"/],
    [['deny', 'a', '--grant-minutes', '5'], /--grant-minutes applies to approve only/],
    [['approve', 'a', '--grant-minutes', 'ten'], /expected a whole number of minutes/],
    [['approve', 'a', '--state', 'pending'], /--state applies to list only/],
    [['list', '--state', 'sideways'], /--state: expected one of pending/],
    [['list', '--colour'], /colour/],
    [['list'], /a token is required/],
  ];
  for (const [argv, message] of cases) {
    const { out, io: cli } = io();
    t.equal(await runApprovalsWith(argv, cli, deps), 2, argv.join(' '));
    t.match(out.stderr, message);
    t.match(out.stderr, /sluice approvals --help/);
  }
  const help = io();
  t.equal(await runApprovals(['--help'], help.io), 0);
  t.match(help.out.stdout, /Usage: sluice approvals list/);
  t.match(help.out.stdout, /--grant-minutes N/);
});

t.test('runApprovals builds its service and authenticator from the configuration', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-approvals-cli-'));
  const file = join(dir, 'sluice.yaml');
  writeFileSync(
    file,
    `targets:
  orders: { engine: postgres, host: 127.0.0.1, port: 5432, database: orders, user: reader }
recording: { redis: { url: redis://127.0.0.1:6379 } }
approvals: { keyPrefix: "sluice:{approvals-${process.pid}}:", approvers: { groups: [dba] }, timeout: 1m }
state: { dir: ${join(dir, 'state')} }
`,
  );
  const authenticator = await createAuthenticator(loadConfigFile(file, {}), {
    logger: pino({ level: 'silent' }),
  });
  const token = await authenticator.mint({ subject: 'alice', groups: ['dba'] });
  // An unknown id is only read, never written, so the default key prefix is left as it was.
  const unknown = io({ SLUICE_TOKEN: token });
  t.equal(await runApprovals(['deny', randomUUID(), '--config', file], unknown.io), 1);
  t.match(unknown.out.stderr, /approval request .* does not exist/);
  const badToken = io();
  t.equal(
    await runApprovals(['deny', randomUUID(), '--config', file, '--token', 'not.a.jwt'], badToken.io),
    1,
  );
  t.match(badToken.out.stderr, /your token was refused/);
  const missing = io();
  t.equal(
    await runApprovals(['list', '--config', join(dir, 'missing.yaml'), '--token', token], missing.io),
    1,
  );
  t.match(missing.out.stderr, /missing\.yaml: cannot read the configuration file/);
  // Without --config: $SLUICE_CONFIG, else sluice.yaml (absent here).
  const noConfig = io();
  t.equal(await runApprovals(['list', '--token', token], noConfig.io), 1);
  t.match(noConfig.out.stderr, /sluice\.yaml: cannot read the configuration file/);
  t.equal(await runApprovals(['bogus'], io().io), 2);
});
