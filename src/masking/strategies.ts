import { createHmac } from 'node:crypto';
import type { MaskingRuleConfig } from '../config/schema.js';

export type MaskStrategyName = MaskingRuleConfig['strategy'];

/** A compiled strategy: text in, masked text (or null) out. Never throws. */
export type MaskFunction = (text: string) => string | null;

export interface MaskStrategy {
  readonly name: MaskStrategyName;
  readonly apply: MaskFunction;
  /** The output when it does not depend on the input (redact, null): precomputed on the wire. */
  readonly constant: { value: string | null } | undefined;
  /** partial: how many trailing characters are kept (the wire rewrites ASCII values in place). */
  readonly keep: number;
}

export const REDACTED = '****';

/** Hex characters of the HMAC kept by `hash`: 64 bits, enough that distinct values stay distinct. */
export const HASH_HEX_LENGTH = 16;

const HAS_SURROGATE = /[\uD800-\uDFFF]/;
const EMAIL_SHAPE = /^[^@\s]+@([^@\s]+\.[^@\s]+)$/;

export function compileStrategy(name: MaskStrategyName, keep: number, hashKey: Buffer): MaskStrategy {
  switch (name) {
    case 'redact':
      return { name, apply: () => REDACTED, constant: { value: REDACTED }, keep };
    case 'null':
      return { name, apply: () => null, constant: { value: null }, keep };
    case 'partial':
      return { name, apply: (text) => partial(text, keep), constant: undefined, keep };
    case 'email':
      return {
        name,
        apply: (text) => {
          const m = EMAIL_SHAPE.exec(text.trim());
          return m ? `${REDACTED}@${m[1] as string}` : REDACTED;
        },
        constant: undefined,
        keep,
      };
    case 'hash':
      // HMAC, not a bare hash: without the key nobody can hash candidate values to find a match.
      return {
        name,
        apply: (text) => createHmac('sha256', hashKey).update(text).digest('hex').slice(0, HASH_HEX_LENGTH),
        constant: undefined,
        keep,
      };
  }
}

/**
 * Keeps the last `keep` characters (code points) and stars the rest. A value no longer than
 * `keep` is starred whole: keeping all of it would show it.
 */
function partial(text: string, keep: number): string {
  if (!HAS_SURROGATE.test(text)) {
    if (text.length <= keep) return '*'.repeat(text.length);
    return '*'.repeat(text.length - keep) + text.slice(text.length - keep);
  }
  const chars = Array.from(text);
  if (chars.length <= keep) return '*'.repeat(chars.length);
  return '*'.repeat(chars.length - keep) + chars.slice(chars.length - keep).join('');
}

/** The strongest mask, used for any output computed from masked columns. */
export const REDACT: MaskStrategy = {
  name: 'redact',
  apply: () => REDACTED,
  constant: { value: REDACTED },
  keep: 0,
};
