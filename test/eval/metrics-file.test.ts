/** The official metrics files byte for byte, Python number formatting, CSV / JSON, averaging rules. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pyFixed } from '../../lib/eval/pyformat';
import { flowMetricsText, objectRemovalLines, perVideoCsv, propainterMetricsText } from '../../lib/eval/metrics-file';
import { VideoRecord, fromJson, summarize, toJson, videoRow } from '../../lib/eval/results';
import { FIXTURES } from '../helpers';

test("pyFixed: Python's .Nf (exact ties to even, inf / nan, −0)", () => {
  assert.equal(pyFixed(0.03125, 4), '0.0312'); // JavaScript's toFixed gives 0.0313
  assert.equal(pyFixed(0.09375, 4), '0.0938');
  assert.equal(pyFixed(2.5, 0), '2');
  assert.equal(pyFixed(3.5, 0), '4');
  assert.equal(pyFixed(1.005, 2), '1.00'); // the double is below 1.005: no tie
  assert.equal(pyFixed(25.2716, 2), '25.27');
  assert.equal(pyFixed(0.00011437814718660979, 3), '0.000');
  assert.equal(pyFixed(-0, 4), '-0.0000');
  assert.equal(pyFixed(-0.00001, 4), '-0.0000');
  assert.equal(pyFixed(Infinity, 4), 'inf');
  assert.equal(pyFixed(-Infinity, 2), '-inf');
  assert.equal(pyFixed(NaN, 3), 'nan');
});

const rec = (video: string, index: number, psnr: number[], ssim: number[], spf: number, extra: Partial<VideoRecord> = {}): VideoRecord => ({
  video, index, frames: psnr.length, height: 240, width: 432, mask_area: 0.1, seconds_per_frame: spf, psnr, ssim, ...extra,
});

test('davis_metrics.txt is byte-identical to the official script\'s (its fixture file)', () => {
  // Per-video means and times of the fixture run; the running averages and the final line follow.
  const records = [
    rec('bmx-a', 0, [22.6821], [0.8944], 5.9824),
    rec('bmx-b', 1, [25.6843], [0.9372], 5.0512),
    rec('bmx-c', 2, [27.4485], [0.9696], 4.7629),
  ];
  const official = fs.readFileSync(path.join(FIXTURES, 'evaluation', 'davis-mini_3x10', 'expected', 'davis_metrics.txt'), 'utf8');
  assert.equal(propainterMetricsText(records, 3, { vfid: 0.00011437814718660979 }), official);
  // Without VFID (one video, or no I3D weights) the number prints as Python's nan.
  assert.match(propainterMetricsText(records.slice(0, 1), 1, { vfid: null }), /PSNR\/SSIM\/VFID: 22\.68\/0\.8944\/nan \| Time: 5\.9824$/);
});

test('flow-completion and object-removal lines follow their scripts', () => {
  const a: VideoRecord = { ...rec('bmx-a', 0, [], [], 0.5), frames: 10, psnr: undefined, ssim: undefined, epe_forward: 0.25, epe_backward: 0.75 };
  const b: VideoRecord = { ...a, video: "o'k", index: 1, frames: 4, seconds_per_frame: 1, epe_forward: 1, epe_backward: 2 };
  assert.equal(
    flowMetricsText([a, b], 2, true),
    "[  1/2] Name: ['bmx-a']                 | EPE: 0.5000 | Time: 0.5000\n" +
      `[  2/2] Name: ["o'k"]                   | EPE: 1.5000 | Time: 0.6429\n` +
      // (9·(0.25 + 0.75) + 3·(1 + 2)) / 24; time weighted by frames: (10·0.5 + 4·1) / 14.
      'Finish evaluation... Average Frame EPE: 0.7500 | | Time: 0.6429\n',
  );
  assert.equal(objectRemovalLines([a, b], 2), '[  1/2] Name: bmx-a                     | Time: 0.5000\n[  2/2] Name: o\'k                       | Time: 0.7500\n');
});

test('summary: frame-weighted PSNR/SSIM/LPIPS, video-weighted E_warp, VFID needs two videos', () => {
  const a = rec('a', 0, [10, 20, 30], [0.1, 0.2, 0.3], 2, { ewarp: 0.001, lpips: [0.1, 0.1, 0.4] });
  const b = rec('b', 1, [40], [0.4], 4, { ewarp: 0.003, lpips: [0.2] });
  const { summary, notes } = summarize('propainter', [a, b]);
  assert.equal(summary.psnr, 25);
  assert.ok(Math.abs(summary.ssim! - 0.25) < 1e-15);
  assert.ok(Math.abs(summary.lpips! - 0.2) < 1e-15);
  assert.equal(summary.ewarp, 0.002);
  assert.equal(summary.seconds_per_frame, 3); // mean of the videos' times, as the official script
  assert.equal(summary.vfid, null);
  assert.equal(summary.frames, 4);
  assert.deepEqual(notes, []);
  const one = summarize('propainter', [{ ...a, i3d_real: [1, 2], i3d_fake: [1, 3] }]);
  assert.equal(one.summary.vfid, null);
  assert.match(one.notes[0], /at least 2 videos/);
  const two = summarize('propainter', [{ ...a, i3d_real: [0, 0], i3d_fake: [1, 0] }, { ...b, i3d_real: [2, 0], i3d_fake: [3, 0] }]);
  // Means differ by (1, 0); the covariances are equal: distance 1.
  assert.ok(Math.abs(two.summary.vfid! - 1) < 1e-9, String(two.summary.vfid));
});

test('results JSON keeps inf / nan; per_video.csv has the present columns in order', () => {
  const r = rec('a,"b"', 0, [Infinity, 30], [1, 0.5], NaN, { ewarp: 0.5 });
  const back = fromJson<VideoRecord>(toJson(r));
  assert.deepEqual(back.psnr, [Infinity, 30]);
  assert.ok(Number.isNaN(back.seconds_per_frame));
  assert.equal(
    perVideoCsv([videoRow(r)]),
    'video,index,frames,height,width,mask_area,psnr,ssim,ewarp,seconds_per_frame\n"a,""b""",0,2,240,432,0.1,inf,0.75,0.5,nan\n',
  );
});
