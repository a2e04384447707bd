/**
 * The wasm kernel pack: every replaced/added kernel against the cpu backend on random inputs
 * (relative error ≤ 1e-5 of max |ref|), and gradients of the public ops on wasm against finite
 * differences.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
// Gradients are registered by tfjs-core's side-effect module (not imported by lib/runtime yet).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { useBackend } from '../../lib/runtime';
import {
  WASM_KERNEL_PACK,
  registerWasmKernelPack,
  stockWasmKernel,
  wasmKernelPackRegistered,
} from '../../lib/runtime/wasm-kernels';
import { convOptions } from '../../lib/runtime/wasm-conv';
import { RAFT_CORR_LOOKUP, corrLookupHost } from '../../lib/runtime/corr-lookup';
import { assertClose, gradCheck, maxAbs, maxAbsDiff, seeded } from '../helpers';

type BackendName = 'cpu' | 'wasm';
interface Arr {
  data: ArrayLike<number>;
  shape: number[];
  dtype?: 'float32' | 'int32';
}
interface Out {
  data: Float32Array | Int32Array;
  shape: number[];
}

let seed = 100;
const rnd = (shape: number[], lo = -1, hi = 1): Arr => ({ data: seeded(shape.reduce((a, b) => a * b, 1), seed++, lo, hi), shape });
const ints = (vals: number[], shape = [vals.length]): Arr => ({ data: vals, shape, dtype: 'int32' });

/**
 * Runs one kernel through the engine (so the registered kernel is used) and reads the outputs.
 * Also checks that the kernel freed its intermediates (the backend holds no new data ids).
 */
async function runOn(be: BackendName, kernel: string, inputs: Record<string, Arr>, attrs: object): Promise<Out[]> {
  await useBackend(be);
  const ids = () => tf.engine().backend.numDataIds();
  const before = ids();
  const ts: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) ts[k] = tf.tensor(Array.from(v.data), v.shape, v.dtype ?? 'float32');
  let read: Out[];
  try {
    const res = tf.engine().runKernel(kernel, ts, attrs as tf.NamedAttrMap);
    const outs = Array.isArray(res) ? res : [res];
    read = outs.map((o) => ({ data: o.dataSync() as Float32Array | Int32Array, shape: o.shape.slice() }));
    outs.forEach((o) => o.dispose());
  } finally {
    Object.values(ts).forEach((t) => t.dispose());
  }
  assert.equal(ids(), before, `${kernel} on ${be}: ${ids() - before} backend buffers leaked`);
  return read;
}

const worst = new Map<string, number>();
function record(what: string, err: number): void {
  worst.set(what, Math.max(worst.get(what) ?? 0, err));
}

/**
 * wasm vs cpu, relative error ≤ 1e-5 of max |ref| per output. `reference` replaces the cpu run of
 * the same kernel where the cpu kernel cannot take these attrs.
 */
async function compare(kernel: string, inputs: Record<string, Arr>, attrs: object, label = '',
  reference?: () => Promise<Out[]>): Promise<void> {
  const ref = reference ? await reference() : await runOn('cpu', kernel, inputs, attrs);
  const got = await runOn('wasm', kernel, inputs, attrs);
  assert.equal(got.length, ref.length, `${kernel}${label}: number of outputs`);
  ref.forEach((r, i) => {
    assert.deepEqual(got[i].shape, r.shape, `${kernel}${label}: output ${i} shape`);
    const err = maxAbsDiff(got[i].data, r.data) / Math.max(maxAbs(r.data), 1e-6);
    record(kernel, err);
    assertClose(got[i].data, r.data, 1e-5, `${kernel}${label} output ${i}`);
  });
}

before(async () => {
  await useBackend('wasm');
});

after(() => {
  const lines = [...worst.entries()].map(([k, v]) => `  ${k.padEnd(36)} ${v.toExponential(2)}`);
  console.log(`max relative error (wasm vs cpu, or finite differences):\n${lines.join('\n')}`);
});

describe('registration', () => {
  test('registered for wasm only, idempotent', async () => {
    await useBackend('wasm');
    assert.ok(wasmKernelPackRegistered());
    const before = WASM_KERNEL_PACK.map((k) => tf.getKernel(k.name, 'wasm')!.kernelFunc);
    assert.equal(registerWasmKernelPack(), true);
    assert.equal(registerWasmKernelPack(), true);
    WASM_KERNEL_PACK.forEach((k, i) => assert.equal(tf.getKernel(k.name, 'wasm')!.kernelFunc, before[i], k.name));
    for (const k of WASM_KERNEL_PACK) {
      const c = tf.getKernel(k.name, 'cpu');
      if (c) assert.notEqual(c.kernelFunc, before[WASM_KERNEL_PACK.indexOf(k)]);
    }
  });
});

