/**
 * Gradient checkpointing of the flow-completion network (lib/models/flow-completion: encoder stages,
 * recurrent propagation steps, fusion, decoder and edge-head frame chunks as checkpointed segments
 * on the tape): the parameter gradients of the flow-completion training loss (forward_bidirect_flow
 * in training mode + the weighted flow loss terms, as FlowCompletionSystem.trainStep) and of completeFlows
 * equal those of the plain tape (withoutCheckpointing) on wasm, and nothing leaks. 128×192 so the
 * decoder runs in more than one chunk.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { checkpointing, withoutCheckpointing } from '../../lib/runtime/checkpoint';
import { RecurrentFlowCompleteNet, completeFlows } from '../../lib/models/flow-completion';
import { weightedLoss } from '../../lib/losses';
import { assertClose, randn } from '../helpers';

function grads(net: RecurrentFlowCompleteNet, loss: () => tf.Scalar): { value: number; g: Map<string, Float32Array> } {
  const named = net.namedParameters();
  const { value, grads: gs } = tf.variableGrads(loss, named.map(([, v]) => v));
  const g = new Map<string, Float32Array>();
  for (const [name, v] of named) if (gs[v.name]) g.set(name, gs[v.name].dataSync() as Float32Array);
  const out = { value: value.dataSync()[0], g };
  tf.dispose([value, ...Object.values(gs)]);
  return out;
}

test('checkpointed flow-completion gradients equal the plain tape (wasm)', async () => {
  await useBackend('wasm');
  const [t, h, w] = [4, 128, 192];
  const net = new RecurrentFlowCompleteNet();
  // Non-zero last offset convs (they start at zero), so the deformable sampling has gradients.
  for (const [name, v] of net.namedParameters()) {
    if (/deform_align\.\w+\.conv_offset\.6\./.test(name)) v.assign(tf.mul(randn(v.shape, name.length, -1, 1), 0.01));
  }
  net.train();
  const flows: [tf.Tensor5D, tf.Tensor5D] = [tf.mul(randn([1, t - 1, h, w, 2], 3), 3) as tf.Tensor5D, tf.mul(randn([1, t - 1, h, w, 2], 4), 3) as tf.Tensor5D];
  const masks = tf.cast(tf.greater(randn([1, t, h, w, 1], 5), 0.2), 'float32') as tf.Tensor5D;
  const frames = randn([1, t, h, w, 3], 6) as tf.Tensor5D;
  const edge = (s: number) => tf.cast(tf.greater(randn([1, t - 1, h, w, 1], s), 0.7), 'float32') as tf.Tensor5D;
  const gtEdges: [tf.Tensor5D, tf.Tensor5D] = [edge(7), edge(8)];
  const before = tf.memory().numTensors;

  const active: boolean[] = [];
  const trainLoss = () => {
    active.push(checkpointing());
    const out = net.forwardBidirectFlow(flows, masks);
    const r = weightedLoss('flow', {}, { pred: out.flows, gt: flows, masks, frames, predEdges: out.edges, gtEdges });
    tf.dispose(Object.values(r.parts));
    return r.total;
  };
  const completeLoss = () => {
    const [f, b] = completeFlows(net, flows, masks);
    return tf.add(tf.mean(tf.abs(tf.sub(f, flows[0]))), tf.mean(tf.square(tf.sub(b, flows[1])))) as tf.Scalar;
  };
  for (const [what, loss] of [['training loss', trainLoss], ['completeFlows', completeLoss]] as const) {
    const ck = grads(net, loss);
    const plain = withoutCheckpointing(() => grads(net, loss));
    assert.ok(Math.abs(ck.value - plain.value) <= 1e-6 * Math.abs(plain.value), `${what}: loss ${ck.value} vs ${plain.value}`);
    assert.deepEqual([...ck.g.keys()].sort(), [...plain.g.keys()].sort(), `${what}: same parameters get gradients`);
    let worst = 0;
    for (const [name, gp] of plain.g) {
      const gc = ck.g.get(name)!;
      let d = 0;
      let s = 0;
      for (let i = 0; i < gp.length; i++) {
        d = Math.max(d, Math.abs(gc[i] - gp[i]));
        s = Math.max(s, Math.abs(gp[i]));
      }
      if (s > 1e-8) worst = Math.max(worst, d / s);
      assertClose(gc, gp, 2e-5, `${what}: grad ${name}`, 1e-8);
    }
    if (what === 'training loss') assert.deepEqual(active, [true, false], 'checkpointed, then plain');
    console.log(`${what}: ${plain.g.size} parameter gradients, worst relative difference ${worst.toExponential(2)}`);
  }
  assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  tf.dispose([...flows, masks, frames, ...gtEdges]);
  net.dispose();
});
