import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { EFFECTS, type Effect } from '../config/schema.js';
import type { StatementSummary } from '../gateway/types.js';
import type { Identity } from '../identity/types.js';
import { decodeGrant, decodeRequest, encodeRequest } from './codec.js';
import { ApprovalError } from './errors.js';
import { grantCovers } from './grant-scope.js';
import { approvalKeys, type ApprovalKeys } from './keys.js';
import { DECIDE_REQUEST, OPEN_REQUEST, SET_IF_EXISTS } from './scripts.js';
import type {
  ApprovalGrant,
  ApprovalRequest,
  ApprovalRequestState,
  ApprovalStatus,
  GrantScope,
  NewApprovalRequest,
  Requester,
} from './types.js';

/** The part of `approvals` configuration the service needs (timeout in ms). */
export interface ApprovalPolicy {
  approvers: { groups: string[] };
  timeout: number;
}

export interface ApprovalServiceOptions {
  /** A command connection (not one in subscriber mode). The caller owns and closes it. */
  redis: Redis;
  policy: ApprovalPolicy;
  clock?: () => number;
  keyPrefix?: string;
  /** How long a decided request stays readable after its deadline; default 24 h. */
  retentionMs?: number;
  /** The longest grant an approver may give; default 24 h. */
  maxGrantMinutes?: number;
  newId?: () => string;
}

export type OpenOutcome =
  | { kind: 'created'; request: ApprovalRequest }
  | { kind: 'pending'; request: ApprovalRequest }
  | { kind: 'executed'; request: ApprovalRequest };

export interface ListFilter {
  state?: ApprovalRequestState;
  /** Only the requests of this identity (subject + issuer). */
  requester?: { subject: string; issuer: string };
  /** At most this many, newest first; default 200. */
  limit?: number;
}

const MAX_REASON_LENGTH = 2_000;
const DAY_MS = 86_400_000;

/**
 * The approval workflow's state, kept in Redis so every gateway instance sees the same requests.
 * Every state change is one Lua script (see scripts.ts), so concurrent approvers, expiry and
 * execution settle on one outcome.
 */
export class ApprovalService {
  readonly keys: ApprovalKeys;
  readonly #redis: Redis;
  readonly #policy: ApprovalPolicy;
  readonly #now: () => number;
  readonly #retentionMs: number;
  readonly #maxGrantMinutes: number;
  readonly #newId: () => string;
  readonly #approverGroups: ReadonlySet<string>;

  constructor(options: ApprovalServiceOptions) {
    this.#redis = options.redis;
    this.#policy = options.policy;
    this.#now = options.clock ?? Date.now;
    this.#retentionMs = options.retentionMs ?? DAY_MS;
    this.#maxGrantMinutes = options.maxGrantMinutes ?? 24 * 60;
    this.#newId = options.newId ?? randomUUID;
    this.keys = approvalKeys(options.keyPrefix);
    this.#approverGroups = new Set(options.policy.approvers.groups);
  }

  get timeoutMs(): number {
    return this.#policy.timeout;
  }

