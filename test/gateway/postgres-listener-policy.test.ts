import t from 'tap';
import { startHarness } from './postgres-listener-harness.js';

const h = await startHarness(t, {
  policy: `
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
    statements:
      default: deny
      allow: [read, session, transaction]
      review: [{ effect: write, objects: [notes] }]
      deny: [ddl, { effect: write, unbounded: true }]
    masking:
      - columns: [customers.email]
        strategy: email
    maskedFilters: refuse
    limits: { statementTimeout: 30s }
`,
  extra: `approvals: { keyPrefix: "sluice:{approvals-${process.pid}}:", approvers: { groups: [dba] }, timeout: 20s }`,
});
const storeDown = await startHarness(t, {
  recording: '{ store: redis, redis: { url: "redis://127.0.0.1:1" }, onStoreFailure: refuse }',
});

t.test(
  'a statement that filters on a masked column is refused before it runs (maskedFilters: refuse)',
  async (t) => {
    const client = await h.client();
    t.teardown(() => client.end());
    await t.rejects(client.query("SELECT id FROM customers WHERE email LIKE 'ada%'"), {
      code: '42501',
      message: /filters, joins, groups or orders on masked column public\.customers\.email/,
    });
    t.same((await client.query('SELECT id, email FROM customers WHERE id = 1')).rows, [
      { id: 1, email: '****@example.com' },
    ]);
  },
);

t.test(
  'a statement under review waits with a NOTICE naming the request, and runs once approved',
  async (t) => {
    const client = await h.client();
    t.teardown(() => client.end());
    const approvals = h.parts.approvals;
    if (approvals === undefined) throw new Error('approvals are not configured');
    const notices: string[] = [];
    const requested = new Promise<string>((resolve) =>
      client.on('notice', (n) => {
        notices.push(n.message ?? '');
        const id = /waiting for approval: request (\S+)/.exec(n.message ?? '')?.[1];
        if (id) resolve(id);
      }),
    );
    const update = client.query("UPDATE notes SET body = 'approved' WHERE id = 1");
    const id = await requested;
    t.equal((await h.direct('SELECT body FROM notes WHERE id = 1')).rows[0].body, 'first', 'nothing ran yet');
    await approvals.service.approve(id, {
      subject: 'dba-1',
      groups: ['dba'],
      issuer: 'sluice',
      via: 'gateway',
    });
    const result = await update;
    t.equal(result.rowCount, 1);
    t.equal((await h.direct('SELECT body FROM notes WHERE id = 1')).rows[0].body, 'approved');
    t.match(notices[0], /^waiting for approval: request /);
  },
);

t.test('a statement under review that an approver denies answers 42501 with the reason', async (t) => {
  const client = await h.client();
  t.teardown(() => client.end());
  const approvals = h.parts.approvals;
  if (approvals === undefined) throw new Error('approvals are not configured');
  const requested = new Promise<string>((resolve) =>
    client.on('notice', (n) => {
      const id = /waiting for approval: request (\S+)/.exec(n.message ?? '')?.[1];
      if (id) resolve(id);
    }),
  );
  const update = client.query("UPDATE notes SET body = 'nope' WHERE id = 2");
  const id = await requested;
  await approvals.service.deny(
    id,
    { subject: 'dba-1', groups: ['dba'], issuer: 'sluice', via: 'gateway' },
    'not today',
  );
  await t.rejects(update, { code: '42501', message: /not approved: .*not today/ });
  t.equal((await h.direct('SELECT body FROM notes WHERE id = 2')).rows[0].body, 'second');
});

t.test('when the recording store is down every statement is refused with 57P03', async (t) => {
  const client = await storeDown.client();
  t.teardown(() => client.end());
  await t.rejects(client.query('SELECT 1'), { code: '57P03', message: /recording store/ });
  await t.rejects(client.query({ text: 'SELECT $1::int AS n', values: [1] }), { code: '57P03' });
});

