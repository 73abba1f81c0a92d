/**
 * The few frontend messages the relay writes to the target itself. Built by hand: each is one
 * type byte, an int32 length and a body of C strings.
 */

function message(type: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type.charCodeAt(0);
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

function cstring(text: string): Buffer {
  return Buffer.from(`${text.replaceAll('\0', '')}\0`, 'utf8');
}

/**
 * Text that no Postgres version parses. Sent in place of a refused statement so that the target
 * fails the message as it would fail any erroneous one (ending the pipeline, marking a transaction
 * block failed); the relay replaces the target's ErrorResponse with the refusal.
 */
const REFUSED_TEXT = 'SLUICE REFUSED THIS STATEMENT';

/** A Query that fails to parse. */
export const refusedQueryMessage: Buffer = message('Q', cstring(REFUSED_TEXT));

/** A Parse of the unnamed statement that fails to parse. */
export const refusedParseMessage: Buffer = message(
  'P',
  Buffer.concat([cstring(''), cstring(REFUSED_TEXT), Buffer.from([0, 0])]),
);

/** A Query of `sql` (row filters: the text that runs in place of the client's). */
export function queryMessage(sql: string): Buffer {
  return message('Q', cstring(sql));
}

/** A Parse of `sql` under `statement`, with the client's parameter types. */
export function parseMessage(statement: string, sql: string, paramTypes: readonly number[]): Buffer {
  const types = Buffer.allocUnsafe(2 + 4 * paramTypes.length);
  types.writeUInt16BE(paramTypes.length, 0);
  paramTypes.forEach((oid, i) => types.writeUInt32BE(oid >>> 0, 2 + 4 * i));
  return message('P', Buffer.concat([cstring(statement), cstring(sql), types]));
}

/** Describe of a portal. */
export function describePortalMessage(portal: string): Buffer {
  return message('D', Buffer.concat([Buffer.from('P'), cstring(portal)]));
}

/** Parse of the unnamed statement, Describe of it, Sync: what a probe sends. */
export function describeProbeMessages(sql: string): Buffer {
  return Buffer.concat([
    message('P', Buffer.concat([cstring(''), cstring(sql), Buffer.from([0, 0])])),
    message('D', Buffer.concat([Buffer.from('S'), cstring('')])),
    message('S', Buffer.alloc(0)),
  ]);
}

/** Terminate. */
export const terminateMessage: Buffer = message('X', Buffer.alloc(0));
