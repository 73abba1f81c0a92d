import t from 'tap';
import { verifyChain } from '../../src/recording/chain.js';
import type { RecordingEvent } from '../../src/recording/types.js';
import { startConsoleGateway, type ConsoleGateway } from './console-fixture.js';

const c = await startConsoleGateway(t);

interface Request {
  id: string;
  sql: string;
  state: string;
  requester: { subject: string };
  decision?: { by: string; reason?: string };
}

/** Waits until the agent's statement `sql` is pending, as an approver lists it. */
async function pendingRequest(g: ConsoleGateway, sql: string): Promise<Request> {
  const until = Date.now() + 15_000;
  for (;;) {
    const res = await g.api('GET', '/api/approvals', { token: g.tokens.dba });
    const found = (res.body.requests as Request[] | undefined)?.find((r) => r.sql === sql);
    if (found) return found;
    if (Date.now() > until) throw new Error(`no pending request for ${sql}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('every /api route refuses a caller with no credentials or a bad token (401)', async (t) => {
  for (const path of ['/api/me', '/api/approvals', '/api/sessions', '/api/sessions/x', '/api/export']) {
    const res = await c.api('GET', path);
    t.equal(res.status, 401, path);
    t.match(res.headers.get('www-authenticate'), /^Bearer/);
    t.equal((await c.api('GET', path, { token: 'not.a.token' })).status, 401, `${path} bad token`);
    t.equal(
      (await c.api('GET', path, { cookie: 'sluice_console=forged' })).status,
      401,
      `${path} forged cookie`,
    );
  }
  t.equal((await c.api('POST', '/api/approvals/abc/approve', { body: {} })).status, 401);
});

t.test('GET /api/me says who the caller is and what it may do', async (t) => {
  t.match((await c.api('GET', '/api/me', { token: c.tokens.dba })).body, {
    subject: 'dba-1',
    groups: ['dba'],
    approver: true,
    auditor: true,
    approvalsEnabled: true,
  });
  const agent = await c.api('GET', '/api/me', { token: c.tokens.agent });
  t.match(agent.body, { subject: 'agent-1', approver: false, auditor: false });
  t.notOk('csrfToken' in agent.body, 'a bearer caller gets no CSRF token');
  t.match((await c.api('GET', '/api/me', { token: c.tokens.auditor })).body, {
    approver: false,
    auditor: true,
  });
});

t.test('an agent UPDATE waits in the queue; a non-approver gets 403; an approver releases it', async (t) => {
  const client = await c.harness.client();
  t.teardown(() => client.end());
  const sql = "UPDATE customers SET name = 'Ada L' WHERE id = 1";
  const running = client.query(sql);
  const request = await pendingRequest(c, sql);
  t.match(request, { state: 'pending', requester: { subject: 'agent-1' } });
  t.match(await c.api('GET', `/api/approvals/${request.id}`, { token: c.tokens.agent }), { status: 200 });
  t.match(await c.api('GET', `/api/approvals/${request.id}`, { token: c.tokens.outsider }), { status: 403 });
  for (const token of [c.tokens.agent, c.tokens.auditor, c.tokens.outsider]) {
    t.match(await c.api('POST', `/api/approvals/${request.id}/approve`, { token, body: {} }), {
      status: 403,
      body: { error: 'ERR_APPROVAL_NOT_APPROVER' },
    });
  }
  const approved = await c.api('POST', `/api/approvals/${request.id}/approve`, {
    token: c.tokens.dba,
    body: { reason: 'ticket 42' },
  });
  t.match(approved, {
    status: 200,
    body: { request: { state: 'approved', decision: { by: 'dba-1', reason: 'ticket 42' } } },
  });
  t.equal((await running).rowCount, 1, 'the statement ran once approved');
  t.same((await c.harness.direct('SELECT name FROM customers WHERE id = 1')).rows, [{ name: 'Ada L' }]);

  const history = await c.api('GET', '/api/approvals?state=all&requester=agent-1&target=shop&since=1h', {
    token: c.tokens.dba,
  });
  t.ok(
    (history.body.requests as Request[]).some((r) => r.id === request.id && r.state === 'executed'),
    'the history lists it, executed',
  );
  const none = await c.api('GET', '/api/approvals?state=all&target=no-such-target', { token: c.tokens.dba });
  t.same(none.body.requests, []);
  t.match(await c.api('GET', '/api/approvals?since=yesterday-ish', { token: c.tokens.dba }), { status: 400 });
});

t.test('a denied request ends the waiting statement with the denial', async (t) => {
  const client = await c.harness.client();
  t.teardown(() => client.end());
  const sql = "UPDATE customers SET name = 'Bob B' WHERE id = 2";
  const running = client.query(sql).then(
    () => undefined,
    (err: Error) => err,
  );
  const request = await pendingRequest(c, sql);
  t.match(
    await c.api('POST', `/api/approvals/${request.id}/deny`, {
      token: c.tokens.dba,
      body: { reason: 'not today' },
    }),
    { status: 200, body: { request: { state: 'denied' } } },
  );
  t.match(await running, { message: /denied/ });
  t.same((await c.harness.direct('SELECT name FROM customers WHERE id = 2')).rows, [{ name: 'Bob' }]);
});

t.test('an approver never approves their own request', async (t) => {
  const service = c.harness.parts.approvals?.service;
  if (service === undefined) throw new Error('approvals are not configured');
  const own = await service.create({
    requester: { subject: 'dba-1', issuer: c.harness.parts.authenticator.gatewayIssuer, groups: ['dba'] },
    target: 'shop',
    channel: 'postgres',
    sessionId: 's',
    sql: 'UPDATE notes SET body = 1 WHERE id = 1',
    statements: [],
    guard: { reason: 'test', rule: 'test' },
  });
  t.match(await c.api('POST', `/api/approvals/${own.id}/approve`, { token: c.tokens.dba, body: {} }), {
    status: 403,
    body: { error: 'ERR_APPROVAL_SELF' },
  });
  t.match(await c.api('POST', `/api/approvals/${own.id}/deny`, { token: c.tokens.dba2, body: {} }), {
    status: 200,
  });
});

t.test('pasted-token sign-in: loopback only, Origin checked, an HttpOnly SameSite=Lax cookie', async (t) => {
  const post = (headers: Record<string, string>, token = c.tokens.dba) =>
    fetch(`${c.base}/sign-in/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ token }),
      redirect: 'manual',
    });
  const ok = await post({ origin: c.base });
  t.equal(ok.status, 303);
  t.equal(ok.headers.get('location'), '/approvals');
  t.match(
    ok.headers.get('set-cookie'),
    /^sluice_console=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/,
  );
  t.equal((await post({ origin: 'http://evil.example' })).status, 403, 'another origin');
  t.equal((await post({})).status, 403, 'no origin');
  t.equal(
    (await post({ origin: c.base, 'x-forwarded-for': '203.0.113.9' })).status,
    403,
    'relayed by a proxy',
  );
  const bad = await post({ origin: c.base }, 'not-a-token');
  t.equal(bad.status, 401);
  t.match(await bad.text(), /The token was refused/);
  const page = await fetch(`${c.base}/sign-in`);
  t.match(page.headers.get('content-security-policy'), /script-src 'self'/);
  t.match(await page.text(), /name="token"/);
});

