/** Evaluation flows: RAFT in official chunks (sharing one frame) equals RAFT over the whole video. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { useBackend } from '../../lib/runtime';
import { RAFT } from '../../lib/models/raft';
import { applyDetInit } from '../../lib/init/apply';
import { videoFlows } from '../../lib/eval/flows';
import type { EvalVideo } from '../../lib/eval/dataset';
import { maxAbsDiff } from '../helpers';

test('chunked RAFT loses no pair and keeps the order (4 frames in chunks of 2 = the whole-video flows)', async () => {
  await useBackend('wasm');
  const raft = new RAFT();
  applyDetInit(raft);
  raft.eval();
  const [t, h, w] = [4, 128, 128];
  const framesU8 = new Uint8Array(t * h * w * 3);
  for (let i = 0; i < framesU8.length; i++) framesU8[i] = (i * 2654435761) >>> 24;
  const video: EvalVideo = { name: 'v', index: 0, T: t, H: h, W: w, frames: new Float32Array(0), framesU8, masks: new Float32Array(0), flows: null };
  try {
    // Whole video (T ≤ 60: one RAFT_bi call).
    const whole = await videoFlows(video, { kind: 'raft', model: raft, iters: 1 });
    assert.equal(whole.forward.length, (t - 1) * h * w * 2);
    // Chunks [0, 2) and [1, 4): the second starts one frame early so that pair (1, 2) is kept.
    const chunked = await videoFlows(video, { kind: 'raft', model: raft, iters: 1 }, 2);
    // RAFT pairs are independent: chunking changes only the batching.
    assert.ok(maxAbsDiff(chunked.forward, whole.forward) < 1e-4, 'forward');
    assert.ok(maxAbsDiff(chunked.backward, whole.backward) < 1e-4, 'backward');
    // Each direction differs between the pairs (so a reordering would show).
    const px = h * w * 2;
    assert.ok(maxAbsDiff(whole.forward.subarray(0, px), whole.forward.subarray(px, 2 * px)) > 1e-3);
    await assert.rejects(videoFlows(video, { kind: 'loaded' }), /v: flows were not loaded/);
  } finally {
    raft.dispose();
  }
});
