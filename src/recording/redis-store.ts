import type { Redis } from 'ioredis';
import { RecordingKeys, streamId } from './redis-keys.js';
import { EncodedCommand, RespEncoder } from './resp.js';
import type { EventStore } from './store.js';
import type { SealedEvent } from './types.js';

/** Redis refuses an XADD whose explicit id is not above the stream's last one: already written. */
const DUPLICATE_ID = /equal or smaller than the target stream top item/;

/**
 * Runs several commands in one: ARGV is `<n>, <name>, <n - 1 arguments>` per command, run in
 * order. An XADD refused as a duplicate id was written by an earlier try of the same batch and is
 * skipped (a retried batch is idempotent); any other error stops the script and is its reply.
 */
const RUN_SCRIPT = `
local i = 1
while i <= #ARGV do
  local count = tonumber(ARGV[i])
  local reply = redis.pcall(unpack(ARGV, i + 1, i + count))
  if type(reply) == 'table' and reply.err and not (ARGV[i + 1] == 'xadd' and
      string.find(reply.err, 'equal or smaller than the target stream top item', 1, true)) then
    return redis.error_reply(reply.err)
  end
  i = i + count + 1
end
return 0
`;

/**
 * Event bodies up to this size go inside a script with the small commands around them; larger
 * ones (row batches) are XADDs of their own, because copying them into Lua costs Redis more than
 * the command costs ioredis.
 */
const SCRIPTED_BODY_BYTES = 8 * 1024;

/**
 * Writes events to Redis Streams, one stream per session, in pipelined round trips: the commands of
 * one `append` (events of any number of sessions) are encoded into one reused buffer and leave in
 * one socket write. Every command is idempotent for a retried batch: XADD with `<seq>-0`, HSET of
 * absolute values, ZADD.
 */
export class RedisEventStore implements EventStore {
  /** Bodies are copied into the encoder's buffer before the commands are sent. */
  readonly copiesBodies = true;
  private readonly keys: RecordingKeys;
  private readonly encoder = new RespEncoder();
  /** The client's last connection error, to say why the store is unreachable. */
  private lastError: string | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly options: { prefix?: string; retentionMs: number; clock?: () => number },
  ) {
    this.keys = new RecordingKeys(options.prefix);
    // Connection errors are reported through health() and the queue's alert, once per outage.
    redis.on('error', (err: Error) => (this.lastError = err.message));
    redis.on('ready', () => (this.lastError = undefined));
  }

  health(): { ok: true } | { ok: false; reason: string } {
    const status = this.redis.status;
    if (status === 'ready') return { ok: true };
    return { ok: false, reason: this.lastError ?? `redis connection is ${status}` };
  }

  onReachable(listener: () => void): void {
    this.redis.on('ready', listener);
  }

  async append(events: readonly SealedEvent[]): Promise<void> {
    if (events.length === 0) return;
    const keys = this.keys;
    const retention = String(this.options.retentionMs);
    const now = (this.options.clock ?? Date.now)();
    const encoder = this.encoder;
    encoder.reset();
    // Small commands (most of a round trip of statements) are gathered into one script run: one
    // command for ioredis to queue and one reply to match instead of one each (that bookkeeping
    // was a third of the gateway's CPU for small events). Large XADDs go as they are.
    const names: string[] = [];
    const xadds = new Set<number>();
    let scripted: (string | Buffer)[] = [];
    let scriptedCommands = 0;
    const send = (args: (string | Buffer)[]): void => {
      if (args[0] === 'xadd') xadds.add(names.length);
      names.push(args[0] as string);
      encoder.command(args);
    };
    const endScript = (): void => {
      if (scriptedCommands === 1) send(scripted.slice(1));
      else if (scriptedCommands > 1) send(['eval', RUN_SCRIPT, '0', ...scripted]);
      scripted = [];
      scriptedCommands = 0;
    };
    const add = (args: (string | Buffer)[]): void => {
      const body = args[0] === 'xadd' ? args[6] : undefined;
      if (body !== undefined && body.length > SCRIPTED_BODY_BYTES) {
        endScript();
        send(args);
        return;
      }
      scripted.push(String(args.length), ...args);
      scriptedCommands++;
    };
    const last = new Map<string, SealedEvent>();
    for (const event of events) {
      add(['xadd', keys.events(event.session), streamId(event.seq), 'h', event.hash, 'e', event.body]);
      last.set(event.session, event);
      const start = event.start;
      if (start !== undefined) {
        const meta = [
          ['subject', start.subject],
          ['groups', JSON.stringify(start.groups)],
          ['issuer', start.issuer],
          ['target', start.target],
          ['channel', start.channel],
          ['dialect', start.dialect],
          ['startedAt', String(start.startedAt)],
        ];
        if (start.remote !== undefined) meta.push(['remote', start.remote]);
        add(['hset', keys.meta(event.session), ...meta.flat()]);
        for (const index of [keys.byTime(), keys.byIdentity(start.subject), keys.byTarget(start.target)]) {
          add(['zadd', index, String(start.startedAt), event.session]);
          // Retention on the index: drop sessions that are older than the retention, and let an
          // index nobody writes to any more expire with its last session.
          add(['zremrangebyscore', index, '-inf', `(${now - this.options.retentionMs}`]);
          add(['pexpire', index, retention]);
        }
      }
      if (event.type === 'session.end') {
        add(['hset', keys.meta(event.session), 'endedAt', String(event.ts)]);
      }
    }
    for (const [session, event] of last) {
      add(['hset', keys.meta(session), 'events', String(event.seq), 'lastHash', event.hash]);
      add(['pexpire', keys.events(session), retention]);
      add(['pexpire', keys.meta(session), retention]);
    }
    endScript();
    const commands = names.map((name, i) => new EncodedCommand(name, encoder.bytesOf(i)));
    // ioredis queues each command to match its reply, and hands its bytes to the stream given,
    // as it does for its own pipelines. The bytes are written here instead, once: the commands
    // are contiguous in the encoder, so the round trip is one socket write of one buffer.
    const handed: Buffer[] = [];
    const socket = this.redis.stream;
    const gather = {
      isPipeline: true as const,
      destination: { redis: { stream: socket } },
      write: (data: string | Buffer) => handed.push(typeof data === 'string' ? Buffer.from(data) : data),
    };
    for (const command of commands) void this.redis.sendCommand(command, gather);
    if (handed.length === commands.length) {
      socket.write(encoder.all());
    } else if (handed.length > 0) {
      // Not all were accepted (the connection changed state): send exactly those that were.
      socket.cork();
      for (const bytes of handed) socket.write(bytes);
      socket.uncork();
    }
    const results = await Promise.allSettled(commands.map((command) => command.promise));
    for (const [i, result] of results.entries()) {
      if (result.status === 'fulfilled') continue;
      const err: unknown = result.reason;
      if (xadds.has(i) && err instanceof Error && DUPLICATE_ID.test(err.message)) continue;
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.redis.status === 'end') return;
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
