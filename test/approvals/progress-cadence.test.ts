import t from 'tap';
import { connect, gateway, prefix, session, verdict } from './fixtures/approvals.js';
import {
  approvalInstructions,
  approvalWaitNotices,
  formatWait,
  wireApprovalWaitMs,
} from '../../src/gateway/approval-notice.js';
import { parseConfigText } from '../../src/config/load.js';

const SQL = "UPDATE orders SET status = 'x' WHERE id = 7";

t.test('a waiting review reports progress at once, then at doubling gaps', async (t) => {
  const p = prefix(t, await connect(t));
  const one = await gateway(t, p, { timeout: 10_000 }, { progressMs: 50, pollMs: 5_000 });
  const times: number[] = [];
  const started = Date.now();
  const outcome = await one.stage.review(session(), SQL, verdict(SQL), {
    waitMs: 1_300,
    onProgress: () => times.push(Date.now() - started),
  });
  t.equal(outcome.state, 'pending', 'nobody answered in the wait');
  // Calls near 0, 50, 150, 350, 750 ms: five, where a fixed 50 ms cadence would make 26.
  t.equal(times.length, 5, `progress at ${times.join(', ')} ms`);
  t.ok((times[0] ?? Infinity) < 200, 'the first comes at once');
  const gaps = times.slice(1).map((x, i) => x - (times[i] ?? 0));
  for (let i = 1; i < gaps.length; i++) {
    t.ok(
      (gaps[i] ?? 0) > (gaps[i - 1] ?? 0) * 1.5,
      `gap ${i + 1} (${gaps[i]} ms) is longer than the one before`,
    );
  }
});

t.test('the notices of a wait: how long and how to approve first, then the time left', async (t) => {
  let now = 1_000_000;
  const notices = approvalWaitNotices(
    600_000,
    (id) => `approve ${id} like this`,
    () => now,
  );
  t.equal(notices('r1'), 'waiting for approval: request r1 (waits up to 10m); approve r1 like this');
  now += 25_000;
  t.equal(notices('r1'), 'still waiting for approval: request r1 (9m35s left)');
  now += 600_000;
  t.equal(notices('r1'), 'still waiting for approval: request r1 (0s left)');
  t.equal(formatWait(45_000), '45s');
  t.equal(formatWait(120_000), '2m');
});

t.test('wireWait defaults to the timeout and never exceeds it', async (t) => {
  const cfg = (approvals: string) =>
    parseConfigText(`approvals: ${approvals}\nserver: { http: { listen: 127.0.0.1:0 } }\ntargets: {}`, {
      baseDir: '/tmp',
      env: {},
    });
  t.equal(wireApprovalWaitMs(cfg('{ timeout: 10m }')), 600_000);
  t.equal(wireApprovalWaitMs(cfg('{ timeout: 10m, wireWait: 90s }')), 90_000);
  t.equal(wireApprovalWaitMs(cfg('{ timeout: 1m, wireWait: 5m }')), 60_000);
  t.throws(() => cfg('{ wireWait: soon }'), /approvals\.wireWait.*expected a duration/s);
  const config = { ...cfg('{ timeout: 10m }'), file: '/etc/sluice/my config.yaml' };
  t.equal(
    approvalInstructions(config)('abc'),
    "an approver runs: sluice approvals approve abc --config '/etc/sluice/my config.yaml' --token <their token> (or POST /api/approvals/abc/approve)",
  );
});
