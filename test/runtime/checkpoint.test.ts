/**
 * Gradient checkpointing (lib/runtime/checkpoint.ts): gradients through checkpointed segments
 * equal the plain tape's (inputs and parameters; nested segments, constant inputs, parameters a
 * segment does not use, vs finite differences), on cpu and wasm; nothing leaks; off the tape a
 * segment is a plain call; the segments' intermediates are not kept by the tape.
 */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { useBackend } from '../../lib/runtime';
import { checkpoint, tapeRecording } from '../../lib/runtime/checkpoint';
import { assertClose, gradCheck, randn } from '../helpers';

/** A tiny conv net: conv → leakyRelu → (masked) conv + bias → tanh, as 0, 1 or 2 nested segments. */
function makeNet() {
  const w1 = tf.variable(randn([3, 3, 3, 4], 11, -0.5, 0.5), true, 'ck_w1');
  const w2 = tf.variable(randn([3, 3, 4, 2], 12, -0.5, 0.5), true, 'ck_w2');
  const b = tf.variable(randn([2], 13), true, 'ck_b');
  const unused = tf.variable(randn([5], 14), true, 'ck_unused');
  const params = [w1, w2, b, unused];
  const first = (x: tf.Tensor) => tf.leakyRelu(tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 1, 'same'), 0.2);
  const second = (h: tf.Tensor, m: tf.Tensor) => tf.tanh(tf.add(tf.mul(tf.conv2d(h as tf.Tensor4D, w2 as tf.Tensor4D, 1, 'same'), m), b));
  const forward = (x: tf.Tensor, m: tf.Tensor, mode: 'plain' | 'flat' | 'nested'): tf.Tensor => {
    if (mode === 'plain') return second(first(x), m);
    const seg1 = (xx: tf.Tensor) => checkpoint(first, [xx], [w1]);
    const seg2 = (h: tf.Tensor, mm: tf.Tensor) => checkpoint(second, [h, mm], [w2, b, unused], { constants: [1] });
    if (mode === 'flat') return seg2(seg1(x), m);
    return checkpoint((xx, mm) => seg2(seg1(xx), mm), [x, m], params, { constants: [1] });
  };
  return { params, forward, dispose: () => params.forEach((p) => p.dispose()) };
}

for (const be of ['cpu', 'wasm'] as const) {
  describe(`checkpoint on ${be}`, () => {
    test('parameter and input gradients equal the plain tape (flat and nested segments)', async () => {
      await useBackend(be);
      const net = makeNet();
      const x = randn([2, 6, 5, 3], 1);
      const m = tf.cast(tf.greater(randn([2, 6, 5, 1], 2), -0.3), 'float32');
      const before = tf.memory().numTensors;
      const loss = (mode: 'plain' | 'flat' | 'nested') => () => tf.sum(tf.square(net.forward(x, m, mode))) as tf.Scalar;
      const ref = tf.variableGrads(loss('plain'), net.params);
      const refX = tf.grads((xx: tf.Tensor) => tf.sum(tf.square(net.forward(xx, m, 'plain'))))([x])[0];
      for (const mode of ['flat', 'nested'] as const) {
        const got = tf.variableGrads(loss(mode), net.params);
        assertClose(got.value.dataSync(), ref.value.dataSync(), 1e-6, `${mode} loss`);
        for (const p of net.params.slice(0, 3)) assertClose(got.grads[p.name].dataSync(), ref.grads[p.name].dataSync(), 1e-5, `${mode} d/d${p.name}`);
        // A parameter the segment does not use gets a zero gradient (the tape node needs one per input).
        assert.deepEqual(Array.from(got.grads.ck_unused.dataSync()), [0, 0, 0, 0, 0]);
        const gx = tf.grads((xx: tf.Tensor) => tf.sum(tf.square(net.forward(xx, m, mode))))([x])[0];
        assertClose(gx.dataSync(), refX.dataSync(), 1e-5, `${mode} d/dx`);
        tf.dispose([got.value, ...Object.values(got.grads), gx]);
      }
      tf.dispose([ref.value, ...Object.values(ref.grads), refX]);
      assert.equal(tf.memory().numTensors, before, 'no tensor leaked by the checkpointed backward');
      tf.dispose([x, m]);
      net.dispose();
    });

    test('input gradient vs finite differences', async () => {
      await useBackend(be);
      const net = makeNet();
      const m = tf.ones([1, 4, 4, 1]);
      gradCheck((xx) => tf.sum(tf.square(net.forward(xx, m, 'nested'))) as tf.Scalar, [randn([1, 4, 4, 3], 5)], { what: `checkpoint ${be}` });
      m.dispose();
      net.dispose();
    });
  });
}

describe('checkpoint semantics', () => {
  test('off the tape it is a plain call; inside, the ops of the segment stay off the tape', async () => {
    await useBackend('cpu');
    let calls = 0;
    const w = tf.variable(tf.scalar(3), true, 'ck_sem_w');
    const fn = (x: tf.Tensor) => {
      calls++;
      return tf.mul(tf.square(tf.mul(x, w)), 2);
    };
    const x = tf.tensor1d([1, 2]);
    assert.equal(tapeRecording(), false);
    const y = checkpoint(fn, [x], [w]);
    assert.deepEqual(Array.from(y.dataSync()), [18, 72]);
    assert.equal(calls, 1);
    let names: string[] = [];
    const { grads } = tf.variableGrads(() => {
      const out = tf.sum(checkpoint(fn, [x], [w])) as tf.Scalar;
      names = (tf.engine() as unknown as { state: { activeTape: Array<{ kernelName: string }> } }).state.activeTape.map((n) => n.kernelName);
      return out;
    }, [w]);
    // d/dw Σ 2(xw)² = Σ 4x²w = 4·5·3.
    assert.equal(grads.ck_sem_w.dataSync()[0], 60);
    assert.equal(calls, 3, 'one forward, one recompute in the backward');
    assert.ok(!names.includes('Square') && !names.includes('Multiply'), `the segment's ops are not on the tape: ${names}`);
    tf.dispose([x, y, w, grads.ck_sem_w]);
  });

  test('frozen parameters get no gradient request', async () => {
    await useBackend('cpu');
    const w = tf.variable(tf.scalar(2), false, 'ck_frozen');
    const x = tf.tensor1d([1, 2]);
    const g = tf.grads((xx: tf.Tensor) => tf.sum(checkpoint((z) => tf.mul(z, w), [xx], [w])))([x])[0];
    assert.deepEqual(Array.from(g.dataSync()), [2, 2]);
    tf.dispose([w, x, g]);
  });
});
