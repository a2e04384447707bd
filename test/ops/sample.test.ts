/**
 * bilinearSample / nearestSample / gridSample / flowWarp / fbConsistencyCheck: forward against
 * naive loops with PyTorch's scalar semantics, gradients against finite differences, on cpu and
 * wasm; flow_warp and the consistency check against the losses fixture when ../shared exists.
 */
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { bilinearSample, fbConsistencyCheck, flowWarp, gridSample, nearestSample, GridPaddingMode } from '../../lib/ops/sample';
import { readFixture } from '../../lib/fixtures/load';
import { hostToTensor, NCHW_TO_NHWC } from '../../lib/fixtures/convert';
import { FIXTURES, assertClose, hasShared } from '../helpers';
import { BACKENDS, at, bilinearAt, data, gradCheck, pix, read, rint } from './util';

/** PyTorch's scalar grid_sampler_compute_source_index. */
function sourceIndex(g: number, size: number, padding: GridPaddingMode, ac: boolean): number {
  let x = ac ? ((g + 1) / 2) * (size - 1) : ((g + 1) * size - 1) / 2;
  const clip = (v: number) => Math.min(Math.max(v, 0), size - 1);
  if (padding === 'border') x = clip(x);
  if (padding === 'reflection') {
    const [lo, hi] = ac ? [0, 2 * (size - 1)] : [-1, 2 * size - 1];
    if (lo === hi) return 0;
    const min = lo / 2;
    const span = (hi - lo) / 2;
    const a = Math.abs(x - min);
    const extra = a % span;
    const flips = Math.floor(a / span);
    x = clip(flips % 2 === 0 ? extra + min : span - extra + min);
  }
  return x;
}

function naiveGridSample(img: Float32Array, is: number[], grid: Float32Array, gs: number[], mode: 'bilinear' | 'nearest', padding: GridPaddingMode, ac: boolean): Float64Array {
  const [n, , , c] = is;
  const [, ho, wo] = gs;
  const out = new Float64Array(n * ho * wo * c);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < ho; i++)
      for (let j = 0; j < wo; j++) {
        const x = sourceIndex(grid[at(gs, b, i, j, 0)], is[2], padding, ac);
        const y = sourceIndex(grid[at(gs, b, i, j, 1)], is[1], padding, ac);
        for (let k = 0; k < c; k++) {
          out[at([n, ho, wo, c], b, i, j, k)] = mode === 'nearest' ? pix(img, is, b, rint(y), rint(x), k) : bilinearAt(img, is, b, x, y, k);
        }
      }
  return out;
}

