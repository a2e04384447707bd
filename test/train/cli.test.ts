/**
 * `propainter train`: the quick configs run (shortened with --set) and write checkpoints,
 * TensorBoard events (scalars and images) and the JSONL log; the quick ProPainter run picks up
 * the quick flow-completion run's weights; SIGINT stops with a final checkpoint and exit code 130;
 * a config error names the key path and exits non-zero.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readEvents } from '../../lib/train/tensorboard';
import { useBackend } from '../../lib/runtime';
import { LPIPS } from '../../lib/models/lpips';
import { VGGFeatureExtractor } from '../../lib/models/vgg';
import { applyDetInit } from '../../lib/init/apply';
import { writeSafetensors } from '../../lib/io/safetensors';
import { tmpDir } from './helpers';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'propainter.js');

function train(args: string[], timeoutMs = 900_000) {
  const r = spawnSync(process.execPath, [BIN, 'train', ...args], { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, PROPAINTER_BACKEND: 'wasm' } });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

function jsonl(file: string): Array<Record<string, unknown>> {
  return fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

function tbEvents(dir: string) {
  const files = fs.readdirSync(dir).filter((f) => f.startsWith('events.out.tfevents.'));
  assert.equal(files.length, 1, `one event file in ${dir}`);
  return readEvents(path.join(dir, files[0]));
}

const work = tmpDir('cli');
const data = path.join(work, 'synth64');
const fcDir = path.join(work, 'quick_flowcomp');
const dataSets = [`datasets.train.root=${data}`, `datasets.val.root=${data}`];

test('quick_flowcomp.json runs: checkpoints, TensorBoard scalars + images, JSONL, validation', () => {
  const sets = [...dataSets, `save_dir=${fcDir}`, 'train.total_iter=2', 'train.save_freq=2', 'train.val_freq=2', 'train.image_freq=1', 'train.log_freq=1'];
  const r = train(['-c', 'configs/quick_flowcomp.json', ...sets.flatMap((s) => ['--set', s])]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /datasets\.train\.synth: writing 4 synthetic video/);
  assert.match(r.out, /\[2\/2\] total \d/);
  for (const f of ['gen_000002.safetensors', 'opt_000002.safetensors', 'state_000002.json', 'latest.json', 'config.json']) assert.ok(fs.existsSync(path.join(fcDir, f)), f);
  const log = jsonl(path.join(fcDir, 'log.jsonl'));
  const steps = log.filter((e) => typeof e['loss/flow_loss'] === 'number');
  assert.deepEqual(steps.map((e) => e.iteration), [1, 2]);
  for (const k of ['loss/total', 'loss/warp_loss', 'loss/edge_loss', 'lr', 'it_per_s']) assert.equal(typeof steps[0][k], 'number', k);
  assert.equal(log.filter((e) => e.event === 'validation').length, 1);
  assert.equal(typeof log.find((e) => e.event === 'validation')!['val/epe'], 'number');
  assert.deepEqual(log.at(-1)!.event, 'end');
  const ev = tbEvents(path.join(fcDir, 'tb'));
  const scalars = ev.flatMap((e) => e.scalars.map((s) => `${e.step}:${s.tag}`));
  for (const s of ['1:loss/flow_loss', '2:loss/edge_loss', '2:train/lr', '2:val/epe']) assert.ok(scalars.includes(s), s);
  const images = ev.flatMap((e) => e.images.map((i) => `${e.step}:${i.tag}`));
  assert.ok(images.includes('1:img/flow-f:gt-pred') && images.includes('2:img/edge-f:gt-pred'), images.join(' '));
  assert.ok(ev.flatMap((e) => e.images).every((i) => i.png[1] === 0x50 && i.width > 0));
});

test('quick_propainter.json runs on the quick flow-completion weights (+ perceptual/style, LPIPS validation)', async () => {
  // Untrained (det-init) LPIPS weights: only the validation path is exercised, not the metric's value.
  await useBackend('cpu');
  const lp = new LPIPS({ net: 'alex' });
  applyDetInit(lp);
  const lpipsFile = path.join(work, 'lpips_alex_detinit.safetensors');
  writeSafetensors(lpipsFile, lp.stateDict());
  lp.dispose();
  // Untrained VGG19 for the perceptual and style terms (exercises loss.vgg loading and both terms).
  const vgg = new VGGFeatureExtractor(['conv3_4', 'conv4_4', 'conv5_4']);
  applyDetInit(vgg);
  const vggFile = path.join(work, 'vgg19_detinit.safetensors');
  writeSafetensors(vggFile, vgg.stateDict());
  vgg.dispose();
  const dir = path.join(work, 'quick_propainter');
  // 2 local + 1 reference frame keep the step (with VGG19 on the tape) within the 4 GiB wasm heap.
  const sets = [...dataSets, `save_dir=${dir}`, `networks.flow_completion=${fcDir}`, `datasets.val.lpips=${lpipsFile}`,
    'datasets.train.num_local_frames=2', 'loss.perceptual_weight=0.1', 'loss.style_weight=10', `loss.vgg=${vggFile}`, 'train.total_iter=1', 'train.save_freq=1', 'train.val_freq=1', 'train.image_freq=1', 'train.log_freq=1'];
  const r = train(['-c', 'configs/quick_propainter.json', ...sets.flatMap((s) => ['--set', s])]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`flow completion \\(frozen\\): weights from ${fcDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/gen_000002\\.safetensors`));
  for (const f of ['gen_000001.safetensors', 'dis_000001.safetensors', 'opt_000001.safetensors', 'latest.json']) assert.ok(fs.existsSync(path.join(dir, f)), f);
  const log = jsonl(path.join(dir, 'log.jsonl'));
  const step = log.find((e) => e.iteration === 1 && typeof e['loss/hole_loss'] === 'number')!;
  for (const k of ['loss/valid_loss', 'loss/gan_loss', 'loss/perc_loss', 'loss/style_loss', 'loss/gen_loss', 'loss/dis_loss', 'loss/dis_vid_real', 'loss/dis_vid_fake']) {
    assert.equal(typeof step[k], 'number', k);
  }
  const val = log.find((e) => e.event === 'validation')!;
  assert.ok((val['val/psnr'] as number) > 0 && (val['val/ssim'] as number) <= 1, JSON.stringify(val));
  assert.ok(Number.isFinite(val['val/lpips'] as number), JSON.stringify(val));
  const ev = tbEvents(path.join(dir, 'tb'));
  assert.ok(ev.some((e) => e.images.some((i) => i.tag === 'img/img:inp-gt-res-0')));
  assert.ok(ev.some((e) => e.scalars.some((s) => s.tag === 'val/psnr')));
});

test('SIGINT: final checkpoint at the iteration reached (logged), exit code 130', async () => {
  const dir = path.join(work, 'interrupted');
  const sets = [...dataSets, `save_dir=${dir}`, 'train.total_iter=1000', 'train.save_freq=1000', 'train.val_freq=0', 'train.image_freq=0'];
  const child = spawn(process.execPath, [BIN, 'train', '-c', 'configs/quick_flowcomp.json', ...sets.flatMap((s) => ['--set', s])], {
    cwd: ROOT, env: { ...process.env, PROPAINTER_BACKEND: 'wasm' },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const logFile = path.join(dir, 'log.jsonl');
  // Interrupt once the second iteration is logged.
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (fs.existsSync(logFile) && jsonl(logFile).some((e) => e.iteration === 2)) {
        clearInterval(t);
        child.kill('SIGINT');
        resolve();
      }
      if (child.exitCode !== null) {
        clearInterval(t);
        reject(new Error(`exited early: ${out}`));
      }
    }, 200);
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 130, out);
  assert.match(out, /SIGINT: stopping after the current iteration/);
  const log = jsonl(logFile);
  const end = log.at(-1)!;
  assert.equal(end.event, 'end');
  assert.equal(end.reason, 'interrupted');
  assert.deepEqual(log.at(-2), { event: 'checkpoint', iteration: end.iteration, state: path.join(dir, `state_${String(end.iteration).padStart(6, '0')}.json`) });
  const latest = JSON.parse(fs.readFileSync(path.join(dir, 'latest.json'), 'utf8'));
  assert.equal(latest.iteration, end.iteration);
  assert.ok((end.iteration as number) >= 2 && (end.iteration as number) < 1000);
});

test('a config error names the key path; exit code non-zero', () => {
  const a = train(['-c', 'configs/quick_flowcomp.json', '--set', 'train.lrr=1']);
  assert.notEqual(a.code, 0);
  assert.match(a.out, /configs\/quick_flowcomp\.json: invalid config:\s+train\.lrr: unknown key/);
  const b = train(['-c', 'configs/quick_propainter.json', '--set', 'loss.gan_type=wgan', '--set', 'datasets.train.width=60']);
  assert.notEqual(b.code, 0);
  assert.match(b.out, /loss\.gan_type: must be one of hinge, nsgan, lsgan/);
  // Two devices: the total batch must split over them, checked before any process starts.
  const c = train(['-c', 'configs/quick_flowcomp.json', '--set', 'gpu_ids=[0,1]', '--set', 'train.batch_size=3']);
  assert.equal(c.code, 1);
  assert.match(c.out, /^error: train\.batch_size: the total batch 3 does not split evenly over 2 processes; give a multiple of 2/m);
});
