/**
 * The console's OIDC sign-in (authorization code + PKCE) against a loopback provider the test
 * runs, in headless Chromium and step by step with fetch.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import t from 'tap';
import { startConsoleGateway } from './console-fixture.js';
import { startProvider } from './oidc-provider.js';

const shots = process.env.SLUICE_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'sluice-console-oidc-'));
mkdirSync(shots, { recursive: true });
t.comment(`screenshots in ${shots}`);

const provider = await startProvider();
t.teardown(() => provider.close());
const c = await startConsoleGateway(t, {
  console: `clientId: ${provider.clientId}, clientSecret: ${provider.clientSecret}`,
  oidc: `[{ issuer: "${provider.issuer}", audience: sluice }]`,
});
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox'],
});
t.teardown(() => browser.close());

t.test('sign-in through the code flow; the ID token groups make an approver', async (t) => {
  provider.nextUser = { sub: 'alice', groups: ['dba'] };
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  t.teardown(() => context.close());
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${c.base}/sign-in`);
  await page.screenshot({ path: join(shots, '11-sign-in-oidc.png') });
  await page.click('#oidc-sign-in');
  await page.waitForURL(/\/approvals$/);
  t.equal((await page.locator('header .user').textContent())?.trim(), 'alice');
  t.equal(await page.locator('header .badge').count(), 1, 'shown as an approver');
  await page.waitForSelector('#live:has-text("Live")');
  await page.screenshot({ path: join(shots, '12-queue-oidc.png') });
  const me = await page.evaluate(async () => (await fetch('/api/me')).json());
  t.match(me, { subject: 'alice', issuer: provider.issuer, groups: ['dba'], via: 'oidc', approver: true });
  t.same(
    provider.refusals,
    [],
    'the provider accepted the client secret, code, redirect URI and PKCE verifier',
  );
  t.same(errors, []);
});

t.test('a user whose groups are not approvers gets no approver rights', async (t) => {
  provider.nextUser = { sub: 'bob', groups: ['interns'] };
  const context = await browser.newContext();
  t.teardown(() => context.close());
  const page = await context.newPage();
  await page.goto(`${c.base}/sign-in/oidc`);
  await page.waitForURL(/\/approvals$/);
  t.equal(await page.locator('#queue').getAttribute('data-approver'), 'false');
  t.equal((await page.goto(`${c.base}/sessions`))?.status(), 403);
});

/** Starts a sign-in with fetch: the state cookie and the provider's redirect back to the console. */
async function begin(): Promise<{ stateCookie: string; callback: string }> {
  const start = await fetch(`${c.base}/sign-in/oidc`, { redirect: 'manual' });
  if (start.status !== 302) throw new Error(`sign-in/oidc answered ${start.status}`);
  const stateCookie = (start.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const authorize = new URL(start.headers.get('location') ?? '');
  if (authorize.searchParams.get('code_challenge_method') !== 'S256') throw new Error('no PKCE');
  const back = await fetch(authorize, { redirect: 'manual' });
  return { stateCookie, callback: back.headers.get('location') ?? '' };
}

const callback = (url: string, cookie?: string) =>
  fetch(url, { redirect: 'manual', ...(cookie ? { headers: { cookie } } : {}) });

t.test('the callback needs the state this browser started, once', async (t) => {
  provider.nextUser = { sub: 'carol', groups: ['dba'] };
  const { stateCookie, callback: url } = await begin();
  t.match(stateCookie, /^sluice_oidc_state=/);
  const noCookie = await callback(url);
  t.equal(noCookie.status, 400);
  t.match(await noCookie.text(), /not started here/);
  t.equal((await callback(url, 'sluice_oidc_state=someone-elses')).status, 400);
  const ok = await callback(url, stateCookie);
  t.equal(ok.status, 303);
  t.match(
    ok.headers.get('set-cookie'),
    /sluice_console=[A-Za-z0-9_-]+; Path=\/; Max-Age=28800; HttpOnly; SameSite=Lax/,
  );
  const replayed = await callback(url, stateCookie);
  t.equal(replayed.status, 400, 'a state is used once');
  t.equal(
    (await callback(`${c.base}/sign-in/callback?code=x&state=never-issued`, 'sluice_oidc_state=never-issued'))
      .status,
    400,
  );
});

t.test('an ID token with another nonce, or a provider error, is refused', async (t) => {
  const first = await begin();
  provider.forgeNonce = 'replayed-nonce';
  const forged = await callback(first.callback, first.stateCookie);
  t.equal(forged.status, 400);
  t.match(await forged.text(), /nonce mismatch/);
  const second = await begin();
  const state = new URL(second.callback).searchParams.get('state') ?? '';
  const denied = await callback(
    `${c.base}/sign-in/callback?error=access_denied&state=${state}`,
    second.stateCookie,
  );
  t.equal(denied.status, 400);
  t.match(await denied.text(), /refused the sign-in: access_denied/);
});
