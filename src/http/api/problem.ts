import type { ServerResponse } from 'node:http';
import { parseDuration } from '../../config/duration.js';
import { sendJson } from '../respond.js';

/** An API answer other than success: a status and `{ error, message }`. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function sendProblem(res: ServerResponse, problem: ApiProblem): void {
  sendJson(res, problem.status, { error: problem.code, message: problem.message }, problem.headers);
}

export function allowMethod(method: string | undefined, expected: string): void {
  if ((method ?? 'GET') !== expected) {
    throw new ApiProblem(405, 'ERR_METHOD_NOT_ALLOWED', `use ${expected} here`, { allow: expected });
  }
}

/**
 * A time in a query string: ISO 8601, epoch milliseconds, or an age such as `2h` (that long
 * before now). Empty means absent.
 */
export function queryTime(url: URL, name: string, now: number): number | undefined {
  const text = url.searchParams.get(name)?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d{10,}$/.test(text)) return Number(text);
  const age = parseDuration(text);
  if (age !== undefined) return now - age;
  const parsed = Date.parse(text);
  if (Number.isNaN(parsed)) {
    throw new ApiProblem(400, 'ERR_BAD_REQUEST', `${name}: expected an ISO time or an age such as 2h`);
  }
  return parsed;
}

/** A non-empty query parameter, trimmed, or undefined. */
export function queryText(url: URL, name: string): string | undefined {
  const text = url.searchParams.get(name)?.trim();
  return text === undefined || text === '' ? undefined : text;
}

export function queryLimit(url: URL, fallback: number, max: number): number {
  const text = queryText(url, 'limit');
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new ApiProblem(400, 'ERR_BAD_REQUEST', `limit: a whole number from 1 to ${max}`);
  }
  return n;
}
