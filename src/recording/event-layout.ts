import { canonicalJson, quoteJson } from './canonical.js';
import type { EventType } from './types.js';

/** The members every event has besides its payload. */
export interface Envelope {
  prevHash: string;
  seq: number;
  session: string;
  ts: number;
  type: EventType;
}

const ENVELOPE_KEYS = [
  'prevHash',
  'seq',
  'session',
  'ts',
  'type',
] as const satisfies readonly (keyof Envelope)[];

type Member =
  | { from: 'payload'; key: string; first: string; next: string }
  | { from: 'envelope'; key: keyof Envelope; first: string; next: string };

/**
 * The canonical encoder of one event type, compiled once: its members (payload and envelope) in
 * canonical order, each with its `"key":` text ready. Encoding an event then costs one pass over
 * its members, with no merged object, no key sort and no per-key quoting; the output is exactly
 * `canonicalJson({ ...payload, ...envelope })` for a payload with the layout's keys.
 */
export class EventLayout {
  private readonly members: readonly Member[];

  constructor(
    readonly type: EventType,
    /** Every payload member the type may have (optional ones are left out when undefined). */
    payloadKeys: readonly string[],
  ) {
    const envelope = new Set<string>(ENVELOPE_KEYS);
    const keys = [...new Set([...payloadKeys, ...ENVELOPE_KEYS])].sort();
    this.members = keys.map((key): Member => {
      const quoted = `${JSON.stringify(key)}:`;
      return envelope.has(key)
        ? { from: 'envelope', key: key as keyof Envelope, first: quoted, next: `,${quoted}` }
        : { from: 'payload', key, first: quoted, next: `,${quoted}` };
    });
  }

  /** The canonical JSON text of the event without its hash. Payload members not in the layout are not encoded. */
  encode(payload: Readonly<Record<string, unknown>>, envelope: Envelope): string {
    let out = '{';
    let first = true;
    for (const member of this.members) {
      const value = member.from === 'payload' ? payload[member.key] : envelope[member.key];
      if (value === undefined) continue;
      out += first ? member.first : member.next;
      // Strings are most members (ids, names, SQL): quoted without the general walk.
      out += typeof value === 'string' ? quoteJson(value) : canonicalJson(value);
      first = false;
    }
    return out + '}';
  }
}

/** The payload members of each event type (see the README's event table). */
export const EVENT_LAYOUTS: { readonly [T in EventType]: EventLayout } = {
  'session.start': new EventLayout('session.start', [
    'subject',
    'groups',
    'issuer',
    'via',
    'target',
    'dialect',
    'channel',
    'remote',
    'startedAt',
  ]),
  statement: new EventLayout('statement', ['statementId', 'sql', 'params']),
  decision: new EventLayout('decision', [
    'statementId',
    'action',
    'reason',
    'rule',
    'effects',
    'objects',
    'shadow',
    'rewritten',
  ]),
  approval: new EventLayout('approval', ['statementId', 'requestId', 'state', 'by', 'reason']),
  'result.columns': new EventLayout('result.columns', ['statementId', 'columns']),
  'result.rows': new EventLayout('result.rows', ['statementId', 'offset', 'rows']),
  'result.end': new EventLayout('result.end', [
    'statementId',
    'rowCount',
    'truncated',
    'command',
    'durationMs',
  ]),
  error: new EventLayout('error', ['statementId', 'code', 'message', 'dropped']),
  'session.end': new EventLayout('session.end', ['reason', 'events']),
};
