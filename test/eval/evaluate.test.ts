/**
 * The evaluation loops on a tiny synthetic dataset (80×72, 3 frames): outputs and their formats,
 * resume after an interruption, settings checks, dataset errors naming the path, and the
 * flow-completion evaluation. The ProPainter loop is driven by a test double for "complete one
 * video" (the hole filled with grey 127.5): these tests are about the loop, not a model.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { encodePng, readRgb } from '../../lib/io/image';
import { applyDetInit } from '../../lib/init/apply';
import { RecurrentFlowCompleteNet, completeFlows } from '../../lib/models/flow-completion';
import { flowToColor } from '../../lib/viz/flow';
import { EvalDataset, EvalDatasetOptions } from '../../lib/eval/dataset';
import { CompleteVideo, evaluateFlowCompletion, framesFromFolder } from '../../lib/eval/evaluate';
import { epe, psnr } from '../../lib/eval/metrics';
import { VideoRecord, readResultsFile } from '../../lib/eval/results';
import { H, W, datasetOptions, evalDataset, evaluateWith, fillHoles, testProtocol } from './helpers';

let TMP = '';
let ROOT = '';

before(async () => {
  await useBackend('wasm');
  TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-eval-'));
  ROOT = await evalDataset(TMP);
});
after(() => fs.rmSync(TMP, { recursive: true, force: true }));

const dsOptions = (extra: Partial<EvalDatasetOptions> = {}) => datasetOptions(ROOT, extra);
const evaluate = (out: string, complete: CompleteVideo, extra: Parameters<typeof evaluateWith>[3] = {}) => evaluateWith(ROOT, out, complete, extra);
const greyFill = (calls: string[], failOn?: string) => fillHoles(calls, { failOn });

const read = (f: string) => fs.readFileSync(f, 'utf8');

test('outputs: official metrics file, results.json, per_video.csv, records, strips, truncated result PNGs', async () => {
  const out = path.join(TMP, 'plain');
  const res = await evaluate(out, greyFill([]));
  const names = ['synth_0000', 'synth_0001', 'synth_0002'];
  assert.deepEqual(res.per_video.map((r) => r.video), names);
  assert.ok(res.complete);
  assert.deepEqual(res.notes, ['VFID skipped: test']);
  const lines = read(path.join(out, 'davis_metrics.txt')).split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[0], /^\[  1\/3\] Name: synth_0000 {16}\| PSNR\/SSIM: \d+\.\d{4}\/\d\.\d{4} {21}\| Avg PSNR\/SSIM: \d+\.\d{4}\/\d\.\d{4} \| Time: nan$/);
  assert.match(lines[3], /^Finish evaluation\.\.\. Average Frame PSNR\/SSIM\/VFID: \d+\.\d{2}\/\d\.\d{4}\/nan \| Time: nan$/);
  const csv = read(path.join(out, 'per_video.csv')).trim().split('\n');
  assert.equal(csv[0], 'video,index,frames,height,width,mask_area,psnr,ssim,ewarp,seconds_per_frame');
  assert.equal(csv.length, 4);
  assert.deepEqual(readResultsFile(out).summary, res.summary);
  // The saved frames are the truncated results; PSNR was measured on the float ones.
  const ds = EvalDataset.open(dsOptions());
  const v = await ds.load(1);
  const rec = JSON.parse(read(path.join(out, 'per_video', 'synth_0001.json'))) as VideoRecord;
  const n = H * W * 3;
  for (let t = 0; t < v.T; t++) {
    const img = await readRgb(path.join(out, 'synth_0001', `0000${t}.png`));
    const float = Float32Array.from(v.framesU8.subarray(t * n, (t + 1) * n));
    for (let p = 0; p < H * W; p++) {
      const hole = v.masks[t * H * W + p] === 1;
      for (let k = 0; k < 3; k++) {
        assert.equal(img.data[3 * p + k], hole ? 127 : v.framesU8[t * n + 3 * p + k]);
        if (hole) float[3 * p + k] = 127.5;
      }
    }
    assert.equal(rec.psnr![t], psnr(v.framesU8.subarray(t * n, (t + 1) * n), float));
  }
  assert.equal(rec.frames, 3);
  assert.ok(rec.mask_area > 0 && rec.mask_area < 1);
  assert.ok(Number.isFinite(rec.ewarp) && rec.ewarp! > 0);
  const strip = await readRgb(path.join(out, 'strips', 'synth_0001.jpg'));
  assert.deepEqual([strip.width, strip.height], [3 * W + 8, H]);
});

test('an interrupted evaluation resumes: finished videos are skipped and the outputs equal an uninterrupted run', async () => {
  const whole = path.join(TMP, 'whole');
  await evaluate(whole, greyFill([]));
  const out = path.join(TMP, 'resumed');
  await assert.rejects(evaluate(out, greyFill([], 'synth_0001')), /interrupted at synth_0001/);
  assert.ok(fs.existsSync(path.join(out, 'per_video', 'synth_0000.json')));
  assert.ok(!fs.existsSync(path.join(out, 'per_video', 'synth_0001.json')));
  assert.equal(readResultsFile(out).complete, false);
  assert.equal(read(path.join(out, 'davis_metrics.txt')).split('\n').filter(Boolean).length, 1);
  const calls: string[] = [];
  const res = await evaluate(out, greyFill(calls));
  assert.deepEqual(calls, ['synth_0001', 'synth_0002']);
  assert.ok(res.complete);
  for (const f of ['davis_metrics.txt', 'per_video.csv', 'per_video/synth_0002.json']) assert.equal(read(path.join(out, f)), read(path.join(whole, f)), f);
  // A finished video whose saved frames are incomplete is evaluated again.
  fs.rmSync(path.join(out, 'synth_0000', '00002.png'));
  const again: string[] = [];
  await evaluate(out, greyFill(again));
  assert.deepEqual(again, ['synth_0000']);
  // Other settings in the same folder are refused (naming the file and the difference) unless fresh.
  await assert.rejects(evaluate(out, greyFill([]), { protocol: { neighbor_length: 20 } }), (e: Error) =>
    e.message.includes(path.join(out, 'results.json')) && e.message.includes('neighbor_length 10 → 20') && !e.message.includes('\n'));
  const fresh: string[] = [];
  await evaluate(out, greyFill(fresh), { fresh: true, protocol: { neighbor_length: 20 } });
  assert.equal(fresh.length, 3);
});

test('object removal: no ground truth, so time only and no metrics file (as the official script)', async () => {
  const out = path.join(TMP, 'removal');
  const res = await evaluate(out, greyFill([]), { protocol: { task: 'object_removal' } });
  assert.ok(!fs.existsSync(path.join(out, 'davis_metrics.txt')));
  assert.deepEqual(Object.keys(res.per_video[0]), ['video', 'index', 'frames', 'height', 'width', 'mask_area', 'seconds_per_frame']);
  assert.equal(res.summary.psnr, null);
  assert.ok(fs.existsSync(path.join(out, 'synth_0002', '00002.png')));
});

test('scoring frames from a folder checks their count and size', async () => {
  const ds = EvalDataset.open(dsOptions());
  const v = await ds.load(0);
  const dir = path.join(TMP, 'frames_from');
  fs.mkdirSync(path.join(dir, v.name), { recursive: true });
  const png = (w: number) => encodePng({ width: w, height: H, channels: 3, data: new Uint8Array(w * H * 3) });
  for (const f of ['00000.png', '00001.png']) fs.writeFileSync(path.join(dir, v.name, f), await png(W));
  await assert.rejects(framesFromFolder(dir)(v, null), new RegExp(`${path.join(dir, v.name)}: 2 result frames for a 3-frame video`));
  fs.writeFileSync(path.join(dir, v.name, '00002.png'), await png(W + 8));
  await assert.rejects(framesFromFolder(dir)(v, null), new RegExp(`00002\\.png: ${W + 8}x${H}, the evaluation runs at ${W}x${H}`));
});

test('dataset errors are one line naming the path', () => {
  const one = (f: () => unknown, re: RegExp) => assert.throws(f, (e: Error) => re.test(e.message) && !e.message.includes('\n'), String(re));
  const masks = path.join(ROOT, 'test_masks');
  one(() => EvalDataset.open(dsOptions({ videos: ['synth_0009'] })), new RegExp(`${path.join(masks, 'synth_0009')}: mask folder not found`));
  one(() => EvalDataset.open(dsOptions({ videos: ['../flows'] })), /"\.\.\/flows" is not a plain name/);
  one(() => EvalDataset.open(dsOptions({ maskRoot: path.join(TMP, 'nope') })), /nope: mask root \(--mask_root\) not found/);
  one(() => EvalDataset.open(dsOptions({ flowRoot: null })), /--load_flow needs --flow_root/);
  // A video whose frame and mask counts differ.
  const bad = path.join(TMP, 'bad_masks');
  fs.cpSync(masks, bad, { recursive: true });
  fs.rmSync(path.join(bad, 'synth_0001', '00002.png'));
  one(() => EvalDataset.open(dsOptions({ maskRoot: bad })), new RegExp(`${path.join(bad, 'synth_0001')}: 2 masks for the 3 frames of .*synth_0001`));
  const ds = EvalDataset.open(dsOptions({ videos: ['synth_0002', 'synth_0000'] }));
  assert.deepEqual(ds.videoNames, ['synth_0000', 'synth_0002']);
});

test('flow-completion evaluation: EPE of the completed flows against the input flows, cvbase PNGs, official file', async () => {
  const net = new RecurrentFlowCompleteNet();
  applyDetInit(net);
  const ds = EvalDataset.open(dsOptions({ videos: ['synth_0000', 'synth_0001'] }));
  const out = path.join(TMP, 'flowcomp');
  try {
    const res = await evaluateFlowCompletion({
      out, protocol: testProtocol(ds, { model: 'flowcomp', videos: [...ds.videoNames] }), dataset: ds, weights: {}, model: net,
      flows: { kind: 'loaded' }, saveResults: true, log: () => {},
    });
    const v = await ds.load(1);
    const shape: [number, number, number, number, number] = [1, 2, H, W, 2];
    const [pf, pb] = completeFlows(net, [tf.tensor5d(v.flows!.forward, shape), tf.tensor5d(v.flows!.backward, shape)], tf.tensor5d(v.masks, [1, 3, H, W, 1]));
    const f = pf.dataSync() as Float32Array;
    const b = pb.dataSync() as Float32Array;
    tf.dispose([pf, pb]);
    const row = res.per_video[1];
    assert.equal(row.epe_forward, epe(f, v.flows!.forward));
    assert.equal(row.epe_backward, epe(b, v.flows!.backward));
    assert.ok((row.epe as number) > 0);
    const png = await readRgb(path.join(out, 'synth_0001', 'backward_png', '00001.png'));
    assert.deepEqual(png.data, flowToColor({ width: W, height: H, data: b.subarray(H * W * 2) }, { style: 'cvbase' }).data);
    const text = read(path.join(out, 'davis_metrics.txt'));
    assert.match(text, /^\[  1\/2\] Name: \['synth_0000'\] {12}\| EPE: \d\.\d{4} \| Time: \d+\.\d{4}\n\[  2\/2\] .*\nFinish evaluation\.\.\. Average Frame EPE: \d\.\d{4} \| \| Time: \d+\.\d{4}\n$/);
    assert.equal(res.summary.epe, ((res.per_video[0].epe as number) + (row.epe as number)) / 2);
    // Without holes the completion returns the input flows: EPE is exactly 0.
    const empty = path.join(TMP, 'empty_masks');
    fs.cpSync(path.join(ROOT, 'test_masks'), empty, { recursive: true });
    const blank = await encodePng({ width: W, height: H, channels: 1, data: new Uint8Array(W * H) });
    for (const fr of ['00000.png', '00001.png', '00002.png']) fs.writeFileSync(path.join(empty, 'synth_0000', fr), blank);
    const ds0 = EvalDataset.open(dsOptions({ maskRoot: empty, videos: ['synth_0000'] }));
    const res0 = await evaluateFlowCompletion({
      out: path.join(TMP, 'flowcomp0'), protocol: testProtocol(ds0, { model: 'flowcomp', mask_root: empty }), dataset: ds0, weights: {}, model: net,
      flows: { kind: 'loaded' }, log: () => {},
    });
    assert.equal(res0.summary.epe, 0);
  } finally {
    net.dispose();
  }
});
