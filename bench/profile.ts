/**
 * `npm run bench -- profile --model raft|flowcomp|propainter|train-flowcomp|train-propainter
 *  [--size HxW] [--frames N] [--iters N] [--ref N] [--runs N] [--top N] [--json FILE]`
 *
 * Where the time goes: one untimed warm-up, then `--runs` (default 2) runs with every kernel timed
 * (lib/runtime/kernel-profile.ts), reported as the minimum over the runs per row. Prints the time
 * per op group (convolution, matmul, correlation lookup, sampling, elementwise,
 * reduction/normalisation, copies/transposes, the pack's SIMD transforms, JS-side kernels,
 * custom-op glue, outside kernels),
 * per kernel (self time: a composed kernel's sub-kernels are rows `Parent/Child` of their own,
 * so its own row is its JS time), and the hottest call sites (kernel + input shapes).
 * Times are wall clock and process CPU time; on a loaded machine compare CPU times of
 * single-threaded runs.
 * Defaults: the bench models / train workloads (RAFT 1 pair 240×432, 20 iterations; flow
 * completion 10 frames 240×432; generator 10 local frames 240×432; train steps 5(+1) frames 120×216).
 */
import * as tf from '@tensorflow/tfjs-core';
import { applyDetInit } from '../lib/init/apply';
import { writeJsonAtomic } from '../lib/io/atomic';
import { DEFAULT_FORWARD, kernelMacs } from '../lib/models/analyze';
import { type ForwardOptions, getZooEntry, parseSize, validateForward } from '../lib/models/zoo';
import { type KernelCall, type KernelProfile, profileKernels } from '../lib/runtime/kernel-profile';
import { WASM_KERNEL_PACK } from '../lib/runtime/wasm-kernels';
import { fmtMs, parseArgs } from './util';
import { trainWorkload } from './train';

const WORKLOADS = ['raft', 'flowcomp', 'propainter', 'train-flowcomp', 'train-propainter'] as const;
type Workload = (typeof WORKLOADS)[number];

/** Op groups by kernel name; anything unlisted is 'other'. */
const GROUPS: Record<string, readonly string[]> = {
  convolution: ['Conv2D', 'FusedConv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter',
    'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter', 'Conv3D', 'Conv3DBackpropInputV2', 'Conv3DBackpropFilterV2'],
  matmul: ['BatchMatMul', '_FusedMatMul', 'Gemm'],
  'correlation lookup': ['RaftCorrLookup'],
  sampling: ['GatherNd', 'GatherV2', 'ScatterNd', 'UnsortedSegmentSum', 'ResizeBilinear', 'ResizeBilinearGrad', 'ResizeNearestNeighbor',
    'ResizeNearestNeighborGrad', 'BilinearSample', 'BilinearSampleGrad'],
  'reduction/normalisation': ['Sum', 'Mean', 'Max', 'Min', 'Prod', 'All', 'Any', 'ArgMax', 'ArgMin', 'Softmax', 'FusedBatchNorm', 'AvgPool',
    'AvgPoolGrad', 'AvgPool3D', 'AvgPool3DGrad', 'MaxPool', 'MaxPoolGrad', 'MaxPool3D', 'MaxPool3DGrad', 'Cumsum', 'TopK'],
  'copies/transposes': ['Transpose', 'Concat', 'Slice', 'SplitV', 'Unpack', 'Pack', 'PadV2', 'MirrorPad', 'Tile', 'Reverse', 'DepthToSpace',
    'SpaceToBatchND', 'BatchToSpaceND', 'StridedSlice', 'Reshape', 'Identity', 'Cast', 'Fill', 'ZerosLike', 'OnesLike', 'Range', 'BroadcastTo',
    'OneHot', 'ExpandDims', 'Squeeze'],
};
const ELEMENTWISE = /^(Abs|Acos|Acosh|Add|AddN|Asin|Asinh|Atan|Atan2|Atanh|Ceil|ClipByValue|Cos|Cosh|Div|Elu|EluGrad|Equal|Erf|Exp|Expm1|Floor|FloorDiv|Greater|GreaterEqual|IsNan|LeakyRelu|Less|LessEqual|Log|Log1p|LogicalAnd|LogicalNot|LogicalOr|Maximum|Minimum|Mod|Multiply|Mul|Neg|NotEqual|Pow|Prelu|RealDiv|Reciprocal|Relu|Relu6|Round|Rsqrt|Select|Selu|Sigmoid|Sign|Sin|Sinh|Softplus|Sqrt|Square|SquaredDifference|Step|Sub|Tan|Tanh)$/;
const GROUP_OF = new Map<string, string>(Object.entries(GROUPS).flatMap(([g, ks]) => ks.map((k) => [k, g] as [string, string])));

