/**
 * Memory stays flat over a long run: 50 flow-completion iterations through the whole engine
 * (data loader, progressive resizing, gradient accumulation and clipping, JSONL, TensorBoard with
 * sample images, checkpoints, validation) leave tf.memory() identical at steps 10 and 50.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { Run, StepRecord } from '../../lib/train/loop';
import type { Callback } from '../../lib/train/callbacks';
import { flowcompConfig, synthRoot, tmpDir } from './helpers';

test('tf.memory() is equal at step 10 and step 50 (every callback active)', async () => {
  await useBackend('wasm');
  const root = await synthRoot(16, 3, 8);
  const before = tf.memory().numTensors;
  const snapshots = new Map<number, { numTensors: number; numBytes: number }>();
  const probe: Callback = {
    onStepEnd(_run, rec: StepRecord) {
      if (rec.iteration === 10 || rec.iteration === 50) snapshots.set(rec.iteration, { numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes });
    },
  };
  const cfg = flowcompConfig(root, tmpDir('memory'), 16, {
    datasets: {
      train: { root, width: 16, height: 16, num_local_frames: 3, num_ref_frames: 0, load_flow: true },
      val: { root, videos: ['synth_0000'], width: 16, height: 16, max_frames: 4, load_flow: true, dilation: 1 },
    },
    progressive: { start_size: [8, 8], end_size: [16, 16], grow_steps: 4 },
    grad_accum: 2,
    grad_clip: 1,
  });
  (cfg.train as Record<string, unknown>).save_freq = 20;
  (cfg.train as Record<string, unknown>).val_freq = 25;
  (cfg.train as Record<string, unknown>).image_freq = 5;
  (cfg.train as Record<string, unknown>).log_freq = 5;
  const run = await Run.create(cfg, { console: false, log: () => undefined, callbacks: [probe] });
  await run.step(50);
  assert.deepEqual(run.history.slice(0, 5).map((h) => h.size[0]), [8, 8, 8, 8, 16]);
  assert.equal(run.validations.length, 2);
  assert.ok(run.history.every((h) => Number.isFinite(h.scalars['loss/total']) && h.scalars['grad_norm/G'] > 0));
  const a = snapshots.get(10)!;
  const b = snapshots.get(50)!;
  console.log(`step 10: ${a.numTensors} tensors / ${a.numBytes} B; step 50: ${b.numTensors} tensors / ${b.numBytes} B`);
  assert.deepEqual(b, a);
  await run.dispose();
  assert.equal(tf.memory().numTensors, before, 'the run leaves no tensor behind after dispose()');
});