/** Pixel coordinates k + f with fractions away from 0, 0.5 and 1 (finite differences stay smooth). */
function safeCoords(n: number, lo: number, hi: number, seed: number): Float32Array {
  const fr = [0.2, 0.3, 0.68, 0.78];
  const r = data([n], 0, 1, seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(lo + r[i] * (hi - lo)) + fr[i % 4];
  return out;
}

/** Grid (normalised) whose pixel positions are safeCoords. */
function safeGrid(n: number, ho: number, wo: number, h: number, w: number, ac: boolean, seed: number): Float32Array {
  const p = ho * wo;
  const xs = safeCoords(n * p, -2, w + 1, seed);
  const ys = safeCoords(n * p, -2, h + 1, seed + 1);
  const norm = (v: number, s: number) => (ac ? (2 * v) / (s - 1) - 1 : (2 * v + 1) / s - 1);
  const g = new Float32Array(n * p * 2);
  for (let i = 0; i < n * p; i++) {
    g[2 * i] = norm(xs[i], w);
    g[2 * i + 1] = norm(ys[i], h);
  }
  return g;
}

for (const backend of BACKENDS) {
  describe(`sampling ops (${backend})`, () => {
    before(async () => {
      await useBackend(backend);
    });

    test('bilinearSample matches bilinear interpolation with zero padding; gradients', () => {
      const [n, h, w, c, p] = [2, 5, 6, 3, 17];
      const img = data([n, h, w, c]);
      const px = data([n, p], -2.5, w + 1.5);
      const py = data([n, p], -2.5, h + 1.5);
      px[0] = -1; // exactly one pixel outside: contributes 0
      py[1] = h - 1; // last row
      const out = tf.tidy(() => read(bilinearSample(tf.tensor4d(img, [n, h, w, c]), tf.tensor2d(px, [n, p]), tf.tensor2d(py, [n, p]))));
      const ref = new Float64Array(n * p * c);
      for (let b = 0; b < n; b++) for (let i = 0; i < p; i++) for (let k = 0; k < c; k++) ref[at([n, p, c], b, i, k)] = bilinearAt(img, [n, h, w, c], b, px[b * p + i], py[b * p + i], k);
      assertClose(out, ref, 1e-6, 'bilinearSample');

      const sx = safeCoords(n * p, -2, w + 1, 3);
      const sy = safeCoords(n * p, -2, h + 1, 4);
      const r = tf.tensor3d(data([n, p, c]), [n, p, c]);
      const ins = [tf.tensor4d(img, [n, h, w, c]), tf.tensor2d(sx, [n, p]), tf.tensor2d(sy, [n, p])];
      const errs = gradCheck((a, b, d) => tf.sum(tf.mul(bilinearSample(a as tf.Tensor4D, b as tf.Tensor2D, d as tf.Tensor2D), r)), ins, { what: 'bilinearSample' });
      assert.ok(errs.every((e) => e <= 1e-3));
      tf.dispose([...ins, r]);
    });

    test('nearestSample rounds half to even; coordinate gradients are zero', () => {
      const [n, h, w, c] = [1, 4, 5, 2];
      const img = data([n, h, w, c]);
      const px = Float32Array.from([0.5, 1.5, 2.5, -0.5, 4.5, 3.49, 3.51, -0.51, 2.5, 0.5]);
      const py = Float32Array.from([0.5, 0.5, 1.5, 0.5, 2.5, 3.5, 2.5, 1.0, 3.5, 4.0]);
      const p = px.length;
      const out = tf.tidy(() => read(nearestSample(tf.tensor4d(img, [n, h, w, c]), tf.tensor2d(px, [n, p]), tf.tensor2d(py, [n, p]))));
      const ref = new Float64Array(p * c);
      for (let i = 0; i < p; i++) for (let k = 0; k < c; k++) ref[i * c + k] = pix(img, [n, h, w, c], 0, rint(py[i]), rint(px[i]), k);
      assertClose(out, ref, 0, 'nearestSample');
      const [gi, gx, gy] = tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => tf.sum(nearestSample(a as tf.Tensor4D, b as tf.Tensor2D, d as tf.Tensor2D)))([
        tf.tensor4d(img, [n, h, w, c]),
        tf.tensor2d(px, [n, p]),
        tf.tensor2d(py, [n, p]),
      ]);
      // d/dimg of Σ out = how often each pixel was picked.
      const counts = new Float64Array(h * w * c);
      for (let i = 0; i < p; i++) {
        const y = rint(py[i]);
        const x = rint(px[i]);
        if (y >= 0 && y < h && x >= 0 && x < w) for (let k = 0; k < c; k++) counts[(y * w + x) * c + k] += 1;
      }
      assertClose(read(gi), counts, 0, 'nearest image gradient');
      assert.equal(tf.max(tf.abs(gx)).dataSync()[0] + tf.max(tf.abs(gy)).dataSync()[0], 0);
      tf.dispose([gi, gx, gy]);
    });

    const variants: Array<['bilinear' | 'nearest', GridPaddingMode, boolean]> = [
      ['bilinear', 'zeros', true],
      ['bilinear', 'zeros', false],
      ['bilinear', 'border', true],
      ['bilinear', 'border', false],
      ['bilinear', 'reflection', true],
      ['bilinear', 'reflection', false],
      ['nearest', 'zeros', true],
      ['nearest', 'border', false],
      ['nearest', 'reflection', true],
    ];
    for (const [mode, padding, ac] of variants) {
      test(`gridSample ${mode}/${padding}/align_corners=${ac}: forward and gradients`, () => {
        const [n, h, w, c, ho, wo] = [2, 5, 7, 3, 4, 6];
        const img = data([n, h, w, c]);
        const grid = data([n, ho, wo, 2], -1.25, 1.25);
        const out = tf.tidy(() => read(gridSample(tf.tensor4d(img, [n, h, w, c]), tf.tensor4d(grid, [n, ho, wo, 2]), { mode, paddingMode: padding, alignCorners: ac })));
        assertClose(out, naiveGridSample(img, [n, h, w, c], grid, [n, ho, wo, 2], mode, padding, ac), 2e-6, 'gridSample forward');

        const sg = safeGrid(n, ho, wo, h, w, ac, 11);
        const r = tf.tensor4d(data([n, ho, wo, c]), [n, ho, wo, c]);
        const x = tf.tensor4d(img, [n, h, w, c]);
        const g = tf.tensor4d(sg, [n, ho, wo, 2]);
        const opts = { mode, paddingMode: padding, alignCorners: ac };
        const loss = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(gridSample(a as tf.Tensor4D, b as tf.Tensor4D, opts), r)) as tf.Scalar;
        if (mode === 'bilinear') {
          gradCheck(loss, [x, g], { what: `gridSample ${mode}/${padding}/${ac}` });
        } else {
          gradCheck((a) => loss(a, g), [x], { what: `gridSample ${mode}/${padding}/${ac}` });
          const gg = tf.grads(loss)([x, g])[1];
          assert.equal(tf.max(tf.abs(gg)).dataSync()[0], 0, 'nearest grid gradient must be 0');
          gg.dispose();
        }
        tf.dispose([r, x, g]);
      });
    }

    test('flowWarp = sampling at p + flow (align_corners=True); gradients w.r.t. x and flow', () => {
      const [n, h, w, c] = [2, 6, 7, 3];
      const x = data([n, h, w, c]);
      const flow = data([n, h, w, 2], -2.5, 2.5);
      for (const mode of ['bilinear', 'nearest'] as const) {
        for (const paddingMode of ['zeros', 'border'] as const) {
          const out = tf.tidy(() => read(flowWarp(tf.tensor4d(x, [n, h, w, c]), tf.tensor4d(flow, [n, h, w, 2]), { mode, paddingMode })));
          const ref = new Float64Array(n * h * w * c);
          for (let b = 0; b < n; b++)
            for (let i = 0; i < h; i++)
              for (let j = 0; j < w; j++) {
                let px = j + flow[at([n, h, w, 2], b, i, j, 0)];
                let py = i + flow[at([n, h, w, 2], b, i, j, 1)];
                if (paddingMode === 'border') {
                  px = Math.min(Math.max(px, 0), w - 1);
                  py = Math.min(Math.max(py, 0), h - 1);
                }
                for (let k = 0; k < c; k++) {
                  ref[at([n, h, w, c], b, i, j, k)] = mode === 'nearest' ? pix(x, [n, h, w, c], b, rint(py), rint(px), k) : bilinearAt(x, [n, h, w, c], b, px, py, k);
                }
              }
          assertClose(out, ref, 2e-6, `flowWarp ${mode}/${paddingMode}`);
        }
      }
      // Flows whose target positions have safe fractions.
      const sf = new Float32Array(n * h * w * 2);
      const fx = safeCoords(n * h * w, -2, w + 1, 21);
      const fy = safeCoords(n * h * w, -2, h + 1, 22);
      for (let b = 0; b < n; b++)
        for (let i = 0; i < h; i++)
          for (let j = 0; j < w; j++) {
            const q = (b * h + i) * w + j;
            sf[2 * q] = fx[q] - j;
            sf[2 * q + 1] = fy[q] - i;
          }
      const r = tf.tensor4d(data([n, h, w, c]), [n, h, w, c]);
      const xs = tf.tensor4d(x, [n, h, w, c]);
      const fl = tf.tensor4d(sf, [n, h, w, 2]);
      gradCheck((a, b) => tf.sum(tf.mul(flowWarp(a as tf.Tensor4D, b as tf.Tensor4D), r)), [xs, fl], { what: 'flowWarp' });
      tf.dispose([r, xs, fl]);
    });

    test('fbConsistencyCheck: strict threshold, and it does not break backprop through the flows', () => {
      const [n, h, w] = [1, 6, 8];
      const fw = data([n, h, w, 2], -2, 2);
      const bw = data([n, h, w, 2], -2, 2);
      const got = tf.tidy(() => read(fbConsistencyCheck(tf.tensor4d(fw, [n, h, w, 2]), tf.tensor4d(bw, [n, h, w, 2]))));
      const shape = [n, h, w, 2];
      let ones = 0;
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++) {
          const f = [fw[at(shape, 0, i, j, 0)], fw[at(shape, 0, i, j, 1)]];
          const b = [0, 1].map((k) => bilinearAt(bw, shape, 0, j + f[0], i + f[1], k));
          const d = (f[0] + b[0]) ** 2 + (f[1] + b[1]) ** 2;
          const mag = f[0] ** 2 + f[1] ** 2 + b[0] ** 2 + b[1] ** 2;
          const want = d < 0.01 * mag + 0.5 ? 1 : 0;
          ones += want;
          assert.equal(got[i * w + j], want, `pixel ${i},${j}`);
        }
      assert.ok(ones > 0 && ones < h * w, 'test data should give both outcomes');
      // A loss multiplying by the mask of trainable flows: the mask contributes no gradient.
      const g = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(a, fbConsistencyCheck(a as tf.Tensor4D, tf.tensor4d(bw, [n, h, w, 2])))))([tf.tensor4d(fw, [n, h, w, 2])])[0];
      const gd = read(g);
      for (let i = 0; i < h * w; i++) assert.equal(gd[2 * i], got[i]);
      g.dispose();
    });

    test('flow_warp and fbConsistencyCheck match the official implementation (losses fixture)', { skip: !hasShared }, () => {
      const fx = readFixture(path.join(FIXTURES, 'losses_synth_32x32.safetensors'));
      tf.tidy(() => {
        const frames = hostToTensor(fx.tensors.get('frames')!) as tf.Tensor5D; // [1, 4, 3, H, W]
        const [, t, c, h, w] = frames.shape;
        const nxt = tf.transpose(tf.reshape(tf.slice(frames, [0, 1, 0, 0, 0], [1, t - 1, c, h, w]), [t - 1, c, h, w]), NCHW_TO_NHWC) as tf.Tensor4D;
        const toFlow = (name: string) => tf.transpose(tf.reshape(hostToTensor(fx.tensors.get(name)!), [t - 1, 2, h, w]), NCHW_TO_NHWC) as tf.Tensor4D;
        const gtF = toFlow('gt_flows_forward');
        const gtB = toFlow('gt_flows_backward');
        const predB = toFlow('pred_flows_backward');
        const ref = (name: string) => tf.transpose(hostToTensor(fx.tensors.get(name)!), NCHW_TO_NHWC).dataSync();
        assertClose(read(flowWarp(nxt, gtF)), ref('flow_warp_bilinear'), 2e-6, 'flow_warp bilinear');
        const near = read(flowWarp(nxt, gtF, { mode: 'nearest' }));
        const nref = ref('flow_warp_nearest');
        let diff = 0;
        for (let i = 0; i < near.length; i++) if (near[i] !== nref[i]) diff++;
        assert.ok(diff <= 0.002 * near.length, `flow_warp nearest: ${diff} of ${near.length} differ`);
        const valid = read(fbConsistencyCheck(gtF, tf.add(tf.mul(gtB, 0.7), tf.mul(predB, 0.3)) as tf.Tensor4D));
        const occ = ref('fb_occ_fw');
        let flips = 0;
        for (let i = 0; i < valid.length; i++) if (valid[i] !== 1 - occ[i]) flips++;
        assert.ok(flips <= 0.002 * valid.length, `fbConsistencyCheck: ${flips} of ${valid.length} differ`);
      });
    });
  });
}

describe('sampling with NaN coordinates', () => {
  test('NaN sample positions read the zero ring instead of out-of-range memory (wasm)', async () => {
    await useBackend('wasm');
    tf.tidy(() => {
      const img = tf.ones([1, 3, 4, 2]) as tf.Tensor4D;
      const px = tf.tensor2d([NaN, 1.5, 0], [1, 3]);
      const py = tf.tensor2d([1, NaN, 0], [1, 3]);
      const near = read(nearestSample(img, px, py));
      assert.deepEqual(Array.from(near), [0, 0, 0, 0, 1, 1]);
      const bil = read(bilinearSample(img, px, py));
      assert.equal(bil[4], 1);
    });
  });
});
