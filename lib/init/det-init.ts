/**
 * det-init v1: deterministic weights derived from a parameter's PyTorch state-dict name.
 * The shared parity fixtures were produced by the official implementation with these values,
 * so a port that rebuilds them needs no weight file. Algorithm (per element i of tensor NAME):
 * FNV-1a-32(NAME) seeds mulberry32; the (i+1)-th output r gives u = r / 2^31 - 1 in [-1, 1);
 * value = fround(u * sqrt(3 / fan_in)) for rank >= 2 (fan_in = numel / shape[0]), fround(0.1 u)
 * otherwise, and fround(1 + 0.1 u) for names ending in "running_var".
 */
export const DET_INIT_VERSION = 'det-init v1';

const utf8 = new TextEncoder();

/** FNV-1a 32-bit hash of the UTF-8 bytes of `name` (unsigned). */
export function fnv1a32(name: string): number {
  let h = 0x811c9dc5;
  for (const b of utf8.encode(name)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

/** The (i+1)-th uint32 output of mulberry32 seeded with `seed` (random access). */
export function mulberryAt(seed: number, i: number): number {
  const s = (seed + Math.imul(i + 1, 0x6d2b79f5)) >>> 0;
  let t = Math.imul(s ^ (s >>> 15), s | 1) >>> 0;
  t = (t ^ ((t + Math.imul(t ^ (t >>> 7), t | 61)) >>> 0)) >>> 0;
  return (t ^ (t >>> 14)) >>> 0;
}

/** `n` uniform values in [-1, 1) (float64) for the tensor named `name`. */
export function detUniform(name: string, n: number): Float64Array {
  const seed = fnv1a32(name);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = mulberryAt(seed, i) / 2147483648 - 1;
  return out;
}

/** Scale of det-init v1 for a tensor of `shape`: LeCun-uniform for rank >= 2, else 0.1. */
export function detScale(shape: readonly number[]): number {
  const n = shape.reduce((a, b) => a * b, 1);
  return shape.length >= 2 ? Math.sqrt(3 / (n / shape[0])) : 0.1;
}

/** det-init v1 values of state-dict entry `name` with PyTorch `shape`, row-major. */
export function detValues(name: string, shape: readonly number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const u = detUniform(name, n);
  const out = new Float32Array(n);
  if (name.endsWith('running_var')) {
    for (let i = 0; i < n; i++) out[i] = Math.fround(1 + 0.1 * u[i]);
  } else {
    const scale = detScale(shape);
    for (let i = 0; i < n; i++) out[i] = Math.fround(u[i] * scale);
  }
  return out;
}

/** Values `lo + (u + 1)/2 (hi - lo)` used by the fixtures' micro-case inputs. */
export function detRange(name: string, n: number, lo: number, hi: number): Float32Array {
  const u = detUniform(name, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround(lo + ((u[i] + 1) / 2) * (hi - lo));
  return out;
}