  /** Approvers are members of `approvals.approvers.groups`; with none configured nobody is one. */
  isApprover(identity: Identity): boolean {
    return identity.groups.some((g) => this.#approverGroups.has(g));
  }

  /** Always opens a new request. */
  async create(input: NewApprovalRequest): Promise<ApprovalRequest> {
    return (await this.#open(input, false)).request;
  }

  /**
   * The open request for this identity, target and exact text: an approved one is consumed
   * (`executed`: the statement may run now, once), a pending one is returned, else one is created.
   */
  async open(input: NewApprovalRequest): Promise<OpenOutcome> {
    return this.#open(input, true);
  }

  async #open(input: NewApprovalRequest, reuse: boolean): Promise<OpenOutcome> {
    const now = this.#now();
    const request: ApprovalRequest = {
      id: this.#newId(),
      requester: { ...input.requester, groups: [...input.requester.groups] },
      target: input.target,
      channel: input.channel,
      sessionId: input.sessionId,
      sql: input.sql,
      statements: input.statements,
      effects: [...new Set(input.statements.flatMap((s) => s.effects))],
      objects: [...new Set(input.statements.flatMap((s) => s.objects))],
      guard: input.guard,
      createdAt: now,
      expiresAt: now + this.#policy.timeout,
      state: 'pending',
    };
    const { subject, issuer } = input.requester;
    const matchKey = this.keys.match(subject, issuer, input.target, input.sql);
    const reply = await this.#eval(
      OPEN_REQUEST,
      [matchKey, this.keys.pending, this.keys.index, this.keys.request(request.id)],
      [
        String(now),
        request.id,
        this.keys.request(''),
        String(this.#policy.timeout + this.#retentionMs),
        this.keys.changes,
        reuse ? '1' : '0',
        ...encodeRequest(request, matchKey),
      ],
    );
    const [kind, id] = reply;
    if (kind === 'created') return { kind, request };
    if ((kind === 'pending' || kind === 'executed') && id !== undefined) {
      return { kind, request: await this.#mustGet(id) };
    }
    throw new ApprovalError('ERR_APPROVAL_STORE', `unexpected reply from Redis: ${reply.join(' ')}`);
  }

  /** A request by id, or undefined. A pending request past its deadline is expired on the way. */
  async get(id: string): Promise<ApprovalRequest | undefined> {
    const request = await this.#read(id);
    if (request?.state === 'pending' && this.#now() >= request.expiresAt) {
      await this.#decide(id, 'expired', {});
      return this.#read(id);
    }
    return request;
  }

  async list(filter: ListFilter = {}): Promise<ApprovalRequest[]> {
    const limit = filter.limit ?? 200;
    await this.#expireDue();
    const ids =
      filter.state === 'pending'
        ? await this.#r(this.#redis.zrange(this.keys.pending, '0', '-1'))
        : await this.#r(this.#redis.zrevrange(this.keys.index, 0, -1));
    const out: ApprovalRequest[] = [];
    const gone: string[] = [];
    // Read in pages so a long index costs a few round trips, not one per request.
    for (let i = 0; i < ids.length && out.length < limit; i += 100) {
      const page = ids.slice(i, i + 100);
      const pipeline = this.#redis.pipeline();
      for (const id of page) pipeline.hgetall(this.keys.request(id));
      const replies = (await this.#r(pipeline.exec())) ?? [];
      page.forEach((id, j) => {
        const [err, hash] = replies[j] ?? [];
        if (err) throw this.#storeError(err);
        const fields = hash as Record<string, string> | undefined;
        if (!fields || Object.keys(fields).length === 0) {
          gone.push(id);
          return;
        }
        const request = decodeRequest(fields);
        if (filter.state !== undefined && request.state !== filter.state) return;
        if (
          filter.requester &&
          (request.requester.subject !== filter.requester.subject ||
            request.requester.issuer !== filter.requester.issuer)
        ) {
          return;
        }
        if (out.length < limit) out.push(request);
      });
    }
    // Requests whose keys reached their retention are dropped from the indexes.
    if (gone.length > 0) {
      await this.#r(this.#redis.zrem(this.keys.index, ...gone));
      await this.#r(this.#redis.zrem(this.keys.pending, ...gone));
    }
    return out;
  }

  /**
   * Approves a pending request. Refused for a non-approver and for the requester themself (the
   * same subject from the same issuer): nobody releases their own statement. With `grant`, also
   * stores a time-boxed grant for the requester on this target.
   */
  async approve(
    id: string,
    approver: Identity,
    reason?: string,
    options: { grant?: GrantScope } = {},
  ): Promise<{ request: ApprovalRequest; grant?: ApprovalGrant }> {
    const request = await this.#authorizeDecision(id, approver, reason);
    // Validate the grant before approving, so a bad grant leaves the request untouched.
    const scope = options.grant ? this.#grantScope(request, options.grant) : undefined;
    const executeBy = this.#now() + this.#policy.timeout;
    await this.#decide(id, 'approved', { approver, reason, executeBy });
    const approved = await this.#mustGet(id);
    if (!scope) return { request: approved };
    const grant = await this.grant({
      subject: request.requester.subject,
      issuer: request.requester.issuer,
      target: request.target,
      ...scope,
      by: approver.subject,
      byIssuer: approver.issuer,
      ...(reason ? { reason } : {}),
      requestId: id,
    });
    return { request: approved, grant };
  }

  async deny(id: string, approver: Identity, reason?: string): Promise<ApprovalRequest> {
    await this.#authorizeDecision(id, approver, reason);
    await this.#decide(id, 'denied', { approver, reason });
    return this.#mustGet(id);
  }

  /** Stores a grant with a TTL. Callers are approvers (approve() checks); this does not re-check. */
  async grant(input: {
    subject: string;
    issuer: string;
    target: string;
    effects: Effect[];
    objects: string[];
    unbounded: boolean;
    minutes: number;
    by: string;
    byIssuer: string;
    reason?: string;
    requestId: string;
  }): Promise<ApprovalGrant> {
    const { minutes, ...rest } = input;
    this.#checkMinutes(minutes);
    const now = this.#now();
    const grant: ApprovalGrant = {
      id: this.#newId(),
      ...rest,
      createdAt: now,
      expiresAt: now + minutes * 60_000,
    };
    const key = this.keys.grants(input.subject, input.issuer, input.target);
    const pttl = await this.#r(this.#redis.pttl(key));
    const ttl = grant.expiresAt - now;
    await this.#r(
      this.#redis
        .multi()
        .zadd(key, grant.expiresAt, JSON.stringify(grant))
        .pexpire(key, Math.max(ttl, pttl))
        .exec(),
    );
    return grant;
  }

  /** A live grant of this identity and target that covers every statement, if there is one. */
  async findGrant(
    requester: { subject: string; issuer: string },
    target: string,
    statements: readonly StatementSummary[],
  ): Promise<ApprovalGrant | undefined> {
    const now = this.#now();
    const key = this.keys.grants(requester.subject, requester.issuer, target);
    const members = await this.#r(this.#redis.zrangebyscore(key, `(${now}`, '+inf'));
    for (const member of members) {
      const grant = decodeGrant(member);
      // Re-check identity and expiry from the grant itself, not only from where it was found.
      if (
        grant &&
        grant.subject === requester.subject &&
        grant.issuer === requester.issuer &&
        grant.target === target &&
        now < grant.expiresAt &&
        grantCovers(grant, statements)
      ) {
        return grant;
      }
    }
    return undefined;
  }

  /** Consumes an approval: true when this call moved it from approved to executed. */
  async markExecuted(id: string): Promise<boolean> {
    const [kind] = await this.#decide(id, 'executed', {});
    return kind === 'ok';
  }

  async setRowEstimate(id: string, rows: number): Promise<void> {
    await this.#eval(SET_IF_EXISTS, [this.keys.request(id)], ['rowEstimate', String(Math.round(rows))]);
  }

  /** What `approval_status` shows; only to the requester or an approver. */
  async status(id: string, identity: Identity): Promise<ApprovalStatus> {
    const request = await this.get(id);
    if (!request) throw new ApprovalError('ERR_APPROVAL_NOT_FOUND', `approval request ${id} does not exist`);
    if (!isRequester(request.requester, identity) && !this.isApprover(identity)) {
      throw new ApprovalError(
        'ERR_APPROVAL_FORBIDDEN',
        `approval request ${id} can be read only by its requester or an approver`,
      );
    }
    return toStatus(request);
  }

  async #authorizeDecision(
    id: string,
    approver: Identity,
    reason: string | undefined,
  ): Promise<ApprovalRequest> {
    if (reason !== undefined && reason.length > MAX_REASON_LENGTH) {
      throw new ApprovalError(
        'ERR_APPROVAL_INVALID',
        `reason is longer than ${MAX_REASON_LENGTH} characters`,
      );
    }
    if (!this.isApprover(approver)) {
      throw new ApprovalError(
        'ERR_APPROVAL_NOT_APPROVER',
        `${approver.subject} is not an approver (approvers are members of ${[...this.#approverGroups].join(', ') || 'no group: approvals.approvers.groups is empty'})`,
      );
    }
    const request = await this.get(id);
    if (!request) throw new ApprovalError('ERR_APPROVAL_NOT_FOUND', `approval request ${id} does not exist`);
    if (isRequester(request.requester, approver)) {
      throw new ApprovalError(
        'ERR_APPROVAL_SELF',
        `approval request ${id} is your own: another approver must decide it`,
      );
    }
    if (request.state !== 'pending') {
      throw new ApprovalError('ERR_APPROVAL_CONFLICT', `approval request ${id} is already ${request.state}`);
    }
    return request;
  }

  #grantScope(
    request: ApprovalRequest,
    scope: GrantScope,
  ): { effects: Effect[]; objects: string[]; unbounded: boolean; minutes: number } {
    this.#checkMinutes(scope.minutes);
    // A grant is consulted only for statements the policy sends to review: it can spare a request,
    // never release what the guard denies. By default it covers what the approver just saw.
    const effects = scope.effects ?? request.effects;
    const objects = scope.objects ?? request.objects;
    for (const e of effects) {
      // `unknown` means the guard could not tell what a statement does: never granted in advance.
      if (!(EFFECTS as readonly string[]).includes(e) || e === 'unknown') {
        throw new ApprovalError('ERR_APPROVAL_INVALID', `effect "${e}" cannot be granted`);
      }
    }
    if (effects.length === 0 || objects.length === 0) {
      throw new ApprovalError('ERR_APPROVAL_INVALID', 'a grant needs at least one effect and one object');
    }
    return {
      effects,
      objects,
      unbounded: request.statements.some((s) => s.unbounded),
      minutes: scope.minutes,
    };
  }