const PACK = new Set(WASM_KERNEL_PACK.map((k) => k.name));
/** Pack kernels whose own time is mostly the pack's SIMD module (Winograd transforms), not JS. */
const PACK_SIMD = new Set(['Conv2D']);
/** Pack kernels that are one call of the SIMD module doing the op itself: counted in the op's group. */
const PACK_OP_GROUP = new Set(['Tanh', 'Mean', 'Sum', 'Concat', 'Pack', 'RaftCorrLookup']);
const SIMD_GROUP = 'SIMD transforms (pack)';
const JS_GROUP = 'JS-side kernels';
const GLUE_GROUP = 'custom-op glue';
const GROUP_ORDER = ['convolution', 'matmul', 'correlation lookup', 'sampling', 'elementwise', 'reduction/normalisation', 'copies/transposes',
  SIMD_GROUP, JS_GROUP, GLUE_GROUP, 'other'];

/**
 * The group of a call's self time. On wasm, a pack kernel's own time is JavaScript (its wasm work
 * runs in sub-calls, timed separately), as is every kernel of the cpu backend.
 */
function groupOf(c: KernelCall, onWasm: boolean): string {
  if (c.composite) return GLUE_GROUP;
  const base = c.name.split('/').pop()!;
  const isSub = c.name.includes('/');
  if (onWasm && !isSub && PACK.has(c.name) && !PACK_OP_GROUP.has(c.name)) return PACK_SIMD.has(c.name) ? SIMD_GROUP : JS_GROUP;
  return GROUP_OF.get(base) ?? (ELEMENTWISE.test(base) ? 'elementwise' : 'other');
}

interface Row {
  key: string;
  group: string;
  calls: number;
  wall: number;
  cpu: number;
  total: number;
  macs: number;
}

/** Sums calls into rows by `keyOf`. MACs are counted at the outermost kernel only (never twice). */
function aggregate(p: KernelProfile, keyOf: (c: KernelCall) => string, onWasm: boolean): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const c of p.calls) {
    const key = keyOf(c);
    let r = rows.get(key);
    if (!r) rows.set(key, (r = { key, group: groupOf(c, onWasm), calls: 0, wall: 0, cpu: 0, total: 0, macs: 0 }));
    r.calls++;
    r.wall += c.wallMs;
    r.cpu += c.cpuMs;
    r.total += c.totalWallMs;
    if (!c.name.includes('/') && !c.composite) r.macs += kernelMacs(c.name, c.inputShapes, c.outputShapes);
  }
  return rows;
}

/** Per key, the run with the least self CPU time (min of N, robust to load on other cores). */
function minOver(runs: Array<Map<string, Row>>): Row[] {
  const best = new Map<string, Row>();
  for (const rows of runs) {
    for (const r of rows.values()) {
      const b = best.get(r.key);
      if (!b || r.cpu < b.cpu) best.set(r.key, r);
    }
  }
  return [...best.values()];
}

const pct = (a: number, b: number) => `${((100 * a) / Math.max(b, 1e-9)).toFixed(1)}%`;
const ms = (v: number) => v.toFixed(v < 10 ? 2 : 0);
const shapeKey = (c: KernelCall) => `${c.name} ${c.inputShapes.map((s) => (s ? `[${s.join(',')}]` : '-')).join(' ')}`;

interface Prepared {
  description: string;
  run(): void;
  dispose(): void;
}

function intArg(values: Map<string, string>, name: string, dflt: number): number {
  const v = values.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`bench profile: --${name} must be a positive integer, got "${v}"`);
  return n;
}

