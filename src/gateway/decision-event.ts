import type { GuardVerdict } from './types.js';

/** The recorded `decision` event of a verdict, on every channel. */
export function decisionEvent(statementId: string, verdict: GuardVerdict) {
  return {
    statementId,
    action: verdict.action,
    reason: verdict.reason,
    rule: verdict.rule,
    effects: [...new Set(verdict.statements.flatMap((s) => s.effects))],
    objects: [...new Set(verdict.statements.flatMap((s) => s.objects))],
    ...(verdict.shadow ? { shadow: verdict.shadow } : {}),
    ...(verdict.rewritten !== undefined ? { rewritten: verdict.rewritten } : {}),
  };
}
