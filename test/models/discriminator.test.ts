import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { applyDetInit } from '../../lib/init/apply';
import { checkFixtures } from '../../lib/fixtures/check';
import { Discriminator, Discriminator2D, createDiscriminator } from '../../lib/models/discriminator';
import { FIXTURES, hasShared, randn } from '../helpers';

const FIXTURE = path.join(FIXTURES, 'discriminator_synth_96x128_t3.safetensors');
const BACKEND = (process.env.PROPAINTER_TEST_BACKEND as 'cpu' | 'wasm' | undefined) ?? 'cpu';
/** Backward passes run on wasm (the training backend; tfjs-cpu's conv gradients are very slow). */
const TRAIN_BACKEND = (process.env.PROPAINTER_TEST_BACKEND as 'cpu' | 'wasm' | undefined) ?? 'wasm';

test('state dict: official keys, shapes, order; parameter counts', async () => {
  await useBackend(BACKEND);
  const d = new Discriminator();
  const sd = d.stateDict();
  if (hasShared) {
    const ref: Array<{ name: string; shape: number[] }> = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'weights_manifest.json'), 'utf8')).models.Discriminator;
    assert.deepEqual([...sd.keys()], ref.map((e) => e.name));
    for (const e of ref) assert.deepEqual(sd.get(e.name)!.shape, e.shape, e.name);
  }
  assert.equal(d.numParameters(), 4_461_728);
  // u/v are buffers, not parameters.
  assert.deepEqual(d.namedParameters().map(([n]) => n), ['conv.0.weight_orig', 'conv.2.weight_orig', 'conv.4.weight_orig', 'conv.6.weight_orig', 'conv.8.weight_orig', 'conv.10.weight', 'conv.10.bias']);
  d.dispose();
  const d2 = new Discriminator2D();
  const sd2 = d2.stateDict();
  assert.deepEqual([...sd2.keys()], [...sd.keys()]);
  assert.deepEqual(sd2.get('conv.0.weight_orig')!.shape, [32, 3, 1, 5, 5]);
  assert.deepEqual(sd2.get('conv.0.weight_v')!.shape, [75]);
  assert.equal(d2.numParameters(), (4_461_728 - 128) / 3 + 128); // kernels (1,5,5) instead of (3,5,5)
  d2.dispose();
  const d3 = createDiscriminator({ dis2d: true });
  assert.ok(d3 instanceof Discriminator2D);
  d3.dispose();
});

for (const backend of ['cpu', 'wasm'] as const) {
  test(`fixture parity on ${backend} (discriminator_synth_96x128_t3): train, train, eval; u/v after call 1`, { skip: !hasShared || !fs.existsSync(FIXTURE) }, async () => {
    await useBackend(backend);
    const lines: string[] = [];
    const summary = await checkFixtures([FIXTURE], { log: (l) => lines.push(l) });
    assert.equal(summary.failed, 0, lines.join('\n'));
    assert.equal(summary.passed, 13, lines.join('\n'));
  });
}

test('shapes: 3-D keeps T, layer-1 padding quirk; 2-D variant', async () => {
  await useBackend(BACKEND);
  const x = randn([1, 2, 48, 64, 3], 5) as tf.Tensor5D;
  const d = new Discriminator();
  d.eval();
  const y = d.forward(x);
  // 48×64 → 23×31 (pad 1, k5, s2) → 12×16 → 6×8 → 3×4 → 2×2 → 1×1
  assert.deepEqual(y.shape, [1, 2, 1, 1, 128]);
  const d2 = new Discriminator2D();
  d2.eval();
  const y2 = d2.forward(x);
  // 48×64 → 24×32 → 12×16 → 6×8 → 3×4 → 2×2 → 1×1
  assert.deepEqual(y2.shape, [1, 2, 1, 1, 128]);
  tf.dispose([x, y, y2]);
  d.dispose();
  d2.dispose();
});

