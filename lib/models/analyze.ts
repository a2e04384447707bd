/**
 * Model analysis: parameters per module, multiply-accumulates of one forward (counted from the
 * kernels TF.js actually runs, via tf.profile), peak tensor memory of that forward, and — when a
 * forward would not fit the wasm heap — an estimate from smaller runs. The models and their
 * representative forwards live in ./zoo.ts; `propainter analyze` and `npm run bench -- models`
 * are thin front ends.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Module } from '../nn/module';
import { applyDetInit } from '../init/apply';
import { ForwardOptions, ModelName, ZooEntry, getZooEntry, probeSizes, validateForward } from './zoo';

export interface ModuleRow {
  name: string;
  params: number;
}

export interface KernelRow {
  kernel: string;
  calls: number;
  macs: number;
  /** Kernel time summed over calls (tf.profile; wall clock, noisy under load). */
  ms: number;
  /**
   * Not a registered kernel but a tf.customGrad op (recorded under its scope name, e.g.
   * "unnamed scope"): its time includes the kernels it ran, which have their own rows.
   */
  composite?: boolean;
}

export interface ForwardProfile {
  macs: number;
  /** Every kernel that ran, by MACs then time. */
  kernels: KernelRow[];
  /** baselineBytes + peakActivationBytes: the most tensor memory alive at once. */
  peakBytes: number;
  /** tf.memory().numBytes before the forward (weights, inputs, anything else alive). */
  baselineBytes: number;
  /** Most bytes of distinct tensor buffers the forward had allocated at once (its activations). */
  peakActivationBytes: number;
  /**
   * tf.profile's peakBytes, for reference: tf.memory() counts every tensor, so views sharing one
   * buffer (reshape, clone, identity-like kernels) are counted again and this over-states memory.
   */
  profilePeakBytes: number;
  /** Bytes still allocated afterwards (0 unless the forward leaks). */
  newBytes: number;
  ms: number;
  /** Wasm heap size before and after (null off wasm); the heap only grows. */
  heapBefore: number | null;
  heapAfter: number | null;
}

export interface ForwardAnalysis {
  /** What ran, e.g. "1 frame pair, 20 iterations". */
  description: string;
  height: number;
  width: number;
  frames: number;
  inputs: Record<string, number[]>;
  backend: string;
  /** 'measured': the forward ran at this size; 'estimated': fitted from smaller runs (see estimate). */
  kind: 'measured' | 'estimated';
  macs: number;
  kernels: KernelRow[];
  peakBytes: number;
  baselineBytes: number;
  peakActivationBytes: number;
  /** Measured runs only: tf.profile's peakBytes, which counts views of one buffer repeatedly. */
  profilePeakBytes?: number;
  /** Measured runs only. */
  ms?: number;
  newBytes?: number;
  heapBefore?: number | null;
  heapAfter?: number | null;
  /** The probe-based estimate (always present when probes ran, also next to a measured run). */
  estimate?: Estimate;
  notes: string[];
}

export interface Analysis {
  model: ModelName;
  title: string;
  totalParams: number;
  officialParams: number;
  matchesOfficial: boolean;
  modules: ModuleRow[];
  forward?: ForwardAnalysis;
}

// ---------------------------------------------------------------------------------------------
// Parameters

/**
 * Trainable parameters grouped by module path (aliases counted once): `depth` leading name parts,
 * going one level deeper for every prefix listed in `expand` (e.g. 'update_block').
 */
export function parameterTable(model: Module, depth = 1, expand: readonly string[] = []): ModuleRow[] {
  const deeper = new Set(expand);
  const rows = new Map<string, number>();
  for (const [name, v] of model.namedParameters()) {
    const parts = name.split('.');
    const last = parts.length - 1; // the parameter's own name never forms a row
    let k = Math.min(depth, last);
    while (k < last && deeper.has(parts.slice(0, k).join('.'))) k++;
    const key = parts.slice(0, k).join('.') || '(root)';
    rows.set(key, (rows.get(key) ?? 0) + v.size);
  }
  return [...rows].map(([name, params]) => ({ name, params }));
}

