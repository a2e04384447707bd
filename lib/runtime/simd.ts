/**
 * The pack's own SIMD kernels (lib/runtime/simd/kernels.wat, built by scripts/build-wasm.mjs into
 * the committed kernels.wasm / kernels-shared.wasm): a small wasm module instantiated on
 * tfjs-backend-wasm's own WebAssembly.Memory, so it reads and writes tensors in place by their
 * heap offsets. The threaded build's memory is shared, which the import must declare: that is
 * the -shared variant.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { WasmBackend } from './wasm-util';

export interface SimdKernels {
  /** Winograd F(2×2, 3×3) filter transform: g [3][3][n] → u [16][n]; n % 4 == 0. */
  wino_weights(g: number, u: number, n: number): void;
  /** Input transform of tiles t0 … t0+cnt−1 (see kernels.wat); c % 4 == 0. */
  wino_input(x: number, zero: number, v: number, h: number, w: number, c: number, th: number, tw: number, pT: number, pL: number, t0: number, cnt: number): void;
  /** Output transform; co % 4 == 0. */
  wino_output(mtab: number, y: number, dump: number, oh: number, ow: number, co: number, th: number, tw: number, t0: number, cnt: number): void;
  /** Winograd F(4×4, 3×3) filter transform: g [3][3][n] → u [36][n]; n % 4 == 0. */
  wino4_weights(g: number, u: number, n: number): void;
  /** F(4×4, 3×3) input transform (v [36][cnt][c]); c % 4 == 0. */
  wino4_input(x: number, zero: number, v: number, h: number, w: number, c: number, th: number, tw: number, pT: number, pL: number, t0: number, cnt: number): void;
  /** F(4×4, 3×3) output transform; co % 4 == 0. */
  wino4_output(mtab: number, y: number, dump: number, oh: number, ow: number, co: number, th: number, tw: number, t0: number, cnt: number): void;
  /** Winograd F(4, 5) filter transform: g [5][n] → u [8][n]; n % 4 == 0. */
  wino1d_weights(g: number, u: number, n: number): void;
  /** F(4, 5) input transform along W (vert 0) or H (vert 1); c % 4 == 0. */
  wino1d_input(x: number, zero: number, v: number, h: number, w: number, c: number, th: number, tw: number, pT: number, pL: number, t0: number, cnt: number, vert: number): void;
  /** F(4, 5) output transform; co % 4 == 0. */
  wino1d_output(mtab: number, y: number, dump: number, oh: number, ow: number, co: number, th: number, tw: number, t0: number, cnt: number, vert: number): void;
  /** Filter gradient, F(2×2, 3×3): Z = A·dY·Aᵀ of tiles t0 … t0+cnt−1 stored as zt [16][co][cnt]; co % 4 == 0. */
  wino_dyt(dy: number, zero: number, zt: number, oh: number, ow: number, co: number, th: number, tw: number, t0: number, cnt: number): void;
  /** Filter gradient, F(2×2, 3×3): dw [3][3][n] (+)= Gᵀ·M·G of the 16 product planes at mtab; n % 4 == 0. */
  wino_wgrad_output(mtab: number, dw: number, n: number, acc: number): void;
  /** Transposed im2col rows of the filter gradient (see kernels.wat); cols: 2·kw i32 (first, past-last valid column per j). */
  im2col_t(xt: number, dst: number, cols: number, nb: number, h: number, w: number, c: number, oh: number, ow: number, kh: number, kw: number,
    sh: number, sw: number, pT: number, pL: number, r0: number, nr: number): void;
  /** C[·][j0 … j1) = A[m][k] · B[k][n] (row-major; see kernels.wat); scratch: (pack ? ⌈(j1 − j0)/8⌉ : 1)·8·k + 32 floats. */
  gemm(a: number, b: number, c: number, m: number, k: number, n: number, j0: number, j1: number, scratch: number, pack: number): void;
  /** out[r] = Σ_i w_i[r]·flat[idx_i[r]] for r < k, rows of c floats (c % 4 == 0; no bounds checks). */
  bilinear_gather(flat: number, c: number, k: number, i0: number, i1: number, i2: number, i3: number, w0: number, w1: number, w2: number, w3: number, out: number): void;
  /** y[i] = tanh(x[i]) for i < n float32 (computed in float64: correctly rounded but in ~1e-6 of cases). */
  tanh_f32(x: number, y: number, n: number): void;
  /** out [outer][inner] = sum (mean ≠ 0: mean) over rows of x [outer][rows][inner] (float32, row order); inner % 4 == 0. */
  sum_rows(x: number, out: number, outer: number, rows: number, inner: number, mean: number): void;
  /** rows × len bytes from src (row stride sstride bytes) to dst (row stride dstride). */
  copy_rows(src: number, sstride: number, dst: number, dstride: number, len: number, rows: number): void;
  /** RAFT's correlation window lookup at one level (see kernels.wat); g: scratch of (2r+2)² + (2r+1)(2r+2) float64. */
  corr_lookup(level: number, lh: number, lw: number, coords: number, q: number, r: number, scale: number, out: number, stride: number, g: number): void;
}

// The project's TypeScript libs do not declare the WebAssembly namespace: the parts used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
interface WasmApi {
  Memory: new (d: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: unknown };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface EmscriptenModule {
  /** The threaded build's (shared) memory. */
  wasmMemory?: WasmMemory;
  /** The plain build's exports, its memory among them. */
  asm?: { memory?: WasmMemory };
}

const instances = new WeakMap<object, SimdKernels | null>();

/** The SIMD kernels bound to this backend's heap, or null if they cannot be loaded here. */
export function simdKernels(backend: WasmBackend): SimdKernels | null {
  const mod = (backend as unknown as { wasm: EmscriptenModule }).wasm;
  if (instances.has(mod)) return instances.get(mod)!;
  let k: SimdKernels | null = null;
  try {
    const memory = mod.wasmMemory ?? mod.asm?.memory;
    if (memory instanceof WA.Memory) {
      const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
      const bytes = fs.readFileSync(path.join(__dirname, 'simd', shared ? 'kernels-shared.wasm' : 'kernels.wasm'));
      k = new WA.Instance(new WA.Module(bytes), { env: { memory } }).exports as SimdKernels;
    }
  } catch {
    k = null; // no SIMD or an unexpected module layout: callers keep their composed path
  }
  instances.set(mod, k);
  return k;
}
