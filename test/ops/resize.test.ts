/**
 * interpolateBilinear (both align_corners modes) and interpolateNearest: hand-computed values,
 * naive PyTorch-formula loops on non-square maps (up and down), gradients against finite
 * differences, on cpu and wasm.
 */
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { interpolateBilinear, interpolateNearest } from '../../lib/ops/resize';
import { assertClose } from '../helpers';
import { BACKENDS, at, data, gradCheck, read } from './util';

/** ATen's source index for bilinear (double precision reference). */
function src(o: number, inS: number, outS: number, ac: boolean): number {
  if (ac) return outS > 1 ? (o * (inS - 1)) / (outS - 1) : 0;
  return Math.max(((o + 0.5) * inS) / outS - 0.5, 0);
}

function naiveBilinear(x: Float32Array, xs: number[], oh: number, ow: number, ac: boolean): Float64Array {
  const [n, h, w, c] = xs;
  const out = new Float64Array(n * oh * ow * c);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        const sy = src(i, h, oh, ac);
        const sx = src(j, w, ow, ac);
        const y0 = Math.min(Math.floor(sy), h - 1);
        const x0 = Math.min(Math.floor(sx), w - 1);
        const y1 = Math.min(y0 + 1, h - 1);
        const x1 = Math.min(x0 + 1, w - 1);
        const ly = sy - y0;
        const lx = sx - x0;
        for (let k = 0; k < c; k++) {
          const v = (y: number, xx: number) => x[at(xs, b, y, xx, k)];
          out[at([n, oh, ow, c], b, i, j, k)] = (1 - ly) * ((1 - lx) * v(y0, x0) + lx * v(y0, x1)) + ly * ((1 - lx) * v(y1, x0) + lx * v(y1, x1));
        }
      }
  return out;
}

function naiveNearest(x: Float32Array, xs: number[], oh: number, ow: number): Float64Array {
  const [n, h, w, c] = xs;
  const f = Math.fround;
  // ATen nearest_idx: shortcut for equal size and ×2, else floor(dst·float(in/out)) in float.
  const idx = (o: number, i: number, out: number) => (out === i ? o : out === 2 * i ? o >> 1 : Math.min(Math.floor(f(o * f(i / out))), i - 1));
  const out = new Float64Array(n * oh * ow * c);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let k = 0; k < c; k++) out[at([n, oh, ow, c], b, i, j, k)] = x[at(xs, b, idx(i, h, oh), idx(j, w, ow), k)];
  return out;
}

const SIZES: Array<[[number, number], [number, number]]> = [
  [[5, 7], [10, 14]], // ×2 (the generator's deconv)
  [[6, 10], [3, 4]], // down, non-integer along W
  [[3, 5], [7, 4]], // up along H, down along W
  [[8, 12], [2, 3]], // ×1/4 (flow to feature resolution)
  [[4, 6], [4, 9]], // one axis unchanged
];

for (const backend of BACKENDS) {
  describe(`interpolate (${backend})`, () => {
    before(async () => {
      await useBackend(backend);
    });

    test('bilinear hand-computed values (2×2 → 4×4)', () => {
      const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
      const ac = read(interpolateBilinear(x, [4, 4], { alignCorners: true }));
      const row = (a: number, b: number) => [a, a + (b - a) / 3, a + (2 * (b - a)) / 3, b];
      const top = row(1, 2);
      const bot = row(3, 4);
      const acRef = [0, 1, 2, 3].flatMap((i) => top.map((t, j) => t + ((bot[j] - t) * i) / 3));
      assertClose(ac, acRef, 1e-6, 'align_corners=True');
      // align_corners=False: src = (dst + 0.5)/2 − 0.5 → [0 (clamped), 0.25, 0.75, 1 (edge)].
      const hp = read(interpolateBilinear(x, [4, 4], { alignCorners: false }));
      const l = [0, 0.25, 0.75, 1];
      const hpRef = l.flatMap((ly) => l.map((lx) => (1 - ly) * (1 + lx) + ly * (3 + lx)));
      assertClose(hp, hpRef, 1e-6, 'align_corners=False');
      x.dispose();
    });

    for (const ac of [true, false]) {
      for (const [[h, w], [oh, ow]] of SIZES) {
        test(`bilinear align_corners=${ac} ${h}×${w} → ${oh}×${ow}: forward and gradient`, () => {
          const xs = [2, h, w, 3];
          const x = data(xs);
          const t = tf.tensor4d(x, xs as [number, number, number, number]);
          const y = interpolateBilinear(t, [oh, ow], { alignCorners: ac });
          assert.deepEqual(y.shape, [2, oh, ow, 3]);
          assertClose(read(y), naiveBilinear(x, xs, oh, ow, ac), 2e-6, 'forward');
          const r = tf.tensor4d(data([2, oh, ow, 3]), [2, oh, ow, 3]);
          gradCheck((a) => tf.sum(tf.mul(interpolateBilinear(a as tf.Tensor4D, [oh, ow], { alignCorners: ac }), r)), [t], { what: 'interpolateBilinear' });
          tf.dispose([t, y, r]);
        });
      }
    }

    test('bilinear ¼ with align_corners=False is the mean of the central 2×2 of each 4×4 block', () => {
      const xs = [1, 8, 12, 2];
      const x = data(xs);
      const y = read(interpolateBilinear(tf.tensor4d(x, [1, 8, 12, 2]), [2, 3], { alignCorners: false }));
      const ref: number[] = [];
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 3; j++)
          for (let k = 0; k < 2; k++) {
            let s = 0;
            for (const a of [1, 2]) for (const b of [1, 2]) s += x[at(xs, 0, 4 * i + a, 4 * j + b, k)];
            ref.push(s / 4);
          }
      assertClose(y, ref, 1e-6, 'flow ¼ downsampling');
    });

    for (const [[h, w], [oh, ow]] of [...SIZES, [[10, 10], [6, 6]] as [[number, number], [number, number]], [[3, 4], [9, 8]] as [[number, number], [number, number]]]) {
      test(`nearest ${h}×${w} → ${oh}×${ow}: src = floor(dst·in/out) in float; gradient`, () => {
        const xs = [2, h, w, 2];
        const x = data(xs);
        const t = tf.tensor4d(x, xs as [number, number, number, number]);
        const y = interpolateNearest(t, [oh, ow]);
        assertClose(read(y), naiveNearest(x, xs, oh, ow), 0, 'forward');
        const r = tf.tensor4d(data([2, oh, ow, 2]), [2, oh, ow, 2]);
        gradCheck((a) => tf.sum(tf.mul(interpolateNearest(a as tf.Tensor4D, [oh, ow]), r)), [t], { what: 'interpolateNearest' });
        tf.dispose([t, y, r]);
      });
    }

    test('nearest 2 → 82 reproduces ATen float rounding (dst 41 → src 0, not 1)', () => {
      const x = tf.tensor4d([0, 1], [1, 2, 1, 1]);
      const y = read(interpolateNearest(x, [82, 1]));
      assert.equal(y[40], 0);
      assert.equal(y[41], 0);
      assert.equal(y[42], 1);
      x.dispose();
    });
  });
}