type Shape4 = [number, number, number, number];
type PadArg = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
interface ConvCase {
  x: Shape4;
  f: Shape4;
  s: number | [number, number];
  pad: PadArg;
  dil?: number;
  rounding?: 'floor' | 'round' | 'ceil';
}

const CONV_CASES: ConvCase[] = [
  { x: [2, 7, 9, 3], f: [3, 3, 3, 4], s: 1, pad: 'same' },
  { x: [1, 8, 8, 2], f: [3, 3, 2, 5], s: 2, pad: 'same' },
  { x: [2, 9, 7, 3], f: [3, 2, 3, 2], s: 2, pad: 'valid' },
  { x: [1, 10, 11, 2], f: [4, 4, 2, 3], s: [3, 2], pad: 'valid' },
  { x: [1, 6, 7, 2], f: [3, 3, 2, 2], s: 2, pad: [[0, 0], [1, 0], [2, 1], [0, 0]] },
  { x: [1, 10, 10, 1], f: [3, 3, 1, 1], s: 4, pad: 'valid' },
  { x: [2, 5, 5, 4], f: [1, 1, 4, 3], s: 1, pad: 'valid' },
  { x: [1, 9, 9, 2], f: [5, 5, 2, 2], s: 2, pad: 1, rounding: 'floor' },
  { x: [3, 6, 6, 2], f: [2, 2, 2, 3], s: 2, pad: 'same' },
  // Large enough for the filter gradient to run in several im2col chunks (crossing batch entries).
  { x: [2, 40, 60, 2], f: [3, 3, 2, 3], s: 1, pad: 'same' },
  { x: [3, 100, 90, 1], f: [3, 3, 1, 2], s: 2, pad: 'valid' },
];

function convOut(c: ConvCase, depthwise = false): Shape4 {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.f, c.s, c.dil ?? 1, c.pad, c.rounding, depthwise);
  return info.outShape as Shape4;
}

describe('conv2d gradient kernels vs cpu', () => {
  for (const c of CONV_CASES) {
    const label = ` x${c.x} f${c.f} s${c.s} ${JSON.stringify(c.pad)}`;
    test(`Conv2DBackpropInput${label}`, async () => {
      await compare('Conv2DBackpropInput', { dy: rnd(convOut(c)), filter: rnd(c.f) },
        { strides: c.s, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: c.rounding, inputShape: c.x }, label);
    });
    test(`Conv2DBackpropFilter${label}`, async () => {
      await compare('Conv2DBackpropFilter', { x: rnd(c.x), dy: rnd(convOut(c)) },
        { strides: c.s, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: c.rounding, filterShape: c.f }, label);
    });
  }
  test('Conv2DBackpropInput, zero-insertion variant (polyphase off)', async () => {
    convOptions.polyphase = false;
    try {
      for (const c of CONV_CASES.filter((k) => k.s !== 1)) {
        await compare('Conv2DBackpropInput', { dy: rnd(convOut(c)), filter: rnd(c.f) },
          { strides: c.s, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: c.rounding, inputShape: c.x }, ` zero-insert x${c.x} s${c.s}`);
      }
    } finally {
      convOptions.polyphase = true;
    }
  });
});

const DW_CASES: ConvCase[] = [
  { x: [2, 7, 8, 3], f: [3, 3, 3, 1], s: 1, pad: 'same' },
  { x: [1, 8, 8, 2], f: [3, 3, 2, 2], s: 2, pad: 'same' },
  { x: [2, 8, 8, 3], f: [4, 4, 3, 1], s: 4, pad: 'valid' },
  { x: [1, 9, 7, 2], f: [3, 2, 2, 3], s: [2, 1], pad: 'valid' },
  { x: [1, 9, 9, 2], f: [3, 3, 2, 1], s: 1, pad: 'same', dil: 2 },
  { x: [2, 6, 7, 2], f: [2, 3, 2, 2], s: 2, pad: [[0, 0], [1, 1], [0, 2], [0, 0]] },
];

