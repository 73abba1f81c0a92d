import type { StatementSummary } from '../gateway/types.js';
import type { ApprovalGrant } from './types.js';

/**
 * Whether a grant releases every statement of a text. Fails closed: a statement whose effects or
 * objects the guard could not name (none listed, or `unknown`) is never covered, and a statement
 * without a limiting WHERE is covered only when the approved statement was one as well.
 */
export function grantCovers(grant: ApprovalGrant, statements: readonly StatementSummary[]): boolean {
  if (statements.length === 0) return false;
  const effects = new Set(grant.effects);
  const objects = new Set(grant.objects);
  return statements.every(
    (s) =>
      s.effects.length > 0 &&
      s.objects.length > 0 &&
      (grant.unbounded || !s.unbounded) &&
      s.effects.every((e) => e !== 'unknown' && effects.has(e)) &&
      s.objects.every((o) => objects.has(o)),
  );
}
