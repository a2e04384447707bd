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

test('the whole-video heap estimates match the measured peaks; a video that cannot fit is refused up front, with the estimate and what to change', async () => {
  const heap = { neighborLength: 20, refStride: 10, flowsGiven: false };
  const mib = (b: number) => b / 2 ** 20;
  // Measured on wasm at 240×432 (lib/eval/memory.ts): I3D 2615 MiB of heap over 80 frames, the
  // flow completion 2673 MiB over 79 flows, the latter before the kernel pack cached transformed
  // conv filters (up to +155 MiB measured, Conv2D only). The estimates cover them without refusing
  // the bundled clip.
  for (const [net, frames, measured] of [['i3d', 80, 2615], ['i3d', 20, 1491], ['flowcomp', 80, 2673 + 155]] as const) {
    const est = mib(wholeVideoHeapBytes(net, frames, 240, 432, { ...heap, flowsGiven: true }));
    assert.ok(est >= measured && est <= 1.25 * measured, `${net} over ${frames} frames: estimate ${est.toFixed(0)} MiB, measured ${measured} MiB`);
  }
  for (const net of ['completion', 'i3d'] as const) assert.ok(wholeVideoHeapBytes(net, 80, 240, 432, heap) <= 3.5 * 2 ** 30, `${net}: the 80-frame clip fits`);
  const n = maxFramesThatFit('completion', 240, 432, heap);
  assert.ok(n >= 80 && wholeVideoHeapBytes('completion', n + 1, 240, 432, heap) > 3.5 * 2 ** 30);
  // A 200-frame video (empty files: only listed, never decoded): refused before any weights are read.
  const root = path.join(TMP, 'long');
  for (const dir of ['frames/v', 'masks/v']) {
    fs.mkdirSync(path.join(root, dir), { recursive: true });
    for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(root, dir, `${String(i).padStart(5, '0')}.png`), '');
  }
  await assert.rejects(
    runEvaluation({
      dataset: 'davis', videoRoot: path.join(root, 'frames'), maskRoot: path.join(root, 'masks'), detInit: true, out: path.join(TMP, 'too-big'), log: () => {},
    }),
    (e: Error) =>
      e.message.startsWith(`${path.join(root, 'frames', 'v')}: 200 frames at 432x240 need ~`) &&
      e.message.includes('for the whole-video ProPainter completion') && e.message.includes(`--max_frames ${n}`) && !e.message.includes('\n'),
  );
  assert.ok(!fs.existsSync(path.join(TMP, 'too-big')), 'nothing written');
});
