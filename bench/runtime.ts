/**
 * `npm run bench -- runtime [--reps N] [--no-stock] [--only conv|matmul|index] [--quick]`
 *
 * GFLOP/s of the kernels a training step lives on, at the shapes of
 * ../shared/reference/tfjs-backends.md: 3×3 conv 128→128 (forward, input/filter gradients,
 * forward+backward), Linear-style matMuls with transposes, attention-like batched matMuls, and
 * the gather/slice paths. On wasm, the stock kernels are timed too where they exist and finish in
 * seconds (one run each, no warm-up).
 */
import * as tf from '@tensorflow/tfjs-core';
import { convOptions } from '../lib/runtime/wasm-conv';
import { registerWasmKernelPack, unregisterWasmKernelPack } from '../lib/runtime/wasm-kernels';
import { fmtPeak, fmtTiming, parseArgs, peakMemory, time, type Timing } from './util';

let reps = 5;
let withStock = true;

const onWasm = () => tf.getBackend() === 'wasm';

function rand(shape: number[], seed = 1): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', seed);
}

/** Runs `fn` with the stock wasm kernels registered instead of the pack. */
async function stock<T>(fn: () => Promise<T>): Promise<T> {
  unregisterWasmKernelPack();
  try {
    return await fn();
  } finally {
    registerWasmKernelPack();
  }
}

function line(label: string, t: Timing, work?: number, unit: 'flop' | 'bytes' = 'flop', extra = ''): void {
  console.log(`  ${label.padEnd(46)} ${fmtTiming(t, work, unit)}${extra}`);
}

/**
 * Times `fn` with the pack and, on wasm when asked, once with the stock kernels. `work` is FLOPs
 * (or bytes with unit 'bytes').
 */
async function compare(label: string, fn: () => unknown, work: number, opts: { stock?: boolean; unit?: 'flop' | 'bytes' } = {}): Promise<void> {
  const packed = await time(fn, { reps });
  line(label + (onWasm() ? ' [pack]' : ''), packed, work, opts.unit);
  if (onWasm() && withStock && opts.stock !== false) {
    try {
      const s = await stock(() => time(fn, { warmup: 0, reps: 1 }));
      line(label + ' [stock]', s, work, opts.unit, `  (pack ${(s.best / packed.best).toFixed(1)}× faster)`);
    } catch (e) {
      console.log(`  ${(label + ' [stock]').padEnd(46)} fails: ${(e as Error).message.split('\n')[0].slice(0, 80)}`);
    }
  }
}

async function convSection(quick: boolean): Promise<void> {
  console.log('conv2d 3×3, NHWC, same padding');
  const cases: Array<{ b: number; h: number; w: number; ci: number; co: number; s: number }> = quick
    ? [{ b: 1, h: 60, w: 108, ci: 128, co: 128, s: 1 }]
    : [
        { b: 1, h: 60, w: 108, ci: 128, co: 128, s: 1 },
        { b: 1, h: 120, w: 216, ci: 128, co: 128, s: 1 },
        { b: 1, h: 120, w: 216, ci: 64, co: 64, s: 2 },
      ];
  for (const c of cases) {
    const x = rand([c.b, c.h, c.w, c.ci], 1) as tf.Tensor4D;
    const w = tf.tidy(() => tf.mul(rand([3, 3, c.ci, c.co], 2), 0.05)) as tf.Tensor4D;
    const y = tf.conv2d(x, w, c.s, 'same');
    const [, oh, ow] = y.shape;
    const flop = 2 * c.b * oh * ow * 9 * c.ci * c.co;
    const dy = rand(y.shape, 3) as tf.Tensor4D;
    y.dispose();
    const tag = `${c.b}×${c.h}×${c.w} ${c.ci}→${c.co} s${c.s}`;
    // The pack runs stride-1 3×3 convs as Winograd; the stock row is the direct XNNPACK conv.
    await compare(`fwd ${tag}`, () => tf.conv2d(x, w, c.s, 'same'), flop);
    const attrs = { strides: c.s, pad: 'same', dataFormat: 'NHWC' };
    // The stock input gradient is the naive loop: one run is seconds at these sizes.
    const bwdInput = () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: x.shape });
    await compare(`bwd input ${tag}`, bwdInput, flop, { stock: c.h * c.w <= 120 * 216 });
    if (c.s > 1 && onWasm()) {
      // The pack's strided input gradient is polyphase; zero insertion does s² times the work.
      convOptions.polyphase = false;
      try {
        line(`bwd input ${tag} [pack, zero-insert]`, await time(bwdInput, { reps }), flop);
      } finally {
        convOptions.polyphase = true;
      }
    }
    await compare(`bwd filter ${tag}`, () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: w.shape }),
      flop, { stock: false });
    const step = () => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, 'same')));
      return g([x, w]);
    };
    await compare(`fwd+bwd ${tag}`, step, 3 * flop, { stock: false });
    console.log(`  ${''.padEnd(46)} fwd+bwd ${fmtPeak(await peakMemory(step))}`);
    tf.dispose([x, w, dy]);
  }
}

