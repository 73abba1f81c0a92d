import { errorResponse, noticeResponse } from '../../../protocols/postgres/codec/index.js';
import type { NoticeFields, Severity } from '../../../protocols/postgres/codec/index.js';
import type { ErrorScreen } from '../types.js';
import { Backend, readNoticeFieldMap } from './backend-messages.js';

const SEVERITY = 0x53; // S
const SEVERITY_FIXED = 0x56; // V
const CODE = 0x43; // C
const POSITION = 0x50; // P

/**
 * The ErrorResponse or NoticeResponse at buf[start, end) as the screen lets it reach the client:
 * null when it may go as it is; else a message of the same kind, severity, SQLSTATE and statement
 * position whose text says it was withheld. Every other field (message, DETAIL, HINT, CONTEXT,
 * internal query, names) is dropped: any of them may quote a masked value.
 */
export function screenedTargetText(
  screen: ErrorScreen,
  buf: Buffer,
  start: number,
  end: number,
): Buffer | null {
  const fields = readNoticeFieldMap(buf, start, end);
  const texts: string[] = [];
  for (const [field, value] of fields) {
    if (field !== SEVERITY && field !== SEVERITY_FIXED && field !== CODE) texts.push(value);
  }
  const code = fields.get(CODE) ?? 'XX000';
  if (!screen.withholds(texts, code)) return null;
  const isError = buf[start] === Backend.ErrorResponse;
  const withheld: NoticeFields = {
    severity: (fields.get(SEVERITY_FIXED) ??
      fields.get(SEVERITY) ??
      (isError ? 'ERROR' : 'NOTICE')) as Severity,
    code,
    message: screen.message(code, isError ? 'error' : 'notice'),
  };
  const position = Number(fields.get(POSITION));
  if (Number.isInteger(position) && position > 0) withheld.position = position;
  return isError ? errorResponse(withheld) : noticeResponse(withheld);
}
