import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runDemo } from '../../src/cli/demo.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-demo-console-'));
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
t.teardown(async () => {
  stop.abort();
  await finished;
});
await printed;

t.test('sluice demo prints the console URL, and its DBA token signs in there', async (t) => {
  const consoleUrl = /Web console: (http:\/\/127\.0\.0\.1:\d+)\/ /.exec(out)?.[1];
  const dba = /DBA token:\n(\S+)/.exec(out)?.[1] ?? '';
  t.ok(consoleUrl, 'the banner names the console');
  t.match(out, new RegExp(`Approve as the dba:  in the web console \\(${consoleUrl}/approvals\\)`));
  const signIn = await fetch(`${consoleUrl}/sign-in/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: String(consoleUrl) },
    body: new URLSearchParams({ token: dba }),
    redirect: 'manual',
  });
  t.equal(signIn.status, 303);
  const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const me = await fetch(`${consoleUrl}/api/me`, { headers: { cookie } });
  t.match(await me.json(), { subject: 'dba', approver: true, auditor: true });
  const sessions = await fetch(`${consoleUrl}/sessions`, { headers: { cookie } });
  t.equal(sessions.status, 200, 'the dba reads the recorded sessions');
});