t.test(
  'psql: the first notice says how long the statement waits and how to approve it; approvals.wireWait ends the wait',
  async (t) => {
    const short = await startHarness(t, {
      policy: `
  - name: agents
    when: { groups: [ai-agents], targets: [shop] }
    statements: { default: deny, allow: [read], review: [write] }
`,
      extra: `approvals: { keyPrefix: "sluice:{approvals-${process.pid}}:", approvers: { groups: [dba] }, timeout: 20s, wireWait: 2s }`,
    });
    const client = await short.client();
    t.teardown(() => client.end());
    const notices: string[] = [];
    client.on('notice', (n) => notices.push(n.message ?? ''));
    const started = Date.now();
    await t.rejects(client.query("UPDATE notes SET body = 'late' WHERE id = 1"), {
      code: '42501',
      message: /statement not approved in time: request \S+/,
    });
    const waited = Date.now() - started;
    t.ok(
      waited >= 1_900 && waited < 10_000,
      `refused after the wire wait (${waited} ms), not the 20 s timeout`,
    );
    t.match(
      notices[0],
      /^waiting for approval: request (\S+) \(waits up to 2s\); an approver runs: sluice approvals approve \1 --config /,
    );
    t.ok(notices.length <= 2, `${notices.length} notices in 2 s`);
    t.equal((await short.direct('SELECT body FROM notes WHERE id = 1')).rows[0].body, 'first', 'nothing ran');
    t.same((await client.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'the session goes on');
  },
);

t.test('the replay of an approved statement reads in the order it happened, naming who ran it', async (t) => {
  const subject = 'replayed-agent';
  const client = await h.client({ user: subject, password: await h.mint(subject) });
  t.teardown(() => client.end());
  const approvals = h.parts.approvals;
  if (approvals === undefined) throw new Error('approvals are not configured');
  const requested = new Promise<string>((resolve) =>
    client.on('notice', (n) => {
      const id = /waiting for approval: request (\S+)/.exec(n.message ?? '')?.[1];
      if (id) resolve(id);
    }),
  );
  const update = client.query("UPDATE notes SET body = 'replayed' WHERE id = 2");
  const id = await requested;
  await approvals.service.approve(
    id,
    { subject: 'dba-ann', groups: ['dba'], issuer: 'test', via: 'gateway' },
    'ok',
  );
  t.equal((await update).rowCount, 1);
  const events = (await h.recordings(subject)).flat();
  const steps = events
    .filter((e) => e.type === 'approval' && e.state !== 'notified')
    .map((e) => `${String(e.state)} by ${String(e.by)}`);
  t.same(steps, [`requested by ${subject}`, 'approved by dba-ann', `executed by ${subject}`]);
  const order = events
    .filter((e) => e.statementId !== undefined)
    .map((e) => (e.type === 'approval' ? `approval:${String(e.state)}` : e.type))
    .filter((x) => x !== 'approval:notified');
  t.same(order, [
    'statement',
    'decision',
    'approval:requested',
    'approval:approved',
    'approval:executed',
    'result.end',
  ]);
  const { TranscriptWriter } = await import('../../src/recording/formats/transcript.js');
  let text = '';
  const writer = new TranscriptWriter(
    {
      id: 's',
      subject,
      groups: [],
      issuer: 'test',
      target: 'shop',
      channel: 'postgres',
      dialect: 'postgres',
      startedAt: 0,
      events: 0,
    },
    (chunk) => (text += chunk),
  );
  for (const e of events) writer.push(e);
  t.match(
    text,
    new RegExp(
      `-- approval ${id}: requested by ${subject}\\n(?:-- approval ${id}: notified\\n)?-- approval ${id}: approved by dba-ann \\(ok\\)\\n`,
    ),
  );
  t.match(text, new RegExp(`-- approval ${id}: run by ${subject}, approved by dba-ann\\nUPDATE 1\\n`));
});
