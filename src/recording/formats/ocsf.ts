import type { RecordingEvent, SessionSummary } from '../types.js';

/**
 * Maps a recording to OCSF "Datastore Activity" (class_uid 6005, category Application Activity 6),
 * schema 1.3.0: one record when the session connects, and one per statement once its outcome is
 * known (result, denial, error). Records are plain JSON objects, one per line, as SIEMs ingest.
 */
export const OCSF_VERSION = '1.3.0';
const CLASS_UID = 6005;
const CATEGORY_UID = 6;

const ACTIVITY = {
  unknown: [0, 'Unknown'],
  read: [1, 'Read'],
  update: [2, 'Update'],
  connect: [3, 'Connect'],
  query: [4, 'Query'],
  write: [5, 'Write'],
  create: [6, 'Create'],
  delete: [7, 'Delete'],
  other: [99, 'Other'],
} as const satisfies Record<string, readonly [number, string]>;
type Activity = keyof typeof ACTIVITY;

/** The OCSF activity of a statement, from its command tag (or its first keyword). */
export function activityOf(command: string): Activity {
  const word = command.trim().split(/\s+/)[0]?.toUpperCase() ?? '';
  switch (word) {
    case 'SELECT':
    case 'SHOW':
    case 'EXPLAIN':
    case 'WITH':
    case 'VALUES':
    case 'TABLE':
    case 'DESCRIBE':
      return 'query';
    case 'INSERT':
    case 'COPY':
      return 'write';
    case 'UPDATE':
    case 'MERGE':
      return 'update';
    case 'DELETE':
    case 'TRUNCATE':
    case 'DROP':
      return 'delete';
    case 'CREATE':
      return 'create';
    case '':
      return 'unknown';
    default:
      return 'other';
  }
}

interface StatementState {
  sql?: string;
  startedAt: number;
  decision?: {
    action: string;
    reason: string;
    rule: string;
    effects: unknown;
    objects: unknown;
    shadow?: unknown;
    rewritten?: unknown;
  };
  approvals: { state: unknown; by?: unknown; requestId?: unknown }[];
  columns?: unknown;
}

type OcsfRecord = Record<string, unknown>;

export class OcsfMapper {
  private readonly statements = new Map<string, StatementState>();

  constructor(private readonly session: SessionSummary) {}

  private base(activity: Activity, time: number, ok: boolean, message: string): OcsfRecord {
    const [activityId, activityName] = ACTIVITY[activity];
    const s = this.session;
    const record: OcsfRecord = {
      class_uid: CLASS_UID,
      class_name: 'Datastore Activity',
      category_uid: CATEGORY_UID,
      category_name: 'Application Activity',
      activity_id: activityId,
      activity_name: activityName,
      type_uid: CLASS_UID * 100 + activityId,
      type_name: `Datastore Activity: ${activityName}`,
      time,
      severity_id: ok ? 1 : 3,
      severity: ok ? 'Informational' : 'Medium',
      status_id: ok ? 1 : 2,
      status: ok ? 'Success' : 'Failure',
      message,
      actor: {
        user: { name: s.subject, uid: s.subject, groups: s.groups.map((name) => ({ name })) },
        session: { uid: s.id, issuer: s.issuer },
      },
      database: { name: s.target, type: 'Relational', type_id: 1 },
      type_id: 1,
      type: 'Database',
      metadata: {
        version: OCSF_VERSION,
        product: { name: 'Sluice', vendor_name: 'Sluice' },
        log_name: 'recording',
        uid: '',
      },
    };
    if (s.remote !== undefined) record.src_endpoint = endpoint(s.remote);
    return record;
  }

