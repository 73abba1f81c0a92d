import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import { FileEventStore, FileRecordingReader } from './file-store.js';
import { DEFAULT_QUEUE_OPTIONS, type QueueOptions } from './queue.js';
import { ChainedRecorder } from './recorder.js';
import { createRecordingRedis } from './redis-client.js';
import { RedisRecordingReader } from './redis-reader.js';
import { RedisEventStore } from './redis-store.js';
import { DEFAULT_SESSION_LIMITS, type SessionLimits } from './session-recorder.js';
import type { RecordingReader } from './types.js';

export interface RecorderTuning {
  /** Redis key prefix (tests isolate themselves with their own). */
  prefix?: string;
  queue?: Partial<Omit<QueueOptions, 'policy'>>;
  session?: Partial<Omit<SessionLimits, 'maxEvents'>>;
  closeTimeoutMs?: number;
  clock?: () => number;
}

type RecordingConfig = Pick<Config, 'recording' | 'baseDir'>;

/** The recorder the config asks for: Redis Streams or JSONL files, with the configured policy. */
export function createRecorder(
  config: RecordingConfig,
  logger: Logger,
  tuning: RecorderTuning = {},
): ChainedRecorder {
  const rec = config.recording;
  const log = logger.child({ component: 'recording', store: rec.store });
  const store =
    rec.store === 'redis'
      ? new RedisEventStore(createRecordingRedis(rec.redis.url), {
          prefix: tuning.prefix,
          retentionMs: rec.retention,
          clock: tuning.clock,
        })
      : new FileEventStore(resolve(config.baseDir, rec.file.dir), {
          retentionMs: rec.retention,
          maxBytes: rec.file.maxBytes,
          clock: tuning.clock,
          logger: log,
        });
  return new ChainedRecorder(
    store,
    {
      queue: { ...DEFAULT_QUEUE_OPTIONS, ...tuning.queue, policy: rec.onStoreFailure },
      session: { ...DEFAULT_SESSION_LIMITS, ...tuning.session, maxEvents: rec.maxEventsPerSession },
      closeTimeoutMs: tuning.closeTimeoutMs ?? 5_000,
      clock: tuning.clock,
    },
    log,
  );
}

/** Read access to the store the config names, for the `recordings` command. */
export function createRecordingReader(
  config: RecordingConfig,
  options: { prefix?: string } = {},
): RecordingReader {
  const rec = config.recording;
  if (rec.store === 'redis') {
    return new RedisRecordingReader(createRecordingRedis(rec.redis.url, { role: 'reader' }), options.prefix);
  }
  return new FileRecordingReader(resolve(config.baseDir, rec.file.dir));
}