// ---------------------------------------------------------------------------------------------
// Multiply-accumulates

const prod = (s: readonly number[] | null | undefined) => (s ?? []).reduce((a, b) => a * b, 1);

/**
 * Multiply-accumulates of one kernel call from its input/output shapes as tf.profile records them
 * (inputs in the kernel's input order, null for absent optional inputs); 0 for kernels without
 * multiply-accumulate structure (elementwise, pooling, data movement). Counts what the kernel
 * computes, padding taps included (the usual convention: out · taps · in-channels per group).
 */
export function kernelMacs(name: string, inputs: Array<number[] | null>, outputs: number[][]): number {
  const out = outputs[0] ?? [];
  const in0 = inputs[0] ?? [];
  const in1 = inputs[1] ?? [];
  switch (name) {
    case 'Conv2D':
    case 'FusedConv2D': {
      // x [N,H,W,Ci], filter [kh, kw, Ci, Co] (a grouped conv runs as one Conv2D per group).
      const [kh, kw, ci] = in1;
      return prod(out) * kh * kw * ci;
    }
    case 'Conv2DBackpropInput': {
      // dy [N,h,w,Co], filter [kh, kw, Ci, Co]: every dy element meets kh·kw·Ci weights. This is
      // also conv2dTranspose(x, filter [kh, kw, out, in]) with dy = x.
      const [kh, kw, ci] = in1;
      return prod(in0) * kh * kw * ci;
    }
    case 'Conv2DBackpropFilter': {
      // x, dy [N,h,w,Co] → filter [kh, kw, Ci, Co]: dy · kh · kw · Ci.
      const [kh, kw, ci] = out;
      return prod(inputs[1]) * kh * kw * ci;
    }
    case 'DepthwiseConv2dNative':
    case 'FusedDepthwiseConv2D': {
      // filter [kh, kw, Ci, mult], out channels Ci·mult: one tap set per output element.
      const [kh, kw] = in1;
      return prod(out) * kh * kw;
    }
    case 'DepthwiseConv2dNativeBackpropInput': {
      const [kh, kw] = in1;
      return prod(in0) * kh * kw;
    }
    case 'DepthwiseConv2dNativeBackpropFilter': {
      const [kh, kw] = out;
      return prod(inputs[1]) * kh * kw;
    }
    case 'Conv3D': {
      const [kt, kh, kw, ci] = in1;
      return prod(out) * kt * kh * kw * ci;
    }
    case 'Conv3DBackpropInputV2': {
      // dy [N,t,h,w,Co], filter [kt, kh, kw, Ci, Co].
      const [kt, kh, kw, ci] = in1;
      return prod(in0) * kt * kh * kw * ci;
    }
    case 'Conv3DBackpropFilterV2': {
      const [kt, kh, kw, ci] = out;
      return prod(inputs[1]) * kt * kh * kw * ci;
    }
    case 'BatchMatMul':
    case '_FusedMatMul': {
      // out [..., M, N]; `a` holds M·K in its last two axes whether or not it is transposed
      // (the transpose flags are not recorded), so K = a[-1]·a[-2] / M exactly.
      const m = out[out.length - 2];
      if (!m || in0.length < 2) return 0;
      const k = (in0[in0.length - 1] * in0[in0.length - 2]) / m;
      return prod(out) * k;
    }
    default:
      return 0;
  }
}

/** Size of the wasm heap in bytes (its high-water mark: it never shrinks), or null off wasm. */
export function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== 'wasm') return null;
  const be = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return be.wasm?.HEAPU8?.length ?? null;
}

interface TensorInfoMap {
  has(k: object): boolean;
  get(k: object): { bytes: number } | undefined;
  set(k: object, v: { bytes: number }): unknown;
  delete(k: object): boolean;
}

