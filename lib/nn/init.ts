/**
 * Parameter initialisers for training from scratch. Values are drawn in PyTorch layout from one
 * seeded generator, so a model built after `seedInit(s)` is reproducible.
 */
export type Initializer = (torchShape: readonly number[]) => Float32Array;

let state = 0x2023;

/** Reseeds the initialiser stream (mulberry32). */
export function seedInit(seed: number): void {
  state = seed >>> 0;
}

function next(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function uniform(bound: number): Initializer {
  return (shape) => {
    const out = new Float32Array(size(shape));
    for (let i = 0; i < out.length; i++) out[i] = (next() * 2 - 1) * bound;
    return out;
  };
}

export function normal(std: number, mean = 0): Initializer {
  return (shape) => {
    const out = new Float32Array(size(shape));
    for (let i = 0; i < out.length; i++) {
      const u1 = Math.max(next(), 1e-12);
      const u2 = next();
      out[i] = mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
    return out;
  };
}

export function constant(v: number): Initializer {
  return (shape) => new Float32Array(size(shape)).fill(v);
}

export const zeros = constant(0);
export const ones = constant(1);

/** PyTorch's default for Conv/Linear weights and biases: U(±1/sqrt(fan_in)). */
export function defaultUniform(fanIn: number): Initializer {
  return uniform(fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0);
}

/** Deterministic uniform values in [lo, hi) (LCG): the same inputs on every run. */
export function pseudoRandom(n: number, seed = 1, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (s / 4294967296) * (hi - lo);
  }
  return out;
}
