/**
 * The losses fixture (core/loss.py, flow_comp_raft.py, flow_loss_utils.py and the flow trainer's
 * Canny edges, produced by the official code): every output, gradients included, passes.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { checkFixtures } from '../../lib/fixtures/check';
import { readSafetensors, writeSafetensors } from '../../lib/io/safetensors';
import { FIXTURES, hasShared } from '../helpers';
import { createMask, flowLoss, flowSimpleLoss, weightedLoss } from '../../lib/losses';

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

test('losses fixture of another size: create_mask takes n, H, W from the fixture and its padding from the name', { skip: !hasShared && 'no ../shared fixtures' }, async () => {
  await useBackend('wasm');
  const src = path.join(FIXTURES, 'losses_synth_32x32.safetensors');
  const { tensors, metadata } = readSafetensors(src);
  const meta = JSON.parse(metadata.json);
  // The same fixture, its create_mask output replaced by a 2×24×40 mask padded (top 2, bottom 0, left 1, right 3).
  const [n, h, w] = [2, 24, 40];
  const expected = new Float32Array(n * h * w);
  for (let i = 0; i < n; i++) for (let y = 2; y < h; y++) for (let x = 1; x < w - 3; x++) expected[(i * h + y) * w + x] = 1;
  tensors.delete('create_mask_pad_1_2_3_0');
  delete meta.roles.create_mask_pad_1_2_3_0;
  tensors.set('create_mask_pad_2_0_1_3', { dtype: 'float32', shape: [n, 1, h, w], data: expected });
  meta.roles.create_mask_pad_2_0_1_3 = 'output';
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'losses-fx-')), 'losses_synth_24x40.safetensors');
  writeSafetensors(file, tensors, { ...metadata, json: JSON.stringify(meta) });
  const lines: string[] = [];
  const s = await checkFixtures([file], { log: (l) => lines.push(l) });
  assert.equal(s.failed, 0, lines.join('\n'));
  assert.equal(s.passed, 35, lines.join('\n'));
  assert.ok(lines.some((l) => l.includes('create_mask_pad_2_0_1_3')), lines.join('\n'));
});

test('createMask zeroes the requested border', async () => {
  await useBackend('cpu');
  const m = createMask(1, 4, 5, [[1, 0], [0, 2]]);
  assert.deepEqual(Array.from(m.dataSync()), [0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0]);
  m.dispose();
});

test('weightedLoss: total = Σ weight·term, logged weighted; a standard term at weight 0 logs 0; FlowSimpleLoss of equal flows is 0', async () => {
  await useBackend('cpu');
  const f = tf.tensor5d(Float32Array.from({ length: 2 * 8 * 8 * 2 }, (_, i) => Math.sin(i)), [1, 2, 8, 8, 2]);
  const g = tf.tensor5d(Float32Array.from({ length: 2 * 8 * 8 * 2 }, (_, i) => Math.cos(i)), [1, 2, 8, 8, 2]);
  const masks = tf.tensor5d(Float32Array.from({ length: 3 * 64 }, (_, i) => (i % 7 === 0 ? 1 : 0)), [1, 3, 8, 8, 1]);
  const frames = tf.tensor5d(Float32Array.from({ length: 3 * 64 * 3 }, (_, i) => Math.cos(i) * 0.5), [1, 3, 8, 8, 3]);
  const edges = tf.tensor5d(Float32Array.from({ length: 2 * 64 }, (_, i) => (i % 5 === 0 ? 1 : 0)), [1, 2, 8, 8, 1]);
  const pe = tf.fill([1, 2, 8, 8, 1], 0.3) as tf.Tensor5D;
  const inputs = { pred: [f, f] as [tf.Tensor5D, tf.Tensor5D], gt: [g, g] as [tf.Tensor5D, tf.Tensor5D], masks, frames, predEdges: [pe, pe] as [tf.Tensor5D, tf.Tensor5D], gtEdges: [edges, edges] as [tf.Tensor5D, tf.Tensor5D] };
  const v = (t: tf.Tensor | undefined) => t!.dataSync()[0];
  const r = weightedLoss('flow', { flow_weight: 0.5, warp_weight: 0.1, edge_weight: 2 }, inputs);
  assert.deepEqual(Object.keys(r.parts), ['loss/flow_loss', 'loss/warp_loss', 'loss/edge_loss']);
  const sum = v(r.parts['loss/flow_loss']) + v(r.parts['loss/warp_loss']) + v(r.parts['loss/edge_loss']);
  assert.ok(Math.abs(v(r.total) - sum) < 1e-6 * Math.abs(sum));
  const raw = flowLoss(inputs.pred, inputs.gt, masks, frames);
  assert.ok(Math.abs(v(r.parts['loss/flow_loss']) - 0.5 * v(raw.loss)) < 1e-6, 'the flow term is FlowLoss.loss × flow_weight');
  assert.ok(Math.abs(v(r.parts['loss/warp_loss']) - 0.1 * v(raw.warpLoss)) < 1e-6, 'the warp term is FlowLoss.warp_loss × warp_weight');
  assert.ok(v(r.parts['loss/edge_loss']) > 0);
  const off = weightedLoss('flow', { flow_weight: 0 }, inputs);
  assert.equal(v(off.parts['loss/flow_loss']), 0);
  assert.ok(Math.abs(v(off.total) - v(off.parts['loss/warp_loss']) - v(off.parts['loss/edge_loss'])) < 1e-6);
  const half = tf.tidy(() => flowSimpleLoss([tf.fill([1, 2, 4, 4, 2], 0.5)], [tf.ones([1, 2, 8, 8, 2])]));
  assert.equal(v(half), 0);
  tf.dispose([f, g, masks, frames, edges, pe, r.total, ...Object.values(r.parts), off.total, ...Object.values(off.parts), raw.loss, raw.warpLoss, half]);
});