/**
 * Counts the bytes of distinct tensor buffers while installed: wraps the engine's dataId → info
 * map (the engine only calls has/get/set/delete on it), adding a buffer's bytes when its first
 * tensor is tracked and removing them when the backend frees it. tf.memory().numBytes instead
 * adds every tensor, so a reshape of a 100 MB activation counts 200 MB.
 */
class BufferTracker implements TensorInfoMap {
  live = 0;
  peak = 0;
  private readonly state: { tensorInfo: TensorInfoMap };
  private readonly inner: TensorInfoMap;

  constructor() {
    this.state = (tf.engine() as unknown as { state: { tensorInfo: TensorInfoMap } }).state;
    this.inner = this.state.tensorInfo;
    this.state.tensorInfo = this;
  }

  has(k: object): boolean {
    return this.inner.has(k);
  }
  get(k: object): { bytes: number } | undefined {
    return this.inner.get(k);
  }
  set(k: object, v: { bytes: number }): BufferTracker {
    if (!this.inner.has(k)) {
      this.live += v.bytes;
      if (this.live > this.peak) this.peak = this.live;
    }
    this.inner.set(k, v);
    return this;
  }
  delete(k: object): boolean {
    const v = this.inner.get(k);
    if (v) this.live -= v.bytes;
    return this.inner.delete(k);
  }

  /** Puts the engine's own map back. */
  uninstall(): void {
    if ((this.state.tensorInfo as unknown) === this) this.state.tensorInfo = this.inner;
  }
}

function tensorsOf(x: unknown): tf.Tensor[] {
  if (x instanceof tf.Tensor) return [x];
  if (Array.isArray(x)) return x.flatMap(tensorsOf);
  if (x && typeof x === 'object') return Object.values(x).flatMap(tensorsOf);
  return [];
}

/**
 * Runs `forward` once under tf.profile (inside tf.tidy; returned tensors are disposed) and
 * reports MACs per kernel, time per kernel and peak tensor bytes. Kernels of the wasm kernel pack
 * call backend kernels directly, so nothing is counted twice; their internal temporaries are not
 * tensors and are missing from peakBytes (the wasm heap size shows them).
 */
export async function profileForward(forward: () => unknown): Promise<ForwardProfile> {
  const baselineBytes = tf.memory().numBytes;
  const heapBefore = wasmHeapBytes();
  const t0 = performance.now();
  const buffers = new BufferTracker();
  let info: Awaited<ReturnType<typeof tf.profile>>;
  try {
    info = await tf.profile(() => {
      const out = tf.tidy(() => forward() as tf.TensorContainer);
      const ts = tensorsOf(out);
      // Read one element of each output so that lazy backends finish inside the profile.
      tf.tidy(() => {
        for (const t of ts) if (t.size > 0) tf.slice(tf.reshape(t, [-1]), 0, 1).dataSync();
      });
      tf.dispose(ts);
    });
  } finally {
    buffers.uninstall();
  }
  const ms = performance.now() - t0;
  const byKernel = new Map<string, KernelRow>();
  let macs = 0;
  for (const k of info.kernels) {
    const m = kernelMacs(k.name, k.inputShapes as Array<number[] | null>, k.outputShapes as number[][]);
    macs += m;
    let row = byKernel.get(k.name);
    if (!row) {
      row = { kernel: k.name, calls: 0, macs: 0, ms: 0 };
      if (!tf.getKernel(k.name, tf.getBackend())) row.composite = true;
    }
    row.calls += 1;
    row.macs += m;
    row.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    byKernel.set(k.name, row);
  }
  const kernels = [...byKernel.values()].sort((a, b) => b.macs - a.macs || b.ms - a.ms);
  return {
    macs,
    kernels,
    peakBytes: baselineBytes + buffers.peak,
    baselineBytes,
    peakActivationBytes: buffers.peak,
    profilePeakBytes: info.kernels.length ? info.peakBytes : baselineBytes,
    newBytes: info.newBytes,
    ms,
    heapBefore,
    heapAfter: wasmHeapBytes(),
  };
}

// ---------------------------------------------------------------------------------------------
// Estimates from smaller runs

