import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { useBackend } from '../../lib/runtime';
import { analyzeModel, fitPixels, kernelMacs, parameterTable, profileForward } from '../../lib/models/analyze';
import { MODEL_NAMES, ZOO, getZooEntry, inferenceClip, parseSize, probeSizes, validateForward } from '../../lib/models/zoo';
import { conv2d } from '../../lib/ops/conv';
import { randn } from '../helpers';

const BACKEND = (process.env.PROPAINTER_TEST_BACKEND as 'cpu' | 'wasm' | undefined) ?? 'cpu';
const BIN = path.resolve(__dirname, '..', '..', 'bin', 'propainter.js');

const OFFICIAL: Record<string, number> = {
  raft: 5_257_536,
  flowcomp: 5_079_555,
  propainter: 39_429_667,
  discriminator: 4_461_728,
  i3d: 12_697_264,
};

/** Per-module figures of spec §8 that the zoo's parameter table must reproduce. */
const SPEC_ROWS: Record<string, Record<string, number>> = {
  raft: {
    fnet: 1_066_848,
    cnet: 1_069_728,
    'update_block.encoder': 902_654,
    'update_block.gru': 1_475_328,
    'update_block.flow_head': 299_778,
    'update_block.mask': 443_200,
  },
  flowcomp: {
    downsample: 2_432,
    encoder1: 43_200,
    encoder2: 172_416,
    mid_dilation: 442_752,
    'feat_prop_module.deform_align': 3_061_600,
    'feat_prop_module.backbone': 442_624 + 590_080,
    'feat_prop_module.fusion': 32_896,
    decoder2: 221_376,
    decoder1: 55_392,
    upsample: 9_826,
    edgeDetector: 4_961,
  },
  propainter: {
    encoder: 4_207_552,
    'feat_prop_module.deform_align': 2_483_296,
    'feat_prop_module.backbone': 2 * 444_928,
    'feat_prop_module.fuse': 444_928,
    ss: 3_211_776,
    sc: 3_365_120,
    decoder: 260_035,
    ...Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`transformers.transformer.${i}`, 3_070_888])),
  },
  discriminator: { 'conv.0': 7_200, 'conv.2': 153_600, 'conv.4': 614_400, 'conv.6': 1_228_800, 'conv.8': 1_228_800, 'conv.10': 1_228_928 },
  i3d: { logits: 410_000 },
};

test('parameter totals of all five models equal the official counts; per-module rows as spec §8', async () => {
  await useBackend(BACKEND);
  for (const name of MODEL_NAMES) {
    const e = ZOO[name];
    assert.equal(e.officialParams, OFFICIAL[name], `${name}: zoo's official count`);
    const model = e.build();
    try {
      assert.equal(model.numParameters(), OFFICIAL[name], `${name}: constructed model`);
      const rows = parameterTable(model, e.depth, e.expand);
      assert.equal(rows.reduce((a, r) => a + r.params, 0), OFFICIAL[name], `${name}: rows sum to the total`);
      const byName = new Map(rows.map((r) => [r.name, r.params]));
      for (const [row, n] of Object.entries(SPEC_ROWS[name])) assert.equal(byName.get(row), n, `${name}: row ${row}`);
    } finally {
      model.dispose();
    }
  }
  // I3D: 12,287,264 up to Mixed_5c + 410,000 logits (spec §8.5).
  const i3d = ZOO.i3d.build();
  const rows = parameterTable(i3d, 1);
  assert.equal(rows.filter((r) => r.name !== 'logits').reduce((a, r) => a + r.params, 0), 12_287_264);
  i3d.dispose();
});

test('parameterTable: depth and expand', async () => {
  await useBackend(BACKEND);
  const m = ZOO.raft.build();
  assert.deepEqual(parameterTable(m, 1).map((r) => r.name), ['fnet', 'cnet', 'update_block']);
  const d2 = parameterTable(m, 2);
  assert.ok(d2.some((r) => r.name === 'fnet.layer1'));
  assert.equal(d2.reduce((a, r) => a + r.params, 0), 5_257_536);
  m.dispose();
});

