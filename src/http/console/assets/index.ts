import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { CONSOLE_ICON } from './icon.js';
import { CONSOLE_JS } from './script.js';
import { CONSOLE_CSS } from './style.js';

interface Asset {
  body: Buffer;
  type: string;
}

/** Each asset's path carries a hash of its content, so it may be cached for good. */
function named(stem: string, ext: string, text: string, type: string): [string, Asset] {
  const body = Buffer.from(text, 'utf8');
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return [`/assets/${stem}-${hash}.${ext}`, { body, type }];
}

const css = named('console', 'css', CONSOLE_CSS, 'text/css; charset=utf-8');
const js = named('console', 'js', CONSOLE_JS, 'text/javascript; charset=utf-8');
const icon = named('icon', 'svg', CONSOLE_ICON, 'image/svg+xml');

export const ASSET_PATHS = { css: css[0], js: js[0], icon: icon[0] } as const;
const ASSETS = new Map<string, Asset>([css, js, icon]);

/** Serves /assets/<name>; false when there is no such asset. */
export function serveAsset(path: string, res: ServerResponse): boolean {
  const asset = ASSETS.get(path);
  if (asset === undefined) return false;
  res.writeHead(200, {
    'content-type': asset.type,
    'content-length': asset.body.length,
    'cache-control': 'public, max-age=31536000, immutable',
    'x-content-type-options': 'nosniff',
  });
  res.end(asset.body);
  return true;
}
