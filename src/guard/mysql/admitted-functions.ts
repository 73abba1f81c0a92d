/**
 * The functions a MySQL or MariaDB statement may call without being refused as `unknown`: an
 * allow-list, like Postgres's (../postgres/admitted-functions.ts). A built-in is admitted when it
 * only computes a value from its arguments and the caller's own session; a call to anything else
 * (a stored function, a UDF, one a newer server added, one left out below) is `unknown`, which
 * every policy denies, unless the configuration declares it (`guard.sideEffectFunctions`, `[]`
 * for pure). Built-in names cannot be qualified, so a qualified call is never one of these.
 *
 * Left out on purpose: locks and their state (GET_LOCK, IS_USED_LOCK, IS_FREE_LOCK, ...), waits
 * (SLEEP, BENCHMARK, MASTER_POS_WAIT, MASTER_GTID_WAIT, SOURCE_POS_WAIT, WAIT_FOR_EXECUTED_GTID_SET,
 * WAIT_UNTIL_SQL_THREAD_AFTER_GTIDS), replication state (BINLOG_GTID_POS, WSREP_*), server files
 * (LOAD_FILE, DES_ENCRYPT / DES_DECRYPT with the server's key file), other sessions' threads and
 * every role (PS_THREAD_ID, PS_CURRENT_THREAD_ID, ROLES_GRAPHML), and the data dictionary's
 * internal helpers (INTERNAL_*, GET_DD_*, CAN_ACCESS_*).
 */
const ADMITTED = new Set(
  [
    // Control flow and comparison.
    'if ifnull nullif coalesce greatest least isnull interval nvl nvl2 decode_oracle decode strcmp',
    // EXISTS (subquery) is read as a call.
    'exists',
    // Strings.
    'ascii bin bit_length char char_length character_length chr concat concat_ws elt export_set',
    'field find_in_set format from_base64 hex insert instr lcase left length lengthb locate lower',
    'lpad lpad_oracle ltrim ltrim_oracle make_set mid natural_sort_key octet_length ord position',
    'quote regexp_instr regexp_like regexp_replace regexp_substr repeat replace replace_oracle',
    'reverse right rpad rpad_oracle rtrim rtrim_oracle sformat soundex space substr substr_oracle',
    'substring substring_index to_base64 to_char trim trim_oracle ucase unhex upper weight_string',
    'extractvalue updatexml concat_operator_oracle',
    // Numbers.
    'abs acos asin atan atan2 ceil ceiling conv cos cot crc32 crc32c degrees div exp floor ln log',
    'log10 log2 mod oct pi pow power radians rand round sign sin sqrt tan to_number truncate trunc',
    // Dates and times.
    'adddate addtime add_months convert_tz curdate current_date current_time current_timestamp',
    'curtime date date_add date_format date_sub datediff day dayname dayofmonth dayofweek dayofyear',
    'extract format_pico_time from_days from_unixtime get_format hour last_day localtime',
    'localtimestamp makedate maketime microsecond minute month monthname months_between now',
    'period_add period_diff quarter second sec_to_time str_to_date subdate subtime sysdate time',
    'time_format time_to_sec timediff timestamp timestampadd timestampdiff to_date to_days',
    'to_seconds unix_timestamp utc_date utc_time utc_timestamp week weekday weekofyear year yearweek',
    // Casts and character sets.
    'cast convert binary charset coercibility collation',
    // Aggregates and windows.
    'avg bit_and bit_or bit_xor count group_concat max min std stddev stddev_pop stddev_samp sum',
    'variance var_pop var_samp any_value median percentile_cont percentile_disc grouping',
    'json_arrayagg json_objectagg cume_dist dense_rank first_value lag last_value lead nth_value',
    'ntile percent_rank rank row_number',
    // Hashes, encodings and compression.
    'md5 sha sha1 sha2 aes_encrypt aes_decrypt encrypt encode password old_password compress',
    'uncompress uncompressed_length random_bytes kdf',
    // Identifiers and addresses.
    'uuid uuid_short uuid_v4 uuid_v7 sys_guid uuid_to_bin bin_to_uuid is_uuid inet_aton inet_ntoa',
    'inet6_aton inet6_ntoa is_ipv4 is_ipv4_compat is_ipv4_mapped is_ipv6',
    // The caller's own session and the server's identity.
    'connection_id current_role current_user database schema session_user system_user user version',
    'found_rows row_count icu_version rownum statement_digest statement_digest_text',
    'validate_password_strength format_bytes gtid_subset gtid_subtract decode_histogram lastval',
    // Row values and defaults in DML.
    'values value default name_const',
    // MariaDB dynamic columns.
    'column_add column_check column_create column_delete column_exists column_get column_json',
    'column_list',
    // Geometry (besides the ST_ and MBR families below).
    'point linestring polygon multipoint multilinestring multipolygon geometrycollection',
    'geomcollection area asbinary astext aswkb aswkt boundary buffer centroid contains convexhull',
    'crosses dimension disjoint endpoint envelope equals exteriorring geomcollfromtext',
    'geomcollfromwkb geometrycollectionfromtext geometrycollectionfromwkb geometryfromtext',
    'geometryfromwkb geometryn geometrytype geomfromtext geomfromwkb glength interiorringn',
    'intersects isclosed isempty isring issimple linefromtext linefromwkb linestringfromtext',
    'linestringfromwkb mlinefromtext mlinefromwkb mpointfromtext mpointfromwkb mpolyfromtext',
    'mpolyfromwkb multilinestringfromtext multilinestringfromwkb multipointfromtext',
    'multipointfromwkb multipolygonfromtext multipolygonfromwkb numgeometries numinteriorrings',
    'numpoints overlaps pointfromtext pointfromwkb pointn pointonsurface polyfromtext polyfromwkb',
    'polygonfromtext polygonfromwkb srid startpoint touches within x y',
  ]
    .join(' ')
    .split(' '),
);

/** Families admitted by prefix: JSON functions, ST_ geometry functions, MBR predicates, vectors. */
const ADMITTED_PREFIXES = ['json_', 'st_', 'mbr', 'vec_'];

/** Admitted only without arguments: with one, LAST_INSERT_ID(expr) sets the session's value. */
const ADMITTED_WITHOUT_ARGUMENTS = new Set(['last_insert_id']);

/** Whether a call of `name` (lower-case, as written) with `argumentCount` arguments is admitted. */
export function isAdmittedMySqlBuiltin(name: string, argumentCount: number): boolean {
  if (name.includes('.')) return false;
  if (ADMITTED.has(name)) return true;
  if (ADMITTED_WITHOUT_ARGUMENTS.has(name)) return argumentCount === 0;
  return ADMITTED_PREFIXES.some((p) => name.startsWith(p));
}
