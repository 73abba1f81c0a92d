/**
 * A seeded pseudo-random source for the protocol fuzz tests: the same seed gives the same inputs,
 * so a failure found in CI can be run again. Not for anything secret.
 */
export class SeededRandom {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1) (mulberry32). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let x = this.#state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max), or [0, min) when max is left out. */
  int(min: number, max?: number): number {
    const [lo, hi] = max === undefined ? [0, min] : [min, max];
    return lo + Math.floor(this.next() * (hi - lo));
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

/** The seed a fuzz test runs with: SLUICE_FUZZ_SEED when set (to replay a failure), else `fallback`. */
export function fuzzSeed(fallback: number): number {
  const given = Number(process.env['SLUICE_FUZZ_SEED']);
  return Number.isInteger(given) && given > 0 ? given : fallback;
}
