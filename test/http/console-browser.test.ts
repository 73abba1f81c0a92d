/**
 * The web console in real headless Chromium (Debian's `chromium`, driven by playwright-core),
 * against a gateway with a real PostgreSQL target, approvals in Redis and file recordings.
 * Screenshots of each page go to a temporary folder (printed as a test comment), or to
 * $SLUICE_SCREENSHOTS.
 */
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import t from 'tap';
import { verifyChain } from '../../src/recording/chain.js';
import type { RecordingEvent } from '../../src/recording/types.js';
import { startConsoleGateway } from './console-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const shots = process.env.SLUICE_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'sluice-console-'));
mkdirSync(shots, { recursive: true });
t.comment(`screenshots in ${shots}`);

const c = await startConsoleGateway(t);
// No skip when the browser is missing: launching fails and so does the test file.
const browser: Browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox'],
});
t.teardown(() => browser.close());

/** Problems the browser reported (console errors, uncaught exceptions, CSP violations). */
const problems: string[] = [];

async function signedIn(token: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  await page.goto(`${c.base}/`);
  await page.waitForURL(/\/sign-in$/);
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/approvals$/);
  return { context, page };
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

const { page } = await signedIn(c.tokens.dba);

t.test('the sign-in page offers the pasted-token form on loopback', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  t.teardown(() => context.close());
  const anonymous = await context.newPage();
  await anonymous.goto(`${c.base}/sessions`);
  t.match(anonymous.url(), /\/sign-in$/, 'a page without a sign-in goes to the sign-in');
  t.equal(await anonymous.locator('textarea#token').count(), 1);
  await anonymous.fill('#token', 'not-a-token');
  await anonymous.click('button[type=submit]');
  t.match(await anonymous.locator('.error').textContent(), /The token was refused/);
  await shot(anonymous, '01-sign-in-refused');
});

t.test('an agent UPDATE appears in the queue without a reload; approving lets it complete', async (t) => {
  await page.waitForSelector('#live:has-text("Live")');
  await shot(page, '02-queue-empty');
  const client = await c.harness.client();
  t.teardown(() => client.end());
  const sql = 'UPDATE customers SET balance = 99 WHERE id = 3';
  const running = client.query(sql);
  let settled = false;
  void running.then(
    () => (settled = true),
    () => (settled = true),
  );
  const card = page.locator('article.card', { hasText: sql });
  await card.waitFor({ timeout: 15_000 });
  t.match(await card.textContent(), /agent-1/, 'who asked');
  t.match(await card.textContent(), /Objects\s*customers/, 'the objects');
  t.match(await card.locator('.waited').textContent(), /^waiting \d+s/);
  await shot(page, '03-queue-waiting');
  t.notOk(settled, 'the statement waits');
  await card.locator('input[name=reason]').fill('ticket 7');
  await card.locator('button[data-action=approve]').click();
  t.equal((await running).rowCount, 1, 'the psql-side statement completed');
  await card.locator('.outcome', { hasText: 'Approved' }).waitFor();
  await shot(page, '04-queue-approved');
  t.same((await c.harness.direct('SELECT balance FROM customers WHERE id = 3')).rows, [{ balance: '99.00' }]);
  await card.waitFor({ state: 'detached', timeout: 10_000 });
});

t.test('denying in the browser ends the waiting statement with the denial', async (t) => {
  const client = await c.harness.client();
  t.teardown(() => client.end());
  const sql = 'UPDATE customers SET balance = 0 WHERE id = 1';
  const running = client.query(sql).then(
    () => undefined,
    (err: Error) => err,
  );
  const card = page.locator('article.card', { hasText: sql });
  await card.waitFor({ timeout: 15_000 });
  await card.locator('input[name=reason]').fill('not in business hours');
  // Keyboard only: tab from the reason field past the grant choice and Approve, to Deny.
  await card.locator('input[name=reason]').focus();
  for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
  t.equal(await page.locator(':focus').textContent(), 'Deny');
  await page.keyboard.press('Enter');
  t.match(await running, { message: /denied/ });
  await card.locator('.outcome', { hasText: 'Denied' }).waitFor();
  t.same((await c.harness.direct('SELECT balance FROM customers WHERE id = 1')).rows, [{ balance: '12.50' }]);
  await page.goto(`${c.base}/approvals/history?requester=agent-1`);
  t.ok(
    await page.locator('tr', { hasText: 'not in business hours' }).count(),
    'the history shows the reason',
  );
  await shot(page, '05-history');
});

