/**
 * The one dense product every fast path of the wasm pack ends in: C[M, N] = A[M, K] · B[K, N],
 * row-major, no transposes, a single batch entry. The pack's SIMD GEMM (kernels.wat `gemm`)
 * accumulates in the same order with the same separate multiply and add as XNNPACK's wasm SIMD
 * GEMM, so it gives the stock kernel's results bit for bit, at ~1.1–1.4× its speed (4×8 register
 * tiles). Without the SIMD module the stock BatchMatMul runs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdKernels } from './simd';
import { type Attrs, type TI, type WasmBackend, dropView, heapOffset, heapView, scoped, stockKernel } from './wasm-util';
import { timeSubKernel } from './kernel-profile';

/** Bytes of B one column block may span, so it stays in L2 while every row block reads it. */
const B_BLOCK_BYTES = 256 * 1024;

/**
 * Reduction depth above which B's panels are packed before the products: read in place, each
 * reduction step jumps a whole row of B ([1080, 1960]·[1960, 512] ran at 15 GMAC/s instead of
 * 21), while packing costs ~10 % on short reductions (k ≤ 512 with M ~ 100).
 */
const PACK_ABOVE = 1024;

/** Columns per block for a reduction of depth k: a multiple of 8 (the register tile), at least 8. */
export function gemmColumnBlock(k: number, n: number): number {
  return Math.min(n, Math.max(8, Math.floor(B_BLOCK_BYTES / (4 * k) / 8) * 8));
}

/** A [1, M, K] (or [M, K]) · B [1, K, N] (or [K, N]) → [1, M, N] float32, a new tensor. */
export function gemm(backend: WasmBackend, a: TI, b: TI): TI {
  const k = simdKernels(backend);
  const [m, kk] = a.shape.slice(-2);
  const n = b.shape[b.shape.length - 1];
  if (!k || kk === 0 || m === 0 || n === 0) {
    return stockKernel('BatchMatMul')!({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } }) as TI;
  }
  return timeSubKernel('Gemm', () => [a.shape.slice(), b.shape.slice()], () => {
    const out = backend.makeOutput([1, m, n], 'float32');
    const nb = gemmColumnBlock(kk, n);
    // Long reductions read B from panels packed per column block; a last panel narrower than 8
    // columns is always copied (zero-padded), with a 4×8 tile for its products.
    const pack = kk > PACK_ABOVE;
    const panels = pack ? Math.ceil(nb / 8) : n % 8 ? 1 : 0;
    const scratch = backend.makeOutput([panels * 8 * kk + 32], 'float32');
    try {
      // Offsets after every allocation: the heap may have grown (its offsets do not move).
      const [ao, bo, co, so] = [a, b, out, scratch].map((t) => heapOffset(backend, t));
      for (let j0 = 0; j0 < n; j0 += nb) k.gemm(ao, bo, co, m, kk, n, j0, Math.min(n, j0 + nb), so, pack ? 1 : 0);
    } finally {
      backend.disposeData(scratch.dataId);
    }
    return out;
  });
}

/**
 * A 1×1, stride-1, unpadded NHWC Conv2D as one GEMM [N·H·W, Cin]·[Cin, Cout] on views of the input
 * and filter buffers (no copies). XNNPACK runs such a conv as the same GEMM, so the bits are the
 * stock kernel's (tested); this one is 1.1–1.5× faster on the networks' shapes (CPU ms, stock /
 * here: 4×15×27×128 → 128 1.58 / 1.28, 4×60×108×32 → 32 1.84 / 1.50, 4×120×216×1 → 16 1.14 / 0.77).
 * Null for any other conv, or without the SIMD module.
 */
export function pointwiseConv2D(backend: WasmBackend, x: TI, filter: TI, attrs: Attrs): TI | null {
  const [kh, kw, c, co] = filter.shape;
  if (kh !== 1 || kw !== 1 || x.dtype !== 'float32' || filter.dtype !== 'float32' || (attrs.dataFormat ?? 'NHWC') !== 'NHWC') return null;
  if (!simdKernels(backend)) return null;
  const [n, h, w] = x.shape;
  const info = tf.backend_util.computeConv2DInfo([n, h, w, c], [1, 1, c, co], attrs.strides as number | [number, number], 1,
    attrs.pad as 'valid' | 'same' | number, attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined);
  const p = info.padInfo;
  if (info.strideHeight !== 1 || info.strideWidth !== 1 || p.top || p.bottom || p.left || p.right) return null;
  return scoped(backend, (s) => {
    const a = heapView(backend, x, 0, [1, n * h * w, c]);
    const b = heapView(backend, filter, 0, [1, c, co]);
    let y: TI;
    try {
      y = s.adopt(gemm(backend, a, b));
    } finally {
      dropView(backend, a);
      dropView(backend, b);
    }
    return s.reshape(y, [n, h, w, co]);
  });
}
