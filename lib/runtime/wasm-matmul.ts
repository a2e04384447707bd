/**
 * Matrix products for the wasm backend. The stock C++ BatchMatMul/_FusedMatMul reach XNNPACK only
 * for `!transposeA && !transposeB && batchA == batchB == 1`; everything else (every matMul
 * gradient, every batched/attention product) runs a naive loop at 1–1.6 GF/s. These versions
 * materialise the transposes with the Transpose kernel and feed the pack's GEMM (wasm-gemm.ts,
 * XNNPACK's results 1.3× faster), which also takes the plain case:
 * - B shared (batchB = 1): fold A's batch into rows, one GEMM [batchA·M, K]·[K, N];
 * - A shared (batchA = 1): outᵢᵀ = Bᵢᵀ·Aᵀ, so B's batch folds into rows of one GEMM;
 * - both batched: one fast GEMM per batch entry, concatenated; tiny matrices in a plain loop.
 * Reductions longer than 4096 (weight gradients: K = positions) are split into ~3k chunks.
 * The stock _FusedMatMul is moreover wrong with a bias once it leaves the fast path (transposes or
 * batch > 1; measured against cpu), so its slow path is never used.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type KernelArgs, type Scope, type TI, type WasmBackend, scoped, size, stockKernel } from './wasm-util';
import { gemm } from './wasm-gemm';

interface Dims {
  batchA: number;
  batchB: number;
  m: number;
  k: number;
  n: number;
  outShape: number[];
}

function dims(a: TI, b: TI, ta: boolean, tb: boolean): Dims {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = ta ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = tb ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) {
    throw new Error(`Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} ` +
      `and transposeA=${ta} and transposeB=${tb} must match.`);
  }
  const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return { batchA: size(a.shape.slice(0, -2)), batchB: size(b.shape.slice(0, -2)), m, k, n, outShape: [...outer, m, n] };
}

/** [batch, rows, cols] of x (stored as [batch, cols, rows] when `t`), materialised. */
function asRowMajor(s: Scope, x: TI, batch: number, rows: number, cols: number, t: boolean): TI {
  return t ? s.transpose(s.reshape(x, [batch, cols, rows]), [0, 2, 1]) : s.reshape(x, [batch, rows, cols]);
}

/** Reduction depth above which a GEMM is split (a long one streams B's column panels from memory). */
const K_SPLIT_ABOVE = 4096;
/** Target depth of one split GEMM: 1.3–1.9× faster than one long reduction (measured with XNNPACK's GEMM). */
const K_CHUNK = 3072;

/** Columns [k0, k0+kc) of the [batch·rows, K] matrix x (stored as [batch, K, rows] when `t`). */
function lhsChunk(s: Scope, x: TI, batch: number, rows: number, k: number, t: boolean, k0: number, kc: number): TI {
  if (!t) return s.slice(s.reshape(x, [batch * rows, k]), [0, k0], [batch * rows, kc]);
  const part = s.slice(s.reshape(x, [batch, k, rows]), [0, k0, 0], [batch, kc, rows]);
  return s.reshape(s.transpose(part, [0, 2, 1]), [batch * rows, kc]);
}

/** Rows [k0, k0+kc) of the [K, n] matrix y (stored as [n, K] when `t`). */
function rhsChunk(s: Scope, y: TI, k: number, n: number, t: boolean, k0: number, kc: number): TI {
  if (!t) return s.slice(s.reshape(y, [k, n]), [k0, 0], [kc, n]);
  return s.transpose(s.slice(s.reshape(y, [n, k]), [0, k0], [n, kc]), [1, 0]);
}

/**
 * X[batch·rows, K] · Y[K, n] as one GEMM; long reductions are split into chunks of
 * ~K_CHUNK whose products are summed (each chunk's operands are freed before the next).
 */
function foldedGemm(s: Scope, x: TI, batch: number, rows: number, xt: boolean, y: TI, n: number, yt: boolean, k: number): TI {
  const chunks = k > K_SPLIT_ABOVE ? Math.ceil(k / K_CHUNK) : 1;
  const step = Math.ceil(k / chunks);
  let acc: TI | null = null;
  for (let k0 = 0; k0 < k; k0 += step) {
    const kc = Math.min(step, k - k0);
    const part = s.adopt(scoped(s.backend, (t) => {
      const a = t.reshape(lhsChunk(t, x, batch, rows, k, xt, k0, kc), [1, batch * rows, kc]);
      const b = t.reshape(rhsChunk(t, y, k, n, yt, k0, kc), [1, kc, n]);
      return t.adopt(gemm(t.backend, a, b));
    }));
    acc = acc ? s.run('Add', { a: acc, b: part }) : part;
  }
  return acc as TI; // [1, batch·rows, n]
}

/**
 * Both operands batched with tiny matrices (RAFT's convex upsampling: 1620 × (64×9 · 9×2)): one
 * GEMM call per batch entry costs far more than the arithmetic, so a plain loop does it.
 */
const SMALL_PRODUCT = 2048;