t.test("a session's replay page shows the statement and its masked rows", async (t) => {
  const client = await c.harness.client();
  await client.query('SELECT id, name, email, ssn FROM customers WHERE id < 3 ORDER BY id');
  await client.end();
  await c.harness.parts.recorder.flush();
  const listing = await c.api('GET', '/api/sessions?identity=agent-1', { token: c.tokens.dba });
  // The newest session with one statement that was neither denied nor reviewed: the SELECT's.
  const session = (
    listing.body.sessions as Array<{ id: string; statements: number; denied: number; reviewed: number }>
  ).find((s) => s.statements === 1 && s.denied === 0 && s.reviewed === 0);
  t.ok(session, 'the session is recorded');
  await page.goto(`${c.base}/sessions?identity=agent-1`);
  await page.locator('#sessions').waitFor();
  await shot(page, '06-sessions');
  await page.click(`a[href="/sessions/${session?.id}"]`);
  await page.waitForURL(new RegExp(`/sessions/${session?.id}$`));
  t.match(await page.locator('pre.sql').first().textContent(), /SELECT id, name, email, ssn FROM customers/);
  t.equal(await page.locator('pre.sql .kw').first().textContent(), 'SELECT', 'keywords highlighted');
  const texts = async (selector: string) =>
    (await page.locator(selector).allTextContents()).map((s) => s.trim());
  t.same(await texts('th.masked'), ['emailmasked', 'ssnmasked']);
  t.same(await texts('td.masked'), ['****@example.com', '****', '****@example.org', '****']);
  t.notMatch(await page.content(), /ada@example\.com|123-45-6789/, 'no clear value on the page');
  t.match(await page.locator('#chain').textContent(), /verified/);
  t.match(await page.locator('.step').first().textContent(), /allow/);
  await shot(page, '07-replay');
});

t.test('an export downloads and its chain verifies', async (t) => {
  await page.goto(`${c.base}/export`);
  await shot(page, '08-export');
  await page.selectOption('select[name=format]', 'jsonl');
  await page.fill('#export-form input[name=identity]', 'agent-1');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click('#export-form button[type=submit]'),
  ]);
  t.match(download.suggestedFilename(), /^sluice-recordings-.*\.jsonl$/);
  const file = join(shots, 'export.jsonl');
  await download.saveAs(file);
  const bySession = new Map<string, RecordingEvent[]>();
  for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
    const event = JSON.parse(line) as RecordingEvent;
    bySession.set(event.session, [...(bySession.get(event.session) ?? []), event]);
  }
  t.ok(bySession.size >= 3, 'every session of agent-1');
  for (const [session, events] of bySession)
    t.match(await verifyChain(session, events), { ok: true }, session);
});

t.test('a user without the approver group sees no approve button and the API refuses (403)', async (t) => {
  const agent = await signedIn(c.tokens.agent);
  t.teardown(() => agent.context.close());
  const client = await c.harness.client();
  t.teardown(() => client.end());
  const sql = "UPDATE customers SET name = 'Cy C' WHERE id = 3";
  const running = client.query(sql).catch((err: Error) => err);
  const card = agent.page.locator('article.card', { hasText: sql });
  await card.waitFor({ timeout: 15_000 });
  t.equal(await card.locator('button').count(), 0, 'no approve or deny button');
  t.equal(await agent.page.locator('header nav a', { hasText: 'Sessions' }).count(), 0, 'no Sessions link');
  await shot(agent.page, '09-queue-non-approver');
  const id = await card.getAttribute('data-id');
  const csrf = await agent.page.locator('meta[name="csrf-token"]').getAttribute('content');
  // The page's own fetch, with its cookie and CSRF token: only the group is missing.
  const status = await agent.page.evaluate(
    async ({ requestId, token }) => {
      const res = await fetch(`/api/approvals/${requestId}/approve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': token ?? '' },
        body: '{}',
      });
      return { status: res.status, body: (await res.json()) as { error: string } };
    },
    { requestId: id, token: csrf },
  );
  t.match(status, { status: 403, body: { error: 'ERR_APPROVAL_NOT_APPROVER' } });
  const forbidden = await agent.page.goto(`${c.base}/sessions`);
  t.equal(forbidden?.status(), 403);
  await shot(agent.page, '10-sessions-forbidden');
  // Let the statement go: the approver denies it.
  t.match(await c.api('POST', `/api/approvals/${id}/deny`, { token: c.tokens.dba, body: {} }), {
    status: 200,
  });
  t.match(await running, { message: /denied/ });
});

t.test('approving with a time-boxed grant lets statements like it run without review', async (t) => {
  await page.goto(`${c.base}/approvals`);
  const client = await c.harness.client();
  t.teardown(() => client.end());
  const sql = "UPDATE notes SET body = 'granted' WHERE id = 1";
  const running = client.query(sql);
  const card = page.locator('article.card', { hasText: sql });
  await card.waitFor({ timeout: 15_000 });
  await card.locator('select[name=grant]').selectOption('15');
  await card.locator('button[data-action=approve]').click();
  t.equal((await running).rowCount, 1);
  t.match(await card.locator('.outcome').textContent(), /and statements like it until/);
  const next = await client.query("UPDATE notes SET body = 'again' WHERE id = 2");
  t.equal(next.rowCount, 1, 'the next write on notes ran at once, under the grant');
});

t.test('signing out ends the session', async (t) => {
  await page.goto(`${c.base}/approvals`);
  await page.click('header form button[type=submit]');
  await page.waitForURL(/\/sign-in$/);
  await page.goto(`${c.base}/approvals`);
  t.match(page.url(), /\/sign-in$/);
});

t.test('the browser reported no console error, exception or CSP violation', async (t) => {
  // The refused sign-in answers 401, which Chromium logs as a failed resource load.
  t.same(
    problems.filter((p) => !/status of 401/.test(p) && !/status of 403/.test(p)),
    [],
  );
});