t.test('a cookie POST without the CSRF token or from another origin is refused (403)', async (t) => {
  const { cookie, csrf } = await c.signIn(c.tokens.dba);
  t.ok(csrf.length > 20);
  const path = '/api/approvals/00000000-0000-0000-0000-000000000000/approve';
  t.match(await c.api('POST', path, { cookie, origin: c.base, body: {} }), {
    status: 403,
    body: { error: 'ERR_CSRF' },
  });
  t.match(await c.api('POST', path, { cookie, csrf, body: {} }), {
    status: 403,
    body: { error: 'ERR_CSRF' },
  });
  t.match(await c.api('POST', path, { cookie, csrf, origin: 'http://evil.example', body: {} }), {
    status: 403,
  });
  t.match(await c.api('POST', path, { cookie, csrf: 'x'.repeat(43), origin: c.base, body: {} }), {
    status: 403,
  });
  t.match(await c.api('POST', path, { cookie, csrf, origin: c.base, body: {} }), {
    status: 404,
    body: { error: 'ERR_APPROVAL_NOT_FOUND' },
  });
  t.match(await c.api('GET', '/api/sessions', { cookie }), { status: 200 }, 'reads need no CSRF token');

  // Sign-out needs the token too, then the cookie is dead.
  const out = (body: Record<string, string>) =>
    fetch(`${c.base}/sign-out`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin: c.base },
      body: new URLSearchParams(body),
      redirect: 'manual',
    });
  t.equal((await out({})).status, 403);
  const done = await out({ csrf });
  t.equal(done.status, 303);
  t.match(done.headers.get('set-cookie'), /Max-Age=0/);
  t.equal((await c.api('GET', '/api/me', { cookie })).status, 401);
});