function prepare(workload: Workload, values: Map<string, string>): Prepared {
  if (workload.startsWith('train-')) {
    const kind = workload === 'train-flowcomp' ? 'flowcomp' : 'propainter';
    const { height: h, width: w } = parseSize(values.get('size') ?? '120x216');
    if (h % 8 !== 0 || w % 8 !== 0) throw new Error(`--size ${h}x${w}: H and W must be multiples of 8`);
    const local = intArg(values, 'frames', 5);
    const ref = kind === 'propainter' ? intArg(values, 'ref', 1) : 0;
    const work = trainWorkload(kind, h, w, local, ref);
    let i = 0;
    return {
      description: `${kind} train step ${h}×${w}, ${local}${kind === 'propainter' ? `+${ref}` : ''} frames, batch 1`,
      run: () => void work.step(i++),
      dispose: () => work.dispose(),
    };
  }
  const entry = getZooEntry(workload);
  const size = parseSize(values.get('size') ?? `${DEFAULT_FORWARD.height}x${DEFAULT_FORWARD.width}`);
  const fo: ForwardOptions = {
    ...size,
    frames: intArg(values, 'frames', entry.defaultFrames),
    iters: intArg(values, 'iters', DEFAULT_FORWARD.iters),
    videoLength: intArg(values, 'video-length', DEFAULT_FORWARD.videoLength),
  };
  validateForward(entry, fo);
  const model = entry.build();
  applyDetInit(model);
  model.eval();
  const spec = entry.prepare(model, fo);
  return {
    description: `${entry.title}: ${spec.description}`,
    run: () => {
      const out = tf.tidy(() => spec.run());
      tf.dispose(out);
    },
    dispose: () => {
      spec.dispose();
      model.dispose();
    },
  };
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs(args);
  const workload = values.get('model') as Workload | undefined;
  if (!workload || !WORKLOADS.includes(workload)) {
    throw new Error(`bench profile: --model must be one of ${WORKLOADS.join(', ')}${workload ? `, got "${workload}"` : ''}`);
  }
  const runs = intArg(values, 'runs', 2);
  const top = intArg(values, 'top', 25);
  const onWasm = tf.getBackend() === 'wasm';
  const work = prepare(workload, values);
  const profiles: KernelProfile[] = [];
  try {
    console.log(`profile ${workload}: ${work.description}; 1 warm-up, ${runs} profiled run(s); load average ${(require('os') as typeof import('os')).loadavg().map((l) => l.toFixed(1)).join(', ')}`);
    const t0 = performance.now();
    work.run();
    console.log(`warm-up ${fmtMs(performance.now() - t0)}`);
    for (let i = 0; i < runs; i++) {
      const { profile } = await profileKernels(() => work.run());
      console.log(`profiled run ${i + 1}: ${fmtMs(profile.wallMs)} wall, ${fmtMs(profile.cpuMs)} CPU, ${profile.calls.length} kernel calls`);
      profiles.push(profile);
    }
  } finally {
    work.dispose();
  }
  const bestRun = profiles.reduce((a, b) => (b.cpuMs < a.cpuMs ? b : a));

  // Groups (min over runs per group).
  const groupRuns = profiles.map((p) => {
    const m = new Map<string, Row>();
    for (const r of aggregate(p, (c) => c.name, onWasm).values()) {
      let g = m.get(r.group);
      if (!g) m.set(r.group, (g = { key: r.group, group: r.group, calls: 0, wall: 0, cpu: 0, total: 0, macs: 0 }));
      g.calls += r.calls;
      g.wall += r.wall;
      g.cpu += r.cpu;
      g.macs += r.macs;
    }
    m.set('outside kernels', { key: 'outside kernels', group: 'outside kernels', calls: 0, wall: p.outsideWallMs, cpu: p.outsideCpuMs, total: 0, macs: 0 });
    return m;
  });
  const groups = minOver(groupRuns);
  const order = [...GROUP_ORDER, 'outside kernels'];
  groups.sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key));
  const macsTotal = groups.reduce((a, g) => a + g.macs, 0);
  console.log(`\nbest run: ${fmtMs(bestRun.wallMs)} wall, ${fmtMs(bestRun.cpuMs)} CPU; ${(macsTotal / 1e9).toFixed(2)} GMAC` +
    ` (${(macsTotal / 1e6 / bestRun.cpuMs).toFixed(2)} GMAC/s of CPU time)`);
  console.log('\ngroup                      calls    wall ms     cpu ms   cpu %     GMAC');
  for (const g of groups) {
    console.log(`${g.key.padEnd(25)} ${String(g.calls).padStart(6)} ${ms(g.wall).padStart(10)} ${ms(g.cpu).padStart(10)} ${pct(g.cpu, bestRun.cpuMs).padStart(7)} ${(g.macs / 1e9).toFixed(2).padStart(8)}`);
  }
  // 'outside kernels' is model code, engine bookkeeping and host-side work between kernels.

  const kernels = minOver(profiles.map((p) => aggregate(p, (c) => `${c.name}${c.phase === 'backward' ? ' (bwd)' : ''}`, onWasm)));
  kernels.sort((a, b) => b.cpu - a.cpu);
  console.log(`\nkernels by self CPU time (top ${top}; '(bwd)': backward pass incl. checkpoint recomputation; Parent/Child: a sub-kernel of a composed kernel)`);
  console.log('kernel                                        group                     calls    wall ms     cpu ms   cpu %    GMAC  GMAC/s');
  for (const k of kernels.slice(0, top)) {
    const rate = k.macs > 0 ? (k.macs / 1e6 / Math.max(k.total, 1e-9)).toFixed(2) : '';
    console.log(`${k.key.slice(0, 45).padEnd(45)} ${k.group.padEnd(25)} ${String(k.calls).padStart(5)} ${ms(k.wall).padStart(10)} ${ms(k.cpu).padStart(10)} ` +
      `${pct(k.cpu, bestRun.cpuMs).padStart(7)} ${(k.macs / 1e9).toFixed(2).padStart(7)} ${rate.padStart(7)}`);
  }

  const sites = [...aggregate(bestRun, shapeKey, onWasm).values()].sort((a, b) => b.cpu - a.cpu);
  console.log(`\nhottest call sites of the best run (kernel and input shapes, top ${top})`);
  console.log('   cpu ms   calls   GMAC/s  kernel [input shapes]');
  for (const s of sites.slice(0, top)) {
    const rate = s.macs > 0 ? (s.macs / 1e6 / Math.max(s.total, 1e-9)).toFixed(2) : '';
    console.log(`${ms(s.cpu).padStart(9)} ${String(s.calls).padStart(7)} ${rate.padStart(8)}  ${s.key}`);
  }

  const json = values.get('json');
  if (json) {
    writeJsonAtomic(json, { workload, description: work.description, runs: profiles.length, groups, kernels, sites });
    console.log(`\nwrote ${json}`);
  }
}
