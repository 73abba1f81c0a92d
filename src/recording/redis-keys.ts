/**
 * Redis key layout of recordings. `prefix` defaults to `sluice:rec:`; tests use their own.
 * - `<p>events:<session>`       stream, one entry per event, id `<seq>-0`, fields `h` = the event's
 *                               hash and `e` = the canonical event without it (what `h` covers)
 * - `<p>meta:<session>`         hash: subject, groups, issuer, target, channel, dialect, remote,
 *                               startedAt, endedAt, endReason, events (last seq), lastHash
 * - `<p>idx:time`               sorted set of session ids by start time (epoch ms)
 * - `<p>idx:identity:<subject>` the same, for one subject
 * - `<p>idx:target:<target>`    the same, for one target
 */
export class RecordingKeys {
  constructor(readonly prefix = 'sluice:rec:') {}

  events(session: string): string {
    return `${this.prefix}events:${session}`;
  }

  meta(session: string): string {
    return `${this.prefix}meta:${session}`;
  }

  byTime(): string {
    return `${this.prefix}idx:time`;
  }

  byIdentity(subject: string): string {
    return `${this.prefix}idx:identity:${subject}`;
  }

  byTarget(target: string): string {
    return `${this.prefix}idx:target:${target}`;
  }
}

/** Stream ids carry the seq, so a retried write of the same event is refused as a duplicate. */
export function streamId(seq: number): string {
  return `${seq}-0`;
}
