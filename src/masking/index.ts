/** Masking: rules compiled once, lineage per result set, rows rewritten by a plan. */
export {
  type Catalog,
  type CatalogRelation,
  type CatalogSnapshot,
  type RunQuery,
  type SnapshotInput,
  createCachedCatalog,
  createCatalogSnapshot,
  createStaticCatalog,
} from './catalog.js';
export { createMysqlCatalog } from './catalog-mysql.js';
export { createPostgresCatalog } from './catalog-postgres.js';
export { DETECTOR_TABLE, type Detector, type DetectorName, ibanValid, luhnValid } from './detectors.js';
export { MaskingRefusal } from './errors.js';
export type { OutputLineage, StatementLineage } from './lineage/analyse.js';
export type { SourceColumn, Taint } from './lineage/taint.js';
export type { CursorLineage } from './origins.js';
export { type ColumnAction, MaskingPlan } from './plan.js';
export {
  type ColumnRule,
  type CompiledMaskingPolicy,
  compileMaskingPolicy,
  type DetectorRule,
} from './policy.js';
export {
  LineageMasking,
  type LineageMaskingOptions,
  type MaskingContext,
  type WireRowMasker,
} from './stage.js';
export { HASH_HEX_LENGTH, type MaskStrategy, REDACTED } from './strategies.js';
export { PostgresRowMasker } from './postgres-row.js';
export { MysqlRowMasker, type ValueClass, valueClass } from './wire.js';
