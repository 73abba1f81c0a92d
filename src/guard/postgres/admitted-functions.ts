import { POSTGRES_CATALOG_FUNCTIONS } from './catalog-functions.js';

/**
 * The functions a Postgres statement may call without being refused as `unknown`: an allow-list.
 * A call is admitted when its name is here and it is unqualified or qualified with a system
 * schema, or when the configuration declares it (`guard.sideEffectFunctions`, `[]` for pure).
 * Anything else (a user-defined function, an extension's, one a newer server added) is `unknown`,
 * which every policy denies: a denylist of functions always misses one.
 *
 * The base is the catalog's immutable and stable functions (catalog-functions.ts). Taken out of
 * it: stable functions that run SQL given as text or read whole tables the masker cannot see,
 * that show other sessions' state, that assign a transaction id, or that expose server files.
 * Added to it: volatile functions that only compute a value or read sizes of the caller's own
 * relations, and pure functions of versions newer than the one the list was generated from.
 */
const NOT_ADMITTED: readonly RegExp[] = [
  // Run a query or read a whole table or schema given by name: the masker cannot see what.
  /^(database|schema|table|query|cursor)_to_xml/,
  // Other sessions' activity (their SQL text included), statistics and replication state.
  /^pg_stat_get_/,
  /^pg_stat_/,
  /^pg_get_replication_slots$/,
  /^pg_mcv_list_items$/,
  // Transaction ids and snapshots: calling one assigns an id, a write to the server's state.
  /^txid_current/,
  /^pg_current_xact_id/,
  /^pg_current_snapshot$/,
  // The server's build, files and directories.
  /^pg_config$/,
  /^pg_relation_filepath$/,
  /^pg_relation_filenode$/,
  /^pg_filenode_relation$/,
  /^pg_tablespace_location$/,
  // Meaningful only inside event triggers and function validation.
  /^pg_event_trigger_/,
  /^fmgr_/,
];

const ALSO_ADMITTED: readonly string[] = [
  // Volatile, but they only compute a value.
  'random',
  'clock_timestamp',
  'timeofday',
  'gen_random_uuid',
  // The caller's own session's last sequence values.
  'currval',
  'lastval',
  // Sizes and facts of the caller's own relations and of the server's mode.
  'pg_relation_size',
  'pg_table_size',
  'pg_indexes_size',
  'pg_total_relation_size',
  'pg_database_size',
  'pg_tablespace_size',
  'pg_partition_tree',
  'pg_partition_ancestors',
  'pg_is_in_recovery',
  'pg_jit_available',
  // Pure functions of PostgreSQL 16, 17 and 18.
  'any_value',
  'random_normal',
  'array_sample',
  'array_shuffle',
  'date_add',
  'date_subtract',
  'pg_input_is_valid',
  'pg_input_error_info',
  'to_bin',
  'to_oct',
  'uuid_extract_timestamp',
  'uuid_extract_version',
  'uuidv4',
  'uuidv7',
  'casefold',
  'array_reverse',
  'array_sort',
  'crc32',
  'crc32c',
];

/** Schemas whose functions are the server's own (a call qualified with another is not). */
const SYSTEM_SCHEMAS: ReadonlySet<string> = new Set(['pg_catalog', 'information_schema']);

export const ADMITTED_POSTGRES_FUNCTIONS: ReadonlySet<string> = new Set([
  ...POSTGRES_CATALOG_FUNCTIONS.filter((name) => !NOT_ADMITTED.some((pattern) => pattern.test(name))),
  ...ALSO_ADMITTED,
]);

/**
 * Whether a call of `names` (the parser's name parts: `['lower']`, `['pg_catalog', 'lower']`) is
 * of an admitted built-in. The name is matched as the parser folded it: a quoted `"LOWER"` is not
 * `lower`, and a function of that name can only be someone else's.
 */
export function isAdmittedBuiltin(names: readonly string[]): boolean {
  const name = names[names.length - 1];
  if (name === undefined || !ADMITTED_POSTGRES_FUNCTIONS.has(name)) return false;
  if (names.length === 1) return true;
  return names.length === 2 && SYSTEM_SCHEMAS.has(names[0] as string);
}
