/**
 * `KILL` of a thread id the client got from this listener. Clients know a connection by the id of
 * the listener's greeting, never by the target's thread id, so `KILL n` with one of those ids
 * means the listener's own connection: its running statement (`KILL QUERY`) or the connection
 * itself. Any other id goes to the target as written (a DBA's `SHOW PROCESSLIST` shows the
 * target's thread ids).
 */

/** `KILL [HARD | SOFT] [CONNECTION | QUERY] [ID] n`, the MySQL and MariaDB forms of one thread. */
const KILL = /^\s*KILL\s+(?:(?:HARD|SOFT)\s+)?(?:(CONNECTION|QUERY)\s+)?(?:ID\s+)?(\d{1,10})\s*;?\s*$/i;

export interface KillRequest {
  /** KILL QUERY: stop the statement running there; otherwise end the connection. */
  query: boolean;
  id: number;
}

/** The thread a text kills, when it is a plain KILL of one id; undefined for anything else. */
export function killRequest(sql: string): KillRequest | undefined {
  const match = KILL.exec(sql);
  if (match === null) return undefined;
  const id = Number(match[2]);
  return Number.isSafeInteger(id) ? { query: match[1]?.toUpperCase() === 'QUERY', id } : undefined;
}

/** A listener connection another one may kill. */
export interface KillableConnection {
  /** Who logged in on it (undefined while logging in). */
  readonly subject: string | undefined;
  /** Stops the statement running now, as KILL QUERY does; nothing when none runs. */
  killQuery(): void;
  /** Ends the connection, as KILL CONNECTION does. */
  killConnection(): void;
}

/**
 * Listener connection ids start at a random point high in the positive 32-bit range, so that they
 * are unlikely to be any target's thread id (which count up from 1), and differ between worker
 * processes; drivers read the id as a signed or unsigned 32-bit number, so it stays below 2^31.
 */
export class ConnectionIds {
  static readonly FIRST = 0x40000000;
  static readonly LAST = 0x7fffffff;
  #next: number;

  constructor(start = ConnectionIds.FIRST + Math.floor(Math.random() * 0x10000000)) {
    this.#next = start;
  }

  next(): number {
    const id = this.#next;
    this.#next = id >= ConnectionIds.LAST ? ConnectionIds.FIRST : id + 1;
    return id;
  }
}
