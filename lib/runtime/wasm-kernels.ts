/**
 * Wasm training kernel pack: kernels registered for the 'wasm' backend only, so that convs,
 * matMuls and gathers train on tfjs-backend-wasm 4.22 at XNNPACK speed. Invisible to model code;
 * never touches other backends. Measurements and the reasoning behind each entry:
 * ../shared/reference/tfjs-backends.md §1–2.
 *
 * Composed kernels call the wasm backend's own kernels (`tf.getKernel(name, 'wasm').kernelFunc`)
 * and free their intermediates with `backend.disposeData`; the replaced stock kernelFuncs are kept
 * and still used where they are fast and correct.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  conv2DBackpropFilter,
  conv2DBackpropInput,
  depthwiseConv2dNativeBackpropFilter,
  depthwiseConv2dNativeBackpropInput,
} from './wasm-conv';
import { conv3DBackpropFilterV2, conv3DBackpropInputV2 } from './wasm-conv3d';
import { cpuFallback } from './wasm-fallback';
import { cast, concat, gatherV2, identity, pack, reverse, slice, splitV, tile, unpack, unsortedSegmentSum } from './wasm-indexing';
import { batchMatMul, fusedMatMul } from './wasm-matmul';
import { conv2D } from './wasm-winograd';
import { tanh } from './wasm-activation';
import { mean, sum } from './wasm-reduction';
import { raftCorrLookup } from './wasm-corr';
import { RAFT_CORR_LOOKUP } from './corr-lookup';
import { BILINEAR_GATHER, bilinearGather } from './wasm-sampling';
import { type KFn, packState } from './wasm-util';

export type PackReason = 'missing' | 'wrong' | 'slow' | 'memory';

export interface PackKernel {
  name: string;
  reason: PackReason;
  /** Why the kernel is in the pack and what replaces it. */
  why: string;
  kernelFunc: KFn;
}

export const WASM_KERNEL_PACK: readonly PackKernel[] = [
  { name: 'Conv2D', reason: 'slow', kernelFunc: conv2D,
    why: 'stride-1 3×3, 1×5 and 5×1 convs with ≥ 64 → 64 channels (3×3 taking F(4×4): ≥ 16 → 16) as Winograd F(4×4, 3×3) or F(2×2, 3×3) / F(4, 5) (4× or 2.25× / 2.5× fewer multiplies: SIMD transforms + SIMD GEMMs; transformed filters cached off the tape); 1×1 stride-1 unpadded as one SIMD GEMM (the stock bits); the rest stock' },
  { name: 'Conv2DBackpropFilter', reason: 'missing', kernelFunc: conv2DBackpropFilter,
    why: 'not registered on wasm (conv2d has no filter gradient); stride-1 3×3 with ≥ 32 → 32 channels as Winograd F(2×2, 3×3) (SIMD transforms + 16 SIMD GEMMs), the rest transposed im2col (SIMD copies) × dy as chunked SIMD GEMMs' },
  { name: 'Conv2DBackpropInput', reason: 'slow', kernelFunc: conv2DBackpropInput,
    why: 'naive C++ loop at 1–2 GF/s; XNNPACK conv of dy with the flipped filter (polyphase when strided)' },
  { name: 'DepthwiseConv2dNativeBackpropInput', reason: 'missing', kernelFunc: depthwiseConv2dNativeBackpropInput,
    why: 'not registered on wasm; depthwise conv of dy with the flipped filter (polyphase when strided)' },
  { name: 'DepthwiseConv2dNativeBackpropFilter', reason: 'missing', kernelFunc: depthwiseConv2dNativeBackpropFilter,
    why: 'not registered on wasm; depthwise conv over (batch, channel) pairs with dy as the filter' },
  { name: 'UnsortedSegmentSum', reason: 'missing', kernelFunc: unsortedSegmentSum,
    why: 'not registered on wasm (breaks the gather gradient); ScatterNd, which sums duplicates' },
  { name: 'BatchMatMul', reason: 'slow', kernelFunc: batchMatMul,
    why: 'transposes or batch > 1 fall into a 1–1.6 GF/s loop; transposes materialised, batches folded into one GEMM, long reductions chunked; every product on the pack\'s SIMD GEMM (XNNPACK\'s results, 1.3× faster)' },
  { name: '_FusedMatMul', reason: 'wrong', kernelFunc: fusedMatMul,
    why: 'with a bias, wrong for transposes or batch > 1 (and in the slow loop); folded GEMM, or fast product + bias + activation' },
  { name: 'GatherV2', reason: 'wrong', kernelFunc: gatherV2,
    why: 'wrong for batchDims ≥ 1 and ~100 MB/s otherwise; GatherNd with (row, index) pairs' },
  { name: 'Slice', reason: 'slow', kernelFunc: slice,
    why: 'copies the whole input, then per-row subarrays (seconds on innermost-axis / rank-5 slices); merged-axis heap copy (one SIMD-module memory.copy per row when at most one axis is strided)' },
  { name: 'SplitV', reason: 'slow', kernelFunc: splitV as unknown as KFn,
    why: 'built on the slow Slice; same merged-axis heap copy per piece' },
  { name: 'Concat', reason: 'slow', kernelFunc: concat as unknown as KFn,
    why: 'one JS subarray copy per (outer row, input); one strided heap copy per input (memory.copy rows)' },
  { name: 'Pack', reason: 'slow', kernelFunc: pack as unknown as KFn,
    why: 'tf.stack: expands its inputs and runs the stock JS-side Concat (~14 ms for 49 × [1080, 40], the transformer\'s unfold); the pack\'s Concat' },
  { name: 'Unpack', reason: 'slow', kernelFunc: unpack as unknown as KFn,
    why: 'built on the stock Slice (~100× slower than SplitV; it is the gradient of tf.stack); same heap copy per piece' },
  { name: 'Reverse', reason: 'slow', kernelFunc: reverse,
    why: 'walks element by element (~30 MB/s; flow completion reverses its flows for the backward direction); block copies after the last reversed axis' },
  { name: 'Tile', reason: 'slow', kernelFunc: tile,
    why: 'computes every output element\'s coordinates in C++ vectors (~100 ms for 0.4 M floats; ProPainter tiles flows, replicate-pads frames); block copies' },
  { name: BILINEAR_GATHER, reason: 'slow', kernelFunc: bilinearGather,
    why: 'added (no stock kernel): bilinear sampling forward as one SIMD pass instead of 4 gathers, 4 products and 3 sums; lib/ops falls back to those elsewhere' },
  { name: 'Tanh', reason: 'slow', kernelFunc: tanh,
    why: 'scalar libm per element (~14 ns; RAFT\'s GRU); SIMD in float64, rounded once to float32' },
  { name: 'Mean', reason: 'slow', kernelFunc: mean,
    why: 'over middle axes (instance norm over H, W) transposes them innermost, then one serial add chain per output; SIMD column sums in the same order (same bits), no transpose' },
  { name: 'Sum', reason: 'slow', kernelFunc: sum,
    why: 'likewise over leading or middle axes (bias gradients over N, H, W); the same SIMD column sums (same bits)' },
  { name: RAFT_CORR_LOOKUP, reason: 'slow', kernelFunc: raftCorrLookup,
    why: 'added (no stock kernel): RAFT\'s windowed correlation lookup in the SIMD module on the pyramid kept on the heap, instead of reading the pyramid back and looping in JS (~9 ms per iteration); lib/models/raft keeps the host loop elsewhere' },
  { name: 'Identity', reason: 'memory', kernelFunc: identity,
    why: 'copies its input; tfjs clones every tensor saved for backprop, so saved activations were held twice; shares the buffer' },
  { name: 'Cast', reason: 'memory', kernelFunc: cast,
    why: 'copies even when the dtype is unchanged; shares the buffer then' },
  { name: 'Conv3DBackpropInputV2', reason: 'wrong', kernelFunc: conv3DBackpropInputV2,
    why: 'wrong in every configuration; per-temporal-tap Conv2DBackpropInput (XNNPACK) accumulated over frames' },
  { name: 'Conv3DBackpropFilterV2', reason: 'wrong', kernelFunc: conv3DBackpropFilterV2,
    why: 'wrong for stride > 1; per-temporal-tap Conv2DBackpropFilter on the frames each tap reads' },
  { name: 'MaxPoolGrad', reason: 'wrong', kernelFunc: cpuFallback('MaxPoolGrad'),
    why: 'wrong values; cpu fallback (only masks are max-pooled in this project)' },
  { name: 'MaxPool3D', reason: 'wrong', kernelFunc: cpuFallback('MaxPool3D'),
    why: 'forward sometimes wrong; cpu fallback' },
  { name: 'MaxPool3DGrad', reason: 'wrong', kernelFunc: cpuFallback('MaxPool3DGrad'),
    why: 'wrong for strided windows (k (1,3,3) s (1,2,2) same: error ~1); cpu fallback' },
];

