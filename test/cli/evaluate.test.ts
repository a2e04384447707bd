/**
 * `propainter evaluate` as users run it: --model flowcomp end to end (with det-init weights in a
 * weights folder), a rerun that skips everything, the ProPainter completion on the bundled clip
 * (det-init weights, its first frames at a small size) writing every output, and the one-line
 * errors (exit code 1) for a missing mask folder, mismatched frame / mask counts and missing weights.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { useBackend } from '../../lib/runtime';
import { writeSynthDataset } from '../../lib/data/prepare';
import { RecurrentFlowCompleteNet } from '../../lib/models/flow-completion';
import { applyDetInit } from '../../lib/init/apply';
import { saveCheckpoint } from '../../lib/io/checkpoint';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'propainter.js');
let TMP = '';
let DATA = '';
let WEIGHTS = '';

before(async () => {
  await useBackend('cpu');
  TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-cli-eval-'));
  DATA = path.join(TMP, 'syn');
  await writeSynthDataset({ out: DATA, videos: 2, frames: 3, width: 80, height: 72, seed: 2, format: 'png', maxSpeed: 2 });
  WEIGHTS = path.join(TMP, 'weights');
  const net = new RecurrentFlowCompleteNet();
  applyDetInit(net);
  saveCheckpoint(path.join(WEIGHTS, 'recurrent_flow_completion.pth'), net.stateDict());
  net.dispose();
});
after(() => fs.rmSync(TMP, { recursive: true, force: true }));

function evaluate(args: string[]) {
  const base = ['--dataset', 'davis', '--video_root', path.join(DATA, 'JPEGImages_80_72'), '--mask_root', path.join(DATA, 'test_masks'), '--width', '80', '--height', '72'];
  const r = spawnSync(process.execPath, [BIN, 'evaluate', ...base, ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, PROPAINTER_BACKEND: 'wasm' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('evaluate --model flowcomp writes the official file and results, and a rerun skips the finished videos', () => {
  const out = path.join(TMP, 'fc');
  const args = ['--model', 'flowcomp', '--flow_root', path.join(DATA, 'flows'), '--load_flow', '1', '--weights', WEIGHTS, '--save_results', '-o', out];
  const r = evaluate(args);
  assert.equal(r.code, 0, r.err);
  // --nproc auto: the two videos may finish in either order; progress lines count finished videos.
  assert.match(r.out, /\[  1\/2\] Name: \['synth_000[01]'\]\s+\| EPE: \d+\.\d{4} \| Time: \d+\.\d{4}/);
  assert.match(r.out, /\[  2\/2\] Name: \['synth_000[01]'\]\s+\| EPE: \d+\.\d{4} \| Time: \d+\.\d{4}/);
  assert.match(r.out, /EPE \d+\.\d{4} over 2 videos \(6 frames\)/);
  for (const f of ['davis_metrics.txt', 'results.json', 'per_video.csv', 'per_video/synth_0000.json', 'strips/synth_0001.jpg', 'synth_0001/forward_png/00001.png']) {
    assert.ok(fs.existsSync(path.join(out, f)), f);
  }
  const res = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
  assert.equal(res.weights.flowComplete.path, path.join(WEIGHTS, 'recurrent_flow_completion.pth'));
  assert.match(res.weights.flowComplete.sha256, /^[0-9a-f]{64}$/);
  const again = evaluate(args);
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /2 of 2 videos finished earlier, skipped/);
});

test('evaluate on the bundled clip (det-init weights, 6 frames at 216x128) writes every output; a rerun skips it', () => {
  const clip = path.resolve(__dirname, '..', '..', 'data', 'davis-sample');
  const out = path.join(TMP, 'clip');
  const args = [
    '--dataset', 'davis', '--video_root', path.join(clip, 'JPEGImages_432_240'), '--mask_root', path.join(clip, 'test_masks'), '--det_init',
    '--max_frames', '6', '--width', '216', '--height', '128', '--raft_iter', '2', '--weights', path.join(TMP, 'empty'), '--save_results', '-o', out,
  ];
  fs.mkdirSync(path.join(TMP, 'empty'), { recursive: true });
  const run = () => spawnSync(process.execPath, [BIN, 'evaluate', ...args], { encoding: 'utf8', timeout: 600_000, env: { ...process.env, PROPAINTER_BACKEND: 'wasm' } });
  const r = run();
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /det-init \(UNTRAINED\) weights for RAFT, flow completion, ProPainter generator/);
  assert.match(r.stdout, /note: VFID skipped: it compares feature statistics across videos and needs at least 2 videos/);
  assert.match(r.stdout, /\[  1\/1\] Name: bmx-trees\s+\| PSNR\/SSIM: \d+\.\d{4}\/\d\.\d{4}\s+\| Avg PSNR\/SSIM: \S+ \| Time: \d+\.\d{4}/);
  assert.match(r.stdout, /PSNR \d+\.\d\d SSIM \d\.\d{4} VFID – E_warp \d+\.\d{3}×10⁻³ LPIPS – over 1 videos \(6 frames\)/);
  for (const f of ['davis_metrics.txt', 'results.json', 'per_video.csv', 'per_video/bmx-trees.json', 'strips/bmx-trees.jpg', 'bmx-trees/00005.png']) {
    assert.ok(fs.existsSync(path.join(out, f)), f);
  }
  const res = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
  assert.equal(res.complete, true);
  assert.deepEqual(Object.keys(res.weights), ['raft', 'flowComplete', 'generator']);
  assert.equal(res.weights.generator.sha256, 'det-init-v1');
  assert.ok(res.per_video[0].seconds_per_frame > 0 && res.per_video[0].ewarp > 0);
  const again = run();
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /1 of 1 videos finished earlier, skipped/);
});

test('bad inputs give one-line errors naming the path, exit code 1', () => {
  const errLine = (r: { code: number | null; err: string }, re: RegExp) => {
    assert.equal(r.code, 1, r.err);
    const lines = r.err.trim().split('\n');
    assert.equal(lines.length, 1, r.err);
    assert.match(lines[0], re);
  };
  const fc = ['--model', 'flowcomp', '--flow_root', path.join(DATA, 'flows'), '--load_flow', '--weights', WEIGHTS, '-o', path.join(TMP, 'x')];
  errLine(evaluate([...fc, '--videos', 'synth_0000,ghost']), new RegExp(`^error: ${path.join(DATA, 'test_masks', 'ghost')}: mask folder not found`));
  const masks = path.join(TMP, 'short_masks');
  fs.cpSync(path.join(DATA, 'test_masks'), masks, { recursive: true });
  fs.rmSync(path.join(masks, 'synth_0000', '00002.png'));
  errLine(evaluate([...fc, '--mask_root', masks]), new RegExp(`^error: ${path.join(masks, 'synth_0000')}: 2 masks for the 3 frames of `));
  errLine(evaluate([...fc, '--fc_model_path', path.join(TMP, 'none.pth')]), new RegExp(`^error: missing weight file ${path.join(TMP, 'none.pth')} \\(the recurrent flow completion weights, recurrent_flow_completion\\.pth from the official ProPainter release\\)`));
  // The ProPainter completion needs the generator too: named with the official file.
  errLine(evaluate(['--weights', WEIGHTS]), new RegExp(`^error: missing weight file ${path.join(WEIGHTS, 'ProPainter.pth')} \\(the ProPainter generator weights, ProPainter\\.pth from the official ProPainter release, or ProPainter\\.safetensors beside it\\)`));
});
