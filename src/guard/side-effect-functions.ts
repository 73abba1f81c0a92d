import type { Effect } from '../config/schema.js';
import type { Dialect } from '../gateway/types.js';

/**
 * Functions whose call does more than compute a value, by lower-case unqualified name. A call is
 * matched on its last name part whatever schema it is qualified with: a look-alike in another
 * schema is treated like the builtin, which can only make a decision stricter.
 */
export type SideEffectFunctions = Readonly<Record<string, readonly Effect[]>>;

const POSTGRES: SideEffectFunctions = {
  // Other sessions and the server itself.
  pg_terminate_backend: ['admin'],
  pg_cancel_backend: ['admin'],
  pg_reload_conf: ['admin'],
  pg_rotate_logfile: ['admin'],
  pg_switch_wal: ['admin'],
  pg_create_restore_point: ['admin'],
  pg_promote: ['admin'],
  pg_wal_replay_pause: ['admin'],
  pg_wal_replay_resume: ['admin'],
  pg_backup_start: ['admin'],
  pg_backup_stop: ['admin'],
  pg_start_backup: ['admin'],
  pg_stop_backup: ['admin'],
  pg_stat_reset: ['admin'],
  pg_stat_reset_shared: ['admin'],
  pg_stat_reset_single_table_counters: ['admin'],
  pg_stat_reset_single_function_counters: ['admin'],
  pg_stat_reset_slru: ['admin'],
  pg_stat_statements_reset: ['admin'],
  pg_create_physical_replication_slot: ['admin'],
  pg_create_logical_replication_slot: ['admin'],
  pg_drop_replication_slot: ['admin'],
  pg_logical_slot_get_changes: ['admin'],
  pg_logical_slot_peek_changes: ['admin'],
  pg_replication_origin_create: ['admin'],
  pg_replication_origin_drop: ['admin'],
  pg_import_system_collations: ['ddl'],
  pg_log_backend_memory_contexts: ['admin'],
  pg_replication_slot_advance: ['admin'],
  pg_copy_logical_replication_slot: ['admin'],
  pg_copy_physical_replication_slot: ['admin'],
  pg_logical_slot_get_binary_changes: ['admin'],
  pg_logical_slot_peek_binary_changes: ['admin'],
  pg_replication_origin_advance: ['admin'],
  pg_replication_origin_session_setup: ['admin'],
  pg_replication_origin_session_reset: ['admin'],
  pg_replication_origin_xact_setup: ['admin'],
  pg_replication_origin_xact_reset: ['admin'],
  pg_stat_reset_replication_slot: ['admin'],
  pg_stat_reset_subscription_stats: ['admin'],
  pg_export_snapshot: ['admin'],
  brin_summarize_range: ['admin'],
  brin_summarize_new_values: ['admin'],
  brin_desummarize_range: ['admin'],
  gin_clean_pending_list: ['admin'],
  // A message written into the WAL (and to logical decoding consumers).
  pg_logical_emit_message: ['write', 'admin'],
  // Holds the connection (and any locks) for as long as the caller likes.
  pg_sleep: ['admin'],
  pg_sleep_for: ['admin'],
  pg_sleep_until: ['admin'],
  // Session state: set_config can change role-like settings and the search path.
  set_config: ['session'],
  // The server's file system.
  pg_read_file: ['file'],
  pg_read_binary_file: ['file'],
  pg_ls_dir: ['file'],
  pg_stat_file: ['file'],
  pg_ls_logdir: ['file'],
  pg_ls_waldir: ['file'],
  pg_ls_tmpdir: ['file'],
  pg_ls_archive_statusdir: ['file'],
  pg_file_write: ['file'],
  pg_file_rename: ['file'],
  pg_file_unlink: ['file'],
  lo_import: ['file'],
  lo_export: ['file'],
  // Large objects read by oid: a read the masker cannot trace (it masks their values).
  lo_get: ['read'],
  loread: ['read'],
  // Writes through a function call.
  nextval: ['write'],
  setval: ['write'],
  lo_create: ['write'],
  lo_creat: ['write'],
  lo_unlink: ['write'],
  lo_put: ['write'],
  lo_from_bytea: ['write'],
  lowrite: ['write'],
  lo_truncate: ['write'],
  pg_notify: ['write'],
  // Locks that outlive the statement.
  pg_advisory_lock: ['lock'],
  pg_advisory_lock_shared: ['lock'],
  pg_advisory_xact_lock: ['lock'],
  pg_advisory_xact_lock_shared: ['lock'],
  pg_try_advisory_lock: ['lock'],
  pg_try_advisory_lock_shared: ['lock'],
  pg_try_advisory_xact_lock: ['lock'],
  pg_try_advisory_xact_lock_shared: ['lock'],
  // Functions that run SQL given as a string: what they run cannot be seen.
  dblink: ['procedural', 'unknown'],
  dblink_exec: ['procedural', 'unknown'],
  dblink_open: ['procedural', 'unknown'],
  dblink_send_query: ['procedural', 'unknown'],
  dblink_connect: ['procedural', 'unknown'],
  dblink_connect_u: ['procedural', 'unknown'],
  query_to_xml: ['procedural', 'unknown'],
  query_to_xmlschema: ['procedural', 'unknown'],
  query_to_xml_and_xmlschema: ['procedural', 'unknown'],
  cursor_to_xml: ['procedural', 'unknown'],
  cursor_to_xmlschema: ['procedural', 'unknown'],
  ts_stat: ['procedural', 'unknown'],
  ts_rewrite: ['procedural', 'unknown'],
  // Read a whole table, schema or database named by a string: the masker cannot see which.
  table_to_xml: ['procedural', 'unknown'],
  table_to_xmlschema: ['procedural', 'unknown'],
  table_to_xml_and_xmlschema: ['procedural', 'unknown'],
  schema_to_xml: ['procedural', 'unknown'],
  schema_to_xmlschema: ['procedural', 'unknown'],
  schema_to_xml_and_xmlschema: ['procedural', 'unknown'],
  database_to_xml: ['procedural', 'unknown'],
  database_to_xmlschema: ['procedural', 'unknown'],
  database_to_xml_and_xmlschema: ['procedural', 'unknown'],
};