export interface ProbeRun {
  height: number;
  width: number;
  profile: ForwardProfile;
  inputBytes: number;
}

export interface Estimate {
  /** The sizes that ran. */
  probes: Array<{ height: number; width: number; macs: number; peakActivationBytes: number; ms: number }>;
  method: string;
  macs: number;
  kernels: KernelRow[];
  peakActivationBytes: number;
  /** Weights and other live tensors plus the inputs at the requested size. */
  baselineBytes: number;
  /** (baseline + activations) × HEAP_OVERHEAD: what the wasm heap would need. */
  heapNeedBytes: number;
}

/** Wasm heap over tf.memory(): fragmentation (~20 %, tfjs-backends.md §5) and kernel temporaries. */
export const HEAP_OVERHEAD = 1.25;
/** Usable wasm heap: it caps at ~3936 MiB and an allocation beyond it is fatal (tfjs-backends.md §5). */
export const WASM_HEAP_BUDGET = 3.5 * 2 ** 30;

/**
 * y(p) = b·p + c·p² through the probes' (pixel count, value) points: exact for costs linear and
 * quadratic in the number of pixels (convolutions; RAFT's all-pairs correlation, the
 * transformer's pooled global tokens). One probe, or a negative quadratic term from rounding at
 * small sizes: linear through the largest probe.
 */
export function fitPixels(points: Array<[number, number]>, p: number): number {
  const pts = [...points].sort((a, b) => a[0] - b[0]);
  const [p2, y2] = pts[pts.length - 1];
  if (pts.length >= 2) {
    const [p1, y1] = pts[pts.length - 2];
    if (p2 > p1) {
      const c = (y2 / p2 - y1 / p1) / (p2 - p1);
      const b = y1 / p1 - c * p1;
      if (c >= 0 && b >= 0) return b * p + c * p * p;
    }
  }
  return (y2 / p2) * p;
}

/** MACs (per kernel) and activation peak at `height`×`width` fitted from probe runs. */
export function estimateFromProbes(runs: ProbeRun[], height: number, width: number, inputBytes: number): Estimate {
  const p = height * width;
  const names = new Set(runs.flatMap((r) => r.profile.kernels.map((k) => k.kernel)));
  const kernels: KernelRow[] = [];
  for (const name of names) {
    const rows = runs.map((r) => ({ px: r.height * r.width, row: r.profile.kernels.find((k) => k.kernel === name) }));
    const macs = fitPixels(rows.map(({ px, row }) => [px, row?.macs ?? 0]), p);
    const last = rows[rows.length - 1].row;
    kernels.push({ kernel: name, calls: last?.calls ?? 0, macs: Math.round(macs), ms: 0 });
  }
  kernels.sort((a, b) => b.macs - a.macs);
  const act = fitPixels(runs.map((r) => [r.height * r.width, r.profile.peakActivationBytes]), p);
  const largest = runs.reduce((a, b) => (a.height * a.width >= b.height * b.width ? a : b));
  const baselineBytes = largest.profile.baselineBytes - largest.inputBytes + inputBytes;
  return {
    probes: runs.map((r) => ({ height: r.height, width: r.width, macs: r.profile.macs, peakActivationBytes: r.profile.peakActivationBytes, ms: r.profile.ms })),
    method: runs.length >= 2 ? 'per-kernel fit b·p + c·p² in the pixel count p through the probe runs' : 'scaled by the pixel count from one probe run',
    macs: kernels.reduce((a, k) => a + k.macs, 0),
    kernels,
    peakActivationBytes: Math.round(act),
    baselineBytes,
    heapNeedBytes: Math.round((baselineBytes + act) * HEAP_OVERHEAD),
  };
}

// ---------------------------------------------------------------------------------------------
// The whole analysis

