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

/**
 * Postgres truncates identifiers longer than 63 bytes, which could name another role: refused
 * instead. MariaDB and MySQL take role names of up to 128 and 32 characters and refuse longer
 * ones themselves.
 */
const MAX_ROLE_BYTES = { postgres: 63, mysql: 128 } as const;

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
    const max = MAX_ROLE_BYTES[target.engine];
    if (role === '' || Buffer.byteLength(role) > max || role.includes('\0')) {
      throw new GatewayError(
        'ERR_TARGET_IDENTITY',
        `${target.name}: the role for ${context.identity.subject} (targets.${target.name}.identity.setRole) is empty or longer than ${max} bytes`,
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

/** The user variable a Sluice setting is on MySQL: `sluice.sub` is `@sluice_sub`. */
export function mysqlVariableOf(setting: string): string {
  return `@${setting.replace('.', '_')}`;
}

/**
 * On a MySQL or MariaDB target: the settings as user variables (`@sluice_sub`, `@sluice_groups`,
 * `@sluice_session`, which the target's views, triggers and audit read) and the role as `SET
 * ROLE`, for a pooled connection to enter before the caller's statement and leave before
 * another caller's (protocols/mysql ConnectionState).
 */
export function mysqlIdentityState(identity: TargetIdentity): {
  key: string;
  enter: { sql: string; values: string[] }[];
  leave: string[];
} {
  const names = Object.keys(identity.settings);
  const enter: { sql: string; values: string[] }[] = [];
  const leave: string[] = [];
  if (names.length > 0) {
    enter.push({
      sql: `SET ${names.map((n) => `${mysqlVariableOf(n)} = ?`).join(', ')}`,
      values: names.map((n) => identity.settings[n] as string),
    });
    leave.push(`SET ${names.map((n) => `${mysqlVariableOf(n)} = NULL`).join(', ')}`);
  }
  if (identity.role !== undefined) {
    enter.push({ sql: `SET ROLE \`${identity.role.replace(/`/g, '``')}\``, values: [] });
    leave.push('SET ROLE NONE');
  }
  return { key: JSON.stringify([identity.settings, identity.role ?? null]), enter, leave };
}