function smallProducts(backend: WasmBackend, a: TI, b: TI, ta: boolean, tb: boolean, d: Dims, batch: number): TI {
  const { m, k, n } = d;
  const out = backend.makeOutput([batch, m, n], 'float32');
  // Views after the allocation, which may have grown (and detached) the heap.
  const av = backend.typedArrayFromHeap(a);
  const bv = backend.typedArrayFromHeap(b);
  const ov = backend.typedArrayFromHeap(out);
  // Element (i, j) of A is at i·ai + j·aj within its batch entry (likewise B).
  const [ai, aj] = ta ? [1, m] : [k, 1];
  const [bi, bj] = tb ? [1, k] : [n, 1];
  for (let e = 0; e < batch; e++) {
    const a0 = e * m * k;
    const b0 = e * k * n;
    const o0 = e * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let q = 0; q < k; q++) acc += av[a0 + i * ai + q * aj] * bv[b0 + q * bi + j * bj];
        ov[o0 + i * n + j] = acc;
      }
    }
  }
  return out;
}

/** Fast-path product of materialised operands; returns [batch, M, N] or null if not foldable. */
function product(s: Scope, a: TI, b: TI, ta: boolean, tb: boolean, d: Dims): TI | null {
  const { batchA, batchB, m, k, n } = d;
  if (batchB === 1) return s.reshape(foldedGemm(s, a, batchA, m, ta, b, n, tb, k), [batchA, m, n]);
  if (batchA === 1) {
    // outᵢᵀ = Bᵢᵀ·Aᵀ: stacking the Bᵢᵀ makes this a single GEMM.
    const o = foldedGemm(s, b, batchB, n, !tb, a, m, !ta, k);
    return s.transpose(s.reshape(o, [batchB, n, m]), [0, 2, 1]);
  }
  const batch = size(d.outShape.slice(0, -2));
  if (batchA !== batch || batchB !== batch) return null; // partial broadcasting: leave it to the stock kernel
  if (m * k * n <= SMALL_PRODUCT) return s.adopt(smallProducts(s.backend, a, b, ta, tb, d, batch));
  const fast = (x: TI, y: TI): TI => s.adopt(gemm(s.backend, x, y));
  const a3 = asRowMajor(s, a, batch, m, k, ta);
  const b3 = asRowMajor(s, b, batch, k, n, tb);
  const parts: TI[] = [];
  for (let i = 0; i < batch; i++) {
    parts.push(fast(s.slice(a3, [i, 0, 0], [1, m, k]), s.slice(b3, [i, 0, 0], [1, k, n])));
  }
  return parts.length === 1 ? parts[0] : s.run('Concat', parts, { axis: 0 });
}

export function batchMatMul({ inputs, backend, attrs }: KernelArgs): TI {
  const { a, b } = inputs;
  const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
  const stock = () => stockKernel('BatchMatMul')!({ inputs, backend, attrs }) as TI;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock();
  const d = dims(a, b, transposeA, transposeB);
  if (d.m * d.n * d.k === 0) return stock();
  if (d.batchA === 1 && d.batchB === 1 && !transposeA && !transposeB) return scoped(backend, (s) => s.reshape(s.adopt(gemm(backend, a, b)), d.outShape));
  const out = scoped(backend, (s) => {
    const p = product(s, a, b, transposeA, transposeB, d);
    return p ? s.reshape(p, d.outShape) : s.adopt(stock());
  });
  return out;
}

const ACTIVATION_KERNEL: Record<string, string> = {
  relu: 'Relu',
  relu6: 'Relu6',
  elu: 'Elu',
  sigmoid: 'Sigmoid',
};

export function fusedMatMul({ inputs, backend, attrs }: KernelArgs): TI {
  const { a, b, bias, preluActivationWeights } = inputs;
  const { transposeA, transposeB, activation, leakyreluAlpha } = attrs as unknown as tf._FusedMatMulAttrs;
  const stock = () => stockKernel('_FusedMatMul')!({ inputs, backend, attrs }) as TI;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock();
  const d = dims(a, b, transposeA, transposeB);
  if (d.batchA === 1 && d.batchB === 1 && !transposeA && !transposeB) return stock();
  if (d.m * d.n * d.k === 0) return stock();
  return scoped(backend, (s) => {
    if (d.batchB === 1 && (bias == null || bias.shape.length === 1) && preluActivationWeights == null) {
      // Folding A's batch into rows keeps a rank-1 bias and elementwise activations valid.
      const a2 = s.reshape(asRowMajor(s, a, d.batchA, d.m, d.k, transposeA), [1, d.batchA * d.m, d.k]);
      const b2 = asRowMajor(s, b, 1, d.k, d.n, transposeB);
      const fin: Record<string, TI> = { a: a2, b: b2 };
      if (bias != null) fin.bias = bias;
      const o = s.stock('_FusedMatMul', fin, { ...attrs, transposeA: false, transposeB: false });
      return s.reshape(o, d.outShape);
    }
    // General case: fast product, then bias and activation as separate kernels.
    let y = s.reshape(s.run('BatchMatMul', { a, b }, { transposeA, transposeB }), d.outShape);
    if (bias != null) y = s.run('Add', { a: y, b: bias });
    if (activation === 'prelu') y = s.run('Prelu', { x: y, alpha: preluActivationWeights });
    else if (activation === 'leakyrelu') y = s.run('LeakyRelu', { x: y }, { alpha: leakyreluAlpha ?? 0.2 });
    else if (activation != null && activation !== 'linear') {
      const k = ACTIVATION_KERNEL[activation];
      if (!k) throw new Error(`lib/runtime/wasm-kernels: _FusedMatMul activation ${activation} is not supported on wasm`);
      y = s.run(k, { x: y });
    }
    return y;
  });
}
