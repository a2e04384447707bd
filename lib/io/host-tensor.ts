/**
 * A tensor held in host memory, in PyTorch (row-major, channel-first) layout.
 * This is what checkpoint readers produce and writers consume; models convert it to
 * TF.js layouts once, in `lib/nn/module.ts`.
 */
export type DType =
  | 'float64' | 'float32' | 'float16' | 'bfloat16'
  | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** float16 / bfloat16 are kept as raw Uint16 bits; int64 as BigInt64Array. */
export type HostData =
  | Float64Array | Float32Array | Uint16Array | BigInt64Array
  | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface HostTensor {
  dtype: DType;
  shape: number[];
  data: HostData;
}

/** An ordered name → tensor map, like a PyTorch state_dict. */
export type StateDict = Map<string, HostTensor>;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** IEEE half (as uint16 bits) → float32 value. */
export function halfToFloat(h: number): number {
  const s = (h & 0x8000) ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 value → IEEE half bits, round to nearest even. */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

/** Any floating or integer host tensor as float32 values (float16/bfloat16 decoded). */
export function toFloat32(t: HostTensor): Float32Array {
  const n = numel(t.shape);
  if (t.dtype === 'float32') return t.data as Float32Array;
  const out = new Float32Array(n);
  const d = t.data;
  if (t.dtype === 'float16') {
    const u = d as Uint16Array;
    for (let i = 0; i < n; i++) out[i] = halfToFloat(u[i]);
  } else if (t.dtype === 'bfloat16') {
    const u = d as Uint16Array;
    const tmp = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) tmp[i] = u[i] << 16;
  } else if (t.dtype === 'int64') {
    const b = d as BigInt64Array;
    for (let i = 0; i < n; i++) out[i] = Number(b[i]);
  } else {
    for (let i = 0; i < n; i++) out[i] = Number((d as ArrayLike<number>)[i]);
  }
  return out;
}

/** Integer host tensor as int32 values (int64 must fit). */
export function toInt32(t: HostTensor, name = 'tensor'): Int32Array {
  const n = numel(t.shape);
  if (t.dtype === 'int32') return t.data as Int32Array;
  const out = new Int32Array(n);
  if (t.dtype === 'int64') {
    const b = t.data as BigInt64Array;
    for (let i = 0; i < n; i++) {
      const v = b[i];
      if (v > 2147483647n || v < -2147483648n) throw new Error(`${name}: int64 value ${v} does not fit in int32`);
      out[i] = Number(v);
    }
    return out;
  }
  const f = toFloat32(t);
  for (let i = 0; i < n; i++) out[i] = f[i];
  return out;
}
