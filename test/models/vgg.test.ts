import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { Module } from '../../lib/nn/module';
import { detValues } from '../../lib/init/det-init';
import { readFixture } from '../../lib/fixtures/load';
import { NCHW_TO_NHWC, hostToTensor } from '../../lib/fixtures/convert';
import { writeSafetensors } from '../../lib/io/safetensors';
import type { StateDict } from '../../lib/io/host-tensor';
import { PERCEPTUAL_LAYER_WEIGHTS, VGGFeatureExtractor, loadVgg19, vggLayerNames } from '../../lib/models/vgg';
import { FIXTURES, hasShared, randn } from '../helpers';

const BACKEND = (process.env.PROPAINTER_TEST_BACKEND as 'cpu' | 'wasm' | undefined) ?? 'cpu';
const LOSSES = path.join(FIXTURES, 'losses_synth_32x32.safetensors');
const LAYERS = Object.keys(PERCEPTUAL_LAYER_WEIGHTS);

/** PerceptualLoss's module tree: the extractor under `vgg` (so det-init names are `vgg.vgg_net.*`). */
class PerceptualHolder extends Module {
  readonly vgg = this.registerModule('vgg', new VGGFeatureExtractor(LAYERS, { useInputNorm: true, rangeNorm: true }));
}

test('VGG19 extractor: official keys, shapes and order (PerceptualLoss manifest)', async () => {
  await useBackend(BACKEND);
  const holder = new PerceptualHolder();
  const sd = holder.stateDict();
  if (hasShared) {
    const ref: Array<{ name: string; shape: number[] }> = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'weights_manifest.json'), 'utf8')).models['PerceptualLoss(vgg19 conv3_4/conv4_4/conv5_4)'];
    assert.deepEqual([...sd.keys()], ref.map((e) => e.name));
    for (const e of ref) assert.deepEqual(sd.get(e.name)!.shape, e.shape, e.name);
  }
  assert.deepEqual(Array.from(sd.get('vgg.mean')!.data as Float32Array), [0.485, 0.456, 0.406].map(Math.fround));
  assert.deepEqual(Array.from(sd.get('vgg.std')!.data as Float32Array), [0.229, 0.224, 0.225].map(Math.fround));
  // Frozen by default (requires_grad=False), layers up to conv5_4 only (no relu5_4 / pool5).
  assert.equal(holder.vgg.parameters().every((v) => !v.trainable), true);
  assert.equal(holder.vgg.vgg_net.layers.at(-1)![0], 'conv5_4');
  assert.equal(holder.vgg.numParameters(), 20_024_384);
  holder.dispose();
  assert.equal(vggLayerNames('vgg16_bn')[1], 'bn1_1');
});

/** PerceptualLoss.forward (l1 criterion) on channels-last features, to check the network against the fixture. */
function perceptualAndStyle(vgg: VGGFeatureExtractor, x: tf.Tensor4D, gt: tf.Tensor4D): [number, number] {
  return tf.tidy(() => {
    const fx = vgg.forward(x);
    const fg = vgg.forward(gt);
    const gram = (f: tf.Tensor4D) => {
      const [n, h, w, c] = f.shape;
      const m = tf.reshape(f, [n, h * w, c]) as tf.Tensor3D;
      return tf.div(tf.matMul(m, m, true, false), c * h * w);
    };
    let p: tf.Tensor = tf.scalar(0);
    let s: tf.Tensor = tf.scalar(0);
    for (const k of LAYERS) {
      p = tf.add(p, tf.mul(tf.mean(tf.abs(tf.sub(fx[k], fg[k]))), PERCEPTUAL_LAYER_WEIGHTS[k]));
      s = tf.add(s, tf.mul(tf.mean(tf.abs(tf.sub(gram(fx[k]), gram(fg[k])))), PERCEPTUAL_LAYER_WEIGHTS[k]));
    }
    return [p.dataSync()[0], s.dataSync()[0]] as [number, number];
  });
}

