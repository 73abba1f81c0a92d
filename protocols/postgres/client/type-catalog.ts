import type { PgConnection } from './connection.js';
import { typeName } from './values.js';

/**
 * Names of the types a target knows beyond the builtins (enums, domains, extension types such as
 * citext), read from pg_type. Builtins are answered without a query; other OIDs are looked up in
 * batches on a connection the caller already holds, and remembered.
 */
export class TypeCatalog {
  readonly #names = new Map<number, string>();
  readonly #missing = new Set<number>();

  /** The type's name, or undefined when it is not known yet (then `lookUpMissing` can fetch it). */
  name(oid: number): string | undefined {
    const known = typeName(oid) ?? this.#names.get(oid);
    if (known === undefined && oid !== 0) this.#missing.add(oid);
    return known;
  }

  /** Whether names were asked for that are not known yet. */
  get hasMissing(): boolean {
    return this.#missing.size > 0;
  }

  /**
   * Reads the names of all types except table row types (two per table, of no use as a column
   * type name and many in a large schema), on an idle connection.
   */
  async load(connection: PgConnection): Promise<void> {
    await connection.query(
      `SELECT t.oid::int8, t.typname FROM pg_catalog.pg_type t
         LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem
        WHERE t.typrelid = 0 AND coalesce(e.typrelid, 0) = 0`,
      { row: (values) => this.#remember(values) },
    );
  }

  /** Reads the names of the OIDs asked for but unknown, on an idle connection. */
  async lookUpMissing(connection: PgConnection): Promise<void> {
    if (this.#missing.size === 0) return;
    const oids = [...this.#missing];
    this.#missing.clear();
    await connection.query(
      'SELECT oid::int8, typname FROM pg_catalog.pg_type WHERE oid = ANY($1::oid[])',
      { row: (values) => this.#remember(values) },
      { params: [oids] },
    );
  }

  #remember([oid, name]: (string | null)[]): void {
    if (oid !== null && oid !== undefined && name !== null && name !== undefined) {
      this.#names.set(Number(oid), name);
    }
  }
}
