/**
 * The notebook API: a Run from a config object, step(n), history / series for plots,
 * hyper-parameters changed between steps, warmup, gradient accumulation, validation on demand,
 * dispose() releasing every tensor.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { Run } from '../../lib/train/loop';
import { learningRate } from '../../lib/train/schedule';
import { LivePlot } from '../../lib/train/callbacks';
import { flowcompConfig, synthRoot, tmpDir } from './helpers';

test('Run: step, history, lr/loss-weight changes between steps, warmup, grad_accum, validate, dispose', async () => {
  await useBackend('wasm');
  const root = await synthRoot(16, 3, 8);
  const before = tf.memory().numTensors;
  const cfg = flowcompConfig(root, tmpDir('run'), 16, {
    datasets: {
      train: { root, width: 16, height: 16, num_local_frames: 3, num_ref_frames: 0, load_flow: true },
      val: { root, videos: ['synth_0001'], width: 16, height: 16, max_frames: 4, load_flow: true, dilation: 1 },
    },
  });
  Object.assign(cfg.train as Record<string, unknown>, { warmup: 2, warmup_lr: 1e-5, lr: 1e-3, lr_scheme: 'MultiStepLR', lr_steps: [3], lr_gamma: 0.5 });
  const live = new LivePlot({ validation: true });
  const run = await Run.create(cfg, { console: false, log: () => undefined, callbacks: [live] });
  const recs = await run.step(2);
  assert.deepEqual(live.curves!.series.get('loss/total')!.x, [1, 2]);
  assert.equal(recs.length, 2);
  assert.equal(run.iteration, 2);
  // Warmup from 1e-5 over 2 steps, then 1e-3 (milestone at step 3 halves it).
  assert.deepEqual(run.series('lr').y, [1e-5, learningRate({ lr: 1e-3, scheme: 'constant', warmup: 2, warmupLr: 1e-5 }, 1)]);
  for (const k of ['loss/total', 'loss/flow_loss', 'loss/warp_loss', 'loss/edge_loss']) assert.equal(run.series(k).y.length, 2, k);

  // lr = 0: the step must leave the weights unchanged.
  run.config.train.lr = 0;
  run.config.train.warmup = 0;
  const w0 = run.system.net.stateDict();
  await run.step(1);
  const w1 = run.system.net.stateDict();
  for (const [k, t] of w0) assert.deepEqual(Array.from(w1.get(k)!.data as Float32Array), Array.from(t.data as Float32Array), k);
  assert.equal(run.history.at(-1)!.lr, 0);

  // Loss weights are read every step: flow_weight 0 zeroes the logged (weighted) flow term.
  run.config.train.lr = 1e-3;
  run.config.loss.flow_weight = 0;
  await run.step(1);
  assert.equal(run.history.at(-1)!.scalars['loss/flow_loss'], 0);
  assert.equal(run.history.at(-1)!.lr, 5e-4); // past the milestone at 3

  // grad_accum 2: one iteration consumes two batches.
  run.config.grad_accum = 2;
  const pos0 = run.data.position();
  await run.step(1);
  const pos1 = run.data.position();
  assert.equal(pos1.epoch * 3 + pos1.batch - (pos0.epoch * 3 + pos0.batch), 2);

  const v = await run.validate();
  assert.ok(v.metrics.epe >= 0 && Number.isFinite(v.metrics.epe));
  assert.deepEqual(Object.keys(v.perVideo), ['synth_0001']);
  assert.deepEqual(live.valCurves!.series.get('epe')!.y, [v.metrics.epe]);
  await run.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('fp16 is reported and ignored (float32 training)', async () => {
  await useBackend('wasm');
  const root = await synthRoot(16, 3, 8);
  const lines: string[] = [];
  const run = await Run.create({ ...flowcompConfig(root, tmpDir('fp16'), 16), fp16: true }, { console: false, log: (l) => lines.push(l) });
  assert.ok(lines.some((l) => /fp16: TF\.js has no float16 training path.*float32/.test(l)), lines.join('\n'));
  await run.dispose();
});

test('ground-truth flows on the fly: frozen RAFT (det-init, 2 iterations) at 128×128, no .flo files', async () => {
  await useBackend('wasm');
  const root = await synthRoot(128, 2, 5);
  const cfg = flowcompConfig(root, tmpDir('raft'), 128, { networks: { allow_det_init: true, raft_iters: 2 } });
  (cfg.datasets as { train: Record<string, unknown> }).train.load_flow = false;
  const lines: string[] = [];
  const run = await Run.create(cfg, { console: false, log: (l) => lines.push(l) });
  assert.ok(lines.some((l) => /RAFT \(frozen\): using det-init v1 weights/.test(l)), lines.join('\n'));
  const [rec] = await run.step(1);
  assert.ok(Number.isFinite(rec.scalars['loss/total']));
  await run.dispose();
  // Without allow_det_init a missing RAFT file is an error naming the key.
  const strict = flowcompConfig(root, tmpDir('raft2'), 128, { networks: { raft: 'weights/missing-raft.pth' } });
  (strict.datasets as { train: Record<string, unknown> }).train.load_flow = false;
  await assert.rejects(Run.create(strict, { console: false, log: () => undefined }), /networks\.raft: no weights at .*missing-raft\.pth/);
});
