/**
 * Literal nodes of node-sql-parser's MySQL AST, and the one way the classifier reads their values.
 *
 * The shape cache (shape-cache.ts) reuses a statement's classification for texts that differ only
 * in literal values. That is sound only if the classification did not look at any literal's
 * value, so every such look goes through `literalValue`, which notes it on the statement's facts;
 * a noted analysis is never reused for another text.
 */
type Node = Record<string, unknown>;

/** Node types whose `value` is a literal's value (strings, numbers, typed literals). */
export const LITERAL_TYPES: ReadonlySet<string> = new Set([
  'number',
  'bigint',
  'string',
  'single_quote_string',
  'double_quote_string',
  'natural_string',
  'hex_string',
  'full_hex_string',
  'bit_string',
  'date',
  'time',
  'timestamp',
  'datetime',
]);

/** Where the classifier notes that it read a literal's value. */
export interface LiteralReads {
  noteLiteralRead(): void;
}

export function isLiteralNode(node: Node): boolean {
  return typeof node.type === 'string' && LITERAL_TYPES.has(node.type);
}

/** `node.value`, noting the read when `node` is a literal. */
export function literalValue(node: Node, reads: LiteralReads): unknown {
  if (isLiteralNode(node)) reads.noteLiteralRead();
  return node.value;
}