/** Filter [KH,KW,C,M] with (d−1) zeros between taps. */
function dilateFilter(f: Arr, d: number): Arr {
  const [kh, kw, c, m] = f.shape;
  const [h2, w2] = [(kh - 1) * d + 1, (kw - 1) * d + 1];
  const out = new Float32Array(h2 * w2 * c * m);
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let k = 0; k < c * m; k++) {
    out[((i * d) * w2 + j * d) * c * m + k] = f.data[(i * kw + j) * c * m + k];
  }
  return { data: out, shape: [h2, w2, c, m] };
}

/** The taps at multiples of d of a dilated-size filter gradient. */
function subsampleTaps(full: Out, f: Shape4, d: number): Out {
  const [kh, kw, c, m] = f;
  const w2 = (kw - 1) * d + 1;
  const out = new Float32Array(kh * kw * c * m);
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let k = 0; k < c * m; k++) {
    out[(i * kw + j) * c * m + k] = full.data[((i * d) * w2 + j * d) * c * m + k];
  }
  return { data: out, shape: [...f] };
}

describe('depthwise gradient kernels vs cpu', () => {
  for (const c of DW_CASES) {
    const label = ` x${c.x} f${c.f} s${c.s} d${c.dil ?? 1} ${JSON.stringify(c.pad)}`;
    const common = { strides: c.s, dilations: c.dil ?? 1, pad: c.pad, dimRoundingMode: c.rounding };
    // The cpu depthwise gradients ignore dilations (core never passes them), so dilated cases are
    // checked against the undilated kernel with the zero-inserted filter.
    const d = c.dil ?? 1;
    const fd: Shape4 = [(c.f[0] - 1) * d + 1, (c.f[1] - 1) * d + 1, c.f[2], c.f[3]];
    test(`DepthwiseConv2dNativeBackpropInput${label}`, async () => {
      const dy = rnd(convOut(c, true));
      const filter = rnd(c.f);
      await compare('DepthwiseConv2dNativeBackpropInput', { dy, filter }, { ...common, inputShape: c.x }, label,
        d === 1 ? undefined : () => runOn('cpu', 'DepthwiseConv2dNativeBackpropInput', { dy, filter: dilateFilter(filter, d) },
          { ...common, dilations: 1, inputShape: c.x }));
    });
    test(`DepthwiseConv2dNativeBackpropFilter${label}`, async () => {
      const x = rnd(c.x);
      const dy = rnd(convOut(c, true));
      await compare('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...common, filterShape: c.f }, label,
        d === 1 ? undefined : async () => {
          const [full] = await runOn('cpu', 'DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...common, dilations: 1, filterShape: fd });
          return [subsampleTaps(full, c.f, d)];
        });
    });
  }
});

type Shape5 = [number, number, number, number, number];
interface Conv3Case {
  x: Shape5;
  f: Shape5;
  s: [number, number, number];
  pad: 'same' | 'valid';
}
const CONV3_CASES: Conv3Case[] = [
  { x: [1, 5, 6, 6, 2], f: [3, 3, 3, 2, 3], s: [1, 1, 1], pad: 'same' },
  { x: [2, 4, 8, 7, 2], f: [1, 3, 3, 2, 2], s: [1, 2, 2], pad: 'same' },
  { x: [1, 7, 6, 6, 3], f: [3, 1, 1, 3, 2], s: [1, 1, 1], pad: 'valid' },
  { x: [1, 6, 7, 8, 2], f: [3, 3, 3, 2, 2], s: [2, 2, 2], pad: 'valid' },
  { x: [2, 5, 6, 5, 1], f: [2, 3, 2, 1, 2], s: [2, 1, 2], pad: 'same' },
  { x: [1, 4, 5, 5, 4], f: [1, 1, 1, 4, 6], s: [1, 1, 1], pad: 'valid' },
];

describe('conv3d gradient kernels vs cpu', () => {
  for (const c of CONV3_CASES) {
    const label = ` x${c.x} f${c.f} s${c.s} ${c.pad}`;
    const out = tf.backend_util.computeConv3DInfo(c.x, c.f, c.s, 1, c.pad).outShape as number[];
    test(`Conv3DBackpropInputV2${label}`, async () => {
      await compare('Conv3DBackpropInputV2', { dy: rnd(out), filter: rnd(c.f) }, { strides: c.s, pad: c.pad, inputShape: c.x }, label);
    });
    test(`Conv3DBackpropFilterV2${label}`, async () => {
      await compare('Conv3DBackpropFilterV2', { x: rnd(c.x), dy: rnd(out) }, { strides: c.s, pad: c.pad, filterShape: c.f }, label);
    });
  }
});

describe('matmul kernels vs cpu', () => {
  const shapes: Array<[number[], number[]]> = [
    [[5, 7], [7, 3]],
    [[4, 5, 7], [7, 3]],
    [[4, 5, 7], [1, 7, 3]],
    [[5, 7], [4, 7, 3]],
    [[4, 5, 7], [4, 7, 3]],
    [[2, 3, 5, 7], [2, 3, 7, 4]],
    [[2, 1, 5, 7], [1, 3, 7, 4]],
    [[1, 6, 8], [3, 8, 2]],
    // Both batched: tiny matrices in a loop (above), larger ones as one GEMM per batch entry.
    [[3, 20, 16], [3, 16, 12]],
    // Reductions longer than 4096 run as summed chunks.
    [[3, 5000], [5000, 2]],
    [[2, 3, 4500], [4500, 2]],
    [[3, 4500], [2, 4500, 2]],
  ];
  const tr = (s: number[], t: boolean) => (t ? [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]] : s);
  for (const [sa, sb] of shapes) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const label = ` [${sa}]${ta ? 'ᵀ' : ''}·[${sb}]${tb ? 'ᵀ' : ''}`;
        test(`BatchMatMul${label}`, async () => {
          await compare('BatchMatMul', { a: rnd(tr(sa, ta)), b: rnd(tr(sb, tb)) }, { transposeA: ta, transposeB: tb }, label);
        });
      }
    }
  }
  const fused: Array<{ a: number[]; b: number[]; ta: boolean; tb: boolean; act: string; bias: boolean; prelu?: boolean }> = [
    { a: [1, 5, 7], b: [1, 3, 7], ta: false, tb: true, act: 'relu', bias: true },
    { a: [1, 7, 5], b: [1, 7, 3], ta: true, tb: false, act: 'linear', bias: true },
    { a: [4, 5, 7], b: [1, 7, 3], ta: false, tb: false, act: 'elu', bias: true },
    { a: [4, 7, 5], b: [1, 3, 7], ta: true, tb: true, act: 'leakyrelu', bias: false },
    { a: [4, 5, 7], b: [4, 7, 3], ta: false, tb: false, act: 'relu6', bias: true },
    { a: [1, 5, 7], b: [4, 3, 7], ta: false, tb: true, act: 'sigmoid', bias: true },
    { a: [2, 5, 7], b: [1, 3, 7], ta: false, tb: true, act: 'prelu', bias: true, prelu: true },
  ];
  for (const f of fused) {
    const label = ` [${f.a}]${f.ta ? 'ᵀ' : ''}·[${f.b}]${f.tb ? 'ᵀ' : ''} ${f.act}${f.bias ? '+bias' : ''}`;
    test(`_FusedMatMul${label}`, async () => {
      const n = f.tb ? f.b[1] : f.b[2];
      const inputs: Record<string, Arr> = { a: rnd(f.a), b: rnd(f.b) };
      if (f.bias) inputs.bias = rnd([n]);
      if (f.prelu) inputs.preluActivationWeights = rnd([n], 0, 0.5);
      await compare('_FusedMatMul', inputs, { transposeA: f.ta, transposeB: f.tb, activation: f.act, leakyreluAlpha: 0.1 }, label);
    });
  }
});

