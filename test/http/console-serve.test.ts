/**
 * The console as `sluice serve` ships it: the built CLI (npm test builds first) serves the pages
 * and their assets from dist alone, and a token minted by `sluice token` signs in.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'sluice.js');
const dir = mkdtempSync(join(tmpdir(), 'sluice-console-serve-'));
const file = join(dir, 'sluice.yaml');
writeFileSync(
  file,
  `server:
  http: { listen: 127.0.0.1:0 }
targets:
  pg: { engine: postgres, host: 127.0.0.1, port: 5432, database: postgres, user: postgres, tls: disable }
policies:
  - name: agents
    when: { groups: [agents] }
    statements: { allow: [read] }
  - name: dba
    when: { groups: [dba] }
    statements: { default: allow }
recording: { store: file }
approvals: { approvers: { groups: [dba] } }
identity: { gatewayTokens: { issuer: sluice-serve-test-${process.pid} } }
`,
);

t.test('sluice serve serves the console; a token from sluice token signs in', async (t) => {
  const minted = spawnSync(
    process.execPath,
    [bin, 'token', '--config', file, '--sub', 'dba', '--groups', 'dba'],
    {
      encoding: 'utf8',
    },
  );
  t.equal(minted.status, 0, minted.stderr);
  const token = minted.stdout.trim();
  const child = spawn(process.execPath, [bin, 'serve', '--config', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const match = /HTTP listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (match) resolve(match[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${log}`)));
  });
  const signIn = await fetch(`${url}/sign-in/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url },
    body: new URLSearchParams({ token }),
    redirect: 'manual',
  });
  t.equal(signIn.status, 303);
  const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const queue = await fetch(`${url}/approvals`, { headers: { cookie } });
  t.equal(queue.status, 200);
  const html = await queue.text();
  t.match(html, /id="queue"/);
  for (const asset of html.match(/\/assets\/[a-z]+-[0-9a-f]+\.(js|css|svg)/g) ?? []) {
    const res = await fetch(`${url}${asset}`);
    t.equal(res.status, 200, asset);
    t.ok((await res.text()).length > 100, `${asset} has content`);
  }
  t.equal((await fetch(`${url}/sessions`, { headers: { cookie } })).status, 200);
  t.match(await (await fetch(`${url}/api/me`, { headers: { cookie } })).json(), {
    subject: 'dba',
    approver: true,
  });
});
