/** Evaluation flows: RAFT in official chunks (sharing one frame) equals RAFT over the whole video. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { RAFT } from '../../lib/models/raft';
import { applyDetInit } from '../../lib/init/apply';
import { evaluationRaftFlows, videoFlows } from '../../lib/eval/flows';
import type { EvalVideo } from '../../lib/eval/dataset';
import { maxAbsDiff, seeded } from '../helpers';

test('chunked RAFT loses no pair and keeps the order (4 frames in chunks of 2 = the whole-video flows)', async () => {
  await useBackend('wasm');
  const raft = new RAFT();
  applyDetInit(raft);
  raft.eval();
  const [t, h, w] = [4, 128, 128];
  const data = seeded(t * h * w * 3, 11);
  const video: EvalVideo = { name: 'v', index: 0, T: t, H: h, W: w, frames: data, framesU8: new Uint8Array(0), masks: new Float32Array(0), flows: null };
  const frames = tf.tensor5d(data, [1, t, h, w, 3]);
  try {
    // Whole video (T ≤ 60: one RAFT_bi call), as host arrays.
    const whole = await videoFlows(video, { kind: 'raft', model: raft, iters: 1 });
    // Chunks [0, 2) and [1, 4): the second starts one frame early so that pair (1, 2) is kept.
    const chunked = evaluationRaftFlows(raft, frames, 1, 2);
    assert.deepEqual(chunked.forward.shape, [1, t - 1, h, w, 2]);
    // RAFT pairs are independent: chunking changes only the batching.
    assert.ok(maxAbsDiff(chunked.forward.dataSync(), whole.forward) < 1e-4, 'forward');
    assert.ok(maxAbsDiff(chunked.backward.dataSync(), whole.backward) < 1e-4, 'backward');
    tf.dispose([chunked.forward, chunked.backward]);
    await assert.rejects(videoFlows(video, { kind: 'loaded' }), /v: flows were not loaded/);
  } finally {
    frames.dispose();
    raft.dispose();
  }
});