function isPackKernel(f: unknown): boolean {
  return typeof f === 'function' && packState.registered.has(f);
}

/**
 * Registers the pack for backendName 'wasm' (the wasm backend package must be loaded).
 * Idempotent; returns true when the pack is registered.
 */
export function registerWasmKernelPack(): boolean {
  if (!tf.getKernel('Conv2D', 'wasm')) return false; // tfjs-backend-wasm not loaded
  for (const k of WASM_KERNEL_PACK) {
    const cur = tf.getKernel(k.name, 'wasm');
    if (cur && isPackKernel(cur.kernelFunc)) continue;
    const kernelFunc = ((args: Parameters<KFn>[0]) => k.kernelFunc(args)) as unknown as tf.KernelFunc;
    packState.registered.add(kernelFunc);
    if (cur) {
      packState.originals.set(k.name, cur);
      tf.unregisterKernel(k.name, 'wasm');
    }
    // The stock setup/dispose functions stay attached: the stock kernelFunc is still called, and
    // they must run again if the backend is ever re-initialised.
    tf.registerKernel({ kernelName: k.name, backendName: 'wasm', kernelFunc, setupFunc: cur?.setupFunc, disposeFunc: cur?.disposeFunc });
  }
  return true;
}

/** Restores the stock wasm kernels (benchmarks compare stock with pack). Idempotent. */
export function unregisterWasmKernelPack(): void {
  for (const k of WASM_KERNEL_PACK) {
    const cur = tf.getKernel(k.name, 'wasm');
    if (!cur || !isPackKernel(cur.kernelFunc)) continue;
    tf.unregisterKernel(k.name, 'wasm');
    const orig = packState.originals.get(k.name);
    if (orig) tf.registerKernel(orig);
    packState.originals.delete(k.name);
  }
}

/** True when every pack kernel is the registered wasm kernel. */
export function wasmKernelPackRegistered(): boolean {
  return WASM_KERNEL_PACK.every((k) => isPackKernel(tf.getKernel(k.name, 'wasm')?.kernelFunc));
}

/** The stock wasm kernelFunc of a kernel the pack replaced (undefined for added kernels). */
export function stockWasmKernel(name: string): tf.KernelFunc | undefined {
  const orig = packState.originals.get(name);
  if (orig) return orig.kernelFunc;
  const cur = tf.getKernel(name, 'wasm');
  return cur && !isPackKernel(cur.kernelFunc) ? cur.kernelFunc : undefined;
}