export interface AnalyzeOptions extends Partial<ForwardOptions> {
  /** Profile a forward (default true). */
  forward?: boolean;
  /**
   * 'auto' (default): on wasm, estimate from smaller probe runs first and run the requested size
   * only if it fits the heap budget; elsewhere just run. 'run': run without probing.
   * 'estimate': probe runs only, never the requested size.
   */
  mode?: 'auto' | 'run' | 'estimate';
  /** Apply det-init weights before the forward (default true; values do not change the cost). */
  detInit?: boolean;
  /** Parameter table depth (default: the zoo entry's). */
  depth?: number;
  /** Wasm heap budget for 'auto' (default WASM_HEAP_BUDGET). */
  heapBudgetBytes?: number;
  /** Progress messages (stderr in the CLI). */
  log?: (msg: string) => void;
}

export const DEFAULT_FORWARD: ForwardOptions = { height: 240, width: 432, frames: 10, iters: 20, videoLength: 80 };

async function profileAt(entry: ZooEntry, model: Module, fo: ForwardOptions): Promise<{ profile: ForwardProfile; inputBytes: number; description: string; inputs: Record<string, number[]>; notes: string[] }> {
  const spec = entry.prepare(model, fo);
  try {
    const profile = await profileForward(spec.run);
    const inputBytes = Object.values(spec.inputs).reduce((a, s) => a + 4 * prod(s), 0);
    return { profile, inputBytes, description: spec.description, inputs: spec.inputs, notes: spec.notes };
  } finally {
    spec.dispose();
  }
}

/**
 * Runs the forward at the entry's probe sizes (about 1/4 and 1/2 of each side) and fits MACs and
 * the activation peak at the requested size; undefined when no smaller valid size exists.
 * `model` must already hold its weights and be in the wanted mode.
 */
export async function estimateForward(entry: ZooEntry, model: Module, fo: ForwardOptions, log: (msg: string) => void = () => {}): Promise<Estimate | undefined> {
  const runs: ProbeRun[] = [];
  for (const [h, w] of probeSizes(entry, fo.height, fo.width)) {
    log(`probe forward at ${h}x${w} …`);
    const r = await profileAt(entry, model, { ...fo, height: h, width: w });
    runs.push({ height: h, width: w, profile: r.profile, inputBytes: r.inputBytes });
  }
  if (runs.length === 0) return undefined;
  const inputBytes = Object.values(entry.inputShapes(fo)).reduce((a, s) => a + 4 * prod(s), 0);
  return estimateFromProbes(runs, fo.height, fo.width, inputBytes);
}