test('kernelMacs: formulas against hand-computed values', () => {
  // conv2d x [2,9,11,6], filter 3×3 6→5, stride 2 'same' → [2,5,6,5]: 300 outputs × 3·3·6 = 16,200.
  assert.equal(kernelMacs('Conv2D', [[2, 9, 11, 6], [3, 3, 6, 5]], [[2, 5, 6, 5]]), 16_200);
  // Fused 1×1 4→16 on 8×8 with absent bias/prelu inputs: 1024 outputs × 4.
  assert.equal(kernelMacs('FusedConv2D', [[1, 8, 8, 4], [1, 1, 4, 16], null, null], [[1, 8, 8, 16]]), 4_096);
  // conv2dTranspose: dy = x [1,4,5,6] (6 ch in), filter [3,3,2,6] (2 out, 6 in): 120 inputs × 3·3·2.
  assert.equal(kernelMacs('Conv2DBackpropInput', [[1, 4, 5, 6], [3, 3, 2, 6]], [[1, 9, 11, 2]]), 2_160);
  // Filter gradient of the first conv: dy 300 × 3·3·6, the same count as the forward.
  assert.equal(kernelMacs('Conv2DBackpropFilter', [[2, 9, 11, 6], [2, 5, 6, 5]], [[3, 3, 6, 5]]), 16_200);
  // Depthwise 3×3, 3 channels × multiplier 2 on 7×7 'same': 294 outputs × 9.
  assert.equal(kernelMacs('DepthwiseConv2dNative', [[1, 7, 7, 3], [3, 3, 3, 2]], [[1, 7, 7, 6]]), 2_646);
  assert.equal(kernelMacs('FusedDepthwiseConv2D', [[1, 7, 7, 3], [3, 3, 3, 2], null, null], [[1, 7, 7, 6]]), 2_646);
  assert.equal(kernelMacs('DepthwiseConv2dNativeBackpropInput', [[1, 7, 7, 6], [3, 3, 3, 2]], [[1, 7, 7, 3]]), 2_646);
  assert.equal(kernelMacs('DepthwiseConv2dNativeBackpropFilter', [[1, 7, 7, 3], [1, 7, 7, 6]], [[3, 3, 3, 2]]), 2_646);
  // Conv3D 3×3×3 2→4 'same' on 4×6×6: 576 outputs × 27 × 2.
  assert.equal(kernelMacs('Conv3D', [[1, 4, 6, 6, 2], [3, 3, 3, 2, 4]], [[1, 4, 6, 6, 4]]), 31_104);
  assert.equal(kernelMacs('Conv3DBackpropInputV2', [[1, 4, 6, 6, 4], [3, 3, 3, 2, 4]], [[1, 4, 6, 6, 2]]), 31_104);
  assert.equal(kernelMacs('Conv3DBackpropFilterV2', [[1, 4, 6, 6, 2], [1, 4, 6, 6, 4]], [[3, 3, 3, 2, 4]]), 31_104);
  // Batched matMul [2,3,4]·[2,4,5] → [2,3,5]: 30 outputs × K 4, with either operand transposed.
  assert.equal(kernelMacs('BatchMatMul', [[2, 3, 4], [2, 4, 5]], [[2, 3, 5]]), 120);
  assert.equal(kernelMacs('BatchMatMul', [[2, 4, 3], [2, 4, 5]], [[2, 3, 5]]), 120); // transposeA
  assert.equal(kernelMacs('BatchMatMul', [[2, 3, 4], [2, 5, 4]], [[2, 3, 5]]), 120); // transposeB
  assert.equal(kernelMacs('BatchMatMul', [[2, 4, 3], [2, 5, 4]], [[2, 3, 5]]), 120); // both
  // Broadcast batch [1,3,4]·[6,4,5] → [6,3,5]: 90 × 4.
  assert.equal(kernelMacs('BatchMatMul', [[1, 3, 4], [6, 4, 5]], [[6, 3, 5]]), 360);
  // Transposed a [7,3] (K 7, M 3) against b [7,5]: 15 × 7 (a[-1] equals M here).
  assert.equal(kernelMacs('BatchMatMul', [[7, 3], [7, 5]], [[3, 5]]), 105);
  assert.equal(kernelMacs('BatchMatMul', [[3, 3], [3, 7]], [[3, 7]]), 63);
  assert.equal(kernelMacs('_FusedMatMul', [[5, 6], [6, 7], [7], null], [[5, 7]]), 210);
  for (const k of ['Add', 'Transpose', 'AvgPool', 'Softmax']) assert.equal(kernelMacs(k, [[4, 4], [4, 4]], [[4, 4]]), 0);
});

