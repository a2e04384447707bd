/**
 * The official release and training files: fine-tuning (configs/finetune_propainter.json) starts
 * from a det-init ProPainter.pth written in the official format with exactly its weights; an
 * official training checkpoint set (gen_/dis_/opt_NNNNNN.pth with torch.optim.Adam states under
 * the official keys, latest.ckpt) resumes at its iteration with its weights and optimizer moments
 * (converted from the PyTorch layout) and trains on.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { applyDetInit } from '../../lib/init/apply';
import { writePth } from '../../lib/io/pth';
import { PyDict } from '../../lib/io/pickle';
import type { HostTensor, StateDict } from '../../lib/io/host-tensor';
import type { Module } from '../../lib/nn/module';
import { InpaintGenerator } from '../../lib/models/propainter';
import { RecurrentFlowCompleteNet } from '../../lib/models/flow-completion';
import { Discriminator } from '../../lib/models/discriminator';
import { RAFT } from '../../lib/models/raft';
import { writeSynthDataset } from '../../lib/data/prepare';
import { Run } from '../../lib/train/loop';
import { learningRate, scheduleFromConfig } from '../../lib/train/schedule';
import { flowcompConfig, propainterConfig, synthRoot, tmpDir } from './helpers';

const ROOT = path.resolve(__dirname, '..', '..');
const work = tmpDir('official');
process.chdir(work); // the fine-tuning config's paths (weights/, datasets/) are relative

/** Det-init weights of `m` (then disposed), as the state dict the official files hold. */
function detInit(m: Module): StateDict {
  applyDetInit(m);
  const sd = m.stateDict();
  m.dispose();
  return sd;
}

function sameTensors(a: StateDict, b: StateDict, what: string): void {
  assert.deepEqual([...a.keys()], [...b.keys()], `${what}: keys`);
  for (const [k, t] of a) {
    const u = b.get(k)!;
    assert.deepEqual(u.shape, t.shape, `${what} ${k}`);
    assert.ok(Buffer.from((u.data as Float32Array).buffer, (u.data as Float32Array).byteOffset, u.data.byteLength).equals(
      Buffer.from((t.data as Float32Array).buffer, (t.data as Float32Array).byteOffset, t.data.byteLength),
    ), `${what} ${k}: values differ`);
  }
}

/**
 * torch.optim.Adam(params, betas=(0, 0.99)).state_dict() after `step` steps, in torch's layout:
 * {state: {i: {step, exp_avg, exp_avg_sq}}, param_groups: [{…, params: [0 … n−1]}]}, with
 * exp_avg = 0.001·w and exp_avg_sq = exp_avg² for the parameters (state-dict order) of `sd`.
 */
function torchAdam(sd: StateDict, paramNames: string[], step: number): PyDict {
  const state = new PyDict();
  paramNames.forEach((name, i) => {
    const w = sd.get(name)!.data as Float32Array;
    const m = new Float32Array(w.length);
    const v = new Float32Array(w.length);
    for (let j = 0; j < w.length; j++) {
      m[j] = 0.001 * w[j];
      v[j] = m[j] * m[j];
    }
    const shape = sd.get(name)!.shape;
    const s = new PyDict();
    s.set('step', { dtype: 'float32', shape: [], data: Float32Array.of(step) } as HostTensor);
    s.set('exp_avg', { dtype: 'float32', shape, data: m } as HostTensor);
    s.set('exp_avg_sq', { dtype: 'float32', shape, data: v } as HostTensor);
    state.set(i, s);
  });
  const group = new PyDict();
  for (const [k, v] of [['lr', 1e-4], ['betas', Object.freeze([0, 0.99])], ['eps', 1e-8], ['weight_decay', 0], ['amsgrad', false]] as const) group.set(k, v);
  group.set('params', paramNames.map((_, i) => i));
  const out = new PyDict();
  out.set('state', state);
  out.set('param_groups', [group]);
  return out;
}

/** Checks our Adam state (TF layout) against torchAdam's rule: exp_avg = 0.001·w elementwise, exp_avg_sq = exp_avg². */
function checkMoments(net: Module, opt: StateDict, step: number, what: string): void {
  assert.equal(Number((opt.get('step')!.data as BigInt64Array)[0]), step, `${what}: step`);
  for (const [name, v] of net.namedParameters()) {
    const w = v.dataSync();
    const m = opt.get(`exp_avg.${name}`)!.data as Float32Array;
    const s = opt.get(`exp_avg_sq.${name}`)!.data as Float32Array;
    for (let i = 0; i < w.length; i++) {
      const want = Math.fround(0.001 * w[i]);
      if (m[i] !== want || s[i] !== Math.fround(want * want)) assert.fail(`${what} ${name}[${i}]: moments ${m[i]}, ${s[i]} for weight ${w[i]}`);
    }
  }
}

let generator: StateDict;