/** Parameter table and, unless `forward: false`, the cost of the model's representative forward. */
export async function analyzeModel(name: string, opts: AnalyzeOptions = {}): Promise<Analysis> {
  const entry = getZooEntry(name);
  const fo: ForwardOptions = {
    height: opts.height ?? DEFAULT_FORWARD.height,
    width: opts.width ?? DEFAULT_FORWARD.width,
    frames: opts.frames ?? entry.defaultFrames,
    iters: opts.iters ?? DEFAULT_FORWARD.iters,
    videoLength: opts.videoLength ?? DEFAULT_FORWARD.videoLength,
  };
  const doForward = opts.forward ?? true;
  if (doForward) validateForward(entry, fo);
  const log = opts.log ?? (() => {});
  const model = entry.build();
  try {
    const modules = parameterTable(model, opts.depth ?? entry.depth, entry.expand);
    const totalParams = model.numParameters();
    const analysis: Analysis = {
      model: entry.name,
      title: entry.title,
      totalParams,
      officialParams: entry.officialParams,
      matchesOfficial: totalParams === entry.officialParams,
      modules,
    };
    if (!doForward) return analysis;
    if (opts.detInit ?? true) applyDetInit(model);
    model.eval();
    const backend = tf.getBackend();
    const mode = opts.mode ?? 'auto';
    const wantProbes = mode === 'estimate' || (mode === 'auto' && backend === 'wasm');
    if (mode === 'estimate' && probeSizes(entry, fo.height, fo.width).length === 0) {
      throw new Error(`analyze: no probe size below ${fo.height}x${fo.width} is valid for ${entry.name} (minimum ${entry.minSize}, multiples of ${entry.sizeMultiple}); run it directly`);
    }
    const estimate = wantProbes ? await estimateForward(entry, model, fo, log) : undefined;
    const fullInputs = entry.inputShapes(fo);
    const budget = opts.heapBudgetBytes ?? WASM_HEAP_BUDGET;
    const tooBig = estimate !== undefined && backend === 'wasm' && estimate.heapNeedBytes > budget;
    if (mode === 'estimate' || (mode === 'auto' && tooBig)) {
      const e = estimate!;
      const probeList = e.probes.map((p) => `${p.height}x${p.width}`).join(' and ');
      const notes = [...entry.notes(fo)];
      notes.unshift(
        mode === 'estimate'
          ? `ESTIMATE (not run at ${fo.height}x${fo.width}): ${e.method} (runs at ${probeList})`
          : `NOT RUN at ${fo.height}x${fo.width}: the wasm heap would need ~${fmtBytes(e.heapNeedBytes)} (> budget ${fmtBytes(budget)}); ` +
              `MACs and memory ESTIMATED: ${e.method} (runs at ${probeList})`,
      );
      analysis.forward = {
        description: entry.describe(fo),
        height: fo.height,
        width: fo.width,
        frames: fo.frames,
        inputs: fullInputs,
        backend,
        kind: 'estimated',
        macs: e.macs,
        kernels: e.kernels,
        peakBytes: e.baselineBytes + e.peakActivationBytes,
        baselineBytes: e.baselineBytes,
        peakActivationBytes: e.peakActivationBytes,
        estimate: e,
        notes,
      };
      return analysis;
    }
    log(`forward at ${fo.height}x${fo.width} …`);
    const r = await profileAt(entry, model, fo);
    analysis.forward = {
      description: r.description,
      height: fo.height,
      width: fo.width,
      frames: fo.frames,
      inputs: r.inputs,
      backend,
      kind: 'measured',
      macs: r.profile.macs,
      kernels: r.profile.kernels,
      peakBytes: r.profile.peakBytes,
      baselineBytes: r.profile.baselineBytes,
      peakActivationBytes: r.profile.peakActivationBytes,
      profilePeakBytes: r.profile.profilePeakBytes,
      ms: Math.round(r.profile.ms),
      newBytes: r.profile.newBytes,
      heapBefore: r.profile.heapBefore,
      heapAfter: r.profile.heapAfter,
      estimate,
      notes: r.notes,
    };
    return analysis;
  } finally {
    model.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function fmtBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

export function fmtGmacs(macs: number): string {
  return `${(macs / 1e9).toFixed(macs < 1e9 ? 4 : 2)} GMAC`;
}

export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
}

/** Human-readable report: the parameter table, then the forward's cost. */
export function formatAnalysis(a: Analysis, opts: { kernels?: number } = {}): string {
  const lines: string[] = [];
  const w = Math.max(12, ...a.modules.map((m) => m.name.length));
  const check = a.matchesOfficial ? 'matches the official count' : `OFFICIAL ${formatCount(a.officialParams)} — MISMATCH by ${formatCount(a.totalParams - a.officialParams)}`;
  lines.push(`${a.title} (--model ${a.model}): ${formatCount(a.totalParams)} trainable parameters (${check})`);
  lines.push('');
  lines.push(`${'module'.padEnd(w)}  ${'params'.padStart(12)}   share`);
  for (const m of a.modules) {
    lines.push(`${m.name.padEnd(w)}  ${formatCount(m.params).padStart(12)}  ${((100 * m.params) / a.totalParams).toFixed(1).padStart(5)}%`);
  }
  lines.push(`${'total'.padEnd(w)}  ${formatCount(a.totalParams).padStart(12)}`);
  const f = a.forward;
  if (f) {
    lines.push('');
    const est = f.kind === 'estimated';
    lines.push(`forward (${est ? 'ESTIMATED, not run' : 'measured'} on ${f.backend}): ${f.description}`);
    lines.push(`  inputs               ${Object.entries(f.inputs).map(([k, s]) => `${k} [${s.join(', ')}]`).join(', ')}`);
    lines.push(`  multiply-accumulates ${fmtGmacs(f.macs)}${est ? ' (estimate)' : ''}`);
    lines.push(
      `  peak tensor memory   ${fmtBytes(f.peakActivationBytes)} of activations above ${fmtBytes(f.baselineBytes)} of weights+inputs ` +
        `= ${fmtBytes(f.peakBytes)}${est ? ' (estimate)' : ' (distinct buffers)'}`,
    );
    if (!est && f.profilePeakBytes !== undefined) {
      lines.push(`  tf.profile peakBytes ${fmtBytes(f.profilePeakBytes)} (counts views of one buffer, e.g. reshapes, again: an over-statement)`);
    }
    if (!est && f.heapAfter != null) {
      lines.push(
        `  wasm heap            ${fmtBytes(f.heapAfter)} after the forward (${fmtBytes(f.heapBefore ?? 0)} before; high-water mark — ` +
          `includes kernel-internal temporaries tf.memory does not see)`,
      );
    }
    if (est && f.estimate) lines.push(`  wasm heap needed     ~${fmtBytes(f.estimate.heapNeedBytes)} (tensor peak × ${HEAP_OVERHEAD})`);
    if (!est && f.ms !== undefined) lines.push(`  time                 ${fmtMs(f.ms)} under tf.profile (wall clock; noisy on a loaded machine)`);
    if (!est && f.estimate) {
      const e = f.estimate;
      lines.push(
        `  probe estimate       ${fmtGmacs(e.macs)}, ${fmtBytes(e.peakActivationBytes)} activations ` +
          `(from ${e.probes.map((p) => `${p.height}x${p.width}`).join(', ')}; measured/estimate MACs ${(f.macs / e.macs).toFixed(3)}, memory ${(f.peakActivationBytes / Math.max(1, e.peakActivationBytes)).toFixed(2)})`,
      );
    }
    const withMacs = f.kernels.filter((k) => k.macs > 0);
    const rest = f.kernels.filter((k) => k.macs === 0 && !k.composite).sort((x, y) => y.ms - x.ms);
    const composite = f.kernels.filter((k) => k.composite);
    const shown = est ? withMacs : [...withMacs, ...rest.slice(0, opts.kernels ?? 8), ...composite];
    if (shown.length) {
      lines.push('');
      lines.push(`  ${'kernel'.padEnd(28)} ${'calls'.padStart(7)} ${'GMAC'.padStart(10)} ${'share'.padStart(6)}${est ? '' : `  ${'time'.padStart(9)}`}`);
      for (const k of shown) {
        const share = f.macs > 0 ? `${((100 * k.macs) / f.macs).toFixed(1)}%` : '';
        lines.push(
          `  ${k.kernel.padEnd(28)} ${String(k.calls).padStart(7)} ${(k.macs / 1e9).toFixed(3).padStart(10)} ${share.padStart(6)}` +
            (est ? '' : `  ${fmtMs(k.ms).padStart(9)}`) +
            (k.composite ? '  (custom-gradient op: time includes its kernels)' : ''),
        );
      }
      if (!est) {
        const kernelMs = f.kernels.filter((k) => !k.composite).reduce((a, k) => a + k.ms, 0);
        lines.push(`  ${'all kernels'.padEnd(28)} ${String(f.kernels.filter((k) => !k.composite).reduce((a, k) => a + k.calls, 0)).padStart(7)} ${(f.macs / 1e9).toFixed(3).padStart(10)} ${''.padStart(6)}  ${fmtMs(kernelMs).padStart(9)}`);
      }
    }
    if (f.notes.length) {
      lines.push('');
      lines.push('notes:');
      for (const n of f.notes) lines.push(`  - ${n}`);
    }
  }
  return lines.join('\n');
}

/** JSON form (plain numbers and strings; what `analyze --json` prints). */
export function analysisJson(a: Analysis): string {
  return JSON.stringify(a, null, 2);
}
