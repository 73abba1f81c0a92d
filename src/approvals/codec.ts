import { z } from 'zod';
import { effectSchema } from '../config/schema.js';
import { ApprovalError } from './errors.js';
import { REQUEST_STATES, type ApprovalGrant, type ApprovalRequest } from './types.js';

const CHANNELS = ['mcp-stdio', 'mcp-http', 'postgres', 'mysql', 'cli'] as const;

const statementSchema = z.object({
  text: z.string(),
  command: z.string(),
  effects: z.array(effectSchema),
  objects: z.array(z.string()),
  unbounded: z.boolean(),
});

const json = <T extends z.ZodType>(inner: T) =>
  z.string().transform((text, ctx): z.output<T> => {
    try {
      return inner.parse(JSON.parse(text));
    } catch {
      ctx.addIssue({ code: 'custom', message: 'malformed JSON field' });
      return z.NEVER;
    }
  });

const int = z
  .string()
  .regex(/^-?\d+$/)
  .transform(Number);

/** A request hash as stored. Anything else in Redis is treated as corrupt, never guessed at. */
const requestHash = z.object({
  id: z.string().min(1),
  subject: z.string(),
  issuer: z.string(),
  groups: json(z.array(z.string())),
  target: z.string(),
  channel: z.enum(CHANNELS),
  sessionId: z.string(),
  sql: z.string(),
  statements: json(z.array(statementSchema)),
  effects: json(z.array(effectSchema)),
  objects: json(z.array(z.string())),
  guardReason: z.string(),
  guardRule: z.string(),
  rowEstimate: int.optional(),
  createdAt: int,
  expiresAt: int,
  state: z.enum(REQUEST_STATES),
  matchKey: z.string(),
  decidedBy: z.string().optional(),
  decidedByIssuer: z.string().optional(),
  decidedAt: int.optional(),
  decisionReason: z.string().optional(),
  executeBy: int.optional(),
  executedAt: int.optional(),
});

/** The fields of a new request, as field/value pairs for HSET. */
export function encodeRequest(request: ApprovalRequest, matchKey: string): string[] {
  const fields: Record<string, string> = {
    id: request.id,
    subject: request.requester.subject,
    issuer: request.requester.issuer,
    groups: JSON.stringify(request.requester.groups),
    target: request.target,
    channel: request.channel,
    sessionId: request.sessionId,
    sql: request.sql,
    statements: JSON.stringify(request.statements),
    effects: JSON.stringify(request.effects),
    objects: JSON.stringify(request.objects),
    guardReason: request.guard.reason,
    guardRule: request.guard.rule,
    createdAt: String(request.createdAt),
    expiresAt: String(request.expiresAt),
    state: request.state,
    matchKey,
  };
  return Object.entries(fields).flat();
}

/** Reads a stored request; throws ERR_APPROVAL_STORE when the hash is not one we wrote. */
export function decodeRequest(hash: Record<string, string>): ApprovalRequest {
  const parsed = requestHash.safeParse(hash);
  if (!parsed.success) {
    throw new ApprovalError(
      'ERR_APPROVAL_STORE',
      `approval request ${hash.id ?? '(unknown)'} is malformed in Redis`,
    );
  }
  const h = parsed.data;
  // An expired request records when it was found expired, but nobody decided it.
  const decided = h.decidedBy !== undefined;
  return {
    id: h.id,
    requester: { subject: h.subject, issuer: h.issuer, groups: h.groups },
    target: h.target,
    channel: h.channel,
    sessionId: h.sessionId,
    sql: h.sql,
    statements: h.statements,
    effects: h.effects,
    objects: h.objects,
    guard: { reason: h.guardReason, rule: h.guardRule },
    ...(h.rowEstimate !== undefined ? { rowEstimate: h.rowEstimate } : {}),
    createdAt: h.createdAt,
    expiresAt: h.expiresAt,
    state: h.state,
    ...(decided
      ? {
          decision: {
            by: h.decidedBy ?? '',
            byIssuer: h.decidedByIssuer ?? '',
            at: h.decidedAt ?? 0,
            ...(h.decisionReason !== undefined ? { reason: h.decisionReason } : {}),
            ...(h.executeBy !== undefined ? { executeBy: h.executeBy } : {}),
          },
        }
      : {}),
    ...(h.executedAt !== undefined ? { executedAt: h.executedAt } : {}),
  };
}

const grantSchema = z.strictObject({
  id: z.string(),
  subject: z.string(),
  issuer: z.string(),
  target: z.string(),
  effects: z.array(effectSchema),
  objects: z.array(z.string()),
  unbounded: z.boolean(),
  by: z.string(),
  byIssuer: z.string(),
  reason: z.string().optional(),
  requestId: z.string(),
  createdAt: z.number(),
  expiresAt: z.number(),
});

/** Reads a stored grant; a malformed one is skipped by the caller (it grants nothing). */
export function decodeGrant(text: string): ApprovalGrant | undefined {
  try {
    const parsed = grantSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
