/**
 * The registries: loss weights are read at every step and VGG19 is created on first use (so
 * perceptual_weight 0 → 0.1 between two run.step() calls adds exactly the perceptual term); the
 * worked custom loss of docs/extending.md trains; another generator and the 2-D discriminator
 * plug into the ProPainter system by config name.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { Module } from '../../lib/nn/module';
import { Conv2d } from '../../lib/nn/layers';
import { applyDetInit } from '../../lib/init/apply';
import { writeSafetensors } from '../../lib/io/safetensors';
import { VGGFeatureExtractor } from '../../lib/models/vgg';
import { Discriminator2D } from '../../lib/models/discriminator';
import { registerNetwork } from '../../lib/models/networks';
import { flattenClip, framesRange } from '../../lib/ops/frames';
import { TestDataset } from '../../lib/data/test-dataset';
import { collate } from '../../lib/data/sample';
import { fixedSource } from '../../lib/train/data';
import { Run } from '../../lib/train/loop';
import { holeTv } from '../../docs/examples/hole-tv-loss';
import { propainterConfig, synthRoot, tmpDir } from './helpers';

const ROOT = path.resolve(__dirname, '..', '..');

/** One 64×64 clip (2 local + 1 reference frame) with fixed masks and exact flows, as every step's batch. */
async function clipSource() {
  const root = await synthRoot(64, 3, 8);
  const ds = new TestDataset({ root, width: 64, height: 64, maxFrames: 3, loadFlow: true, dilation: 1, videos: ['synth_0000'] });
  return { root, data: fixedSource(collate([await ds.getItem(0)], 0, 0)) };
}

const close = (a: number, b: number, rel = 1e-5) => Math.abs(a - b) <= rel * Math.max(1, Math.abs(a), Math.abs(b));

test('perceptual_weight 0 → 0.1 between two run.step() calls adds the perceptual term; VGG19 is built at that step', async () => {
  await useBackend('wasm');
  const vgg = new VGGFeatureExtractor(['conv3_4', 'conv4_4', 'conv5_4']);
  applyDetInit(vgg);
  const vggFile = path.join(tmpDir('vgg'), 'vgg19_detinit.safetensors');
  writeSafetensors(vggFile, vgg.stateDict());
  vgg.dispose();
  const { root, data } = await clipSource();
  // No discriminator and lr 0: both steps see the same weights and batch, so only the loss weights differ.
  const cfg = propainterConfig(root, tmpDir('perc'), 64, { loss: { vgg: vggFile } });
  (cfg.networks as Record<string, unknown>).discriminator = false;
  const lines: string[] = [];
  const run = await Run.create(cfg, { console: false, log: (l) => lines.push(l), data });
  try {
    run.config.train.lr = 0;
    const [a] = await run.step(1);
    assert.equal(a.scalars['loss/perc_loss'], undefined);
    assert.ok(!lines.some((l) => l.startsWith('loss: VGG19')), 'no VGG19 while its terms are off');
    run.config.loss.perceptual_weight = 0.1;
    const [b] = await run.step(1);
    assert.ok(lines.some((l) => l === `loss: VGG19 conv3_4, conv4_4, conv5_4 from ${vggFile}`), lines.join('\n'));
    const perc = b.scalars['loss/perc_loss'];
    assert.ok(perc > 0, `perceptual term ${perc}`);
    assert.equal(b.scalars['loss/hole_loss'], a.scalars['loss/hole_loss']);
    assert.equal(b.scalars['loss/valid_loss'], a.scalars['loss/valid_loss']);
    assert.ok(close(b.scalars['loss/gen_loss'], a.scalars['loss/gen_loss'] + perc), `${b.scalars['loss/gen_loss']} vs ${a.scalars['loss/gen_loss']} + ${perc}`);
    run.config.loss.perceptual_weight = 0.2;
    const [c] = await run.step(1);
    assert.ok(close(c.scalars['loss/perc_loss'], 2 * perc, 1e-4), `weight doubled: ${c.scalars['loss/perc_loss']} vs 2 × ${perc}`);
  } finally {
    await run.dispose();
  }
});

