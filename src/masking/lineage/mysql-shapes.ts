import { deepFreeze } from '../../guard/deep-freeze.js';
import { literalShape, probeText, type LiteralSpan } from '../../guard/literal-shape.js';
import { LruCache } from '../../guard/lru.js';
import { splitMySql } from '../../guard/mysql/lexer.js';
import { isLiteralNode } from '../../guard/mysql/literals.js';
import { astifyMySql } from '../../guard/mysql/readable.js';
import { sameApartFromLiterals } from '../../guard/mysql/shape-cache.js';

type Node = Record<string, unknown>;

/** Texts longer than this are not given a shape (as in the guard's shape cache). */
const MAX_SHAPED_TEXT = 16 * 1024;

type Entry<T> = { state: 'verified'; lowered: readonly T[] } | { state: 'refused' };

/**
 * Lineage of MySQL texts by shape. The guard decides a text of a known shape without parsing it
 * (guard/mysql/shape-cache.ts) and then hands masking no parse, so without this every statement
 * of an agent that inlines its values (`... WHERE id = 42`) would be parsed again here, which is
 * most of what a point select costs through the MySQL listener.
 *
 * A shape's lowering is reused for another text of that shape only when all of these held for
 * the first text of the shape (checked when it arrived, before anything was reused):
 * 1. the same scan as the guard's found the literals (lexer.ts), so two texts of one shape
 *    differ only inside plain single-quoted strings and short integers;
 * 2. a probe text with every such literal changed parses to the same AST apart from the `value`
 *    of literal nodes (the guard's own check, sameApartFromLiterals);
 * 3. lowering the first text read no literal node's `value` (each is watched by a getter) and
 *    kept no literal node in what it returned; and the probe lowers to the same statements.
 * So lowering another text of the shape, whose AST differs only in those values, gives the same
 * statements. `ORDER BY 2`, whose lowering reads the number, is never reused; nor is anything
 * the parser refuses. Texts that fail any check are lowered from their own parse every time.
 */
export class MysqlLoweringShapes<T> {
  readonly #lower: (parsed: unknown) => T[];
  readonly #shapes: LruCache<string, Entry<T>>;

  constructor(lower: (parsed: unknown) => T[], size = 2000) {
    this.#lower = lower;
    this.#shapes = new LruCache(size);
  }

  /**
   * The text's lowering from its shape (decided now for the first text of a shape); undefined
   * when the shape cannot be reused, and the caller lowers the text's own parse.
   */
  lower(sql: string): readonly T[] | undefined {
    if (sql.length > MAX_SHAPED_TEXT) return undefined;
    const spans: LiteralSpan[] = [];
    try {
      splitMySql(sql, spans);
    } catch {
      return undefined;
    }
    const shape = literalShape(sql, spans);
    if (shape === undefined) return undefined;
    let entry = this.#shapes.get(shape);
    if (entry === undefined) {
      entry = this.#verify(sql, spans, shape);
      this.#shapes.set(shape, entry);
    }
    return entry.state === 'verified' ? entry.lowered : undefined;
  }

  #verify(sql: string, spans: readonly LiteralSpan[], shape: string): Entry<T> {
    const refused: Entry<T> = { state: 'refused' };
    try {
      const probe = probeText(sql, spans);
      const probeSpans: LiteralSpan[] = [];
      splitMySql(probe, probeSpans);
      if (literalShape(probe, probeSpans) !== shape) return refused;
      const original = astifyMySql(sql);
      const probed = astifyMySql(probe);
      if (!sameApartFromLiterals(original, probed)) return refused;
      const watched = watchLiterals(original);
      const lowered = this.#lower(watched.tree);
      if (watched.read() || holdsAny(lowered, watched.nodes)) return refused;
      const probeLowered = this.#lower(probed);
      if (JSON.stringify(probeLowered) !== JSON.stringify(lowered)) return refused;
      return { state: 'verified', lowered: deepFreeze(lowered) };
    } catch {
      return refused;
    }
  }
}

/**
 * A copy of the tree in which each literal node's `value` is a getter that notes being read.
 * Returns the copy, whether any value was read, and the copied literal nodes.
 */
function watchLiterals(tree: unknown): { tree: unknown; read: () => boolean; nodes: Set<object> } {
  let read = false;
  const nodes = new Set<object>();
  const copy = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    if (Array.isArray(value)) return value.map(copy);
    const node = value as Node;
    const out: Node = {};
    for (const key of Object.keys(node)) {
      if (key === 'value' && isLiteralNode(node)) continue;
      out[key] = copy(node[key]);
    }
    if (isLiteralNode(node) && Object.hasOwn(node, 'value')) {
      const inner = copy(node.value);
      Object.defineProperty(out, 'value', {
        enumerable: true,
        get: () => {
          read = true;
          return inner;
        },
      });
      nodes.add(out);
    }
    return out;
  };
  const tree2 = copy(tree);
  return { tree: tree2, read: () => read, nodes };
}

/** Whether `value` (a lowering) holds, anywhere in it, one of `nodes`. */
function holdsAny(value: unknown, nodes: Set<object>, seen = new Set<object>()): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (nodes.has(value)) return true;
  if (seen.has(value)) return false;
  seen.add(value);
  // Read through own descriptors so that a watched getter is never called here.
  for (const descriptor of Object.values(Object.getOwnPropertyDescriptors(value))) {
    if ('value' in descriptor && holdsAny(descriptor.value, nodes, seen)) return true;
  }
  return false;
}
