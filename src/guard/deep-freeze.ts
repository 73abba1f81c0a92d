/**
 * Freezes a plain tree of objects and arrays, for parse trees and their lowerings that caches
 * hand to many callers: a caller that tried to change one would throw rather than change what the
 * next caller is told.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
