/** Shared pieces of the op tests: backends, tensors from seeded data, naive reference loops. */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { after } from 'node:test';
import { gradCheck as fdCheck, seeded } from '../helpers';

export type Backend = 'cpu' | 'wasm';
export const BACKENDS: Backend[] = ['cpu', 'wasm'];

let nextSeed = 1000;
/** Deterministic uniform host data of a shape. */
export function data(shape: number[], lo = -1, hi = 1, seed = nextSeed++): Float32Array {
  return seeded(shape.reduce((a, b) => a * b, 1), seed, lo, hi);
}

/** Row-major offset of an index in a shape. */
export function at(shape: readonly number[], ...idx: number[]): number {
  let o = 0;
  for (let i = 0; i < shape.length; i++) o = o * shape[i] + idx[i];
  return o;
}

/** Value of an NHWC image at (n, y, x, c), 0 outside. */
export function pix(img: ArrayLike<number>, shape: readonly number[], n: number, y: number, x: number, c: number): number {
  const [, h, w] = shape;
  if (y < 0 || y >= h || x < 0 || x >= w) return 0;
  return img[at(shape, n, y, x, c)];
}

/** Bilinear sample with zero padding (PyTorch / torchvision semantics) at (x, y). */
export function bilinearAt(img: ArrayLike<number>, shape: readonly number[], n: number, x: number, y: number, c: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  return (
    (1 - fx) * (1 - fy) * pix(img, shape, n, y0, x0, c) +
    fx * (1 - fy) * pix(img, shape, n, y0, x0 + 1, c) +
    (1 - fx) * fy * pix(img, shape, n, y0 + 1, x0, c) +
    fx * fy * pix(img, shape, n, y0 + 1, x0 + 1, c)
  );
}

/** Round half to even. */
export function rint(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Naive conv2d (PyTorch semantics) on NHWC with filter [kh, kw, Cin/g, Cout]. */
export function naiveConv2d(
  x: ArrayLike<number>,
  xs: number[],
  w: ArrayLike<number>,
  ws: number[],
  o: { stride?: [number, number]; padding?: [number, number]; dilation?: [number, number]; groups?: number; replicate?: boolean; bias?: ArrayLike<number> } = {},
): { data: Float64Array; shape: number[] } {
  const [n, h, wd, cin] = xs;
  const [kh, kw, cg, cout] = ws;
  const [sh, sw] = o.stride ?? [1, 1];
  const [ph, pw] = o.padding ?? [0, 0];
  const [dh, dw] = o.dilation ?? [1, 1];
  const g = o.groups ?? 1;
  const og = cout / g;
  const ho = Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const wo = Math.floor((wd + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  const out = new Float64Array(n * ho * wo * cout);
  const clampI = (v: number, m: number) => Math.min(Math.max(v, 0), m - 1);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < ho; i++)
      for (let j = 0; j < wo; j++)
        for (let co = 0; co < cout; co++) {
          const grp = Math.floor(co / og);
          let s = o.bias ? o.bias[co] : 0;
          for (let a = 0; a < kh; a++)
            for (let bb = 0; bb < kw; bb++) {
              let y = i * sh - ph + a * dh;
              let xx = j * sw - pw + bb * dw;
              if (o.replicate) {
                y = clampI(y, h);
                xx = clampI(xx, wd);
              } else if (y < 0 || y >= h || xx < 0 || xx >= wd) continue;
              for (let c = 0; c < cg; c++) s += x[at(xs, b, y, xx, grp * cg + c)] * w[at(ws, a, bb, c, co)];
            }
          out[at([n, ho, wo, cout], b, i, j, co)] = s;
        }
  return { data: out, shape: [n, ho, wo, cout] };
}

export function read(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

/** Worst finite-difference relative error per check, printed once per test file. */
const gradErrors = new Map<string, number>();
after(() => {
  for (const [k, v] of gradErrors) console.log(`grad-check ${k}: max rel err ${v.toExponential(2)}`);
});

/** helpers.gradCheck that also records the worst relative error under `backend: what`. */
export function gradCheck(f: (...xs: tf.Tensor[]) => tf.Scalar, inputs: tf.Tensor[], opts: { eps?: number; rel?: number; seed?: number; what?: string } = {}): number[] {
  const errs = fdCheck(f, inputs, opts);
  const key = `${tf.getBackend()} ${opts.what ?? 'gradient'}`;
  gradErrors.set(key, Math.max(gradErrors.get(key) ?? 0, ...errs));
  return errs;
}
