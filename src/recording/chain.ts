import * as crypto from 'node:crypto';
import { CanonicalText, canonicalJson } from './canonical.js';
import type { RecordingEvent } from './types.js';

const { createHash } = crypto;

/** The prevHash of a session's first event. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * hash = lowercase hex SHA-256 over the UTF-8 bytes of `prevHash` (64 hex characters) followed by
 * `canonical(event without its hash member)`. Because prevHash is inside the event too, an event
 * cannot be moved to another place in the chain without breaking it.
 */
export function eventHash(prevHash: string, bodyWithoutHash: string): string {
  return hashText(prevHash + bodyWithoutHash);
}

/**
 * One-shot SHA-256 (hex) of a string's UTF-8: `crypto.hash` (Node ≥ 20.12) skips the Hash object,
 * about half the cost for a small event; older Node takes the Hash object.
 */
const hashText: (text: string) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => createHash('sha256').update(text).digest('hex');

/** An event sealed: its hash and its canonical body (UTF-8, without the hash). */
export interface Sealed {
  hash: string;
  body: Buffer;
}

/** Seals an event whose canonical text (without its hash) is given. */
export function sealText(prevHash: string, text: string): Sealed {
  return { hash: hashText(prevHash + text), body: Buffer.from(text, 'utf8') };
}

/** Seals an event whose canonical body (without its hash) is already UTF-8 bytes. */
export function sealBytes(prevHash: string, body: Buffer): Sealed {
  return { hash: createHash('sha256').update(prevHash).update(body).digest('hex'), body };
}

/** Marks where spliced bytes go; JSON output escapes NUL, so it cannot occur in canonical text. */
const SPLICE = '\u0000splice\u0000';

/**
 * Seals an event: its canonical body (UTF-8, without the hash) and its hash. `splice` adds one
 * member whose value is already canonical JSON bytes (a batch of rows), without decoding it.
 */
export function sealEvent(
  fields: Record<string, unknown> & { prevHash: string },
  splice?: { key: string; bytes: Buffer },
): {
  hash: string;
  body: Buffer;
} {
  let body: Buffer;
  if (splice === undefined) {
    body = Buffer.from(canonicalJson(fields), 'utf8');
  } else {
    const text = canonicalJson({ ...fields, [splice.key]: new CanonicalText(SPLICE) });
    const at = text.indexOf(SPLICE);
    body = Buffer.concat([
      Buffer.from(text.slice(0, at), 'utf8'),
      splice.bytes,
      Buffer.from(text.slice(at + SPLICE.length), 'utf8'),
    ]);
  }
  const hash = createHash('sha256').update(fields.prevHash).update(body).digest('hex');
  return { hash, body };
}

/** The event as one JSON object, hash included: the body with a leading `"hash"` member. */
export function storedJson(body: Buffer, hash: string): Buffer {
  return Buffer.concat([Buffer.from(`{"hash":"${hash}"${body.length > 2 ? ',' : ''}`), body.subarray(1)]);
}

export type ChainVerdict =
  | { ok: true; session: string; events: number; lastHash: string }
  | { ok: false; session: string; events: number; seq: number; reason: string };

/**
 * Re-walks a session's chain. Reports the first event that breaks it: a gap or repeat in seq, an
 * event of another session, a prevHash that is not the previous hash, a hash that does not match
 * the event's content. When the store remembers how far the session went (`expected`), a chain
 * that ends early (events deleted from the tail) is broken too.
 */
export async function verifyChain(
  session: string,
  events: AsyncIterable<RecordingEvent> | Iterable<RecordingEvent>,
  expected?: { events?: number; lastHash?: string },
): Promise<ChainVerdict> {
  let prevHash = GENESIS_HASH;
  let count = 0;
  const broken = (seq: number, reason: string): ChainVerdict => ({
    ok: false,
    session,
    events: count,
    seq,
    reason,
  });
  for await (const event of events) {
    const seq = count + 1;
    if (event.seq !== seq) return broken(seq, `expected seq ${seq}, found ${String(event.seq)}`);
    if (event.session !== session) return broken(seq, `event belongs to session ${String(event.session)}`);
    if (seq === 1 && event.type !== 'session.start')
      return broken(seq, 'the first event is not session.start');
    if (event.prevHash !== prevHash) return broken(seq, 'prevHash does not match the previous event');
    const { hash, ...body } = event;
    if (eventHash(prevHash, canonicalJson(body)) !== hash)
      return broken(seq, 'hash does not match the content');
    prevHash = hash;
    count = seq;
  }
  if (expected?.events !== undefined && count < expected.events) {
    return broken(count + 1, `the store recorded ${expected.events} events, only ${count} are present`);
  }
  if (
    expected?.lastHash !== undefined &&
    count > 0 &&
    expected.events === count &&
    expected.lastHash !== prevHash
  ) {
    return broken(count, 'the last hash differs from the one the store recorded');
  }
  return { ok: true, session, events: count, lastHash: prevHash };
}
