/**
 * Overfitting one clip with fixed masks: the training loss falls clearly within a handful of
 * steps (flow completion at 32×32; ProPainter's hole/valid L1 at 64×64, its smallest size).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import type { Callback } from '../../lib/train/callbacks';
import { TestDataset } from '../../lib/data/test-dataset';
import { collate } from '../../lib/data/sample';
import { Run } from '../../lib/train/loop';
import { fixedSource } from '../../lib/train/data';
import { flowcompConfig, propainterConfig, synthRoot, tmpDir } from './helpers';

/** One clip: the first `t` frames of synth_0000 with its test masks (fixed) and exact flows. */
async function oneClip(root: string, size: number, t: number) {
  const ds = new TestDataset({ root, width: size, height: size, maxFrames: t, loadFlow: true, dilation: 1, videos: ['synth_0000'] });
  return collate([await ds.getItem(0)], 0, 0);
}

test('flow completion overfits one clip: the flow loss halves in 20 steps', async () => {
  await useBackend('wasm');
  const root = await synthRoot(32);
  const cfg = flowcompConfig(root, tmpDir('overfit-fc'), 32);
  (cfg.datasets as { train: Record<string, unknown> }).train.num_local_frames = 4;
  (cfg.train as Record<string, unknown>).lr = 1e-3;
  cfg.grad_clip = 1;
  const run = await Run.create(cfg, { console: false, log: () => undefined, data: fixedSource(await oneClip(root, 32, 4)) });
  await run.step(20);
  const flow = run.history.map((h) => h.scalars['loss/flow_loss'] + h.scalars['loss/warp_loss']);
  const total = run.series('loss/total').y;
  await run.dispose();
  console.log(`flow+warp loss: ${flow.map((v) => v.toFixed(4)).join(' ')}`);
  console.log(`total loss (edge term included; its double-sigmoid BCE has a high floor): ${total.map((v) => v.toFixed(4)).join(' ')}`);
  const mean = (a: number[]) => a.reduce((x, y) => x + y) / a.length;
  assert.ok(mean(flow.slice(-3)) < 0.55 * mean(flow.slice(0, 3)), `flow+warp ${mean(flow.slice(0, 3))} → ${mean(flow.slice(-3))}`);
  assert.ok(mean(total.slice(-3)) < 0.8 * mean(total.slice(0, 3)), `total ${mean(total.slice(0, 3))} → ${mean(total.slice(-3))}`);
});

test('ProPainter overfits one clip: hole + valid L1 falls in 6 steps; live tensors constant', async () => {
  await useBackend('wasm');
  const root = await synthRoot(64, 3, 8);
  const cfg = propainterConfig(root, tmpDir('overfit-pp'), 64);
  Object.assign(cfg.train as Record<string, unknown>, { lr: 1e-4, beta1: 0.5 });
  const clip = await oneClip(root, 64, 3);
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  const probe: Callback = { onStepEnd: () => void counts.push(tf.memory().numTensors) };
  const run = await Run.create(cfg, { console: false, log: () => undefined, data: fixedSource(clip), callbacks: [probe] });
  await run.step(6);
  const l1 = run.history.map((h) => h.scalars['loss/hole_loss'] + h.scalars['loss/valid_loss']);
  await run.dispose();
  // Memory: the same live tensors after every step (G, D, frozen flow net, both Adams), none after dispose.
  assert.ok(counts.every((c) => c === counts[0]), `live tensors per step: ${counts.join(' ')}`);
  assert.equal(tf.memory().numTensors, before);
  console.log(`ProPainter hole+valid L1: ${l1.map((v) => v.toFixed(4)).join(' ')}`);
  const last3 = (l1[3] + l1[4] + l1[5]) / 3;
  assert.ok(last3 < 0.8 * l1[0], `L1 ${l1[0]} → mean of the last 3 steps ${last3}`);
});
