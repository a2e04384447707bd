/**
 * Parity with the official evaluate_propainter.py run of ../shared/fixtures/evaluation (det-init
 * weights, I3D included), from the fixture's own files: its saved result frames scored by our
 * evaluation loop give its per-video PSNR / SSIM, its I3D features and its VFID. (The saved PNGs
 * are the truncated results; the script measured PSNR / SSIM on the float blends, hence the
 * tolerance.) On wasm, about 40 s of CPU: six I3D passes over 10 frames at 240×432.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { useBackend } from '../../lib/runtime';
import { InceptionI3d } from '../../lib/models/i3d';
import { applyDetInit } from '../../lib/init/apply';
import { EvalDataset } from '../../lib/eval/dataset';
import { evaluateProPainter, framesFromFolder } from '../../lib/eval/evaluate';
import type { EvalProtocol, VideoRecord } from '../../lib/eval/results';
import { FIXTURES, maxAbs, maxAbsDiff } from '../helpers';

const CASE = path.join(FIXTURES, 'evaluation', 'davis-mini_3x10');

test('scoring the official results reproduces the official metrics, I3D features and VFID (wasm)', async () => {
  await useBackend('wasm');
  const meta = JSON.parse(fs.readFileSync(path.join(CASE, 'case.json'), 'utf8'));
  const official = fs.readFileSync(path.join(CASE, 'expected', 'davis_metrics.txt'), 'utf8');
  const perVideo = [...official.matchAll(/Name: (\S+)\s+\| PSNR\/SSIM: ([\d.]+)\/([\d.]+)/g)].map((m) => ({ name: m[1], psnr: Number(m[2]), ssim: Number(m[3]) }));
  assert.equal(perVideo.length, 3);
  const acts = JSON.parse(fs.readFileSync(path.join(CASE, 'expected', 'i3d_activations.json'), 'utf8')) as { real: number[][]; fake: number[][] };

  const ds = path.join(CASE, 'dataset');
  const dataset = EvalDataset.open({
    videoRoot: path.join(ds, 'JPEGImages_432_240'), maskRoot: path.join(ds, 'test_masks'), flowRoot: path.join(ds, 'flows'), loadFlow: true,
  });
  const protocol: EvalProtocol = {
    model: 'propainter', dataset: 'davis', task: 'video_completion', width: 432, height: 240, neighbor_length: 10, ref_stride: 5,
    raft_iter: 20, load_flow: true, video_root: dataset.videoRoot, mask_root: dataset.maskRoot, flow_root: dataset.flowRoot,
    videos: null, max_frames: null, frames_from: path.join(CASE, 'expected'),
  };
  const i3d = new InceptionI3d();
  applyDetInit(i3d);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-evalfx-'));
  try {
    const res = await evaluateProPainter({
      out, protocol, dataset, weights: {}, complete: framesFromFolder(path.join(CASE, 'expected')), flows: { kind: 'loaded' },
      completionNeedsFlows: false, timed: false, i3d, lpips: null, log: () => {},
    });
    assert.ok(res.complete);
    assert.deepEqual(res.per_video.map((r) => r.video), perVideo.map((v) => v.name));
    res.per_video.forEach((r, i) => {
      assert.ok(Math.abs((r.psnr as number) - perVideo[i].psnr) <= 0.05, `${r.video} PSNR ${r.psnr} vs ${perVideo[i].psnr}`);
      assert.ok(Math.abs((r.ssim as number) - perVideo[i].ssim) <= 5e-4, `${r.video} SSIM ${r.ssim} vs ${perVideo[i].ssim}`);
    });
    const records = perVideo.map((v) => JSON.parse(fs.readFileSync(path.join(out, 'per_video', `${v.name}.json`), 'utf8')) as VideoRecord);
    records.forEach((r, i) => {
      for (const [got, want, what] of [[r.i3d_real!, acts.real[i], 'real'], [r.i3d_fake!, acts.fake[i], 'completed']] as const) {
        assert.equal(got.length, 1024);
        const err = maxAbsDiff(got, want);
        assert.ok(err <= 1e-3 * maxAbs(want), `${r.video} I3D features of the ${what} frames: max |diff| ${err} vs max ${maxAbs(want)}`);
      }
    });
    const vfid = res.summary.vfid!;
    assert.ok(Math.abs(vfid - meta.vfid_full_precision) <= 0.02 * meta.vfid_full_precision, `VFID ${vfid} vs ${meta.vfid_full_precision}`);
    // The metrics file carries the official final line (the frames are read, so no time).
    const text = fs.readFileSync(path.join(out, 'davis_metrics.txt'), 'utf8');
    assert.match(text.split('\n')[3], /^Finish evaluation\.\.\. Average Frame PSNR\/SSIM\/VFID: 25\.2[78]\/0\.933[78]\/0\.000 \| Time: nan$/);
    // E_warp from the loaded flows: finite and the mean of the videos'.
    assert.ok(Number.isFinite(res.summary.ewarp!) && res.summary.ewarp! > 0);
  } finally {
    i3d.dispose();
    fs.rmSync(out, { recursive: true, force: true });
  }
});
