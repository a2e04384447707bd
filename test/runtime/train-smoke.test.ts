/**
 * "Done when" of the Foundation issue: a small conv net built from lib/ops/conv.ts (conv2d,
 * dilated conv2d, conv3d as per-tap conv2d with a (3,1,1) temporal-dilation-2 kernel and a (1,3,3)
 * stride (1,2,2) kernel), a Linear matMul and a gather trains with Adam on wasm: the first-step
 * gradients equal the cpu backend's, the loss decreases, and memory is flat.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
// Gradients are registered by tfjs-core's side-effect module (not imported by lib/runtime yet).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { useBackend } from '../../lib/runtime';
import { conv2d, conv3d } from '../../lib/ops/conv';
import { assertClose, maxAbs, maxAbsDiff, seeded } from '../helpers';

const B = 1;
const T = 5;
const H = 8;
const W = 8;
const CIN = 3;
const C = 8;
const OUT = 4;

/** Parameter name → [shape, init scale] (channels-last filters). */
const PARAMS: Record<string, [number[], number]> = {
  enc: [[1, 3, 3, CIN, C], 0.3], // Conv3d (1,3,3) stride (1,2,2)
  encB: [[C], 0.1],
  temporal: [[3, 1, 1, C, C], 0.2], // Conv3d (3,1,1) dilation (2,1,1)
  conv: [[3, 3, C, C], 0.15],
  dil: [[3, 3, C, C], 0.15], // dilation 2
  linW: [[OUT, C], 0.3], // PyTorch Linear layout [out, in]
  linB: [[OUT], 0.1],
};

function initValues(): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  let seed = 11;
  for (const [name, [shape, scale]] of Object.entries(PARAMS)) {
    out[name] = seeded(shape.reduce((a, b) => a * b, 1), seed++, -scale, scale);
  }
  return out;
}

interface Net {
  vars: Record<string, tf.Variable>;
  x: tf.Tensor5D;
  target: tf.Tensor2D;
  rows: tf.Tensor1D;
  loss: () => tf.Scalar;
  dispose: () => void;
}

function buildNet(init: Record<string, Float32Array>): Net {
  const vars: Record<string, tf.Variable> = {};
  for (const [name, [shape]] of Object.entries(PARAMS)) vars[name] = tf.variable(tf.tensor(init[name], shape), true, name);
  const x = tf.tensor(seeded(B * T * H * W * CIN, 3), [B, T, H, W, CIN]) as tf.Tensor5D;
  const rows = tf.tensor1d([0, 5, 17, 22, 31, 38, 40, 47, 55, 63, 64, 70, 79, 3, 17], 'int32');
  const target = tf.tensor(seeded(rows.size * OUT, 5, -0.5, 0.5), [rows.size, OUT]) as tf.Tensor2D;
  const loss = (): tf.Scalar =>
    tf.tidy(() => {
      let h = conv3d(x, vars.enc as tf.Tensor5D, { stride: [1, 2, 2], padding: [0, 1, 1], bias: vars.encB as tf.Tensor1D });
      h = tf.leakyRelu(h, 0.2);
      h = tf.add(h, conv3d(h, vars.temporal as tf.Tensor5D, { padding: [2, 0, 0], dilation: [2, 1, 1] }));
      const [b, t, hh, ww, c] = h.shape;
      let f = tf.reshape(h, [b * t, hh, ww, c]) as tf.Tensor4D;
      f = tf.leakyRelu(conv2d(f, vars.conv as tf.Tensor4D, { padding: 1 }), 0.2);
      f = tf.add(f, conv2d(f, vars.dil as tf.Tensor4D, { padding: 2, dilation: 2 }));
      const picked = tf.gather(tf.reshape(f, [-1, c]), rows); // [rows, C]
      const y = tf.add(tf.matMul(picked, vars.linW, false, true), vars.linB);
      return tf.mean(tf.square(tf.sub(y, target))) as tf.Scalar;
    });
  return {
    vars,
    x,
    target,
    rows,
    loss,
    dispose: () => tf.dispose([...Object.values(vars), x, target, rows]),
  };
}

function firstGrads(init: Record<string, Float32Array>): Record<string, Float32Array> {
  const net = buildNet(init);
  const { value, grads } = tf.variableGrads(net.loss);
  const out: Record<string, Float32Array> = {};
  for (const [name, v] of Object.entries(net.vars)) out[name] = grads[v.name].dataSync() as Float32Array;
  tf.dispose([value, ...Object.values(grads)]);
  net.dispose();
  return out;
}

test('small conv net trains on wasm: cpu-equal gradients, decreasing loss, flat memory', async () => {
  const init = initValues();

  await useBackend('cpu');
  const ref = firstGrads(init);

  const info = await useBackend('wasm');
  assert.equal(info.wasmKernelPack, true);
  const got = firstGrads(init);
  const errs: string[] = [];
  for (const name of Object.keys(PARAMS)) {
    assert.ok(maxAbs(ref[name]) > 0, `${name}: zero reference gradient`);
    errs.push(`${name} ${(maxAbsDiff(got[name], ref[name]) / maxAbs(ref[name])).toExponential(2)}`);
    assertClose(got[name], ref[name], 1e-4, `gradient of ${name} (wasm vs cpu)`);
  }

  const net = buildNet(init);
  const opt = tf.train.adam(1e-2);
  const losses: number[] = [];
  const mem: Record<number, tf.MemoryInfo> = {};
  for (let step = 1; step <= 50; step++) {
    const cost = opt.minimize(net.loss, true) as tf.Scalar;
    losses.push(cost.dataSync()[0]);
    cost.dispose();
    if (step === 10 || step === 50) mem[step] = tf.memory();
  }
  console.log(`first-step gradient rel. error (wasm vs cpu): ${errs.join(', ')}`);
  console.log(`loss ${losses[0].toFixed(5)} → ${losses[9].toFixed(5)} (step 10) → ${losses[49].toFixed(5)} (step 50); ` +
    `tensors ${mem[10].numTensors}/${mem[50].numTensors}, bytes ${mem[10].numBytes}/${mem[50].numBytes}`);
  assert.ok(losses.every(Number.isFinite), 'loss is finite');
  assert.ok(losses[49] < 0.5 * losses[0], `loss did not decrease enough: ${losses[0]} → ${losses[49]}`);
  assert.equal(mem[50].numTensors, mem[10].numTensors, 'tensor count grows between step 10 and 50');
  assert.equal(mem[50].numBytes, mem[10].numBytes, 'tensor bytes grow between step 10 and 50');
  opt.dispose();
  net.dispose();
});