describe('gather / segment / slice kernels vs cpu', () => {
  const gathers: Array<{ x: number[]; idx: number[]; idxShape: number[]; axis: number; batchDims: number; int?: boolean }> = [
    { x: [10, 4], idx: [3, 0, 9, 3, 5, 1], idxShape: [6], axis: 0, batchDims: 0 },
    { x: [10], idx: [3, 0, 9, 3], idxShape: [2, 2], axis: 0, batchDims: 0 },
    { x: [3, 10, 4], idx: [7, 2, 2, 0], idxShape: [4], axis: 1, batchDims: 0 },
    { x: [2, 5, 3], idx: [2, 0, 1, 1, 2], idxShape: [5], axis: 2, batchDims: 0 },
    { x: [3, 5, 4], idx: [4, 0, 1, 1, 3, 2], idxShape: [3, 2], axis: 1, batchDims: 1 },
    { x: [2, 3, 6, 2], idx: [5, 0, 1, 4], idxShape: [2, 2], axis: 2, batchDims: 1 },
    { x: [6, 3], idx: [5, 5, 0], idxShape: [3], axis: 0, batchDims: 0, int: true },
  ];
  for (const g of gathers) {
    const label = ` x[${g.x}] idx[${g.idxShape}] axis ${g.axis} batchDims ${g.batchDims}${g.int ? ' int32' : ''}`;
    test(`GatherV2${label}`, async () => {
      const x = rnd(g.x, -5, 5);
      if (g.int) x.data = Array.from(x.data, Math.round);
      await compare('GatherV2', { x: { ...x, dtype: g.int ? 'int32' : 'float32' }, indices: ints(g.idx, g.idxShape) },
        { axis: g.axis, batchDims: g.batchDims }, label);
    });
  }
  test('GatherV2 out-of-range index throws', async () => {
    await assert.rejects(runOn('wasm', 'GatherV2', { x: rnd([4, 2]), indices: ints([1, 4]) }, { axis: 0, batchDims: 0 }), /not in \[0, 3\]/);
  });

  const segs: Array<{ x: number[]; ids: number[]; idsShape: number[]; n: number }> = [
    { x: [8, 3], ids: [0, 2, 2, 4, 0, 1, 4, 4], idsShape: [8], n: 5 },
    { x: [2, 3, 2], ids: [1, 1, 0, 3, 1, 0], idsShape: [2, 3], n: 4 },
    { x: [6], ids: [0, 0, 1, 1, 2, 2], idsShape: [6], n: 3 },
    { x: [5, 2], ids: [0, -1, 2, 7, 2], idsShape: [5], n: 3 }, // out-of-range ids are dropped
  ];
  for (const g of segs) {
    const label = ` x[${g.x}] ids[${g.ids}] n ${g.n}`;
    test(`UnsortedSegmentSum${label}`, async () => {
      const x = rnd(g.x);
      // The cpu kernel fails for rank > 1 ids; the reference flattens them (same semantics).
      const k = g.idsShape.length;
      const flat = { data: x.data, shape: [g.ids.length, ...g.x.slice(k)] };
      await compare('UnsortedSegmentSum', { x, segmentIds: ints(g.ids, g.idsShape) }, { numSegments: g.n }, label,
        () => runOn('cpu', 'UnsortedSegmentSum', { x: flat, segmentIds: ints(g.ids) }, { numSegments: g.n }));
    });
  }

  const slices: Array<{ x: number[]; begin: number[]; size: number[] }> = [
    { x: [4, 6], begin: [1, 2], size: [2, 3] },
    { x: [3, 4, 5], begin: [0, 1, 4], size: [3, 2, 1] },
    { x: [2, 3, 4, 5], begin: [0, 0, 0, 1], size: [-1, -1, -1, 2] },
    { x: [2, 3, 4, 5], begin: [1, 0, 0, 0], size: [1, -1, -1, -1] },
    { x: [2, 3, 4, 5, 6], begin: [0, 1, 0, 2, 0], size: [2, 2, 4, 3, 6] },
    { x: [2, 3, 1, 4, 40], begin: [1, 0, 0, 1, 3], size: [1, 3, 1, 2, 30] },
    { x: [2, 1, 3, 2, 2, 3], begin: [0, 0, 1, 0, 1, 2], size: [2, 1, 2, 2, 1, 1] },
    { x: [7], begin: [2], size: [4] },
  ];
  for (const c of slices) {
    const label = ` x[${c.x}] begin[${c.begin}] size[${c.size}]`;
    test(`Slice${label}`, async () => {
      await compare('Slice', { x: rnd(c.x) }, { begin: c.begin, size: c.size }, label);
    });
  }
  test('Slice int32', async () => {
    await compare('Slice', { x: ints(Array.from({ length: 60 }, (_, i) => i * 3 - 7), [3, 4, 5]) }, { begin: [1, 1, 2], size: [2, 3, 2] });
  });
  const splits: Array<{ x: number[]; sizes: number[] | number; axis: number }> = [
    { x: [2, 3, 4, 5], sizes: [1, 3, 1], axis: 3 },
    { x: [2, 3, 4, 5, 2], sizes: [2, 2], axis: 2 },
    { x: [6, 4], sizes: 3, axis: 0 },
    { x: [3, 8], sizes: [2, -1, 1], axis: -1 },
  ];
  for (const c of splits) {
    const label = ` x[${c.x}] sizes ${JSON.stringify(c.sizes)} axis ${c.axis}`;
    test(`SplitV${label}`, async () => {
      await compare('SplitV', { x: rnd(c.x) }, { numOrSizeSplits: c.sizes, axis: c.axis }, label);
    });
  }
});