test('profileForward: the kernels real ops run are counted as by hand', async () => {
  await useBackend(BACKEND);
  const macsOf = async (f: () => tf.TensorContainer) => (await profileForward(f)).macs;
  const x = randn([2, 9, 11, 6], 1);
  const w = randn([3, 3, 6, 5], 2);
  assert.equal(await macsOf(() => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same')), 16_200);
  // Grouped conv (lib/ops: one Conv2D per group): 4 groups, 8→12 on 6×6 pad 1 → 36·12 outputs × 9 × 2.
  const xg = randn([1, 6, 6, 8], 3);
  const wg = randn([3, 3, 2, 12], 4);
  const g = await profileForward(() => conv2d(xg as tf.Tensor4D, wg as tf.Tensor4D, { groups: 4, padding: 1 }));
  assert.equal(g.macs, 7_776);
  assert.equal(g.kernels.find((k) => k.kernel === 'Conv2D')!.calls, 4);
  const xt = randn([1, 4, 5, 6], 5);
  const wt = randn([3, 3, 2, 6], 6);
  assert.equal(await macsOf(() => tf.conv2dTranspose(xt as tf.Tensor4D, wt as tf.Tensor4D, [1, 9, 11, 2], 2, 'valid')), 2_160);
  const xd = randn([1, 7, 7, 3], 7);
  const wd = randn([3, 3, 3, 2], 8);
  assert.equal(await macsOf(() => tf.depthwiseConv2d(xd as tf.Tensor4D, wd as tf.Tensor4D, 1, 'same')), 2_646);
  const x3 = randn([1, 4, 6, 6, 2], 9);
  const w3 = randn([3, 3, 3, 2, 4], 10);
  assert.equal(await macsOf(() => tf.conv3d(x3 as tf.Tensor5D, w3 as tf.Tensor5D, 1, 'same')), 31_104);
  const a = randn([2, 3, 4], 11);
  const at = randn([2, 4, 3], 12);
  const b = randn([2, 4, 5], 13);
  const bt = randn([2, 5, 4], 14);
  assert.equal(await macsOf(() => tf.matMul(a, b)), 120);
  assert.equal(await macsOf(() => tf.matMul(at, b, true, false)), 120);
  assert.equal(await macsOf(() => tf.matMul(a, bt, false, true)), 120);
  assert.equal(await macsOf(() => tf.matMul(at, bt, true, true)), 120);
  const a2 = randn([5, 6], 15);
  const b2 = randn([6, 7], 16);
  const bias = randn([7], 17);
  assert.equal(await macsOf(() => tf.fused.matMul({ a: a2, b: b2, bias, activation: 'relu' })), 210);
  // Backward of the first conv: forward + input gradient + filter gradient, 16,200 each.
  const grad = await profileForward(() => tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 2, 'same')))([x, w]));
  assert.equal(grad.macs, 3 * 16_200);
  tf.dispose([x, w, xg, wg, xt, wt, xd, wd, x3, w3, a, at, b, bt, a2, b2, bias]);
});

test('profileForward: peak memory counts distinct buffers (a reshape view is not new memory)', async () => {
  await useBackend(BACKEND);
  const before = tf.memory();
  // 4 KiB zeros, a view of it, the scalar 1 (4 B), a 4 KiB sum: 8196 B of buffers; tf.memory()
  // counts the view as another 4 KiB.
  const p = await profileForward(() => tf.add(tf.reshape(tf.zeros([1024]), [32, 32]), 1));
  assert.equal(p.peakActivationBytes, 8196);
  assert.equal(p.peakBytes, p.baselineBytes + 8196);
  assert.equal(p.profilePeakBytes - p.baselineBytes, 8196 + 4096);
  assert.equal(p.newBytes, 0);
  // The engine's own bookkeeping is back in place and consistent.
  const t = tf.ones([10]);
  assert.equal(tf.memory().numTensors, before.numTensors + 1);
  t.dispose();
  assert.deepEqual([tf.memory().numTensors, tf.memory().numBytes], [before.numTensors, before.numBytes]);
});

