/**
 * The kernel profiler: every kernel of a computation is recorded once with its phase, a pack
 * kernel's direct sub-kernels appear as Parent/Child rows, self times add up to the kernels'
 * total, and the engine is left as it was.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { profileKernels } from '../../lib/runtime/kernel-profile';

test('profileKernels records forward and backward kernels, pack sub-kernels and restores the engine', async () => {
  await useBackend('wasm');
  const x = tf.ones([1, 6, 6, 2]) as tf.Tensor4D;
  const w = tf.ones([3, 3, 2, 3]) as tf.Tensor4D;
  const eng = tf.engine() as unknown as { state: { profiling: boolean }; profiler: unknown };
  const profilerBefore = eng.profiler;
  const { result, profile } = await profileKernels(() => {
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same')))([x, w]);
    const v = g[1].dataSync()[0];
    tf.dispose(g);
    return v;
  });
  // d sum / dw[kh, kw, ci, co] = number of output positions whose tap lands inside the 6×6 input.
  assert.equal(result, 25);
  const names = profile.calls.map((c) => `${c.name}:${c.phase}`);
  assert.ok(names.includes('Conv2D:forward'), names.join(' '));
  assert.ok(names.includes('Conv2DBackpropFilter:backward'), names.join(' '));
  // The pack's filter gradient runs its GEMM as a direct sub-call.
  const sub = profile.calls.find((c) => c.name === 'Conv2DBackpropFilter/Gemm');
  assert.ok(sub, 'sub-kernel row');
  assert.equal(sub.depth, 1);
  const parent = profile.calls.find((c) => c.name === 'Conv2DBackpropFilter')!;
  assert.ok(parent.totalWallMs >= parent.wallMs && parent.wallMs >= 0);
  const conv = profile.calls.find((c) => c.name === 'Conv2D' && c.phase === 'forward')!;
  assert.deepEqual(conv.inputShapes, [[1, 6, 6, 2], [3, 3, 2, 3]]);
  assert.deepEqual(conv.outputShapes, [[1, 6, 6, 3]]);
  // Self times of all calls = time inside top-level kernels; plus outside = the whole run.
  const top = profile.calls.filter((c) => c.depth === 0).reduce((a, c) => a + c.totalWallMs, 0);
  const self = profile.calls.reduce((a, c) => a + c.wallMs, 0);
  assert.ok(Math.abs(top - self) < 1e-6 * Math.max(1, top) + 1e-9, `${top} vs ${self}`);
  assert.ok(Math.abs(top + profile.outsideWallMs - profile.wallMs) < 1e-6 * profile.wallMs + 1e-9);
  assert.equal(eng.state.profiling, false);
  assert.equal(eng.profiler, profilerBefore);
  tf.dispose([x, w]);
});