  /** Records completed by this event (zero or more). */
  push(event: RecordingEvent): OcsfRecord[] {
    const id = typeof event.statementId === 'string' ? event.statementId : undefined;
    const state = id === undefined ? undefined : this.state(id, event.ts);
    switch (event.type) {
      case 'session.start':
        return [
          this.finish(
            this.base('connect', event.ts, true, `session started over ${this.session.channel}`),
            event,
          ),
        ];
      case 'statement':
        if (state) state.sql = String(event.sql);
        return [];
      case 'decision':
        if (state) {
          state.decision = {
            action: String(event.action),
            reason: String(event.reason),
            rule: String(event.rule),
            effects: event.effects,
            objects: event.objects,
            // A shadow-mode policy's decision, not enforced: the statement ran (Allowed).
            ...(event.shadow !== undefined ? { shadow: event.shadow } : {}),
            // The text the row filters made of the statement, which is what ran.
            ...(event.rewritten !== undefined ? { rewritten: event.rewritten } : {}),
          };
          if (event.action === 'deny' && id !== undefined)
            return [this.statement(id, event, false, `denied: ${String(event.reason)}`)];
        }
        return [];
      case 'approval':
        if (state) {
          state.approvals.push({ state: event.state, by: event.by, requestId: event.requestId });
          if ((event.state === 'denied' || event.state === 'expired') && id !== undefined) {
            return [this.statement(id, event, false, `approval ${String(event.state)}`)];
          }
        }
        return [];
      case 'result.columns':
        if (state) state.columns = event.columns;
        return [];
      case 'result.rows':
        return [];
      case 'result.end':
        if (id === undefined) return [];
        return [
          this.statement(id, event, true, String(event.command), {
            command: event.command,
            row_count: event.rowCount,
            truncated: event.truncated,
            duration: event.durationMs,
          }),
        ];
      case 'error':
        if (id === undefined || !this.statements.has(id)) {
          const record = this.base(
            'other',
            event.ts,
            false,
            `${String(event.code)}: ${String(event.message)}`,
          );
          return [this.finish(record, event)];
        }
        return [this.statement(id, event, false, `${String(event.code)}: ${String(event.message)}`)];
      case 'session.end':
        return [
          ...[...this.statements.keys()].map((sid) =>
            this.statement(sid, event, false, 'the session ended before the statement finished'),
          ),
          this.finish(this.base('other', event.ts, true, `session ended: ${String(event.reason)}`), event),
        ];
    }
  }

  private state(id: string, ts: number): StatementState {
    let state = this.statements.get(id);
    if (state === undefined) this.statements.set(id, (state = { startedAt: ts, approvals: [] }));
    return state;
  }

  private statement(
    id: string,
    event: RecordingEvent,
    ok: boolean,
    message: string,
    result?: Record<string, unknown>,
  ): OcsfRecord {
    const state = this.statements.get(id) ?? { startedAt: event.ts, approvals: [] };
    this.statements.delete(id);
    const record = this.base(activityOf(String(result?.command ?? state.sql ?? '')), event.ts, ok, message);
    record.start_time = state.startedAt;
    record.end_time = event.ts;
    if (typeof result?.duration === 'number') record.duration = Math.round(result.duration);
    record.query_info = { uid: id, query_string: state.sql ?? '' };
    if (state.decision !== undefined) {
      record.disposition_id = state.decision.action === 'deny' ? 2 : 1;
      record.disposition = state.decision.action === 'deny' ? 'Blocked' : 'Allowed';
      record.policy = { name: state.decision.rule, desc: state.decision.reason };
    }
    record.unmapped = {
      decision: state.decision,
      approvals: state.approvals.length > 0 ? state.approvals : undefined,
      columns: state.columns,
      ...result,
    };
    return this.finish(record, event);
  }

  private finish(record: OcsfRecord, event: RecordingEvent): OcsfRecord {
    (record.metadata as Record<string, unknown>).uid = `${event.session}:${event.seq}`;
    (record.metadata as Record<string, unknown>).correlation_uid = event.session;
    return record;
  }
}

/** `ip:port`, `[v6]:port` or a bare host. */
function endpoint(remote: string): Record<string, unknown> {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(remote);
  if (match?.[1] !== undefined && match[1].split(':').length !== 2) {
    return { ip: match[1], port: Number(match[2]) };
  }
  return { ip: remote };
}