test('det-init VGG19 reproduces the losses fixture perceptual_l1 / style_l1', { skip: !hasShared || !fs.existsSync(LOSSES) }, async () => {
  await useBackend(BACKEND);
  const fx = readFixture(LOSSES);
  const holder = new PerceptualHolder();
  // Only vgg.vgg_net.* is det-init; mean/std keep the ImageNet constants.
  for (const [name, e] of holder.namedEntries()) {
    if (!name.startsWith('vgg.vgg_net.')) continue;
    const shape = e.layout.torchShape(e.variable.shape);
    tf.tidy(() => e.variable.assign(e.layout.fromTorch(tf.tensor(detValues(name, shape), shape))));
  }
  const x = hostToTensor(fx.tensors.get('percep_x')!, NCHW_TO_NHWC) as tf.Tensor4D;
  const gt = hostToTensor(fx.tensors.get('percep_gt')!, NCHW_TO_NHWC) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const [p, s] = perceptualAndStyle(holder.vgg, x, gt);
  assert.equal(tf.memory().numTensors, before);
  const refP = (fx.tensors.get('perceptual_l1')!.data as Float32Array)[0];
  const refS = (fx.tensors.get('style_l1')!.data as Float32Array)[0];
  assert.ok(Math.abs(p - refP) <= 1e-4 * Math.abs(refP), `perceptual ${p} vs ${refP}`);
  assert.ok(Math.abs(s - refS) <= 1e-3 * Math.abs(refS), `style ${s} vs ${refS}`);
  tf.dispose([x, gt]);
  holder.dispose();
});

test('features: shapes, pre-ReLU values, input gradient through the frozen net', async () => {
  await useBackend(BACKEND);
  const vgg = new VGGFeatureExtractor(['relu1_1', 'conv2_2', 'pool2'], { rangeNorm: true });
  const x = randn([1, 16, 20, 3], 9) as tf.Tensor4D;
  const f = vgg.forward(x);
  assert.deepEqual(Object.keys(f).sort(), ['conv2_2', 'pool2', 'relu1_1']);
  assert.deepEqual(f.relu1_1.shape, [1, 16, 20, 64]);
  assert.deepEqual(f.conv2_2.shape, [1, 8, 10, 128]);
  assert.deepEqual(f.pool2.shape, [1, 4, 5, 128]);
  assert.ok(tf.min(f.relu1_1).dataSync()[0] >= 0);
  assert.ok(tf.min(f.conv2_2).dataSync()[0] < 0, 'conv features are taken before the ReLU');
  const g = tf.grad((y: tf.Tensor) => tf.sum(vgg.forward(y as tf.Tensor4D).conv2_2) as tf.Scalar)(x);
  assert.ok(g.dataSync().some((v) => v !== 0));
  tf.dispose([x, g, ...Object.values(f)]);
  assert.throws(() => new VGGFeatureExtractor(['conv9_9']), /no layer "conv9_9"/);
  vgg.dispose();
});

test('loadVgg19: torchvision-layout file, missing-file message', async () => {
  await useBackend(BACKEND);
  // A shallow extractor keeps the test small; the index → name mapping is the same at any depth.
  const src = new VGGFeatureExtractor(['conv3_1']);
  // torchvision names: features.<index>.*, plus a classifier the extractor ignores.
  const tv: StateDict = new Map();
  for (const [k, v] of src.stateDict()) {
    const m = /^vgg_net\.(\w+)\.(weight|bias)$/.exec(k);
    if (m) tv.set(`features.${src.names.indexOf(m[1])}.${m[2]}`, v);
  }
  tv.set('classifier.0.bias', { dtype: 'float32', shape: [2], data: new Float32Array(2) });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vgg-'));
  const file = path.join(dir, 'vgg19.safetensors');
  writeSafetensors(file, tv);
  const vgg = loadVgg19(file, ['relu2_2', 'conv3_1']);
  assert.deepEqual(vgg.layerNameList, ['relu2_2', 'conv3_1']);
  for (const k of ['vgg_net.conv2_2.weight', 'vgg_net.conv3_1.bias']) {
    assert.deepEqual(Array.from(vgg.stateDict().get(k)!.data as Float32Array), Array.from(src.stateDict().get(k)!.data as Float32Array), k);
  }
  vgg.dispose();
  // A checkpoint lacking the requested layers is rejected by name.
  assert.throws(() => loadVgg19(file), /missing vgg_net\.conv3_2\.weight/);
  src.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
  assert.throws(() => loadVgg19(path.join(dir, 'nope.pth')), (e: Error) => /not found at .*nope\.pth/.test(e.message) && /vgg19-dcbb9e9d\.pth/.test(e.message) && /nothing is downloaded/.test(e.message));
});
