/**
 * The losses fixture (core/loss.py, flow_comp_raft.py, flow_loss_utils.py and the flow trainer's
 * Canny edges, produced by the official code): every output, gradients included, passes.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { checkFixtures } from '../../lib/fixtures/check';
import { FIXTURES, hasShared } from '../helpers';
import { createMask, flowCompletionLoss, flowSimpleLoss } from '../../lib/losses';

test('losses fixture: all 35 outputs pass, no tensor leaks', { skip: !hasShared && 'no ../shared fixtures' }, async () => {
  await useBackend('wasm');
  const lines: string[] = [];
  const before = tf.memory().numTensors;
  const s = await checkFixtures([path.join(FIXTURES, 'losses_synth_32x32.safetensors')], { log: (l) => lines.push(l) });
  assert.equal(s.failed, 0, lines.join('\n'));
  assert.equal(s.passed, 35, lines.join('\n'));
  assert.ok(!lines.some((l) => l.includes('left allocated')), lines.join('\n'));
  assert.equal(tf.memory().numTensors, before);
});

test('createMask zeroes the requested border', async () => {
  await useBackend('cpu');
  const m = createMask(1, 4, 5, [[1, 0], [0, 2]]);
  assert.deepEqual(Array.from(m.dataSync()), [0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0]);
  m.dispose();
});

test('flowCompletionLoss: total = weighted sum of its terms; FlowSimpleLoss of equal flows is 0', async () => {
  await useBackend('cpu');
  const f = tf.tensor5d(Float32Array.from({ length: 2 * 8 * 8 * 2 }, (_, i) => Math.sin(i)), [1, 2, 8, 8, 2]);
  const masks = tf.tensor5d(Float32Array.from({ length: 3 * 64 }, (_, i) => (i % 7 === 0 ? 1 : 0)), [1, 3, 8, 8, 1]);
  const frames = tf.tensor5d(Float32Array.from({ length: 3 * 64 * 3 }, (_, i) => Math.cos(i) * 0.5), [1, 3, 8, 8, 3]);
  const edges = tf.tensor5d(Float32Array.from({ length: 2 * 64 }, (_, i) => (i % 5 === 0 ? 1 : 0)), [1, 2, 8, 8, 1]);
  const pe = tf.fill([1, 2, 8, 8, 1], 0.3) as tf.Tensor5D;
  const r = flowCompletionLoss({ pred: [f, f], gt: [f, f], masks, frames, predEdges: [pe, pe], gtEdges: [edges, edges], flowWeight: 0.5, warpWeight: 0.1, edgeWeight: 2 });
  const v = (t: tf.Tensor | null) => t!.dataSync()[0];
  assert.ok(Math.abs(v(r.total) - (v(r.flow) + v(r.warp) + v(r.edge))) < 1e-6);
  assert.ok(v(r.edge) > 0);
  const half = tf.tidy(() => flowSimpleLoss([tf.fill([1, 2, 4, 4, 2], 0.5)], [tf.ones([1, 2, 8, 8, 2])]));
  assert.equal(v(half), 0);
  tf.dispose([f, masks, frames, edges, pe, r.total, r.flow, r.warp, r.edge!, half]);
});
