import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { InceptionI3d, Unit3D, i3dFeatures, maxPool3dSame, samePad } from '../../lib/models/i3d';
import { applyDetInit } from '../../lib/init/apply';
import { seeded, assertClose } from '../helpers';

test('InceptionI3d has 12,697,264 parameters and official, unique, self-consistent names', async () => {
  await useBackend('cpu');
  const model = new InceptionI3d();
  assert.equal(model.numParameters(), 12_697_264);
  assert.equal(model.numParameters() - model.logits.numParameters(), 12_287_264);
  const sd = model.stateDict();
  const names = [...sd.keys()];
  assert.equal(new Set(names).size, names.length, 'duplicate names');
  assert.deepEqual(names.slice(0, 8), [
    'logits.conv3d.weight', 'logits.conv3d.bias',
    'Conv3d_1a_7x7.conv3d.weight', 'Conv3d_1a_7x7.bn.weight', 'Conv3d_1a_7x7.bn.bias',
    'Conv3d_1a_7x7.bn.running_mean', 'Conv3d_1a_7x7.bn.running_var', 'Conv3d_1a_7x7.bn.num_batches_tracked',
  ]);
  // 57 BatchNorm units × 6 entries + 2 logits entries.
  assert.equal(names.length, 57 * 6 + 2);
  for (const n of names) assert.match(n, /^(logits\.conv3d\.(weight|bias)|(Conv3d_\w+|Mixed_\d[a-f]\.b(0|1a|1b|2a|2b|3b))\.(conv3d\.weight|bn\.(weight|bias|running_mean|running_var|num_batches_tracked)))$/, n);
  assert.deepEqual(sd.get('Conv3d_1a_7x7.conv3d.weight')!.shape, [64, 3, 7, 7, 7]);
  assert.deepEqual(sd.get('Mixed_4b.b1b.conv3d.weight')!.shape, [208, 96, 3, 3, 3]);
  assert.deepEqual(sd.get('Mixed_5c.b3b.conv3d.weight')!.shape, [128, 832, 1, 1, 1]);
  assert.deepEqual(sd.get('logits.conv3d.weight')!.shape, [400, 1024, 1, 1, 1]);
  assert.equal(sd.get('Mixed_3b.b0.bn.num_batches_tracked')!.dtype, 'int64');
  // Shapes agree with the channel bookkeeping: a fresh model loads this dict strictly.
  const other = new InceptionI3d();
  other.loadStateDict(sd);
  other.dispose();
  model.dispose();
});

test('TF-style same padding', () => {
  assert.deepEqual(samePad(240, 7, 2), [2, 3]);
  assert.deepEqual(samePad(15, 3, 2), [1, 1]);
  assert.deepEqual(samePad(8, 1, 1), [0, 0]);
  assert.deepEqual(samePad(4, 2, 2), [0, 0]);
  assert.deepEqual(samePad(5, 2, 2), [0, 1]);
  assert.deepEqual(samePad(7, 3, 1), [1, 1]);
});

/** Naive zero-"same"-padded max pool on [T, H, W, C] (batch 1). */
function refMaxPool(x: Float32Array, t: number, h: number, w: number, c: number, k: number[], s: number[]) {
  const pads = [samePad(t, k[0], s[0]), samePad(h, k[1], s[1]), samePad(w, k[2], s[2])];
  const size = [t, h, w];
  const out = size.map((n, i) => Math.floor((n + pads[i][0] + pads[i][1] - k[i]) / s[i]) + 1);
  const res = new Float32Array(out[0] * out[1] * out[2] * c);
  for (let a = 0; a < out[0]; a++) for (let b = 0; b < out[1]; b++) for (let d = 0; d < out[2]; d++) for (let ch = 0; ch < c; ch++) {
    let m = -Infinity;
    for (let i = 0; i < k[0]; i++) for (let j = 0; j < k[1]; j++) for (let l = 0; l < k[2]; l++) {
      const tt = a * s[0] + i - pads[0][0];
      const yy = b * s[1] + j - pads[1][0];
      const xx = d * s[2] + l - pads[2][0];
      const inside = tt >= 0 && tt < t && yy >= 0 && yy < h && xx >= 0 && xx < w;
      m = Math.max(m, inside ? x[((tt * h + yy) * w + xx) * c + ch] : 0);
    }
    res[((a * out[1] + b) * out[2] + d) * c + ch] = m;
  }
  return { data: res, shape: [1, ...out, c] };
}