describe('Tanh, Mean and Sum vs cpu and the stock kernels', () => {
  /** Distance in float32 ulps (both finite, same sign). */
  const ulps = (a: number, b: number): number => {
    const f = new Float32Array([a, b]);
    const i = new Int32Array(f.buffer);
    return Math.abs(i[0] - i[1]);
  };
  test('Tanh: within 1 ulp of the correctly rounded value (cpu: Math.tanh), specials exact, odd length', async () => {
    const special = [0, -0, 1e-30, -1e-8, 1e-40, 2 ** -12, -(2 ** -12) * 1.0001, 2 ** -12 * 0.9999, 0.1733, -0.3467, 9, 9.01, -9.5, 20, 3e38, Infinity, -Infinity, NaN];
    const r = seeded(4001, seed++);
    // magnitudes from 1e-4 to ~20, both signs
    const data = Float32Array.from([...special, ...Array.from(r, (v, i) => Math.sign(v) * Math.exp(-9 + 12 * Math.abs(seeded(1, i + 7)[0])))]);
    const [ref] = await runOn('cpu', 'Tanh', { x: { data, shape: [data.length] } }, {});
    const [got] = await runOn('wasm', 'Tanh', { x: { data, shape: [data.length] } }, {});
    special.forEach((v, i) => assert.ok(Object.is(got.data[i], ref.data[i]), `tanh(${v}) = ${got.data[i]}, cpu ${ref.data[i]}`));
    let exact = 0;
    for (let i = 0; i < data.length; i++) {
      if (Object.is(got.data[i], ref.data[i])) exact++;
      else assert.ok(ulps(got.data[i], ref.data[i]) <= 1, `tanh(${data[i]}) = ${got.data[i]}, cpu ${ref.data[i]}`);
    }
    record('Tanh (share not bit-equal)', 1 - exact / data.length);
  });
  test('Tanh gradient (from the output) matches cpu', async () => {
    const x = rnd([3, 5, 7], -4, 4);
    const w = rnd([3, 5, 7]);
    const run = async (be: BackendName) => {
      await useBackend(be);
      const [xt, wt] = [tf.tensor(Array.from(x.data), x.shape), tf.tensor(Array.from(w.data), w.shape)];
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.tanh(v), wt)))(xt);
      const out = g.dataSync().slice();
      tf.dispose([xt, wt, g]);
      return out;
    };
    const ref = await run('cpu');
    assertClose(await run('wasm'), ref, 1e-6, 'tanh gradient');
  });
  const means: Array<{ x: number[]; axis: number | number[]; keepDims: boolean }> = [
    { x: [2, 7, 9, 12], axis: [1, 2], keepDims: true }, // instance norm (SIMD path)
    { x: [1, 5, 6, 8], axis: [1, 2], keepDims: false },
    { x: [1, 5, 6, 8], axis: [2, 1], keepDims: false }, // the stock kernel sums W-major then: stock
    { x: [3, 5, 8], axis: -2, keepDims: true },
    { x: [2, 3, 4, 5, 4], axis: [1, 2, 3], keepDims: false },
    { x: [4, 2, 4], axis: [0], keepDims: false },
    { x: [2, 7, 9, 3], axis: [1, 2], keepDims: true }, // channels not a multiple of 4: stock
    { x: [2, 6, 8], axis: [1, 2], keepDims: false }, // innermost axis reduced: stock
    { x: [2, 3, 4, 8], axis: [1, 3], keepDims: false }, // not contiguous: stock
  ];
  // Sum: also a bias gradient over N, H, W (leading axes).
  const sums = [...means, { x: [2, 5, 6, 8], axis: [0, 1, 2], keepDims: false }, { x: [3, 4, 12], axis: [0], keepDims: true }];
  for (const [op, cases] of [['Mean', means], ['Sum', sums]] as const) for (const c of cases) {
    const label = ` x[${c.x}] axis ${JSON.stringify(c.axis)} keepDims ${c.keepDims}`;
    test(`${op}${label}: same bits as the stock wasm kernel, close to cpu`, async () => {
      const x = rnd(c.x, -2, 3);
      const attrs = { axis: c.axis, keepDims: c.keepDims };
      await compare(op, { x }, attrs, label);
      const [got] = await runOn('wasm', op, { x }, attrs);
      await useBackend('wasm');
      const be = tf.backend() as unknown as { readSync(id: object): Float32Array; disposeData(id: object): void };
      const xt = tf.tensor(Array.from(x.data), x.shape);
      const o = stockWasmKernel(op)!({ inputs: { x: xt }, backend: tf.backend(), attrs } as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
      const stock = be.readSync(o.dataId).slice();
      be.disposeData(o.dataId);
      xt.dispose();
      assert.deepEqual(got.shape, o.shape, 'shape');
      assert.deepEqual(Array.from(got.data), Array.from(stock), 'values');
    });
  }
});

