/**
 * runEvaluation (the evaluate command as a library call) scoring finished frames: metrics whose
 * weights are present are computed (LPIPS here, per frame as the network gives it), the others are
 * skipped with a note naming the missing file; the weights used are identified in results.json.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { LPIPS } from '../../lib/models/lpips';
import { applyDetInit } from '../../lib/init/apply';
import { saveCheckpoint } from '../../lib/io/checkpoint';
import { EvalDataset } from '../../lib/eval/dataset';
import { runEvaluation } from '../../lib/eval/run';
import { lpipsFrames, truncateToU8 } from '../../lib/eval/video-metrics';
import type { VideoRecord } from '../../lib/eval/results';
import { maxFramesThatFit, wholeVideoHeapBytes } from '../../lib/eval/memory';
import { H, W, datasetOptions, evalDataset, evaluateWith, fillHoles } from './helpers';

let TMP = '';
let ROOT = '';
let RESULTS = '';

before(async () => {
  await useBackend('wasm');
  TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-evalrun-'));
  ROOT = await evalDataset(TMP);
  // Finished frames to score: the grey-filled results of the test double, saved by an evaluation.
  RESULTS = path.join(TMP, 'grey');
  await evaluateWith(ROOT, RESULTS, fillHoles());
});
after(() => fs.rmSync(TMP, { recursive: true, force: true }));

test('--frames_from with LPIPS weights only: LPIPS per frame, VFID and E_warp skipped with notes', async () => {
  const weights = path.join(TMP, 'weights');
  const lpips = new LPIPS({ net: 'alex' });
  applyDetInit(lpips);
  saveCheckpoint(path.join(weights, 'alex.pth'), lpips.stateDict());
  const out = path.join(TMP, 'scored');
  const lines: string[] = [];
  try {
    const res = await runEvaluation({
      dataset: 'davis', videoRoot: path.join(ROOT, `JPEGImages_${W}_${H}`), maskRoot: path.join(ROOT, 'test_masks'),
      width: W, height: H, weights, framesFrom: RESULTS, out, log: (l) => lines.push(l),
    });
    assert.deepEqual(res.notes, [
      `VFID skipped: no weights at ${path.join(weights, 'i3d_rgb_imagenet.pt')}`,
      `E_warp skipped: it needs flows of the ground-truth frames (--load_flow, or RAFT weights at ${path.join(weights, 'raft-things.pth')})`,
    ]);
    assert.ok(lines.some((l) => l.startsWith('note: VFID skipped')));
    assert.equal(res.summary.vfid, null);
    assert.equal(res.summary.ewarp, null);
    assert.deepEqual(Object.keys(res.weights), ['lpips']);
    assert.equal(res.weights.lpips.bytes, fs.statSync(path.join(weights, 'alex.pth')).size);
    assert.equal(res.protocol.frames_from, RESULTS);
    // LPIPS per frame equals the network on each (result, ground truth) pair; 3 frames in batches of 2 here.
    const ds = EvalDataset.open(datasetOptions(ROOT, { loadFlow: false }));
    const v = await ds.load(2);
    const comp = truncateToU8((await fillHoles()(v, null)));
    const rec = JSON.parse(fs.readFileSync(path.join(out, 'per_video', `${v.name}.json`), 'utf8')) as VideoRecord;
    const batched = await lpipsFrames(lpips, comp, v.framesU8, v.T, H, W, 2);
    const n = H * W * 3;
    for (let t = 0; t < v.T; t++) {
      const one = tf.tidy(() => {
        const x = (a: Uint8Array) => tf.sub(tf.div(tf.tensor4d(a.subarray(t * n, (t + 1) * n), [1, H, W, 3], 'int32').toFloat(), 127.5), 1) as tf.Tensor4D;
        return lpips.forward(x(comp), x(v.framesU8)).dataSync()[0];
      });
      assert.ok(Math.abs(rec.lpips![t] - one) < 1e-5 && Math.abs(batched[t] - one) < 1e-5, `frame ${t}: ${rec.lpips![t]} / ${batched[t]} vs ${one}`);
    }
    assert.ok(Math.abs(res.summary.lpips! - res.per_video.reduce((a, r) => a + (r.lpips as number) * (r.frames as number), 0) / res.summary.frames) < 1e-12);
  } finally {
    lpips.dispose();
  }
});

test('a video the whole-video networks cannot fit on wasm is refused up front, with the estimate and what to change', async () => {
  // The analyzer's estimate for the flow completion over 80 frames at 240×432 is ~5.36 GiB; ours agrees.
  assert.ok(Math.abs(wholeVideoHeapBytes('flowcomp', 80, 240, 432) / 2 ** 30 - 5.36) < 0.1);
  assert.ok(Math.abs(wholeVideoHeapBytes('i3d', 32, 240, 432) / 2 ** 30 - 2.62) < 0.1);
  const n = maxFramesThatFit('flowcomp', 240, 432);
  assert.ok(wholeVideoHeapBytes('flowcomp', n, 240, 432) <= 3.5 * 2 ** 30 && wholeVideoHeapBytes('flowcomp', n + 1, 240, 432) > 3.5 * 2 ** 30);
  // The bundled clip (80 frames): refused before any weights are read or any work is done.
  const clip = path.resolve(__dirname, '..', '..', 'data', 'davis-sample');
  await assert.rejects(
    runEvaluation({
      model: 'flowcomp', dataset: 'davis', videoRoot: path.join(clip, 'JPEGImages_432_240'), maskRoot: path.join(clip, 'test_masks'),
      weights: TMP, out: path.join(TMP, 'too-big'), log: () => {},
    }),
    (e: Error) =>
      e.message.startsWith(`${path.join(clip, 'JPEGImages_432_240', 'bmx-trees')}: 80 frames at 432x240 need ~5.`) &&
      e.message.includes(`--max_frames ${n}`) && !e.message.includes('\n'),
  );
});
