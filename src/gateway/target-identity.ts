import type { Target } from '../config/load.js';
import { GatewayError } from './errors.js';
import type { SessionContext } from './types.js';

/** What a target connection is set to for one caller: Sluice's settings, and the role it runs as. */
export interface TargetIdentity {
  /** `sluice.sub`, `sluice.groups`, `sluice.session` (when the target asks for settings). */
  settings: Record<string, string>;
  /** The role each statement runs as (SET ROLE), when the target names one. */
  role?: string;
}

/** Postgres truncates longer identifiers, which could name another role: refused instead. */
const MAX_ROLE_BYTES = 63;

/**
 * The caller's identity as `target.identity` asks for it at the target, or undefined when it
 * asks for none. Throws ERR_TARGET_IDENTITY when the role the template makes cannot be used.
 */
export function targetIdentity(target: Target, context: SessionContext): TargetIdentity | undefined {
  const wanted = target.identity;
  if (wanted === undefined || (!wanted.settings && wanted.setRole === undefined)) return undefined;
  const identity: TargetIdentity = { settings: {} };
  if (wanted.settings) {
    identity.settings['sluice.sub'] = context.identity.subject;
    identity.settings['sluice.groups'] = context.identity.groups.join(',');
    identity.settings['sluice.session'] = context.id;
  }
  if (wanted.setRole !== undefined) {
    const role = wanted.setRole.replace(/\{(?:claims\.)?sub\}/g, context.identity.subject);
    if (role === '' || Buffer.byteLength(role) > MAX_ROLE_BYTES || role.includes('\0')) {
      throw new GatewayError(
        'ERR_TARGET_IDENTITY',
        `${target.name}: the role for ${context.identity.subject} (targets.${target.name}.identity.setRole) is empty or longer than ${MAX_ROLE_BYTES} bytes`,
        { sqlstate: '42501' },
      );
    }
    identity.role = role;
  }
  return identity;
}

/** The statement that sets a connection to `identity`, and its parameters. */
export function applyIdentity(identity: TargetIdentity): { sql: string; params: string[] } {
  const names = Object.keys(identity.settings);
  const params = names.map((n) => identity.settings[n] as string);
  const calls = names.map((n, i) => `set_config('${n}', $${i + 1}, false)`);
  if (identity.role !== undefined) {
    params.push(identity.role);
    calls.push(`set_config('role', $${params.length}, false)`);
  }
  return { sql: `SELECT ${calls.join(', ')}`, params };
}

/** The statement that takes `identity` off a pooled connection again. */
export function clearIdentity(identity: TargetIdentity): string {
  const calls = Object.keys(identity.settings).map((n) => `set_config('${n}', '', false)`);
  if (identity.role !== undefined) calls.push(`set_config('role', 'none', false)`);
  return `SELECT ${calls.join(', ')}`;
}