test('fine-tuning (configs/finetune_propainter.json) starts from ProPainter.pth with exactly its weights; the flow nets are frozen', async () => {
  await useBackend('wasm');
  fs.mkdirSync('weights');
  generator = detInit(new InpaintGenerator());
  writePth('weights/ProPainter.pth', generator);
  writePth('weights/recurrent_flow_completion.pth', detInit(new RecurrentFlowCompleteNet()));
  writePth('weights/raft-things.pth', detInit(new RAFT()));
  // The user's folder of videos and masks (frames at 432×240; masks in masks/).
  await writeSynthDataset({ out: 'datasets/my-videos', videos: 2, frames: 17, width: 432, height: 240, seed: 1, format: 'jpg' });
  fs.renameSync('datasets/my-videos/test_masks', 'datasets/my-videos/masks');
  const lines: string[] = [];
  const run = await Run.create(path.join(ROOT, 'configs', 'finetune_propainter.json'), { console: false, log: (l) => lines.push(l) });
  try {
    sameTensors(generator, run.system.net.stateDict(), 'generator');
    for (const re of [/^generator: starts from weights\/ProPainter\.pth$/, /^flow completion \(frozen\): weights from weights\/recurrent_flow_completion\.pth$/, /^RAFT \(frozen\): weights from weights\/raft-things\.pth$/]) {
      assert.ok(lines.some((l) => re.test(l)), `${re}\n${lines.join('\n')}`);
    }
    const sys = run.system as unknown as { flowNet: Module; raft: Module };
    for (const m of [sys.flowNet, sys.raft]) assert.ok(m.parameters().every((v) => !v.trainable) && !m.training, 'frozen, eval mode');
  } finally {
    await run.dispose();
  }
});

test('--resume of an official set (gen_/dis_/opt_000005.pth, latest.ckpt) continues at iteration 5 with its weights and Adam moments', async () => {
  await useBackend('wasm');
  const dir = path.join(work, 'experiments_model', 'propainter_train_propainter');
  fs.mkdirSync(dir, { recursive: true });
  const gen = new InpaintGenerator();
  const genParams = gen.namedParameters().map(([n]) => n);
  gen.dispose();
  const dis = new Discriminator();
  const disParams = dis.namedParameters().map(([n]) => n);
  const disSd = detInit(dis);
  writePth(path.join(dir, 'gen_000005.pth'), generator);
  writePth(path.join(dir, 'dis_000005.pth'), disSd);
  const opt = new PyDict();
  opt.set('epoch', 3);
  opt.set('iteration', 5);
  opt.set('optimG', torchAdam(generator, genParams, 5));
  opt.set('optimD', torchAdam(disSd, disParams, 5));
  writePth(path.join(dir, 'opt_000005.pth'), opt as Map<string, unknown>);
  fs.writeFileSync(path.join(dir, 'latest.ckpt'), '000005\n');

  const root = await synthRoot(64);
  const cfg = propainterConfig(root, path.join(work, 'resumed'), 64);
  Object.assign(cfg.train as Record<string, unknown>, { beta1: 0, beta2: 0.99 });
  await assert.rejects(Run.create(null, { resume: dir, console: false, log: () => undefined }), /an official checkpoint holds no config; give the training config too/);
  const before = tf.memory().numTensors;
  const lines: string[] = [];
  const run = await Run.create(cfg, { resume: dir, console: false, log: (l) => lines.push(l) });
  try {
    assert.equal(run.iteration, 5);
    // The data continue where an uninterrupted run would be: 5 batches of 1 from 3 videos.
    assert.deepEqual(run.data.position(), { epoch: 1, batch: 2 });
    assert.ok(lines.some((l) => l.startsWith(`resumed from ${path.join(dir, 'opt_000005.pth')} at iteration 5`)), lines.join('\n'));
    const s = run.system.state();
    sameTensors(generator, s.gen, 'generator');
    sameTensors(disSd, s.dis!, 'discriminator');
    const sys = run.system as unknown as { net: Module; dis: Module };
    checkMoments(sys.net, s.optimizers.G, 5, 'optimG');
    checkMoments(sys.dis, s.optimizers.D, 5, 'optimD');
    const [rec] = await run.step(1);
    assert.equal(rec.iteration, 6);
    assert.equal(rec.lr, learningRate(scheduleFromConfig(run.config), 5));
    assert.ok(Number.isFinite(rec.scalars['loss/gen_loss']) && Number.isFinite(rec.scalars['loss/dis_loss']));
    const saved = await run.save();
    assert.equal(path.basename(saved), 'state_000006.json');
  } finally {
    await run.dispose();
  }
  assert.equal(tf.memory().numTensors, before, 'the run leaves no tensor behind');
});

test('an official ProPainter set resumed with a flow-completion config: named as a ProPainter checkpoint, not a list of missing keys', async () => {
  await useBackend('wasm');
  const dir = path.join(work, 'experiments_model', 'propainter_train_propainter'); // the set of the test above
  const cfg = flowcompConfig(await synthRoot(64), path.join(work, 'flow-resumed'), 64);
  await assert.rejects(
    Run.create(cfg, { resume: dir, console: false, log: () => undefined }),
    new RegExp(`^Error: ${path.join(dir, 'opt_000005.pth')}: this checkpoint is a ProPainter model \\(propainter\\), the config trains flow-completion \\(recurrent_flow_completion\\)`),
  );
});