describe('RaftCorrLookup', () => {
  test('same bits as corrLookupHost: windows crossing the borders, integer, far-out and NaN coordinates', async () => {
    await useBackend('wasm');
    const q = 3 * 4;
    const sizes: Array<[number, number]> = [[6, 9], [3, 4], [1, 2], [1, 1]];
    const levels = sizes.map(([lh, lw]) => seeded(q * lh * lw, seed++, -3, 3));
    const coords = seeded(2 * q, seed++, -6, 14);
    [[2, 3], [-1e9, 5], [4, 3e9], [NaN, 1], [0, 0], [8.5, 5.25]].forEach(([x, y], i) => {
      coords[2 * i] = x;
      coords[2 * i + 1] = y;
    });
    const ref = corrLookupHost(levels, sizes, q, coords, 2);
    const inputs: Record<string, tf.Tensor> = { coords: tf.tensor4d(coords, [1, 3, 4, 2]) };
    levels.forEach((v, l) => (inputs[`level${l}`] = tf.tensor4d(v, [q, sizes[l][0], sizes[l][1], 1])));
    const out = tf.engine().runKernel(RAFT_CORR_LOOKUP, inputs, { radius: 2 }) as tf.Tensor;
    assert.deepEqual(out.shape, [1, 3, 4, 4 * 25]);
    const got = out.dataSync();
    assert.equal(got.length, ref.length);
    for (let i = 0; i < ref.length; i++) assert.ok(Object.is(got[i], ref[i]) || (Number.isNaN(got[i]) && Number.isNaN(ref[i])), `element ${i}: ${got[i]} vs ${ref[i]}`);
    tf.dispose([out, ...Object.values(inputs)]);
  });
});

