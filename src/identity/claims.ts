import type { JWTPayload } from 'jose';

/**
 * Reads a claim by name or dotted path (`realm_access.roles`, `resource_access.sluice.roles`).
 * A claim whose own name contains dots (Auth0-style `https://example.com/groups`) is found first
 * by its literal name, so namespaced claims work without escaping.
 */
export function readClaim(payload: JWTPayload, path: string): unknown {
  if (Object.hasOwn(payload, path)) return payload[path];
  let node: unknown = payload;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
    if (!Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/**
 * Groups from a claim: a list keeps its non-empty strings, a single string becomes a one-element
 * list, anything else (missing, number, object) is no groups at all. No groups means no policy
 * matches, so an unreadable claim fails closed.
 */
export function readGroups(payload: JWTPayload, path: string): string[] {
  const value = readClaim(payload, path);
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (!Array.isArray(value)) return [];
  const groups: string[] = [];
  for (const item of value) {
    if (typeof item === 'string' && item !== '' && !groups.includes(item)) groups.push(item);
  }
  return groups;
}

/** A non-empty string claim, or undefined. */
export function readStringClaim(payload: JWTPayload, path: string): string | undefined {
  const value = readClaim(payload, path);
  return typeof value === 'string' && value !== '' ? value : undefined;
}
