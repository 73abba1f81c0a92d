import { RecordingError } from './errors.js';
import { EVENT_TYPES, type RecordingEvent } from './types.js';

const TYPES = new Set<string>(EVENT_TYPES);

/** Parses a stored event; anything that is not an event object is an error naming where it was. */
export function parseEvent(json: string, where: string): RecordingEvent {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new RecordingError('ERR_RECORDING_BAD_EVENT', `${where}: the event is not valid JSON`);
  }
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    typeof (value as { seq?: unknown }).seq !== 'number' ||
    !TYPES.has(String((value as { type?: unknown }).type))
  ) {
    throw new RecordingError('ERR_RECORDING_BAD_EVENT', `${where}: the event lacks a seq or a known type`);
  }
  return value as RecordingEvent;
}