/**
 * Discriminator on [1, 3, 64, 64, 3]: six Conv3d (3,5,5), stride (1,2,2), T kept at 3.
 * Spatial 64 → 31 (pad 1) → 16 → 8 → 4 → 2 → 1 (pad 2); MACs = outputs × 75 × Cin:
 *   3·31·31·32 × 75·3    =  20,757,600
 *   3·16·16·64 × 75·32   = 117,964,800
 *   3·8·8·128  × 75·64   = 117,964,800
 *   3·4·4·128  × 75·128  =  58,982,400
 *   3·2·2·128  × 75·128  =  14,745,600
 *   3·1·1·128  × 75·128  =   3,686,400   → convs 334,101,600
 * plus σ = uᵀWv of the five spectral-norm convs (eval mode): one [1, I·75]·[I·75, O] product
 * each, O·I·75 = their parameter counts 7,200 + 153,600 + 614,400 + 1,228,800 + 1,228,800 = 3,232,800.
 */
const DISC_64_CONV_MACS = 334_101_600;
const DISC_64_SIGMA_MACS = 3_232_800;

test('discriminator forward at 64×64 × 3 frames: MACs equal the hand-computed sum over its convs', async () => {
  await useBackend(BACKEND);
  const a = await analyzeModel('discriminator', { height: 64, width: 64, frames: 3, mode: 'run' });
  const f = a.forward!;
  assert.equal(f.kind, 'measured');
  assert.equal(f.macs, DISC_64_CONV_MACS + DISC_64_SIGMA_MACS);
  const conv = f.kernels.filter((k) => k.kernel === 'Conv2D' || k.kernel === 'FusedConv2D' || k.kernel === 'Conv3D').reduce((s, k) => s + k.macs, 0);
  assert.equal(conv, DISC_64_CONV_MACS);
  assert.equal(f.newBytes, 0, 'the forward leaks no tensors');
  assert.ok(f.peakActivationBytes > 4 * 3 * 31 * 31 * 32, 'peak holds at least the first activation');
  assert.deepEqual(f.inputs, { video: [1, 3, 64, 64, 3] });
  assert.equal(tf.memory().numTensors, 0, 'model and inputs disposed');
});

test('estimate from smaller runs: MACs close to the measured forward; a forward over the heap budget is not run', async () => {
  // On wasm: 'auto' probes only there, and its convs are much faster than tfjs-cpu's.
  await useBackend('wasm');
  const measured = await analyzeModel('discriminator', { height: 128, width: 160, frames: 2, mode: 'run' });
  const est = await analyzeModel('discriminator', { height: 128, width: 160, frames: 2, mode: 'estimate' });
  assert.equal(est.forward!.kind, 'estimated');
  assert.deepEqual(est.forward!.estimate!.probes.map((p) => [p.height, p.width]), [[32, 40], [64, 80]]);
  const ratio = est.forward!.macs / measured.forward!.macs;
  assert.ok(Math.abs(ratio - 1) < 0.03, `estimate/measured MACs ${ratio}`);
  assert.match(est.forward!.notes[0], /^ESTIMATE/);
  // 'auto' on wasm probes first and refuses a forward whose estimated heap need exceeds the budget.
  const refused = await analyzeModel('discriminator', { height: 128, width: 160, frames: 2, heapBudgetBytes: 1 << 20 });
  assert.equal(refused.forward!.kind, 'estimated');
  assert.match(refused.forward!.notes[0], /^NOT RUN at 128x160: the wasm heap would need/);
  assert.ok(Math.abs(refused.forward!.macs / measured.forward!.macs - 1) < 0.03);
  await useBackend(BACKEND);
});

test('fitPixels is exact for costs linear plus quadratic in the pixel count', () => {
  const y = (p: number) => 7 * p + 0.25 * p * p;
  assert.equal(fitPixels([[100, y(100)], [400, y(400)]], 1600), y(1600));
  assert.equal(fitPixels([[100, 300]], 400), 1200);
});

