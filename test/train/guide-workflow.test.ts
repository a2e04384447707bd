/**
 * The training guide's two-step workflow, as written: in a folder holding datasets/youtube-vos/
 * (frames in JPEGImages_432_240, flows in flows_432_240, test_masks, train.json — here a synthetic
 * set over the bundled clip's frames with exact flows), `propainter train -c` with the guide's
 * flow-completion block, then with its ProPainter block, which finds the flow-completion network
 * the first run trained in experiments/. Only total_iter, the batch size and the size are
 * overridden (--set): 2 flow-completion iterations and 1 ProPainter iteration (64×64 with the
 * block's 5 + 6 frames and VGG19 perceptual/style terms is ~1 min on wasm; PROPAINTER_SLOW=1: 2).
 * The block's perceptual/style terms find VGG19 at weights/vgg19-dcbb9e9d.pth (det-init here).
 * Without a flow-completion run or weights/recurrent_flow_completion.pth the ProPainter block
 * stops with a one-line error saying which to provide.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { useBackend } from '../../lib/runtime';
import { writeSynthDataset } from '../../lib/data/prepare';
import { writePth } from '../../lib/io/pth';
import { applyDetInit } from '../../lib/init/apply';
import { RecurrentFlowCompleteNet } from '../../lib/models/flow-completion';
import { VGGFeatureExtractor } from '../../lib/models/vgg';
import { resolveConfig } from '../../lib/train/config';
import { flowCompletionWeights } from '../../lib/train/system';
import { hasShared } from '../helpers';
import { tmpDir } from './helpers';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'propainter.js');
const GUIDE = path.join(ROOT, '..', 'shared', 'reference', 'guide-configs');
const skip = !hasShared && 'no ../shared';

function train(cwd: string, config: string, sets: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'train', '-c', path.join(GUIDE, config), ...sets.flatMap((s) => ['--set', s])], {
    cwd, encoding: 'utf8', timeout: 900_000, env: { ...process.env, PROPAINTER_BACKEND: 'wasm' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, out: `${r.stdout}\n${r.stderr}` };
}

const latest = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'latest.json'), 'utf8')).iteration as number;

test('the guide\'s workflow: flow-completion block, then the ProPainter block on the network it trained', { skip, timeout: 900_000 }, async () => {
  const work = tmpDir('guide');
  const yt = path.join(work, 'datasets', 'youtube-vos');
  // 13 frames per video: the ProPainter block's clips are 5 local + 6 reference frames.
  await writeSynthDataset({
    out: yt, videos: 2, frames: 13, width: 432, height: 240, seed: 5, format: 'jpg', maxSpeed: 3,
    source: path.join(ROOT, 'data', 'davis-sample', 'JPEGImages_432_240', 'bmx-trees'),
  });
  fs.renameSync(path.join(yt, 'flows'), path.join(yt, 'flows_432_240'));
  await useBackend('cpu');
  const vgg = new VGGFeatureExtractor(['conv3_4', 'conv4_4', 'conv5_4']);
  applyDetInit(vgg);
  fs.mkdirSync(path.join(work, 'weights'));
  writePth(path.join(work, 'weights', 'vgg19-dcbb9e9d.pth'), vgg.stateDict());
  vgg.dispose();

  // No flow-completion network anywhere yet: the ProPainter block says what to provide, in one line.
  const early = train(work, 'train_propainter.json', ['train.total_iter=1', 'train.batch_size=1', 'datasets.train.size=[64,64]']);
  assert.equal(early.code, 1, early.out);
  const errLines = early.stderr.trim().split('\n');
  assert.equal(errLines.length, 1, early.stderr);
  assert.match(errLines[0], /^error: networks\.flow_completion: not set, and there is no flow-completion run with a checkpoint in experiments\/ and no weights\/recurrent_flow_completion\.pth — .*train flow completion first/);

  const fc = train(work, 'train_flowcomp.json', ['train.total_iter=2', 'datasets.train.batch_size=1', 'datasets.train.size=[64,64]']);
  assert.equal(fc.code, 0, fc.out);
  assert.match(fc.stdout, /loss\.l1_weight: not used by recurrent_flow_completion training/);
  assert.match(fc.stdout, /training FlowCompletion_Train \(recurrent_flow_completion\) on wasm from iteration 0 to 2/);
  const fcDir = path.join(work, 'experiments', 'FlowCompletion_Train');
  assert.equal(latest(fcDir), 2);
  const fcCfg = JSON.parse(fs.readFileSync(path.join(fcDir, 'config.json'), 'utf8'));
  assert.deepEqual([fcCfg.datasets.train.width, fcCfg.datasets.train.height, fcCfg.datasets.train.num_local_frames, fcCfg.train.batch_size], [64, 64, 5, 1]);

  const ppIters = process.env.PROPAINTER_SLOW === '1' ? 2 : 1;
  const pp = train(work, 'train_propainter.json', [`train.total_iter=${ppIters}`, 'train.batch_size=1', 'datasets.train.size=[64,64]']);
  assert.equal(pp.code, 0, pp.out);
  assert.match(pp.stdout, /datasets\.train\.num_ref_frames -1: 6 reference frames/);
  assert.match(pp.stdout, /flow completion \(frozen\): weights from experiments\/FlowCompletion_Train\/gen_000002\.safetensors \(flow-completion run with a checkpoint in experiments\/\)/);
  const ppDir = path.join(work, 'experiments', 'ProPainter_Train');
  assert.equal(latest(ppDir), ppIters);
  assert.match(pp.stdout, /loss: VGG19 conv3_4, conv4_4, conv5_4 from weights\/vgg19-dcbb9e9d\.pth/);
  const ppCfg = JSON.parse(fs.readFileSync(path.join(ppDir, 'config.json'), 'utf8'));
  assert.equal(ppCfg.networks.flow_completion, 'experiments/FlowCompletion_Train', 'the run records which network it froze');
  assert.deepEqual([ppCfg.datasets.train.mask_root, ppCfg.datasets.train.num_ref_frames], ['datasets/youtube-vos/test_masks', 6]);
  const steps = fs.readFileSync(path.join(ppDir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.iteration && e['loss/gen_loss'] !== undefined);
  assert.deepEqual(steps.map((s) => s.iteration), Array.from({ length: ppIters }, (_, i) => i + 1));
  for (const k of ['loss/gen_loss', 'loss/hole_loss', 'loss/valid_loss', 'loss/perc_loss', 'loss/style_loss', 'loss/gan_loss', 'loss/dis_loss']) {
    assert.ok(steps.every((s) => Number.isFinite(s[k])), `${k}: ${JSON.stringify(steps)}`);
  }
});

test('without a run folder, weights/recurrent_flow_completion.pth is the frozen flow-completion network', async () => {
  await useBackend('cpu');
  const work = tmpDir('guide-weights');
  const cwd = process.cwd();
  process.chdir(work);
  try {
    const cfg = resolveConfig({ model: 'propainter', datasets: { train: { root: 'datasets/youtube-vos' } } });
    assert.throws(() => flowCompletionWeights(cfg), /networks\.flow_completion: not set/);
    fs.mkdirSync('weights');
    const net = new RecurrentFlowCompleteNet();
    applyDetInit(net);
    writePth('weights/recurrent_flow_completion.pth', net.stateDict());
    net.dispose();
    const w = flowCompletionWeights(cfg);
    assert.deepEqual([w.file, w.record, w.label], ['weights/recurrent_flow_completion.pth', 'weights/recurrent_flow_completion.pth', 'weights/recurrent_flow_completion.pth']);
  } finally {
    process.chdir(cwd);
  }
});