  #checkMinutes(minutes: number): void {
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > this.#maxGrantMinutes) {
      throw new ApprovalError(
        'ERR_APPROVAL_INVALID',
        `grant minutes must be a whole number from 1 to ${this.#maxGrantMinutes}, got ${minutes}`,
      );
    }
  }

  async #decide(
    id: string,
    to: 'approved' | 'denied' | 'expired' | 'executed',
    d: { approver?: Identity; reason?: string | undefined; executeBy?: number },
  ): Promise<string[]> {
    const now = this.#now();
    const reply = await this.#eval(
      DECIDE_REQUEST,
      [this.keys.request(id), this.keys.pending],
      [
        String(now),
        to,
        d.approver?.subject ?? '',
        d.approver?.issuer ?? '',
        d.reason ?? '',
        String(d.executeBy ?? 0),
        this.keys.changes,
        String((d.executeBy ?? now) - now + this.#retentionMs),
      ],
    );
    const [kind, state] = reply;
    if (kind === 'missing')
      throw new ApprovalError('ERR_APPROVAL_NOT_FOUND', `approval request ${id} does not exist`);
    if (kind === 'conflict' && (to === 'approved' || to === 'denied')) {
      throw new ApprovalError(
        'ERR_APPROVAL_CONFLICT',
        `approval request ${id} is already ${state ?? 'decided'}`,
      );
    }
    return reply;
  }

  async #expireDue(): Promise<void> {
    const due = await this.#r(this.#redis.zrangebyscore(this.keys.pending, '-inf', String(this.#now())));
    for (const id of due) {
      const [kind] = await this.#decide(id, 'expired', {}).catch((err: unknown) => {
        if (err instanceof ApprovalError && err.code === 'ERR_APPROVAL_NOT_FOUND') return ['missing'];
        throw err;
      });
      if (kind === 'missing') await this.#r(this.#redis.zrem(this.keys.pending, id));
    }
  }

  async #read(id: string): Promise<ApprovalRequest | undefined> {
    const hash = await this.#r(this.#redis.hgetall(this.keys.request(id)));
    if (Object.keys(hash).length === 0) return undefined;
    return decodeRequest(hash);
  }

  async #mustGet(id: string): Promise<ApprovalRequest> {
    const request = await this.#read(id);
    if (!request) throw new ApprovalError('ERR_APPROVAL_NOT_FOUND', `approval request ${id} does not exist`);
    return request;
  }

  async #eval(script: string, keys: string[], args: string[]): Promise<string[]> {
    let reply: unknown;
    try {
      reply = await this.#redis.eval(script, keys.length, ...keys, ...args);
    } catch (err) {
      throw this.#storeError(err);
    }
    if (!Array.isArray(reply)) return [];
    return reply.map(String);
  }

  /** Every Redis failure surfaces as ERR_APPROVAL_STORE, so callers refuse rather than guess. */
  async #r<T>(pending: Promise<T>): Promise<T> {
    try {
      return await pending;
    } catch (err) {
      throw this.#storeError(err);
    }
  }

  #storeError(err: unknown): ApprovalError {
    const message = err instanceof Error ? err.message : String(err);
    return new ApprovalError('ERR_APPROVAL_STORE', `approval store (Redis) failed: ${message}`, {
      cause: err,
    });
  }
}

/** The same person or agent: subject and issuer both match (a subject alone can be reused by another IdP). */
export function isRequester(requester: Pick<Requester, 'subject' | 'issuer'>, identity: Identity): boolean {
  return requester.subject === identity.subject && requester.issuer === identity.issuer;
}

export function toStatus(request: ApprovalRequest): ApprovalStatus {
  const d = request.decision;
  return {
    id: request.id,
    state: request.state,
    target: request.target,
    sql: request.sql,
    createdAt: request.createdAt,
    expiresAt: request.expiresAt,
    ...(d ? { decidedBy: d.by, decidedAt: d.at } : {}),
    ...(d?.reason !== undefined ? { reason: d.reason } : {}),
    ...(d?.executeBy !== undefined ? { executeBy: d.executeBy } : {}),
    ...(request.executedAt !== undefined ? { executedAt: request.executedAt } : {}),
  };
}
