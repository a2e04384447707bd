/**
 * unfold / fold (PyTorch column order, exact adjoints, coverage counts), pixel (un)shuffle,
 * roll and maxPool2d, on cpu and wasm.
 */
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { fold, pixelShuffle, pixelUnshuffle, unfold, unfoldGrid } from '../../lib/ops/patches';
import { maxPool2d, roll } from '../../lib/ops/misc';
import { assertClose } from '../helpers';
import { BACKENDS, at, data, gradCheck, read } from './util';

const PS = { kernel: 7, stride: 3, padding: 3 };

function naiveUnfold(x: Float32Array, xs: number[], k: [number, number], s: [number, number], p: [number, number]): { out: Float64Array; l: number } {
  const [n, h, w, c] = xs;
  const fh = Math.floor((h + 2 * p[0] - k[0]) / s[0]) + 1;
  const fw = Math.floor((w + 2 * p[1] - k[1]) / s[1]) + 1;
  const kk = k[0] * k[1];
  const out = new Float64Array(n * fh * fw * c * kk);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < fh; i++)
      for (let j = 0; j < fw; j++)
        for (let ch = 0; ch < c; ch++)
          for (let a = 0; a < k[0]; a++)
            for (let bb = 0; bb < k[1]; bb++) {
              const y = i * s[0] - p[0] + a;
              const xx = j * s[1] - p[1] + bb;
              const v = y >= 0 && y < h && xx >= 0 && xx < w ? x[at(xs, b, y, xx, ch)] : 0;
              out[at([n, fh * fw, c * kk], b, i * fw + j, ch * kk + a * k[1] + bb)] = v;
            }
  return { out, l: fh * fw };
}