test('training: finite non-zero gradients for every parameter; u/v advance; no leaks', async () => {
  await useBackend(TRAIN_BACKEND);
  const d = new Discriminator();
  applyDetInit(d);
  d.train();
  const x = randn([1, 2, 32, 32, 3], 6) as tf.Tensor5D;
  const params = d.namedParameters();
  const u0 = d.namedBuffers().find(([n]) => n === 'conv.0.weight_u')![1].dataSync().slice();
  const step = () => {
    // Hinge discriminator loss on "real" = x and "fake" = -x, plus a square term: with all hinge
    // terms active the two halves' bias gradients cancel exactly.
    const { value, grads } = tf.variableGrads(() => {
      const real = d.forward(x);
      const fake = d.forward(tf.neg(x) as tf.Tensor5D);
      const hinge = tf.mul(0.5, tf.add(tf.mean(tf.relu(tf.sub(1, real))), tf.mean(tf.relu(tf.add(1, fake)))));
      return tf.add(hinge, tf.mean(tf.square(real))) as tf.Scalar;
    }, params.map(([, v]) => v));
    const bad: string[] = [];
    for (const [name, v] of params) {
      const g = grads[v.name];
      const data = g ? g.dataSync() : new Float32Array(0);
      if (!g || !data.every(Number.isFinite) || data.every((e) => e === 0)) bad.push(name);
    }
    tf.dispose([value, ...Object.values(grads)]);
    return bad;
  };
  assert.deepEqual(step(), []);
  const u1 = d.namedBuffers().find(([n]) => n === 'conv.0.weight_u')![1].dataSync();
  assert.notDeepEqual(Array.from(u1), Array.from(u0));
  let norm = 0;
  for (const e of u1) norm += e * e;
  assert.ok(Math.abs(Math.sqrt(norm) - 1) < 1e-5, 'u is unit-normalised by the power iteration');
  const before = tf.memory().numTensors;
  step();
  assert.equal(tf.memory().numTensors, before, 'tensors leaked by a training step');
  d.eval();
  const y = d.forward(x);
  y.dispose();
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  d.dispose();
});

test('gradients satisfy exact identities: Euler in the input (eval), scale invariance of weight_orig', async () => {
  await useBackend(TRAIN_BACKEND);
  const d = new Discriminator();
  applyDetInit(d);
  const x = randn([1, 2, 32, 32, 3], 5) as tf.Tensor5D;
  const wd = randn([1, 2, 1, 1, 128], 6);
  const f = (xx: tf.Tensor) => tf.sum(tf.mul(d.forward(xx as tf.Tensor5D), wd)) as tf.Scalar;
  for (const mode of ['train', 'eval'] as const) {
    d.train(mode === 'train');
    const params = d.namedParameters();
    const { value, grads } = tf.variableGrads(() => f(x), params.map(([, v]) => v));
    // W/σ(W) is invariant to scaling W (u, v too), so ∇W·W = 0 for every spectral-norm weight.
    for (const [name, v] of params) {
      if (!name.endsWith('weight_orig')) continue;
      const rel = tf.tidy(() => tf.sum(tf.mul(grads[v.name], v)).dataSync()[0] / (tf.norm(grads[v.name]).dataSync()[0] * tf.norm(v).dataSync()[0]));
      assert.ok(Math.abs(rel) < 1e-5, `${mode}: ∇·W / (|∇||W|) = ${rel} for ${name}`);
    }
    if (mode === 'eval') {
      // Bias-free LeakyReLU convs up to the last layer: f(x) = ∇f(x)·x + Σ wd·bias.
      const bias = params.find(([n]) => n === 'conv.10.bias')![1];
      const [lhs, rhs] = tf.tidy(() => {
        const g = tf.grad(f)(x);
        return [tf.sum(tf.mul(g, x)).dataSync()[0] + tf.sum(tf.mul(wd, bias)).dataSync()[0], value.dataSync()[0]];
      });
      assert.ok(Math.abs(lhs - rhs) <= 1e-4 * Math.abs(rhs), `Euler identity: ${lhs} vs ${rhs}`);
    }
    tf.dispose([value, ...Object.values(grads)]);
  }
  tf.dispose([x, wd]);
  d.dispose();
});
