/** E_warp: Resample2d sampling, occlusion rules and the error on cases with known answers. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { occlusionMask, pairWarpError, resample2d, videoWarpError } from '../../lib/eval/warp-error';
import { seeded } from '../helpers';

const constFlow = (h: number, w: number, u: number, v: number) => {
  const f = new Float32Array(h * w * 2);
  for (let i = 0; i < h * w; i++) {
    f[2 * i] = u;
    f[2 * i + 1] = v;
  }
  return f;
};

test('resample2d: bilinear at sub-pixel offsets, indices clamped to the border', () => {
  const h = 3, w = 4;
  // A ramp 10·x + y is reproduced exactly by bilinear sampling inside the image.
  const ramp = Float64Array.from({ length: h * w }, (_, p) => 10 * (p % w) + Math.floor(p / w));
  const half = resample2d(ramp, constFlow(h, w, 0.5, 0.25), h, w, 1);
  assert.equal(half[0], 5 + 0.25);
  assert.equal(half[1 * w + 2], 25 + 1.25);
  // Past the right edge both x taps are the last column (Resample2d clamps the indices).
  assert.equal(half[3], 30 + 0.25);
  const far = resample2d(ramp, constFlow(h, w, -7.3, 9), h, w, 1);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) assert.equal(far[y * w + x], 0 + (h - 1));
});

test('occlusion: consistent motion is visible, inconsistent motion and motion boundaries are occluded', () => {
  const h = 6, w = 8;
  assert.ok(occlusionMask(constFlow(h, w, -2, 1), constFlow(h, w, 2, -1), h, w).every((v) => v === 0));
  // Both flows point the same way: |b + f|² = 4 + 4 > 0.01·(2 + 2)·... + 0.5.
  assert.ok(occlusionMask(constFlow(h, w, 1, 1), constFlow(h, w, 1, 1), h, w).every((v) => v === 1));
  // A vertical motion edge in fw (column 3 → 4): only column 3 sees the forward difference.
  const fw = new Float32Array(h * w * 2);
  const bw = new Float32Array(h * w * 2);
  for (let y = 0; y < h; y++) for (let x = 4; x < w; x++) fw[2 * (y * w + x)] = 0.4;
  const occ = occlusionMask(bw, fw, h, w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) assert.equal(occ[y * w + x], x === 3 ? 1 : 0, `(${x}, ${y})`);
  }
});

test('warp error: a brightness change c gives c², motion by whole pixels gives only the clamped border', () => {
  const h = 5, w = 7;
  const a = Float64Array.from(seeded(h * w * 3, 4, 0.2, 0.6));
  const b = a.map((v) => v + 0.1);
  const still = constFlow(h, w, 0, 0);
  assert.ok(Math.abs(pairWarpError(a, b, still, new Uint8Array(h * w), h, w) - 0.01) < 1e-12);
  // Content moves right by 2: next(x) = prev(x − 2). Warping next with fw = +2 gives prev back,
  // except in the last two columns, which read next's clamped last column = prev(w − 3).
  const d = 2;
  const next = new Float64Array(h * w * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < 3; k++) {
    next[(y * w + x) * 3 + k] = a[(y * w + Math.max(0, x - d)) * 3 + k];
  }
  let expected = 0;
  for (let y = 0; y < h; y++) for (let x = w - d; x < w; x++) for (let k = 0; k < 3; k++) {
    expected += (a[(y * w + w - 1 - d) * 3 + k] - a[(y * w + x) * 3 + k]) ** 2;
  }
  const occ = occlusionMask(constFlow(h, w, -d, 0), constFlow(h, w, d, 0), h, w);
  assert.ok(occ.every((v) => v === 0));
  assert.ok(Math.abs(pairWarpError(a, next, constFlow(h, w, d, 0), occ, h, w) - expected / (h * w * 3)) < 1e-12);
  // Every pixel occluded: nothing is compared and the sum is divided by H·W·3.
  assert.equal(pairWarpError(a, b, still, new Uint8Array(h * w).fill(1), h, w), 0);
});

test('videoWarpError: uint8 frames / 255, mean over the T − 1 pairs', () => {
  const h = 4, w = 5, t = 3;
  const frames = new Uint8Array(t * h * w * 3);
  for (let i = 0; i < t; i++) frames.fill(100 + 10 * i * i, i * h * w * 3, (i + 1) * h * w * 3);
  const zero = new Float32Array((t - 1) * h * w * 2);
  const r = videoWarpError(frames, zero, zero, t, h, w);
  const e1 = (10 / 255) ** 2;
  const e2 = (30 / 255) ** 2;
  assert.equal(r.pairs.length, 2);
  assert.ok(Math.abs(r.pairs[0] - e1) < 1e-12 && Math.abs(r.pairs[1] - e2) < 1e-12);
  assert.ok(Math.abs(r.mean - (e1 + e2) / 2) < 1e-12);
});
