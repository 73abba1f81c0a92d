export type RecordingErrorCode =
  | 'ERR_RECORDING_STORE_UNREACHABLE'
  | 'ERR_RECORDING_STORE_WRITE'
  | 'ERR_RECORDING_CLOSED'
  | 'ERR_RECORDING_BAD_EVENT'
  | 'ERR_RECORDING_NOT_FOUND';

/** A recording failure with a stable code; callers branch on `code`, never on the message. */
export class RecordingError extends Error {
  readonly code: RecordingErrorCode;

  constructor(code: RecordingErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RecordingError';
    this.code = code;
  }
}