test('the worked custom loss of docs/extending.md: one file + one config entry, trained and logged', async () => {
  await useBackend('wasm');
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'extending.md'), 'utf8');
  const example = fs.readFileSync(path.join(ROOT, 'docs', 'examples', 'hole-tv-loss.ts'), 'utf8');
  assert.ok(doc.includes('```ts\n' + example + '```'), 'docs/extending.md shows docs/examples/hole-tv-loss.ts verbatim');
  // The term itself on a hand-checked case: a 1×3 frame [0, 1, 3] (all channels), hole on the last two
  // pixels: their differences to the left neighbour |1 − 0| + |3 − 1| over 2 pixels → 1.5; one row.
  const v = tf.tidy(() => {
    const pred = tf.tensor5d([0, 0, 0, 1, 1, 1, 3, 3, 3], [1, 1, 1, 3, 3]);
    const masks = tf.tensor5d([0, 1, 1], [1, 1, 1, 3, 1]);
    return holeTv.compute({ pred, gt: pred, masks, comp: pred, discriminator: null }, undefined as never)!.dataSync()[0];
  });
  assert.ok(Math.abs(v - 1.5) < 1e-6, `hole TV ${v}`);
  const { root, data } = await clipSource();
  const cfg = propainterConfig(root, tmpDir('custom-loss'), 64, { loss: { adversarial_weight: 0.01, hole_tv_weight: 0.5 } });
  const run = await Run.create(cfg, { console: false, log: () => undefined, data });
  try {
    const recs = await run.step(2);
    for (const r of recs) {
      const s = r.scalars;
      assert.ok(s['loss/hole_tv_loss'] > 0 && Number.isFinite(s['loss/hole_tv_loss']), JSON.stringify(s));
      const parts = ['loss/hole_loss', 'loss/valid_loss', 'loss/gan_loss', 'loss/hole_tv_loss'].reduce((acc, k) => acc + s[k], 0);
      assert.ok(close(s['loss/gen_loss'], parts), `gen_loss ${s['loss/gen_loss']} = Σ terms ${parts}`);
    }
    assert.equal(run.config.loss.hole_tv_weight, 0.5);
  } finally {
    await run.dispose();
  }
});

/** A deliberately small generator: one 3×3 conv over frame + both masks, tanh; eval decodes the local frames only. */
class TinyInpainter extends Module {
  readonly conv = this.registerModule('conv', new Conv2d(5, 3, 3, { padding: 1 }));
  forward(frames: tf.Tensor, _flows: readonly [tf.Tensor, tf.Tensor], masksIn: tf.Tensor, masksUpdated: tf.Tensor, numLocal: number): tf.Tensor5D {
    return tf.tidy(() => {
      const [b, t, h, w] = frames.shape;
      const x = tf.concat([flattenClip(frames), flattenClip(masksIn), flattenClip(masksUpdated)], 3) as tf.Tensor4D;
      const y = tf.reshape(tf.tanh(this.conv.forward(x)), [b, t, h, w, 3]);
      return (this.training ? y : framesRange(y, 0, numLocal)) as tf.Tensor5D;
    });
  }
}

test('another generator and the 2-D discriminator plug into the ProPainter system by name', async () => {
  await useBackend('wasm');
  registerNetwork('generator', 'tiny_inpainter', () => new TinyInpainter());
  const { root, data } = await clipSource();
  const cfg = propainterConfig(root, tmpDir('tiny'), 64);
  Object.assign(cfg.networks as Record<string, unknown>, { generator: 'tiny_inpainter', discriminator: 'discriminator_2d' });
  const run = await Run.create(cfg, { console: false, log: () => undefined, data });
  try {
    assert.ok(run.system.net instanceof TinyInpainter);
    assert.ok((run.system as unknown as { dis: unknown }).dis instanceof Discriminator2D);
    const w0 = run.system.net.stateDict().get('conv.weight')!.data as Float32Array;
    const recs = await run.step(2);
    assert.ok(recs.every((r) => Number.isFinite(r.scalars['loss/gen_loss']) && Number.isFinite(r.scalars['loss/dis_loss'])), JSON.stringify(recs.map((r) => r.scalars)));
    const w2 = run.system.net.stateDict().get('conv.weight')!.data as Float32Array;
    assert.ok(w2.some((x, i) => x !== w0[i]), 'the plugged-in generator trained');
    assert.deepEqual([...run.system.state().gen.keys()], ['conv.weight', 'conv.bias']);
  } finally {
    await run.dispose();
  }
});
