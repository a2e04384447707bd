/**
 * SNConv3d (lib/nn/spectral-norm.ts): PyTorch state-dict keys/shapes, the training-mode power
 * iteration and σ against a plain JS computation on the (O, I·kt·kh·kw) matrix, eval mode using
 * the stored u/v, and the gradient through W/σ against finite differences, on cpu and wasm.
 */
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { SNConv3d } from '../../lib/nn/spectral-norm';
import { conv3d } from '../../lib/ops/conv';
import { toFloat32 } from '../../lib/io/host-tensor';
import { assertClose, randn } from '../helpers';
import { BACKENDS, data, read } from './util';

function matVec(m: Float32Array, rows: number, cols: number, v: ArrayLike<number>, transpose: boolean): Float64Array {
  const out = new Float64Array(transpose ? cols : rows);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      if (transpose) out[j] += m[i * cols + j] * v[i];
      else out[i] += m[i * cols + j] * v[j];
    }
  return out;
}

function normalize(v: Float64Array, eps = 1e-12): Float64Array {
  const n = Math.max(Math.hypot(...v), eps);
  return v.map((x) => x / n);
}

for (const backend of BACKENDS) {
  describe(`SNConv3d (${backend})`, () => {
    before(async () => {
      await useBackend(backend);
    });

    test('state dict keys and PyTorch shapes', () => {
      const m = new SNConv3d(3, 4, [3, 5, 5], { stride: [1, 2, 2], padding: [1, 2, 2] });
      const sd = m.stateDict();
      assert.deepEqual([...sd.keys()], ['weight_orig', 'weight_u', 'weight_v']);
      assert.deepEqual(sd.get('weight_orig')!.shape, [4, 3, 3, 5, 5]);
      assert.deepEqual(sd.get('weight_u')!.shape, [4]);
      assert.deepEqual(sd.get('weight_v')!.shape, [75 * 3]);
      assert.equal(m.parameters().length, 1);
      m.dispose();
      const mb = new SNConv3d(2, 3, 3, { bias: true });
      assert.deepEqual([...mb.stateDict().keys()], ['bias', 'weight_orig', 'weight_u', 'weight_v']);
      mb.dispose();
    });

    test('training forward: one power iteration, u/v updated in place, W/σ; eval uses stored u/v', () => {
      const [o, i, k] = [4, 3, [3, 3, 3] as [number, number, number]];
      const m = new SNConv3d(i, o, k, { padding: [1, 1, 1] });
      // Unnormalised u/v as in the det-init fixtures: the power iteration normalises them.
      const sd = m.stateDict();
      const cols = i * 27;
      sd.set('weight_u', { dtype: 'float32', shape: [o], data: data([o], -2, 2) });
      sd.set('weight_v', { dtype: 'float32', shape: [cols], data: data([cols], -2, 2) });
      m.loadStateDict(sd);
      const W = toFloat32(sd.get('weight_orig')!);
      const u0 = toFloat32(sd.get('weight_u')!);
      const v = normalize(matVec(W, o, cols, u0, true));
      const wv = matVec(W, o, cols, v, false);
      const u = normalize(wv);
      const sigma = u.reduce((s, x, j) => s + x * wv[j], 0);

      const x = tf.tensor5d(data([1, 4, 5, 6, i]), [1, 4, 5, 6, i]);
      m.train();
      const y = m.forward(x);
      assertClose(read(m.weightU), u, 1e-5, 'u after the power iteration');
      assertClose(read(m.weightV), v, 1e-5, 'v after the power iteration');
      const ref = tf.tidy(() => read(conv3d(x, tf.div(m.weightOrig, sigma) as tf.Tensor5D, { padding: [1, 1, 1] })));
      assertClose(read(y), ref, 1e-5, 'training output = conv with W/σ');

      m.eval();
      const uBefore = read(m.weightU).slice();
      const ye = m.forward(x);
      assertClose(read(m.weightU), uBefore, 0, 'eval leaves u unchanged');
      assertClose(read(ye), ref, 1e-5, 'eval output with the stored (updated) u/v');
      tf.dispose([x, y, ye]);
      m.dispose();
    });

    test('gradient through W/σ(W) matches finite differences', () => {
      const m = new SNConv3d(2, 3, [1, 3, 3], { stride: [1, 2, 2], padding: [0, 1, 1] });
      m.train();
      tf.dispose(m.forward(tf.zeros([1, 1, 4, 4, 2]))); // normalise u/v once
      m.eval();
      const x = tf.tensor5d(data([1, 2, 6, 5, 2]), [1, 2, 6, 5, 2]);
      const r = tf.tensor5d(data([1, 2, 3, 3, 3]), [1, 2, 3, 3, 3]);
      const loss = () => tf.sum(tf.mul(m.forward(x), r)) as tf.Scalar;
      const { grads } = tf.variableGrads(loss, [m.weightOrig]);
      const g = grads[m.weightOrig.name];
      const dir = randn(m.weightOrig.shape, 5);
      const analytic = tf.sum(tf.mul(g, dir)).dataSync()[0];
      const orig = m.weightOrig.clone();
      const at = (s: number) => {
        m.weightOrig.assign(tf.tidy(() => tf.add(orig, tf.mul(dir, s))));
        return tf.tidy(() => loss().dataSync()[0]);
      };
      const eps = 1e-2;
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      m.weightOrig.assign(orig);
      const rel = Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), 1e-6);
      assert.ok(rel <= 1e-3, `analytic ${analytic} vs numeric ${numeric} (rel ${rel})`);
      tf.dispose([x, r, g, dir, orig]);
      m.dispose();
    });
  });
}