t.test('sessions: listed with counts, replayed with masked columns and the chain verdict', async (t) => {
  const client = await c.harness.client();
  await client.query('SELECT id, name, email FROM customers ORDER BY id');
  await client.query('DROP TABLE notes').catch(() => undefined);
  await client.end();
  await c.harness.parts.recorder.flush();
  await new Promise((r) => setTimeout(r, 200));

  t.match(await c.api('GET', '/api/sessions', { token: c.tokens.agent }), {
    status: 403,
    body: { error: 'ERR_FORBIDDEN' },
  });
  t.match(await c.api('GET', '/api/sessions', { token: c.tokens.outsider }), { status: 403 });
  const listing = await c.api('GET', '/api/sessions?identity=agent-1&channel=postgres&since=1h', {
    token: c.tokens.auditor,
  });
  t.equal(listing.status, 200);
  const sessions = listing.body.sessions as Array<{
    id: string;
    statements: number;
    denied: number;
    subject: string;
  }>;
  const mine = sessions.find((s) => s.denied === 1);
  t.ok(mine, 'the session with the denied DROP is listed');
  t.match(mine, { subject: 'agent-1', statements: 2 });
  t.same(
    (await c.api('GET', '/api/sessions?identity=nobody-at-all', { token: c.tokens.auditor })).body.sessions,
    [],
  );
  const found = await c.api('GET', '/api/sessions?identity=agent-1&statement=drop%20table%20NOTES', {
    token: c.tokens.auditor,
  });
  t.same(
    (found.body.sessions as Array<{ id: string }>).map((s) => s.id),
    [mine?.id],
    'a statement search finds the session that ran it',
  );
  const searched = await c.api('GET', `/api/export?identity=agent-1&statement=DROP%20TABLE&format=jsonl`, {
    token: c.tokens.auditor,
  });
  t.equal(searched.headers.get('x-sluice-sessions'), '1', 'the export takes the same search');

  const replay = await c.api('GET', `/api/sessions/${mine?.id}`, { token: c.tokens.dba });
  t.equal(replay.status, 200);
  t.match(replay.body, { session: { id: mine?.id, statements: 2, denied: 1 }, chain: { ok: true } });
  const events = replay.body.events as RecordingEvent[];
  t.match(
    events.find((e) => e.type === 'result.columns'),
    {
      columns: [
        { name: 'id', masked: false },
        { name: 'name', masked: false },
        { name: 'email', masked: true },
      ],
    },
  );
  t.match(
    events.find((e) => e.type === 'result.rows'),
    { rows: [['1', 'Ada L', '****@example.com']] },
  );
  t.match(
    events.find((e) => e.type === 'decision' && e.action === 'deny'),
    { rule: /agents/ },
  );
  t.match(await c.api('GET', '/api/sessions/no-such-session', { token: c.tokens.dba }), { status: 404 });
  t.match(await c.api('GET', '/api/sessions/bad%20id', { token: c.tokens.dba }), { status: 404 });
  t.match(await c.api('POST', '/api/sessions', { token: c.tokens.dba, body: {} }), { status: 405 });

  const jsonl = await c.api('GET', `/api/export?session=${mine?.id}&format=jsonl`, {
    token: c.tokens.auditor,
  });
  t.equal(jsonl.status, 200);
  t.match(jsonl.headers.get('content-disposition'), /^attachment; filename="sluice-recordings-.*\.jsonl"$/);
  const exported = jsonl.text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as RecordingEvent);
  t.equal(exported.length, events.length);
  t.match(await verifyChain(String(mine?.id), exported), { ok: true });
  const csv = await c.api('GET', `/api/export?session=${mine?.id}&format=csv`, { token: c.tokens.auditor });
  t.match(csv.headers.get('content-type'), /^text\/csv/);
  t.match(csv.text, /^session,seq,time,type,subject,target,statement_id,detail,hash\r\n/);
  const ocsf = await c.api('GET', `/api/export?session=${mine?.id}&format=ocsf`, { token: c.tokens.auditor });
  t.match(JSON.parse(ocsf.text.split('\n')[0] ?? '{}'), { class_uid: 6005 });
  t.match(await c.api('GET', '/api/export?format=xml', { token: c.tokens.auditor }), { status: 400 });
  t.match(await c.api('GET', '/api/export', { token: c.tokens.agent }), { status: 403 });
});

