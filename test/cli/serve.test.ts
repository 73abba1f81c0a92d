import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The built CLI (npm test builds first), run as a user runs it.
const bin = join(import.meta.dirname, '..', '..', 'bin', 'sluice.js');
const dir = mkdtempSync(join(tmpdir(), 'sluice-serve-'));

t.test('sluice serve refuses an invalid config, listing every problem by key path', async (t) => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(
    file,
    'targets:\n  orders: { engine: postgres, host: h, port: "5432x", database: d, user: u }\nrecording: { colour: blue }\n',
  );
  const result = spawnSync(process.execPath, [bin, 'serve', '--config', file], { encoding: 'utf8' });
  t.equal(result.status, 1);
  t.match(result.stderr, /targets\.orders\.port: expected a number, got string/);
  t.match(result.stderr, /recording\.colour: unknown key/);
  t.notMatch(result.stderr, /at .*\.js:\d+/, 'no stack trace');
});

t.test('every command answers --help', async (t) => {
  for (const command of ['serve', 'mcp', 'check', 'token', 'recordings', 'approvals', 'demo']) {
    const result = spawnSync(process.execPath, [bin, command, '--help'], { encoding: 'utf8' });
    t.equal(result.status, 0, `${command} --help exits 0`);
    t.match(result.stdout, /Usage: sluice/i, `${command} --help prints its usage`);
  }
  const top = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  t.match(top.stdout, /Commands:/);
  const unknown = spawnSync(process.execPath, [bin, 'frobnicate'], { encoding: 'utf8' });
  t.equal(unknown.status, 2);
});

t.test('sluice serve starts the HTTP and Postgres listeners and stops on SIGTERM', async (t) => {
  const file = join(dir, 'sluice.yaml');
  writeFileSync(
    file,
    `server:
  http: { listen: 127.0.0.1:0 }
  postgres: { listen: 127.0.0.1:0 }
targets:
  pg: { engine: postgres, host: 127.0.0.1, port: 5432, database: postgres, user: postgres, tls: disable }
policies:
  - name: agents
    when: { groups: [agents] }
    statements: { allow: [read] }
recording: { store: file }
`,
  );
  const child = spawn(process.execPath, [bin, 'serve', '--config', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const match = /HTTP listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (match && /"event":"listen","channel":"postgres"/.test(log)) resolve(match[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${log}`)));
  });
  const health = await fetch(`${url}/healthz`);
  t.equal(health.status, 200);
  const ready = await fetch(`${url}/readyz`);
  t.equal(ready.status, 200);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'a clean exit');
  t.match(log, /"event":"listen","channel":"postgres"/);
});
