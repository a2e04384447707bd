/**
 * The one dense product every fast path of the wasm pack ends in: C[M, N] = A[M, K] · B[K, N],
 * row-major, no transposes, a single batch entry. The pack's SIMD GEMM (kernels.wat `gemm`)
 * accumulates in the same order with the same separate multiply and add as XNNPACK's wasm SIMD
 * GEMM, so it gives the stock kernel's results bit for bit, at 1.3–1.4× its speed (4×8 register
 * tiles; XNNPACK's BatchMatMul also repacks B per operator). Without the SIMD module the stock
 * BatchMatMul runs.
 */
import { simdKernels } from './simd';
import { type TI, type WasmBackend, heapOffset, stockKernel } from './wasm-util';
import { timeSubKernel } from './kernel-profile';

/** Bytes of B one column block may span, so it stays in L2 while every row block reads it. */
const B_BLOCK_BYTES = 256 * 1024;

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
    // Columns past a multiple of 4 go through a zero-padded copy of B's last columns and a 4×4 result.
    const scratch = n % 4 ? backend.makeOutput([4 * (kk + 4)], 'float32') : null;
    try {
      // Offsets after every allocation: the heap may have grown (its offsets do not move).
      const [ao, bo, co] = [heapOffset(backend, a), heapOffset(backend, b), heapOffset(backend, out)];
      const so = scratch ? heapOffset(backend, scratch) : 0;
      const nb = gemmColumnBlock(kk, n);
      for (let j0 = 0; j0 < n; j0 += nb) k.gemm(ao, bo, co, m, kk, n, j0, Math.min(n, j0 + nb), so);
    } finally {
      if (scratch) backend.disposeData(scratch.dataId);
    }
    return out;
  });
}
