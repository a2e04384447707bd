/** Shared test utilities: deterministic data, closeness checks, finite-difference gradients. */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { pseudoRandom } from '../lib/nn/init';

/** `../shared` beside the checkout (present for developers and CI). */
export const SHARED = path.resolve(__dirname, '..', '..', 'shared');
export const FIXTURES = path.join(SHARED, 'fixtures');
export const hasShared = fs.existsSync(FIXTURES);

/** Deterministic uniform values in [lo, hi) (the library's LCG, so tests and benches share inputs). */
export function seeded(n: number, seed = 1, lo = -1, hi = 1): Float32Array {
  return pseudoRandom(n, seed, lo, hi);
}

export function randn(shape: number[], seed = 1, lo = -1, hi = 1): tf.Tensor {
  return tf.tensor(seeded(shape.reduce((a, b) => a * b, 1), seed, lo, hi), shape);
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Asserts max|a − b| ≤ rel · max(max|b|, floor). */
export function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, rel = 1e-5, what = 'values', floor = 1e-6): void {
  const d = maxAbsDiff(a, b);
  const scale = Math.max(maxAbs(b), floor);
  assert.ok(d <= rel * scale, `${what}: max abs diff ${d.toExponential(3)} > ${rel} × ${scale.toExponential(3)}`);
}

/**
 * Directional finite-difference check of d(loss)/d(inputs): compares Σ g·v with
 * (L(x + εv) − L(x − εv)) / 2ε for a random direction v per input, in float32 with a
 * central difference. Returns the relative errors.
 */
export function gradCheck(
  f: (...xs: tf.Tensor[]) => tf.Scalar,
  inputs: tf.Tensor[],
  opts: { eps?: number; rel?: number; seed?: number; what?: string } = {},
): number[] {
  const eps = opts.eps ?? 1e-2;
  const rel = opts.rel ?? 1e-3;
  const grads = tf.grads((...xs: tf.Tensor[]) => f(...xs))(inputs);
  const errs: number[] = [];
  inputs.forEach((x, i) => {
    const v = randn(x.shape, (opts.seed ?? 7) + i);
    const analytic = tf.sum(tf.mul(grads[i], v)).dataSync()[0];
    const shifted = (s: number) =>
      tf.tidy(() => {
        const xs = inputs.map((y, j) => (j === i ? tf.add(y, tf.mul(v, s)) : y));
        return f(...xs).dataSync()[0];
      });
    const numeric = (shifted(eps) - shifted(-eps)) / (2 * eps);
    const err = Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), Math.abs(analytic), 1e-6);
    errs.push(err);
    v.dispose();
    assert.ok(err <= rel, `${opts.what ?? 'gradient'} of input ${i}: analytic ${analytic} vs numeric ${numeric} (rel ${err.toExponential(2)})`);
  });
  grads.forEach((g) => g.dispose());
  return errs;
}
