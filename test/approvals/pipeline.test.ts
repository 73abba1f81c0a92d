import t from 'tap';
import { GatewayError } from '../../src/gateway/errors.js';
import { StatementPipeline } from '../../src/gateway/pipeline.js';
import type { GuardStage, TargetEngine } from '../../src/gateway/types.js';
import type { SessionRecorder } from '../../src/recording/types.js';
import { alice, connect, gateway, memoryLogger, prefix, session, verdict } from './fixtures/approvals.js';

const SQL = "UPDATE orders SET status = 'void' WHERE id = 5";

/** The pipeline with a guard that sends every statement to review and an engine that counts runs. */
async function pipelineWith(t: { teardown(fn: () => unknown): void }) {
  const one = await gateway(t, prefix(t, await connect(t)));
  const runs: string[] = [];
  const approvals: Array<{ state: string; requestId: string; by?: string }> = [];
  const guard: GuardStage = { check: async (sql) => verdict(sql) };
  const engine: TargetEngine = {
    dialect: 'postgres',
    query: async (sql) => {
      runs.push(sql);
      return { command: 'UPDATE 1', rowCount: 1 };
    },
    close: async () => {},
  };
  const noop = () => {};
  const recorder: SessionRecorder = {
    onStatement: noop,
    onDecision: noop,
    onApproval: (e) =>
      void approvals.push({ state: e.state, requestId: e.requestId, ...(e.by ? { by: e.by } : {}) }),
    onColumns: noop,
    onRows: noop,
    onResultEnd: noop,
    onError: noop,
    onSessionEnd: noop,
  };
  const pipeline = new StatementPipeline(
    {
      guard,
      approvals: one.stage,
      masking: { plan: async () => null },
      recorderReady: () => ({ ok: true }),
      logger: memoryLogger().logger,
    },
    session(),
    engine,
    recorder,
    { maxRows: 100, statementTimeoutMs: 5_000 },
  );
  const delivery = { columns: () => {}, row: () => {} };
  const run = () => pipeline.run({ sql: SQL, approvalWaitMs: 0 }, delivery);
  return { one, run, runs, approvals };
}

t.test('through the pipeline: pending, then approved and run once, then a new request', async (t) => {
  const { one, run, runs, approvals } = await pipelineWith(t);
  const first = await run().catch((e: unknown) => e);
  t.ok(first instanceof GatewayError);
  t.equal((first as GatewayError).code, 'ERR_APPROVAL_PENDING');
  const requestId = (first as GatewayError).detail ?? '';
  t.match((first as GatewayError).message, requestId);
  t.same(runs, [], 'nothing ran while pending');

  await one.service.approve(requestId, alice, 'ok');
  const second = await run();
  t.equal(second.command, 'UPDATE 1');
  t.same(runs, [SQL], 'the approved statement ran');

  const third = await run().catch((e: unknown) => e);
  t.equal((third as GatewayError).code, 'ERR_APPROVAL_PENDING', 'a replay needs a new approval');
  t.not((third as GatewayError).detail, requestId);
  t.same(runs, [SQL], 'and did not run');
  // In the order it happened: the caller requests, the approver approves, the caller runs it.
  t.same(
    approvals.map((a) => `${a.state} by ${a.by ?? '-'}`),
    [
      `requested by ${session().identity.subject}`,
      'approved by alice',
      `executed by ${session().identity.subject}`,
      `requested by ${session().identity.subject}`,
    ],
  );

  await one.service.deny((third as GatewayError).detail ?? '', alice, 'once is enough');
  const fourth = await run().catch((e: unknown) => e);
  t.equal((fourth as GatewayError).code, 'ERR_APPROVAL_PENDING', 'a denied request is not reused');
});
