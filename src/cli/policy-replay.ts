import type { Config } from '../config/load.js';
import type { Channel, Dialect, GuardVerdict, SessionContext } from '../gateway/types.js';
import { compileStatementPolicy, createStatementAnalyzer, PolicyGuard } from '../guard/index.js';
import type { StatementPolicy } from '../guard/index.js';
import { selectPolicy } from '../identity/policies.js';
import type { RecordingReader, SessionFilter } from '../recording/types.js';

/** A decision as a policy makes it: under shadow mode, what it would have enforced. */
export interface PolicyDecision {
  action: string;
  rule: string;
  /** The policy was in shadow mode: the decision was recorded, not enforced. */
  shadow: boolean;
}

/** One recorded statement, with the decision recorded and those of each configuration given. */
export interface ReplayedStatement {
  session: string;
  statementId: string;
  sql: string;
  /** Undefined when the recording holds no decision for it (the session ended first). */
  recorded: PolicyDecision | undefined;
  decisions: PolicyDecision[];
}

/** The policy's own decision of a verdict (a shadow verdict's would-decision). */
export function policyDecision(verdict: GuardVerdict): PolicyDecision {
  return verdict.shadow
    ? { action: verdict.shadow.action, rule: verdict.shadow.rule, shadow: true }
    : { action: verdict.action, rule: verdict.rule, shadow: false };
}

function recordedDecision(event: Record<string, unknown>): PolicyDecision {
  const shadow = event['shadow'] as { action?: unknown; rule?: unknown } | undefined;
  if (shadow && typeof shadow.action === 'string') {
    return { action: shadow.action, rule: String(shadow.rule ?? ''), shadow: true };
  }
  return { action: String(event['action']), rule: String(event['rule'] ?? ''), shadow: false };
}

/** A guard that decides with a configuration's policies, the way `sluice serve` would. */
function guardOf(config: Config): PolicyGuard {
  const compiled = new Map<object, StatementPolicy>();
  const analyzer = createStatementAnalyzer({ ...config.guard, cacheSize: 0 });
  return new PolicyGuard({
    analyzer,
    policyFor: (session) => {
      const policy = selectPolicy(config, session.identity, session.target);
      if (policy === undefined) return undefined;
      let statements = compiled.get(policy);
      if (statements === undefined) {
        statements = compileStatementPolicy(policy);
        compiled.set(policy, statements);
      }
      return statements;
    },
  });
}

/**
 * Every statement recorded in the sessions the filter selects, decided again under each
 * configuration as its session's caller (subject, groups, target and dialect from the recorded
 * session.start), in order, so that a PREPARE earlier in a session decides a later EXECUTE. The
 * target's own estimates (an UPDATE the planner expects to touch most of its table) are not
 * asked: nothing is sent to any database.
 */
export async function* replayDecisions(
  reader: RecordingReader,
  filter: SessionFilter,
  configs: readonly Config[],
): AsyncIterable<ReplayedStatement> {
  const guards = configs.map(guardOf);
  for (const summary of await reader.listSessions(filter)) {
    let context: SessionContext | undefined;
    const pending = new Map<string, ReplayedStatement>();
    const order: ReplayedStatement[] = [];
    for await (const event of reader.readEvents(summary.id)) {
      if (event.type === 'session.start') {
        context = {
          id: `replay-${summary.id}`,
          identity: {
            subject: String(event['subject']),
            groups: Array.isArray(event['groups']) ? (event['groups'] as unknown[]).map(String) : [],
            issuer: String(event['issuer'] ?? ''),
            via: event['via'] === 'oidc' ? 'oidc' : 'gateway',
          },
          target: String(event['target']),
          dialect: (event['dialect'] === 'mysql' ? 'mysql' : 'postgres') as Dialect,
          channel: String(event['channel']) as Channel,
        };
      } else if (event.type === 'statement' && context !== undefined) {
        const sql = String(event['sql']);
        const statement: ReplayedStatement = {
          session: summary.id,
          statementId: String(event['statementId']),
          sql,
          recorded: undefined,
          decisions: [],
        };
        for (const guard of guards) statement.decisions.push(policyDecision(await guard.check(sql, context)));
        pending.set(statement.statementId, statement);
        order.push(statement);
      } else if (event.type === 'decision') {
        const statement = pending.get(String(event['statementId']));
        if (statement !== undefined) statement.recorded = recordedDecision(event);
      }
    }
    for (const guard of guards) guard.endSession(`replay-${summary.id}`);
    yield* order;
  }
}

/** One line of a replay report: marker, decisions, the policy rule that changed, the SQL. */
export function replayLine(
  marker: string,
  before: PolicyDecision | undefined,
  after: PolicyDecision,
  sql: string,
): string {
  const show = (d: PolicyDecision | undefined) =>
    d === undefined ? '(none)' : `${d.action}${d.shadow ? ' (shadow)' : ''}`;
  const rule = before?.rule === after.rule ? '' : `  [${before?.rule ?? '-'} -> ${after.rule}]`;
  return `${marker.padEnd(8)} ${show(before).padEnd(16)} -> ${show(after).padEnd(16)} ${sql.replace(/\s+/g, ' ')}${rule}`;
}
