import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { crc32c, readEvents, SummaryWriter } from '../../lib/train/tensorboard';
import { learningRate } from '../../lib/train/schedule';
import { Adam, clipGradNorm } from '../../lib/train/optim';
import { loadConfig, resolveConfig } from '../../lib/train/config';
import { ConfigError } from '../../lib/train/schema';

test('crc32c known value', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
});

test('event files round-trip scalars, images and text; corruption is detected', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-'));
  const w = new SummaryWriter(dir);
  for (let s = 0; s < 5; s++) w.scalar('loss/hole_loss', 1 / (s + 1), s);
  const png = Uint8Array.from([137, 80, 78, 71, 1, 2, 3]);
  w.image('sample/pred', png, 32, 64, 4);
  w.text('config', '{"lr": 0.0001}', 0);
  w.close();
  const ev = readEvents(w.file);
  assert.equal(ev[0].fileVersion, 'brain.Event:2');
  const scalars = ev.flatMap((e) => e.scalars.map((s) => [e.step, s.tag, s.value]));
  assert.equal(scalars.length, 5);
  assert.deepEqual(scalars[2], [2, 'loss/hole_loss', Math.fround(1 / 3)]);
  const img = ev.flatMap((e) => e.images)[0];
  assert.deepEqual([img.tag, img.height, img.width, [...img.png]], ['sample/pred', 32, 64, [...png]]);
  assert.equal(ev.flatMap((e) => e.texts)[0].text, '{"lr": 0.0001}');
  const bytes = fs.readFileSync(w.file);
  bytes[bytes.length - 10] ^= 0xff;
  fs.writeFileSync(w.file, bytes);
  assert.throws(() => readEvents(w.file), /bad data CRC/);
});

test('MultiStepLR, cosine restarts and warmup as functions of the step', () => {
  const ms = { lr: 1e-4, scheme: 'MultiStepLR' as const, steps: [3, 5], gamma: 0.1 };
  assert.deepEqual([0, 2, 3, 4, 5, 9].map((s) => +learningRate(ms, s).toExponential(6)), [1e-4, 1e-4, 1e-5, 1e-5, 1e-6, 1e-6]);
  const cos = { lr: 1, scheme: 'CosineAnnealingRestartLR' as const, periods: [4, 4], etaMin: 0 };
  assert.ok(Math.abs(learningRate(cos, 2) - 0.5) < 1e-12);
  assert.equal(learningRate(cos, 4), 1);
  const wu = { lr: 1, scheme: 'constant' as const, warmup: 4, warmupLr: 0.2 };
  assert.deepEqual([0, 2, 4].map((s) => +learningRate(wu, s).toFixed(12)), [0.2, 0.6, 1]);
});

test('Adam equals torch.optim.Adam on a hand-computed step and round-trips its state', async () => {
  await useBackend('cpu');
  const p = tf.variable(tf.tensor1d([1, -2]));
  const opt = new Adam([['w', p]], { beta1: 0.9, beta2: 0.99, weightDecay: 0.1 });
  opt.apply(new Map([['w', tf.tensor1d([0.5, 0.25])]]), 0.01);
  // torch: g' = g + wd·p; first step moves by lr·sign-ish: m̂ = g', v̂ = g'², update = lr·g'/(|g'|+eps)
  const g = [0.5 + 0.1, 0.25 - 0.2];
  const expect = [1 - 0.01 * g[0] / (Math.abs(g[0]) + 1e-8), -2 - 0.01 * g[1] / (Math.abs(g[1]) + 1e-8)];
  const got = p.dataSync();
  assert.ok(Math.abs(got[0] - expect[0]) < 1e-6 && Math.abs(got[1] - expect[1]) < 1e-6, `${got} vs ${expect}`);
  const state = opt.stateDict();
  const q = tf.variable(tf.tensor1d([0, 0]));
  const opt2 = new Adam([['w', q]], { beta1: 0.9, beta2: 0.99 });
  opt2.loadStateDict(state);
  assert.equal(opt2.step, 1);
  assert.deepEqual(Array.from(opt2.stateDict().get('exp_avg.w')!.data as Float32Array), Array.from(state.get('exp_avg.w')!.data as Float32Array));
});

test('gradient clipping by global norm', async () => {
  await useBackend('cpu');
  const grads = new Map([['a', tf.tensor1d([3, 0])], ['b', tf.tensor1d([4])]]);
  const { grads: c, norm } = clipGradNorm(grads, 1);
  assert.equal(norm, 5);
  const a = c.get('a')!.dataSync();
  assert.ok(Math.abs(a[0] - 3 / (5 + 1e-6)) < 1e-6);
});

test('configs: documented and official formats validate; errors name the key path', () => {
  const cfg = loadConfig(path.join(__dirname, '..', '..', 'configs', 'train_propainter.json'));
  assert.equal(cfg.model, 'propainter');
  assert.equal(cfg.train.total_iter, 700000);
  const official = resolveConfig({
    seed: 2023, save_dir: 'experiments_model/',
    train_data_loader: { name: 'youtube-vos', video_root: 'v', flow_root: 'f', w: 432, h: 240, num_local_frames: 10, num_ref_frames: 1, load_flow: 0 },
    losses: { flow_weight: 0.25 }, model: { net: 'recurrent_flow_completion' },
    trainer: { version: 'trainer_flow_w_edge', type: 'Adam', beta1: 0, beta2: 0.99, lr: 5e-5, batch_size: 8, num_workers: 4, num_prefetch_queue: 4, log_freq: 100, save_freq: 5e3, iterations: 700e3, scheduler: { type: 'MultiStepLR', milestones: [300e3, 400e3, 500e3, 600e3], gamma: 0.2 } },
  });
  assert.equal(official.model, 'recurrent_flow_completion');
  assert.deepEqual(official.train.lr_steps, [300000, 400000, 500000, 600000]);
  assert.equal(official.datasets.train.load_flow, false);
  const bad = (raw: Record<string, unknown>, re: RegExp) => assert.throws(() => resolveConfig(raw), (e: unknown) => e instanceof ConfigError && re.test(e.message));
  const base = { model: 'propainter', datasets: { train: { root: 'x' } } };
  bad({ ...base, train: { lr: 'fast' } }, /train\.lr: expected a number/);
  bad({ ...base, train: { lrr: 1 } }, /train\.lrr: unknown key/);
  bad({ ...base, train: { lr: -1 } }, /train\.lr: must be > 0/);
  bad({ model: 'propainter', datasets: { train: { root: 'x', width: 430 } } }, /datasets\.train\.width: must be multiples of 8|width\/height/);
  const over = resolveConfig(base, { sets: ['train.lr=0.5', 'loss.gan_type=lsgan'] });
  assert.equal(over.train.lr, 0.5);
  assert.equal(over.loss.gan_type, 'lsgan');
});
