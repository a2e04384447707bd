/**
 * Seeded pseudo-random numbers for data pipelines.
 *
 * One run has one seed. Every independent consumer derives its own generator from that seed and a
 * key path, e.g. `Rng.from(seed, epoch, index)` for one training sample or
 * `Rng.from(seed, 'shuffle', epoch)` for an epoch's order, so results do not depend on which
 * worker computes what, or in which order. Generator: sfc32 (Doty-Humphrey), state seeded by a
 * murmur3-style hash of the key path; doubles use 53 random bits. Gaussian samples use
 * Box–Muller with V8's fdlibm-based Math.log/cos (identical on all threads and machines running
 * the same Node version).
 */

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 32-bit FNV-1a of a string's UTF-16 code units. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export type SeedPart = number | string;

/** Splits a number into 32-bit words (integers up to 2^53, negative allowed; non-integers by bits). */
function numberWords(x: number): number[] {
  if (Number.isInteger(x) && Math.abs(x) <= Number.MAX_SAFE_INTEGER) {
    const neg = x < 0 ? 1 : 0;
    const a = Math.abs(x);
    return [a >>> 0, Math.floor(a / 4294967296) >>> 0, neg];
  }
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x);
  return [dv.getUint32(0), dv.getUint32(4), 2];
}

/** Hashes a key path to four 32-bit words. */
export function hashSeed(parts: readonly SeedPart[]): [number, number, number, number] {
  const words: number[] = [];
  for (const p of parts) {
    if (typeof p === 'string') words.push(0x5354, hashString(p), p.length);
    else words.push(...numberWords(p));
  }
  const out: [number, number, number, number] = [0, 0, 0, 0];
  for (let lane = 0; lane < 4; lane++) {
    let h = fmix32(0x9e3779b9 * (lane + 1) + words.length);
    for (const w of words) {
      h = fmix32((h ^ w) + 0x7f4a7c15);
      h = Math.imul(h, 5) + 0xe6546b64;
    }
    out[lane] = fmix32(h >>> 0);
  }
  return out;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A generator for a key path (seed first). */
  constructor(...parts: SeedPart[]) {
    [this.a, this.b, this.c, this.d] = hashSeed(parts);
    for (let i = 0; i < 15; i++) this.nextU32();
  }

  static from(...parts: SeedPart[]): Rng {
    return new Rng(...parts);
  }

  /** Next uniform uint32. */
  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  random(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi) (or (hi, lo] when hi < lo, like NumPy's uniform). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.random();
  }

  /** Integer uniform in [lo, hi], both inclusive (Python `random.randint`). */
  randint(lo: number, hi: number): number {
    if (hi < lo) throw new Error(`randint: empty range [${lo}, ${hi}]`);
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }

  /** Gaussian N(mean, std²). */
  normal(mean = 0, std = 1): number {
    const u1 = 1 - this.random(); // (0, 1]
    const u2 = this.random();
    return mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** True with probability p. */
  bernoulli(p = 0.5): boolean {
    return this.random() < p;
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(arr: T[]): T[] {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      const t = arr[i];
      arr[i] = arr[j];
      arr[j] = t;
    }
    return arr;
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** k distinct elements drawn uniformly without replacement (order of drawing). */
  sample<T>(arr: readonly T[], k: number): T[] {
    if (k > arr.length || k < 0) throw new Error(`sample: cannot draw ${k} of ${arr.length}`);
    const pool = arr.slice();
    const out: T[] = [];
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(this.random() * (pool.length - i));
      const t = pool[i];
      pool[i] = pool[j];
      pool[j] = t;
      out.push(pool[i]);
    }
    return out;
  }

  /** A child generator keyed by this generator's next output and `parts`. */
  fork(...parts: SeedPart[]): Rng {
    return new Rng(this.nextU32(), this.nextU32(), ...parts);
  }
}
