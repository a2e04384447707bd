import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../lib/runtime';
import { applyDetInit } from '../../lib/init/apply';
import { writeSafetensors } from '../../lib/io/safetensors';
import { writePth } from '../../lib/io/pth';
import type { StateDict } from '../../lib/io/host-tensor';
import { LPIPS, loadLpips } from '../../lib/models/lpips';
import { randn } from '../helpers';

const BACKEND = (process.env.PROPAINTER_TEST_BACKEND as 'cpu' | 'wasm' | undefined) ?? 'cpu';

test('LPIPS key names and shapes (lpips package), parameter counts', async () => {
  await useBackend(BACKEND);
  const alex = new LPIPS({ net: 'alex' });
  const sd = alex.stateDict();
  const keys = [...sd.keys()];
  assert.deepEqual(keys.slice(0, 4), ['scaling_layer.shift', 'scaling_layer.scale', 'net.slice1.0.weight', 'net.slice1.0.bias']);
  assert.deepEqual(keys.filter((k) => k.startsWith('net.')).filter((k) => k.endsWith('.weight')), [
    'net.slice1.0.weight', 'net.slice2.3.weight', 'net.slice3.6.weight', 'net.slice4.8.weight', 'net.slice5.10.weight',
  ]);
  assert.deepEqual(sd.get('net.slice1.0.weight')!.shape, [64, 3, 11, 11]);
  assert.deepEqual(sd.get('lin1.model.1.weight')!.shape, [1, 192, 1, 1]);
  assert.deepEqual(sd.get('lins.4.model.1.weight')!.shape, [1, 256, 1, 1]);
  assert.deepEqual(sd.get('scaling_layer.shift')!.shape, [1, 3, 1, 1]);
  assert.deepEqual(Array.from(sd.get('scaling_layer.scale')!.data as Float32Array), [0.458, 0.448, 0.45].map(Math.fround));
  assert.equal(alex.numParameters(), 2_469_696 + 1152);
  alex.dispose();
  const vgg = new LPIPS({ net: 'vgg' });
  const vk = [...vgg.stateDict().keys()].filter((k) => k.startsWith('net.') && k.endsWith('.weight'));
  assert.deepEqual(vk, [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28].map((i) => `net.slice${[4, 9, 16, 23, 30].findIndex((e) => i < e) + 1}.${i}.weight`));
  assert.equal(vgg.numParameters(), 14_714_688 + 1472);
  vgg.dispose();
});

test('LPIPS forward: zero for identical inputs, positive otherwise; spatial map; no leaks', async () => {
  await useBackend(BACKEND);
  for (const net of ['alex', 'vgg'] as const) {
    const m = new LPIPS({ net });
    // Linear heads are non-negative in the released weights; keep that property here.
    for (const l of m.lins) l.model.layers[1][1].parameters().forEach((v) => v.assign(tf.abs(v)));
    const size = net === 'alex' ? 32 : 16; // smallest inputs both trunks accept, to keep the cpu run short
    const a = randn([2, size, size, 3], 1) as tf.Tensor4D;
    const b = randn([2, size, size, 3], 2) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const same = m.forward(a, a);
    const diff = m.forward(a, b);
    assert.deepEqual(diff.shape, [2, 1, 1, 1]);
    assert.ok(Math.max(...same.dataSync()) < 1e-6, `${net}: d(a, a) = ${same.dataSync()}`);
    assert.ok(Math.min(...diff.dataSync()) > 0, `${net}: d(a, b) = ${diff.dataSync()}`);
    const { value, layers } = m.forwardPerLayer(a, b);
    assert.equal(layers.length, 5);
    const sum = layers.reduce((s, l) => s + l.dataSync()[0], 0);
    assert.ok(Math.abs(sum - value.dataSync()[0]) < 1e-5 * Math.abs(sum));
    tf.dispose([same, diff, value, ...layers]);
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([a, b]);
    m.dispose();
  }
  const sp = new LPIPS({ net: 'alex', spatial: true });
  applyDetInit(sp);
  const a = randn([1, 32, 40, 3], 1) as tf.Tensor4D;
  const b = randn([1, 32, 40, 3], 2) as tf.Tensor4D;
  const map = sp.forward(a, b);
  assert.deepEqual(map.shape, [1, 32, 40, 1]);
  tf.dispose([a, b, map]);
  sp.dispose();
});

test('loadLpips: heads file + torchvision trunk; clear errors', async () => {
  await useBackend(BACKEND);
  const src = new LPIPS({ net: 'alex' });
  applyDetInit(src);
  const heads: StateDict = new Map();
  const trunk: StateDict = new Map();
  for (const [k, v] of src.stateDict()) {
    const lin = /^lin(\d)\.model\.1\.weight$/.exec(k);
    if (lin) heads.set(k, v);
    const t = /^net\.slice\d\.(\d+)\.(weight|bias)$/.exec(k);
    if (t) trunk.set(`features.${t[1]}.${t[2]}`, v);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lpips-'));
  // The lpips package ships its heads as a PyTorch file; the trunk here is a safetensors conversion.
  const hf = path.join(dir, 'alex.pth');
  const tfile = path.join(dir, 'alexnet.safetensors');
  writePth(hf, heads);
  writeSafetensors(tfile, trunk);
  const m = loadLpips(hf, 'alex', { trunk: tfile });
  const a = m.stateDict();
  // The ScalingLayer constants are not in the files and keep their lpips values.
  assert.deepEqual(Array.from(a.get('scaling_layer.shift')!.data as Float32Array), [-0.03, -0.088, -0.188].map(Math.fround));
  for (const [k, v] of src.stateDict()) if (!k.startsWith('scaling_layer.')) assert.deepEqual(Array.from(a.get(k)!.data as Float32Array), Array.from(v.data as Float32Array), k);
  m.dispose();
  assert.throws(() => loadLpips(hf, 'alex'), (e: Error) => /trunk/.test(e.message) && /alexnet-owt-7be5be79\.pth/.test(e.message));
  assert.throws(() => loadLpips(path.join(dir, 'missing.pth'), 'vgg'), (e: Error) => /not found/.test(e.message) && /v0\.1\/vgg\.pth/.test(e.message) && /nothing is downloaded/.test(e.message));
  fs.rmSync(dir, { recursive: true, force: true });
  src.dispose();
});
