import { z } from 'zod';
import { configSchema } from './schema.js';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  required?: string[];
}

/**
 * The configuration reference, generated from the zod schema (the source of truth), as a
 * Markdown table: one row per key, with its type, default and description.
 */
export function renderConfigReference(): string {
  const root = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const rows: string[] = [];
  walk(root, '', rows, true);
  return [
    '# Configuration reference',
    '',
    'Generated from `src/config/schema.ts` by `npm run docs:config`; do not edit by hand.',
    'Durations are written like `500ms`, `30s`, `15m`, `2h`, `30d`. Secrets are `env:NAME`, `file:PATH`',
    '(relative to the config file) or a literal. `<name>` stands for a key you choose; `[]` for a list item.',
    '',
    '| key | type | default | description |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

function walk(node: JsonSchema, path: string, rows: string[], required: boolean): void {
  const objectLike = node.properties !== undefined || typeof node.additionalProperties === 'object';
  if (path) rows.push(row(path, node, required));
  if (node.properties) {
    const needed = new Set(node.required ?? []);
    for (const [key, child] of Object.entries(node.properties)) {
      walk(child, path ? `${path}.${key}` : key, rows, needed.has(key));
    }
  } else if (typeof node.additionalProperties === 'object') {
    walk(node.additionalProperties, `${path}.<name>`, rows, true);
  }
  if (!objectLike && node.items) {
    const item = node.items;
    if (item.properties) walk(item, `${path}[]`, rows, true);
    else if (item.anyOf?.some((a) => a.properties)) {
      for (const alt of item.anyOf) if (alt.properties) walk(alt, `${path}[]`, rows, true);
    }
  }
}

function row(path: string, node: JsonSchema, required: boolean): string {
  const cells = [
    `\`${path}\``,
    typeOf(node),
    node.default === undefined ? (required ? 'required' : '') : `\`${JSON.stringify(node.default)}\``,
    (node.description ?? '').replace(/\|/g, '\\|'),
  ];
  return `| ${cells.join(' | ')} |`;
}

function typeOf(node: JsonSchema): string {
  if (node.enum) return node.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (node.anyOf) return node.anyOf.map(typeOf).join(' or ');
  if (node.type === 'array') return `list of ${node.items ? typeOf(node.items) : 'any'}`;
  if (node.properties || typeof node.additionalProperties === 'object') return 'mapping';
  return Array.isArray(node.type) ? node.type.join(' or ') : (node.type ?? 'any');
}