/** Naive Unit3D (same padding, conv without bias, eval BatchNorm, ReLU); weights PyTorch layout. */
function refUnit(x: Float32Array, t: number, h: number, w: number, ci: number, wt: Float32Array, co: number, k: number[], s: number[], bn: { g: Float32Array; b: Float32Array; m: Float32Array; v: Float32Array }) {
  const pads = [samePad(t, k[0], s[0]), samePad(h, k[1], s[1]), samePad(w, k[2], s[2])];
  const out = [t, h, w].map((n, i) => Math.floor((n + pads[i][0] + pads[i][1] - k[i]) / s[i]) + 1);
  const res = new Float32Array(out[0] * out[1] * out[2] * co);
  for (let a = 0; a < out[0]; a++) for (let b = 0; b < out[1]; b++) for (let d = 0; d < out[2]; d++) for (let o = 0; o < co; o++) {
    let acc = 0;
    for (let i = 0; i < k[0]; i++) for (let j = 0; j < k[1]; j++) for (let l = 0; l < k[2]; l++) {
      const tt = a * s[0] + i - pads[0][0];
      const yy = b * s[1] + j - pads[1][0];
      const xx = d * s[2] + l - pads[2][0];
      if (tt < 0 || tt >= t || yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
      for (let q = 0; q < ci; q++) acc += x[((tt * h + yy) * w + xx) * ci + q] * wt[(((o * ci + q) * k[0] + i) * k[1] + j) * k[2] + l];
    }
    const y = ((acc - bn.m[o]) / Math.sqrt(bn.v[o] + 0.001)) * bn.g[o] + bn.b[o];
    res[((a * out[1] + b) * out[2] + d) * co + o] = Math.max(y, 0);
  }
  return { data: res, shape: [1, ...out, co] };
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`3-D max pooling and same-padded Unit3D match naive references on ${backend}`, async () => {
    await useBackend(backend);
    const [t, h, w, c] = [5, 7, 9, 3];
    const xv = seeded(t * h * w * c, 31, -1, 1);
    const x = tf.tensor5d(xv, [1, t, h, w, c]);
    for (const [k, s] of [[[3, 3, 3], [2, 2, 2]], [[1, 3, 3], [1, 2, 2]], [[2, 2, 2], [2, 2, 2]], [[3, 3, 3], [1, 1, 1]]] as const) {
      const got = maxPool3dSame(x, [...k] as [number, number, number], [...s] as [number, number, number]);
      const ref = refMaxPool(xv, t, h, w, c, [...k], [...s]);
      assert.deepEqual(got.shape, ref.shape, `pool ${k}/${s}`);
      assertClose(got.dataSync(), ref.data, 0, `pool ${k}/${s}`);
      got.dispose();
    }
    for (const [k, s] of [[[3, 3, 3], [2, 2, 2]], [[7, 7, 7], [2, 2, 2]], [[3, 3, 3], [1, 1, 1]]] as const) {
      const unit = new Unit3D(c, 4, [...k] as [number, number, number], [...s] as [number, number, number]);
      applyDetInit(unit);
      const sd = unit.stateDict();
      const f = (n: string) => sd.get(n)!.data as Float32Array;
      const got = unit.forward(x);
      const ref = refUnit(xv, t, h, w, c, f('conv3d.weight'), 4, [...k], [...s], { g: f('bn.weight'), b: f('bn.bias'), m: f('bn.running_mean'), v: f('bn.running_var') });
      assert.deepEqual(got.shape, ref.shape, `unit ${k}/${s}`);
      assertClose(got.dataSync(), ref.data, 1e-5, `unit ${k}/${s}`);
      // Frame-chunked convolution (one output frame per chunk) gives the same values.
      const saved = Unit3D.chunkValues;
      Unit3D.chunkValues = 1;
      const chunked = unit.forward(x, 'batch-stats');
      Unit3D.chunkValues = saved;
      const whole = unit.forward(x, 'batch-stats');
      assertClose(chunked.dataSync(), whole.dataSync(), 1e-6, `chunked unit ${k}/${s}`);
      got.dispose();
      chunked.dispose();
      whole.dispose();
      unit.dispose();
    }
    x.dispose();
  });
}

test('i3dFeatures: 8 frames 64×64 → finite [1, 1024]; train-mode BatchNorm emulation; no leaks', async () => {
  await useBackend('wasm');
  const model = new InceptionI3d();
  applyDetInit(model);
  const video = tf.tensor5d(seeded(8 * 64 * 64 * 3, 41, 0, 1), [1, 8, 64, 64, 3]);
  const before = tf.memory().numTensors;
  const runningBefore = Array.from(model.endpoints[0].kind === 'unit' ? model.endpoints[0].module.bn!.runningMean.dataSync() : []);
  const official = i3dFeatures(model, video);
  const evalMode = i3dFeatures(model, video, { trainModeBatchNorm: false });
  assert.deepEqual(official.shape, [1, 1024]);
  assert.deepEqual(evalMode.shape, [1, 1024]);
  const a = official.dataSync();
  const b = evalMode.dataSync();
  assert.ok(a.every(Number.isFinite) && b.every(Number.isFinite), 'non-finite features');
  // Features are post-ReLU means: non-negative, and batch statistics give a different result.
  assert.ok(a.every((v) => v >= 0));
  assert.ok(a.some((v, i) => Math.abs(v - b[i]) > 1e-3 * Math.max(1, Math.abs(b[i]))));
  // The emulation does not touch the running statistics.
  const firstUnit = model.endpoints[0];
  assert.ok(firstUnit.kind === 'unit');
  assert.deepEqual(Array.from(firstUnit.module.bn!.runningMean.dataSync()), runningBefore);
  official.dispose();
  evalMode.dispose();
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  video.dispose();
  model.dispose();
});
