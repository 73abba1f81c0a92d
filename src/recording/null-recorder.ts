import type { Recorder, SessionRecorder } from './types.js';

const noop = (): void => {};

/** Records nothing: for tests and for measuring the cost of recording. */
export const nullSessionRecorder: SessionRecorder = Object.freeze({
  onStatement: noop,
  onDecision: noop,
  onApproval: noop,
  onColumns: noop,
  onRows: noop,
  onDataRows: noop,
  onResultEnd: noop,
  onError: noop,
  onSessionEnd: noop,
});

export class NullRecorder implements Recorder {
  startSession(): SessionRecorder {
    return nullSessionRecorder;
  }

  ready(): { ok: true } {
    return { ok: true };
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}
