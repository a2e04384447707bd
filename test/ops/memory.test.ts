/** Every op (and its gradient) leaves no tensors behind besides its results, on cpu and wasm. */
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import * as ops from '../../lib/ops';
import { BACKENDS, data } from './util';

function t4(shape: [number, number, number, number], lo = -1, hi = 1): tf.Tensor4D {
  return tf.tensor4d(data(shape, lo, hi), shape);
}

for (const backend of BACKENDS) {
  describe(`no leaked tensors (${backend})`, () => {
    before(async () => {
      await useBackend(backend);
    });

    const x = () => t4([1, 6, 7, 4]);
    const cases: Array<[string, () => tf.Tensor[], (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]]> = [
      ['gridSample', () => [x(), t4([1, 3, 4, 2], -1.2, 1.2)], (a, g) => ops.gridSample(a as tf.Tensor4D, g as tf.Tensor4D, { paddingMode: 'reflection' })],
      ['flowWarp nearest', () => [x(), t4([1, 6, 7, 2], -2, 2)], (a, f) => ops.flowWarp(a as tf.Tensor4D, f as tf.Tensor4D, { mode: 'nearest' })],
      ['fbConsistencyCheck', () => [t4([1, 6, 7, 2]), t4([1, 6, 7, 2])], (a, b) => ops.fbConsistencyCheck(a as tf.Tensor4D, b as tf.Tensor4D)],
      ['deformConv2d', () => [t4([1, 6, 7, 4]), t4([1, 6, 7, 36]), t4([1, 6, 7, 18], 0, 1), t4([3, 3, 4, 5])], (a, o, m, w) => ops.deformConv2d(a as tf.Tensor4D, o as tf.Tensor4D, w as tf.Tensor4D, { mask: m as tf.Tensor4D, padding: 1 })],
      ['interpolateBilinear', () => [x()], (a) => ops.interpolateBilinear(a as tf.Tensor4D, [9, 5], { alignCorners: false })],
      ['interpolateNearest', () => [x()], (a) => ops.interpolateNearest(a as tf.Tensor4D, [3, 14])],
      ['unfold', () => [x()], (a) => ops.unfold(a as tf.Tensor4D, { kernel: 7, stride: 3, padding: 3 })],
      ['fold', () => [tf.tensor3d(data([1, 6, 98]), [1, 6, 98])], (c) => ops.fold(c as tf.Tensor3D, [6, 7], { kernel: 7, stride: 3, padding: 3 })],
      ['conv3d', () => [tf.tensor5d(data([1, 4, 5, 6, 2]), [1, 4, 5, 6, 2]), tf.tensor5d(data([3, 3, 3, 2, 2]), [3, 3, 3, 2, 2])], (a, w) => ops.conv3d(a as tf.Tensor5D, w as tf.Tensor5D, { stride: [2, 2, 1], padding: [1, 1, 1] })],
      ['conv2d dilated grouped', () => [x(), t4([3, 3, 2, 4])], (a, w) => ops.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, { dilation: 2, padding: 2, groups: 2 })],
      ['roll', () => [x()], (a) => ops.roll(a, [2, -1], [1, 2])],
      ['pixelShuffle', () => [x()], (a) => ops.pixelShuffle(a as tf.Tensor4D, 2)],
    ];
    for (const [name, make, f] of cases) {
      test(`${name}: forward and gradient`, () => {
        const ins = make();
        const before = tf.memory().numTensors;
        const out = f(...ins);
        tf.dispose(out);
        assert.equal(tf.memory().numTensors, before, `${name} forward leaked`);
        if (name !== 'fbConsistencyCheck') {
          const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(f(...xs) as tf.Tensor))(ins);
          tf.dispose(g);
          assert.equal(tf.memory().numTensors, before, `${name} gradient leaked`);
        }
        tf.dispose(ins);
      });
    }

    test('canny / flowEdges / maxPool2d', () => {
      const f = t4([2, 12, 14, 2], -3, 3);
      const before = tf.memory().numTensors;
      const e = ops.flowEdges(f);
      const c = ops.canny(tf.slice(f, [0, 0, 0, 0], [2, 12, 14, 1]) as tf.Tensor4D);
      const m = ops.maxPool2d(f, 7, 3, 3);
      tf.dispose([e, c.magnitude, c.edges, m]);
      // The slice above is one extra tensor owned by this test.
      assert.equal(tf.memory().numTensors, before + 1);
      f.dispose();
    });
  });
}