describe('pooling kernels vs cpu', () => {
  // Distinct values a fixed step apart: no ties, so the argmax is unambiguous.
  const distinct = (shape: number[], step = 0.1): Arr => {
    const n = shape.reduce((a, b) => a * b, 1);
    const r = seeded(n, seed++);
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => r[a] - r[b]);
    const data = new Float32Array(n);
    order.forEach((j, rank) => (data[j] = (rank - n / 2) * step));
    return { data, shape };
  };
  const pools: Array<{ x: Shape4; k: number | [number, number]; s: number; pad: 'same' | 'valid' }> = [
    { x: [2, 6, 6, 3], k: 2, s: 2, pad: 'valid' },
    { x: [1, 7, 5, 2], k: 3, s: 2, pad: 'same' },
    { x: [1, 6, 6, 1], k: [3, 2], s: 1, pad: 'valid' },
  ];
  for (const p of pools) {
    const label = ` x${p.x} k${p.k} s${p.s} ${p.pad}`;
    test(`MaxPoolGrad${label}`, async () => {
      const x = distinct(p.x);
      const attrs = { filterSize: p.k, strides: p.s, pad: p.pad };
      const [y] = await runOn('cpu', 'MaxPool', { x }, attrs);
      await compare('MaxPoolGrad', { dy: rnd(y.shape), input: x, output: { data: y.data, shape: y.shape } }, attrs, label);
    });
  }
  const pools3: Array<{ x: Shape5; k: number | [number, number, number]; s: number | [number, number, number]; pad: 'same' | 'valid' }> = [
    { x: [1, 4, 6, 6, 2], k: 2, s: 2, pad: 'valid' },
    { x: [2, 5, 5, 6, 3], k: 3, s: 1, pad: 'same' },
    { x: [1, 6, 7, 5, 2], k: [1, 3, 3], s: [1, 2, 2], pad: 'same' },
  ];
  for (const p of pools3) {
    const label = ` x${p.x} k${p.k} s${p.s} ${p.pad}`;
    const attrs = { filterSize: p.k, strides: p.s, pad: p.pad, dataFormat: 'NDHWC' };
    test(`MaxPool3D${label}`, async () => {
      await compare('MaxPool3D', { x: distinct(p.x) }, attrs, label);
    });
    test(`MaxPool3DGrad${label}`, async () => {
      const x = distinct(p.x);
      const [y] = await runOn('cpu', 'MaxPool3D', { x }, attrs);
      await compare('MaxPool3DGrad', { dy: rnd(y.shape), input: x, output: { data: y.data, shape: y.shape } }, attrs, label);
    });
  }
});

