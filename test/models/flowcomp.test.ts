import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { applyDetInit } from '../../lib/init/apply';
import { checkFixtures } from '../../lib/fixtures/check';
import { RecurrentFlowCompleteNet, completeFlows } from '../../lib/models/flow-completion';
import { FIXTURES, hasShared, randn } from '../helpers';

const FIXTURE = path.join(FIXTURES, 'flow_complete_synth_64x64_t4.safetensors');
const BACKEND = (process.env.PROPAINTER_TEST_BACKEND as 'cpu' | 'wasm' | undefined) ?? 'cpu';
/** Backward passes run on wasm (the training backend; tfjs-cpu's conv gradients are very slow). */
const TRAIN_BACKEND = (process.env.PROPAINTER_TEST_BACKEND as 'cpu' | 'wasm' | undefined) ?? 'wasm';

function manifest(model: string): Array<{ name: string; shape: number[] }> {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, 'weights_manifest.json'), 'utf8')).models[model];
}

/** flows [1, t-1, h, w, 2] × 2 and masks [1, t, h, w, 1] with a square hole. */
function inputs(t: number, h: number, w: number): { f: tf.Tensor5D; b: tf.Tensor5D; m: tf.Tensor5D } {
  const f = tf.mul(randn([1, t - 1, h, w, 2], 3), 2) as tf.Tensor5D;
  const b = tf.mul(randn([1, t - 1, h, w, 2], 4), 2) as tf.Tensor5D;
  const md = new Float32Array(t * h * w);
  for (let k = 0; k < t; k++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    if (y >= h / 4 + k && y < (3 * h) / 4 && x >= w / 4 && x < (3 * w) / 4 - k) md[(k * h + y) * w + x] = 1;
  }
  return { f, b, m: tf.tensor5d(md, [1, t, h, w, 1]) };
}

test('state dict: official keys, shapes and order; parameter count', async () => {
  await useBackend(BACKEND);
  const net = new RecurrentFlowCompleteNet();
  const sd = net.stateDict();
  if (hasShared) {
    const ref = manifest('RecurrentFlowCompleteNet');
    assert.deepEqual([...sd.keys()], ref.map((e) => e.name));
    for (const e of ref) assert.deepEqual(sd.get(e.name)!.shape, e.shape, e.name);
  }
  assert.equal(sd.size, 74);
  assert.equal(net.numParameters(), 5_079_555);
  const edge = net.edgeDetector.numParameters();
  assert.equal(net.numParameters() - edge, 5_074_594);
  // The official init zeroes the last offset conv of each alignment module.
  const last = sd.get('feat_prop_module.deform_align.forward_.conv_offset.6.weight')!.data as Float32Array;
  assert.ok(last.every((v) => v === 0));
  net.dispose();
});

for (const backend of ['cpu', 'wasm'] as const) {
  test(`fixture parity on ${backend} (flow_complete_synth_64x64_t4)`, { skip: !hasShared || !fs.existsSync(FIXTURE) }, async () => {
    await useBackend(backend);
    const lines: string[] = [];
    const summary = await checkFixtures([FIXTURE], { log: (l) => lines.push(l) });
    assert.equal(summary.failed, 0, lines.join('\n'));
    // 6 outputs + 8 debug tensors.
    assert.equal(summary.passed, 14, lines.join('\n'));
  });
}