const MYSQL: SideEffectFunctions = {
  load_file: ['file'],
  get_lock: ['lock'],
  release_lock: ['lock'],
  release_all_locks: ['lock'],
  // User-defined functions commonly installed to run programs.
  sys_exec: ['program'],
  sys_eval: ['program'],
  // Holds a connection for as long as the caller likes.
  sleep: ['admin'],
  benchmark: ['admin'],
  master_pos_wait: ['admin'],
  source_pos_wait: ['admin'],
  master_gtid_wait: ['admin'],
  wait_for_executed_gtid_set: ['admin'],
  wait_until_sql_thread_after_gtids: ['admin'],
  // MariaDB sequences: taking or setting a value writes the sequence.
  nextval: ['write'],
  setval: ['write'],
};

export const DEFAULT_SIDE_EFFECT_FUNCTIONS: Readonly<Record<Dialect, SideEffectFunctions>> = {
  postgres: POSTGRES,
  mysql: MYSQL,
};

/**
 * The list in force: the defaults, with the caller's entries added or replacing a default entry
 * of the same name (an empty list declares a function pure).
 */
export function sideEffectTable(
  dialect: Dialect,
  extra: SideEffectFunctions | undefined,
): ReadonlyMap<string, readonly Effect[]> {
  const table = new Map<string, readonly Effect[]>(Object.entries(DEFAULT_SIDE_EFFECT_FUNCTIONS[dialect]));
  if (extra) for (const [name, effects] of Object.entries(extra)) table.set(name.toLowerCase(), effects);
  return table;
}

/**
 * The functions of a table that store or send their arguments somewhere a later statement (or
 * another session) can read: every entry with an effect other than `read` (settings, sequences,
 * large objects, notifications, locks, files, other servers). Masking refuses a call of one
 * with masked arguments.
 */
export function sinkFunctionsOf(table: ReadonlyMap<string, readonly Effect[]>): ReadonlySet<string> {
  const sinks = new Set<string>();
  for (const [name, effects] of table) if (effects.some((e) => e !== 'read')) sinks.add(name);
  return sinks;
}