describe('gradients of public ops on wasm vs finite differences', () => {
  const fd = (what: string, f: (...xs: tf.Tensor[]) => tf.Scalar, xs: tf.Tensor[], eps = 1e-2): void => {
    const errs = tf.tidy(() => gradCheck(f, xs, { what, eps, rel: 2e-3 }));
    record(`fd: ${what}`, Math.max(...errs));
    xs.forEach((x) => x.dispose());
  };
  const t = (shape: number[], lo = -1, hi = 1) => tf.tensor(seeded(shape.reduce((a, b) => a * b, 1), seed++, lo, hi), shape);
  const weighted = (y: tf.Tensor): tf.Scalar => tf.sum(tf.mul(y, tf.sin(tf.mul(tf.range(0, y.size).reshape(y.shape), 0.37)))) as tf.Scalar;

  before(async () => {
    await useBackend('wasm');
  });

  test('conv2d stride 1 same / stride 2 valid', () => {
    fd('conv2d s1 same', (x, w) => weighted(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')), [t([2, 6, 7, 3]), t([3, 3, 3, 4])]);
    fd('conv2d s2 valid', (x, w) => weighted(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'valid')), [t([1, 9, 8, 2]), t([3, 3, 2, 3])]);
  });
  test('conv2dTranspose stride 2', () => {
    fd('conv2dTranspose s2', (x, w) => weighted(tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [1, 8, 8, 3], 2, 'same')),
      [t([1, 4, 4, 2]), t([3, 3, 3, 2])]);
  });
  test('matMul with transposes and batches', () => {
    fd('matMul aᵀ·b', (a, b) => weighted(tf.matMul(a, b, true, false)), [t([6, 4]), t([6, 5])]);
    fd('matMul a·bᵀ batched', (a, b) => weighted(tf.matMul(a, b, false, true)), [t([3, 4, 6]), t([3, 5, 6])]);
    // (tfjs-core's BatchMatMul gradient does not reduce broadcast batch dims, so both are batched.)
    fd('matMul aᵀ·bᵀ rank 4', (a, b) => weighted(tf.matMul(a, b, true, true)), [t([2, 3, 6, 4]), t([2, 3, 5, 6])]);
  });
  test('fused matMul (Linear) with bias and relu', () => {
    fd('fused.matMul relu', (a, b, c) => weighted(tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, transposeB: true, bias: c, activation: 'linear' })),
      [t([5, 6]), t([4, 6]), t([4])]);
  });
  test('gather axis 0 and axis 1', () => {
    const idx = tf.tensor1d([3, 0, 3, 5, 1], 'int32');
    fd('gather axis 0', (x) => weighted(tf.gather(x, idx, 0)), [t([6, 4])]);
    fd('gather axis 1', (x) => weighted(tf.gather(x, idx, 1)), [t([2, 6, 3])]);
    idx.dispose();
  });
  test('maxPool', () => {
    const n = 2 * 6 * 6 * 2;
    const r = seeded(n, seed++);
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => r[a] - r[b]);
    const data = new Float32Array(n);
    order.forEach((j, rank) => (data[j] = (rank - n / 2) * 0.1));
    fd('maxPool 2x2 s2', (x) => weighted(tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid')), [tf.tensor(data, [2, 6, 6, 2])], 1e-2);
  });
  test('depthwiseConv2d', () => {
    fd('depthwiseConv2d s1 same m2', (x, w) => weighted(tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')),
      [t([2, 6, 5, 3]), t([3, 3, 3, 2])]);
    fd('depthwiseConv2d 4x4 s4', (x, w) => weighted(tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 4, 'valid')),
      [t([1, 8, 8, 2]), t([4, 4, 2, 1])]);
  });
  test('conv3d', () => {
    fd('conv3d (1,3,3) s(1,2,2) same', (x, w) => weighted(tf.conv3d(x as tf.Tensor5D, w as tf.Tensor5D, [1, 2, 2], 'same')),
      [t([1, 3, 6, 6, 2]), t([1, 3, 3, 2, 3])]);
    fd('conv3d 3x3x3 s2 valid', (x, w) => weighted(tf.conv3d(x as tf.Tensor5D, w as tf.Tensor5D, 2, 'valid')),
      [t([1, 5, 6, 5, 2]), t([3, 3, 3, 2, 2])]);
  });
});