test('eval mode: no edges, same flows as training mode; completeFlows composites', async () => {
  await useBackend(BACKEND);
  const net = new RecurrentFlowCompleteNet();
  applyDetInit(net);
  const { f, b, m } = inputs(3, 16, 24);
  net.train();
  const tr = net.forwardBidirectFlow([f, b], m);
  net.eval();
  const ev = net.forwardBidirectFlow([f, b], m);
  assert.equal(ev.edges, null);
  assert.ok(tr.edges);
  assert.deepEqual(tr.edges![0].shape, [1, 2, 16, 24, 1]);
  assert.deepEqual(ev.flows[0].shape, [1, 2, 16, 24, 2]);
  for (let i = 0; i < 2; i++) {
    const d = tf.max(tf.abs(tf.sub(tr.flows[i], ev.flows[i]))).dataSync()[0];
    assert.equal(d, 0);
  }
  const [cf, cb] = completeFlows(net, [f, b], m);
  // Outside the hole the input flows pass through unchanged; inside, the prediction.
  const mF = tf.slice(m, [0, 0, 0, 0, 0], [1, 2, -1, -1, -1]);
  const mB = tf.slice(m, [0, 1, 0, 0, 0], [1, 2, -1, -1, -1]);
  const expectF = tf.add(tf.mul(ev.flows[0], mF), tf.mul(f, tf.sub(1, mF)));
  const expectB = tf.add(tf.mul(ev.flows[1], mB), tf.mul(b, tf.sub(1, mB)));
  assert.equal(tf.max(tf.abs(tf.sub(cf, expectF))).dataSync()[0], 0);
  assert.equal(tf.max(tf.abs(tf.sub(cb, expectB))).dataSync()[0], 0);
  tf.dispose([f, b, m, ...tr.flows, ...tr.edges!, ...ev.flows, cf, cb, mF, mB, expectF, expectB]);
  net.dispose();
});

test('input validation names the problem', async () => {
  await useBackend(BACKEND);
  const net = new RecurrentFlowCompleteNet();
  const { f, b, m } = inputs(3, 12, 16);
  assert.throws(() => net.forwardBidirectFlow([f, b], m), /multiples of 8/);
  const m2 = tf.zeros([1, 4, 12, 16, 1]) as tf.Tensor5D;
  assert.throws(() => net.forwardBidirectFlow([f, b], m2), /\[B, T-1, H, W, 2\]/);
  tf.dispose([f, b, m, m2]);
  net.dispose();
});

test('training: every parameter gets a finite, non-zero gradient; no tensor leaks', async () => {
  await useBackend(TRAIN_BACKEND);
  const net = new RecurrentFlowCompleteNet();
  applyDetInit(net); // non-zero offset convs, so the offset branch receives gradient
  net.train();
  const { f, b, m } = inputs(4, 16, 16);
  const params = net.namedParameters();
  const lossFn = () => {
    const { flows, edges } = net.forwardBidirectFlow([f, b], m);
    const flowLoss = tf.add(tf.mean(tf.abs(tf.sub(flows[0], f))), tf.mean(tf.abs(tf.sub(flows[1], b))));
    return tf.add(flowLoss, tf.add(tf.mean(edges![0]), tf.mean(edges![1]))) as tf.Scalar;
  };
  const step = () => {
    const { value, grads } = tf.variableGrads(lossFn, params.map(([, v]) => v));
    const bad: string[] = [];
    for (const [name, v] of params) {
      const g = grads[v.name];
      if (!g) {
        bad.push(`${name}: no gradient`);
        continue;
      }
      const d = g.dataSync();
      let finite = true;
      let nonZero = false;
      for (let i = 0; i < d.length; i++) {
        if (!Number.isFinite(d[i])) finite = false;
        if (d[i] !== 0) nonZero = true;
      }
      if (!finite || !nonZero) bad.push(`${name}: ${finite ? 'all zero' : 'non-finite'}`);
    }
    const loss = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads)]);
    return { loss, bad };
  };
  const first = step();
  assert.ok(Number.isFinite(first.loss));
  assert.deepEqual(first.bad, []);
  const before = tf.memory().numTensors;
  step();
  assert.equal(tf.memory().numTensors, before, 'tensors leaked by a forward/backward step');
  // A plain forward call leaves nothing behind either.
  const out = net.forwardBidirectFlow([f, b], m);
  tf.dispose([...out.flows, ...(out.edges ?? [])]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([f, b, m]);
  net.dispose();
});