t.test('console pages: sign-in redirects, strict CSP, non-auditors get 403', async (t) => {
  const anonymous = await fetch(`${c.base}/approvals`, { redirect: 'manual' });
  t.equal(anonymous.status, 303);
  t.equal(anonymous.headers.get('location'), '/sign-in');
  const agent = await c.signIn(c.tokens.agent);
  const queue = await fetch(`${c.base}/approvals`, { headers: { cookie: agent.cookie } });
  t.equal(queue.status, 200);
  t.equal(
    queue.headers.get('content-security-policy'),
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  );
  const text = await queue.text();
  t.match(text, /data-approver="false"/);
  t.notMatch(text, /<script>/, 'no inline script');
  t.equal((await fetch(`${c.base}/sessions`, { headers: { cookie: agent.cookie } })).status, 403);
  const script = text.match(/src="(\/assets\/console-[0-9a-f]+\.js)"/)?.[1];
  const asset = await fetch(`${c.base}${script}`);
  t.equal(asset.status, 200);
  t.match(asset.headers.get('content-type'), /^text\/javascript/);
  t.equal((await fetch(`${c.base}/assets/nothing.js`)).status, 404);
});

t.test('recorded text reaches a page escaped: a statement or a value is never markup', async (t) => {
  const client = await c.harness.client();
  await client.query(`SELECT '<script>alert(1)</script>' AS "<img src=x onerror=alert(2)>"`);
  await client.end();
  await c.harness.parts.recorder.flush();
  const listing = await c.api('GET', '/api/sessions?identity=agent-1', { token: c.tokens.dba });
  const [newest] = listing.body.sessions as Array<{ id: string }>;
  const { cookie } = await c.signIn(c.tokens.dba);
  const page = await (await fetch(`${c.base}/sessions/${newest?.id}`, { headers: { cookie } })).text();
  t.match(page, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  t.match(page, /&lt;img src=x onerror=alert\(2\)&gt;/);
  t.notMatch(page, /<script>alert|<img src=x/);
  const list = await fetch(`${c.base}/sessions?identity=%3Cb%3E`, { headers: { cookie } });
  t.match(await list.text(), /value="&lt;b&gt;"/, 'a filter value is escaped in the form');
});