for (const backend of BACKENDS) {
  describe(`patches, roll, maxPool2d (${backend})`, () => {
    before(async () => {
      await useBackend(backend);
    });

    test('unfold: PyTorch column order c·kh·kw + ky·kw + kx, zeros in the padding', () => {
      for (const [xs, k, s, p] of [
        [[2, 8, 10, 3], [7, 7], [3, 3], [3, 3]],
        [[1, 5, 6, 2], [2, 3], [1, 2], [1, 0]],
      ] as Array<[number[], [number, number], [number, number], [number, number]]>) {
        const x = data(xs);
        const got = tf.tidy(() => unfold(tf.tensor4d(x, xs as [number, number, number, number]), { kernel: k, stride: s, padding: p }));
        const ref = naiveUnfold(x, xs, k, s, p);
        assert.deepEqual(got.shape, [xs[0], ref.l, xs[3] * k[0] * k[1]]);
        assertClose(read(got), ref.out, 0, `unfold k${k} s${s} p${p}`);
        got.dispose();
      }
      assert.deepEqual(unfoldGrid(60, 108, PS), [20, 36]);
    });

    test('fold is the exact adjoint of unfold on 61×107 (7/3/3): <unfold x, y> = <x, fold y>', () => {
      const [n, h, w, c] = [2, 61, 107, 2];
      const [fh, fw] = unfoldGrid(h, w, PS);
      tf.tidy(() => {
        const x = tf.tensor4d(data([n, h, w, c]), [n, h, w, c]);
        const y = tf.tensor3d(data([n, fh * fw, c * 49]), [n, fh * fw, c * 49]);
        const lhs = tf.sum(tf.mul(unfold(x, PS), y)).dataSync()[0];
        const rhs = tf.sum(tf.mul(x, fold(y, [h, w], PS))).dataSync()[0];
        assert.ok(Math.abs(lhs - rhs) <= 1e-4 * Math.abs(lhs), `adjoint: ${lhs} vs ${rhs}`);
      });
    });

    test('fold(ones) coverage counts (h = 60: 2,2,2,3,… ending 2,2,1,1)', () => {
      const [h, w] = [60, 9];
      const [fh, fw] = unfoldGrid(h, w, PS);
      const cnt = tf.tidy(() => read(fold(tf.ones([1, fh * fw, 49]) as tf.Tensor3D, [h, w], PS)));
      const col0 = Array.from({ length: h }, (_, y) => cnt[y * w]);
      const perAxis = (size: number) => {
        const f = Math.floor((size + 6 - 7) / 3) + 1;
        return Array.from({ length: size }, (_, y) => {
          let k = 0;
          for (let i = 0; i < f; i++) if (y >= 3 * i - 3 && y < 3 * i + 4) k++;
          return k;
        });
      };
      const ry = perAxis(h);
      const rx = perAxis(w);
      assert.deepEqual(col0, ry.map((v) => v * rx[0]));
      assert.deepEqual(ry.slice(0, 4), [2, 2, 2, 3]);
      assert.deepEqual(ry.slice(-4), [2, 2, 1, 1]);
    });

    test('unfold and fold gradients (finite differences)', () => {
      const [n, h, w, c] = [1, 8, 10, 2];
      const [fh, fw] = unfoldGrid(h, w, PS);
      const x = tf.tensor4d(data([n, h, w, c]), [n, h, w, c]);
      const y = tf.tensor3d(data([n, fh * fw, c * 49]), [n, fh * fw, c * 49]);
      const ry = tf.tensor3d(data([n, fh * fw, c * 49]), [n, fh * fw, c * 49]);
      const rx = tf.tensor4d(data([n, h, w, c]), [n, h, w, c]);
      gradCheck((a) => tf.sum(tf.mul(tf.square(unfold(a as tf.Tensor4D, PS)), ry)), [x], { what: 'unfold' });
      gradCheck((a) => tf.sum(tf.mul(tf.square(fold(a as tf.Tensor3D, [h, w], PS)), rx)), [y], { what: 'fold' });
      tf.dispose([x, y, rx, ry]);
    });

    test('pixelShuffle / pixelUnshuffle use PyTorch channel order and invert each other', () => {
      const [n, h, w, c, r] = [2, 3, 4, 2, 2];
      const xs = [n, h, w, c * r * r];
      const x = data(xs);
      tf.tidy(() => {
        const t = tf.tensor4d(x, xs as [number, number, number, number]);
        const y = pixelShuffle(t, r);
        assert.deepEqual(y.shape, [n, h * r, w * r, c]);
        const yd = read(y);
        for (let b = 0; b < n; b++)
          for (let i = 0; i < h; i++)
            for (let j = 0; j < w; j++)
              for (let ch = 0; ch < c; ch++)
                for (let a = 0; a < r; a++)
                  for (let bb = 0; bb < r; bb++) {
                    assert.equal(yd[at([n, h * r, w * r, c], b, i * r + a, j * r + bb, ch)], x[at(xs, b, i, j, ch * r * r + a * r + bb)]);
                  }
        assertClose(read(pixelUnshuffle(y, r)), x, 0, 'unshuffle(shuffle(x))');
      });
    });

    test('roll = torch.roll (negative shifts, several axes)', () => {
      const xs = [2, 3, 5, 2];
      const x = data(xs);
      const shifts = [-4, 7, 1];
      const axes = [2, 1, -1];
      const got = tf.tidy(() => read(roll(tf.tensor4d(x, xs as [number, number, number, number]), shifts, axes)));
      const ref = new Float32Array(x.length);
      const mod = (a: number, m: number) => ((a % m) + m) % m;
      for (let b = 0; b < 2; b++)
        for (let i = 0; i < 3; i++)
          for (let j = 0; j < 5; j++)
            for (let k = 0; k < 2; k++) ref[at(xs, b, i, j, k)] = x[at(xs, b, mod(i - 7, 3), mod(j + 4, 5), mod(k - 1, 2))];
      assertClose(got, ref, 0, 'roll');
    });

    test('maxPool2d pads with −∞ (negative inputs keep their maxima at the border)', () => {
      const xs = [1, 7, 8, 2];
      const x = data(xs, -2, -0.5);
      const got = tf.tidy(() => maxPool2d(tf.tensor4d(x, [1, 7, 8, 2]), 7, 3, 3));
      const [, ho, wo] = got.shape;
      assert.deepEqual([ho, wo], [3, 3]);
      const gd = read(got);
      for (let i = 0; i < ho; i++)
        for (let j = 0; j < wo; j++)
          for (let k = 0; k < 2; k++) {
            let m = -Infinity;
            for (let a = 0; a < 7; a++)
              for (let b = 0; b < 7; b++) {
                const y = 3 * i - 3 + a;
                const xx = 3 * j - 3 + b;
                if (y >= 0 && y < 7 && xx >= 0 && xx < 8) m = Math.max(m, x[at(xs, 0, y, xx, k)]);
              }
            assert.equal(gd[at([1, ho, wo, 2], 0, i, j, k)], m);
          }
      got.dispose();
    });
  });
}