test('zoo: sizes, frames, probe sizes and the inference reference-frame rule', () => {
  assert.deepEqual(parseSize('240x432'), { height: 240, width: 432 });
  assert.throws(() => parseSize('240'), /expected HEIGHTxWIDTH/);
  assert.throws(() => getZooEntry('gan'), /valid models: raft, flowcomp, propainter, discriminator, i3d/);
  const fo = { height: 240, width: 432, frames: 10, iters: 20, videoLength: 80 };
  validateForward(ZOO.raft, fo);
  assert.throws(() => validateForward(ZOO.raft, { ...fo, height: 120 }), /multiples of 8 and at least 128/);
  assert.throws(() => validateForward(ZOO.flowcomp, { ...fo, width: 430 }), /multiples of 8/);
  assert.throws(() => validateForward(ZOO.flowcomp, { ...fo, frames: 1 }), /--frames 1 .* ≥ 2/);
  assert.deepEqual(probeSizes(ZOO.propainter, 240, 432), [[64, 112], [120, 216]]);
  assert.deepEqual(probeSizes(ZOO.raft, 240, 432), [[128, 128], [128, 216]]);
  assert.deepEqual(probeSizes(ZOO.raft, 128, 128), []);
  // 80-frame video (one sub-video): every 10th frame outside the 10 locals 35–44.
  assert.deepEqual(inferenceClip(80, 10), { localIds: [35, 36, 37, 38, 39, 40, 41, 42, 43, 44], refIds: [0, 10, 20, 30, 50, 60, 70], mid: 40 });
  // Longer video: strided frames within ±4 strides of the centre (get_ref_index with ref_num 8).
  assert.deepEqual(inferenceClip(200, 11).refIds, [60, 70, 80, 90, 110, 120, 130]);
  assert.deepEqual(inferenceClip(10, 10).refIds, []);
  assert.deepEqual(ZOO.propainter.inputShapes(fo).frames, [1, 17, 240, 432, 3]);
  assert.deepEqual(ZOO.propainter.inputShapes(fo).flowsForward, [1, 9, 240, 432, 2]);
});

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'analyze', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('CLI: analyze --json --no-forward prints parseable JSON whose totals equal the official counts', () => {
  for (const name of MODEL_NAMES) {
    const r = cli(['--model', name, '--json', '--no-forward', '--backend', 'cpu']);
    assert.equal(r.status, 0, r.stderr);
    const a = JSON.parse(r.stdout) as { model: string; totalParams: number; officialParams: number; matchesOfficial: boolean; modules: Array<{ params: number }>; forward?: unknown };
    assert.equal(a.model, name);
    assert.equal(a.totalParams, OFFICIAL[name]);
    assert.equal(a.officialParams, OFFICIAL[name]);
    assert.equal(a.matchesOfficial, true);
    assert.equal(a.modules.reduce((s, m) => s + m.params, 0), OFFICIAL[name]);
    assert.equal(a.forward, undefined);
  }
});

test('CLI: forward analysis as JSON and text; invalid --model / --size are clear errors', () => {
  const r = cli(['--model', 'discriminator', '--size', '64x64', '--frames', '3', '--json', '--backend', 'cpu', '--no-probe']);
  assert.equal(r.status, 0, r.stderr);
  const a = JSON.parse(r.stdout) as { forward: { macs: number; kind: string; height: number; width: number; frames: number } };
  assert.equal(a.forward.macs, DISC_64_CONV_MACS + DISC_64_SIGMA_MACS);
  assert.deepEqual([a.forward.kind, a.forward.height, a.forward.width, a.forward.frames], ['measured', 64, 64, 3]);
  const t = cli(['--model', 'discriminator', '--no-forward', '--backend', 'cpu']);
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /4,461,728 trainable parameters \(matches the official count\)/);
  assert.match(t.stdout, /conv\.10 +1,228,928/);
  const bad = cli(['--model', 'unet']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /unknown model "unet"; valid models: raft, flowcomp, propainter, discriminator, i3d/);
  const badSize = cli(['--model', 'raft', '--size', '100x100']);
  assert.notEqual(badSize.status, 0);
  assert.match(badSize.stderr, /--size 100x100 is not valid for raft: height and width must be multiples of 8 and at least 128/);
  const garbled = cli(['--model', 'flowcomp', '--size', 'big']);
  assert.match(garbled.stderr, /invalid --size "big": expected HEIGHTxWIDTH/);
});