async function matmulSection(quick: boolean): Promise<void> {
  console.log('matMul (Linear and attention shapes)');
  const cases: Array<{ label: string; a: number[]; b: number[]; ta: boolean; tb: boolean; flop: number }> = [
    { label: 'x·Wᵀ 6480×512·(512×512)ᵀ', a: [6480, 512], b: [512, 512], ta: false, tb: true, flop: 2 * 6480 * 512 * 512 },
    { label: 'Aᵀ·dy (25920×1152)ᵀ·25920×128', a: [25920, 1152], b: [25920, 128], ta: true, tb: false, flop: 2 * 25920 * 1152 * 128 },
    { label: 'broadcast [8,810,512]·[512,512]', a: [8, 810, 512], b: [512, 512], ta: false, tb: false, flop: 2 * 8 * 810 * 512 * 512 },
    { label: 'attention 32×(200×64)·(800×64)ᵀ', a: [32, 200, 64], b: [32, 800, 64], ta: false, tb: true, flop: 2 * 32 * 200 * 800 * 64 },
    { label: 'attention 32×(200×800)·(800×64)', a: [32, 200, 800], b: [32, 800, 64], ta: false, tb: false, flop: 2 * 32 * 200 * 800 * 64 },
  ];
  for (const c of quick ? cases.slice(0, 1) : cases) {
    const a = rand(c.a, 4);
    const b = rand(c.b, 5);
    await compare(c.label, () => tf.matMul(a, b, c.ta, c.tb), c.flop);
    tf.dispose([a, b]);
  }
  // A Linear layer's training step: forward x·Wᵀ, backward dy·W and dyᵀ·x.
  const x = rand([6480, 512], 6);
  const w = tf.tidy(() => tf.mul(rand([512, 512], 7), 0.05));
  const lin = () => tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.matMul(p, q, false, true)))([x, w]);
  await compare('Linear fwd+bwd 6480×512→512', lin, 3 * 2 * 6480 * 512 * 512, { stock: !quick });
  tf.dispose([x, w]);
}

async function indexSection(): Promise<void> {
  console.log('gather / slice (rate = bytes of output per second)');
  const rows = 259200;
  const x = rand([rows, 64], 8);
  const idx = tf.tensor1d(Int32Array.from({ length: rows }, (_, i) => (i * 7919) % rows), 'int32');
  const bytes = { unit: 'bytes' as const };
  await compare('gather rows 259200×64 (axis 0)', () => tf.gather(x, idx), 4 * rows * 64, bytes);
  tf.dispose([x, idx]);
  const f = rand([10 * 60 * 108, 2], 9);
  await compare('split innermost [64800,2] → 2×[64800,1]', () => tf.split(f, 2, 1), 4 * f.size, bytes);
  f.dispose();
  const v = rand([2, 10, 60, 108, 16], 10);
  await compare('slice rank-5 [2,10,60,108,16] t 1..8', () => tf.slice(v, [0, 1, 0, 0, 0], [2, 8, 60, 108, 16]), (4 * v.size * 8) / 10, bytes);
  await compare('slice rank-5 innermost c 0..3', () => tf.slice(v, [0, 0, 0, 0, 0], [2, 10, 60, 108, 4]), v.size, bytes);
  v.dispose();
}

export async function run(args: string[]): Promise<void> {
  const { flags, values, rest } = parseArgs(args);
  reps = Number(values.get('reps') ?? (flags.has('quick') ? 2 : 5));
  withStock = !flags.has('no-stock');
  const only = values.get('only') ?? rest[0];
  if (only && !['conv', 'matmul', 'index'].includes(only)) throw new Error(`bench runtime: unknown section "${only}" (conv, matmul, index)`);
  const quick = flags.has('quick');
  console.log(`reps ${reps} (best-of, after 1 warm-up)${onWasm() ? `; stock kernels ${withStock ? 'timed once each' : 'skipped'}` : ''}`);
  if (!only || only === 'conv') await convSection(quick);
  if (!only || only === 'matmul') await matmulSection(quick);
  if (!only || only === 'index') await indexSection();
}
