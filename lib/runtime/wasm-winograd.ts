/**
 * Conv2D for the wasm backend: stride-1 convolutions with enough channels run as Winograd
 * minimal filtering, with fewer multiplies per output than the direct convolution:
 * - 3×3 filters: F(2×2, 3×3), 16 products per 2×2 outputs instead of 36 (2.25× fewer);
 * - 1×5 and 5×1 filters (RAFT's separable ConvGRU): F(4, 5) along the filter's axis, 8 products
 *   per 4 outputs instead of 20 (2.5× fewer), with the Toom–Cook points 0, ±1, ±2, ±½, ∞:
 *     Aᵀ = [[1,1,1,1,1,1,1,0], [0,1,−1,2,−2,½,−½,0], [0,1,1,4,4,¼,¼,0], [0,1,−1,8,−8,⅛,−⅛,1]]
 *     G  = [[−1,0,0,0,0], −2/9·[1,1,1,1,1], −2/9·[1,−1,1,−1,1], [1/90,1/45,2/45,4/45,8/45],
 *           [1/90,−1/45,2/45,−4/45,8/45], [32/45,16/45,8/45,4/45,2/45], [32/45,−16/45,8/45,−4/45,2/45], [0,0,0,0,1]]
 *     Bᵀ = [[−1,0,21/4,0,−21/4,0,1,0], [0,1,1,−17/4,−17/4,1,1,0], [0,−1,1,17/4,−17/4,−1,1,0],
 *           [0,½,¼,−5/2,−5/4,2,1,0], [0,−½,¼,5/2,−5/4,−2,1,0], [0,2,4,−5/2,−5,½,1,0],
 *           [0,−2,4,5/2,−5,−½,1,0], [0,−1,0,21/4,0,−21/4,0,1]]
 * The filter, input and output transforms are SIMD kernels of the pack (./simd.ts, source
 * simd/kernels.wat) working in place on the heap; the products [tiles, Cin]·[Cin, Cout] are the
 * backend's XNNPACK GEMMs (threaded with PROPAINTER_THREADS). Results equal the direct
 * convolution up to float rounding (relative error ~1e-6). Everything else, and every shape
 * below the thresholds (small channel counts gain nothing: the GEMMs get too thin), runs the
 * stock XNNPACK convolution. Temporary heap: the transformed filter plus, per chunk of tiles,
 * the transformed input and the products (≤ winogradOptions.chunkFloats each).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type SimdKernels, simdKernels } from './simd';
import { type KernelArgs, type TI, type WasmBackend, dropView, heapOffset, heapView, scoped, stockKernel } from './wasm-util';

/** Tuning switches (benchmarks and tests compare the paths). */
export const winogradOptions = {
  enabled: true,
  /**
   * Smallest input and output channel counts sent to Winograd: below 64 the GEMMs get too thin
   * (measured on one thread: 32 → 32 at 122×218 0.8–0.9×, 64 → 64 1.3×, 256 → 192 1.6–1.8×).
   */
  minIn: 64,
  minOut: 64,
  /**
   * Tiles per chunk are capped so one chunk's transformed input and products stay ≤ this many
   * floats (4 MiB each). Larger chunks are up to ~15 % faster on big convs but raised the
   * flow-completion train step's wasm heap high-water mark (914 MiB at 4 M floats, 907 MiB here,
   * 909 MiB with direct convs).
   */
  chunkFloats: 1024 * 1024,
};

type Kind = 'f2x2_3x3' | 'f4_5_h' | 'f4_5_v';

interface Plan {
  kind: Kind;
  n: number;
  h: number;
  w: number;
  c: number;
  co: number;
  oh: number;
  ow: number;
  pT: number;
  pL: number;
}

/** Products per tile, and the tile grid [th, tw] of an oh×ow output. */
function tiling(kind: Kind, oh: number, ow: number): { points: number; th: number; tw: number } {
  if (kind === 'f2x2_3x3') return { points: 16, th: Math.ceil(oh / 2), tw: Math.ceil(ow / 2) };
  return kind === 'f4_5_h' ? { points: 8, th: oh, tw: Math.ceil(ow / 4) } : { points: 8, th: Math.ceil(oh / 4), tw: ow };
}

function plan(x: TI, filter: TI, attrs: Record<string, unknown>): Plan | null {
  const o = winogradOptions;
  if (!o.enabled || x.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC') return null;
  const [kh, kw, c, co] = filter.shape;
  const kind: Kind | null = kh === 3 && kw === 3 ? 'f2x2_3x3' : kh === 1 && kw === 5 ? 'f4_5_h' : kh === 5 && kw === 1 ? 'f4_5_v' : null;
  if (!kind || c < o.minIn || co < o.minOut) return null;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
    attrs.strides as number | [number, number], attrs.dilations as number | [number, number], attrs.pad as 'valid' | 'same' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined);
  if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  if (info.outHeight < 2 || info.outWidth < 2) return null;
  const [n, h, w] = x.shape;
  return { kind, n, h, w, c, co, oh: info.outHeight, ow: info.outWidth, pT: info.padInfo.top, pL: info.padInfo.left };
}

export function conv2D(args: KernelArgs): TI {
  const { inputs, backend, attrs } = args;
  const { x, filter } = inputs;
  const p = plan(x, filter, attrs);
  const k = p ? simdKernels(backend) : null;
  if (!p || !k) return stockKernel('Conv2D')!(args) as TI;
  const up4 = (v: number) => Math.ceil(v / 4) * 4;
  if (p.c % 4 === 0 && p.co % 4 === 0) return winograd(backend, k, x, filter, p);
  // The SIMD transforms take 4 channels at a time: zero channels in and out (RAFT's 256 → 126,
  // flow completion's 258 → 128), sliced off the result.
  const [c4, co4] = [up4(p.c), up4(p.co)];
  return scoped(backend, (s) => {
    const xp = s.pad(x, [[0, 0], [0, 0], [0, 0], [0, c4 - p.c]]);
    const fp = s.pad(filter, [[0, 0], [0, 0], [0, c4 - p.c], [0, co4 - p.co]]);
    const y = s.adopt(winograd(backend, k, xp, fp, { ...p, c: c4, co: co4 }));
    return s.slice(y, [0, 0, 0, 0], [p.n, p.oh, p.ow, p.co]);
  });
}

function winograd(backend: WasmBackend, k: SimdKernels, x: TI, filter: TI, p: Plan): TI {
  const { kind, n, h, w, c, co, oh, ow, pT, pL } = p;
  const { points, th, tw } = tiling(kind, oh, ow);
  const vert = kind === 'f4_5_v' ? 1 : 0;
  const tiles = n * th * tw;
  const per = Math.max(1, Math.min(tiles, Math.floor(winogradOptions.chunkFloats / (points * Math.max(c, co)))));
  const mm = stockKernel('BatchMatMul')!;
  const owned: TI[] = [];
  const alloc = (shape: number[], dtype: 'float32' | 'int32' = 'float32', values?: tf.TypedArray): TI => {
    const t = backend.makeOutput(shape, dtype, undefined, values);
    owned.push(t);
    return t;
  };
  const out = backend.makeOutput([n, oh, ow, co], 'float32');
  try {
    const u = alloc([points, c, co]);
    const zero = alloc([c], 'float32', new Float32Array(c));
    const dump = alloc([co]);
    const mtab = alloc([points], 'int32');
    if (kind === 'f2x2_3x3') k.wino_weights(heapOffset(backend, filter), heapOffset(backend, u), c * co);
    else k.wino1d_weights(heapOffset(backend, filter), heapOffset(backend, u), c * co);
    for (let t0 = 0; t0 < tiles; t0 += per) {
      const cnt = Math.min(per, tiles - t0);
      const v = backend.makeOutput([points, cnt, c], 'float32');
      const products: TI[] = [];
      try {
        const [xo, zo, vo] = [heapOffset(backend, x), heapOffset(backend, zero), heapOffset(backend, v)];
        if (kind === 'f2x2_3x3') k.wino_input(xo, zo, vo, h, w, c, th, tw, pT, pL, t0, cnt);
        else k.wino1d_input(xo, zo, vo, h, w, c, th, tw, pT, pL, t0, cnt, vert);
        for (let xi = 0; xi < points; xi++) {
          const a = heapView(backend, v, xi * cnt * c, [1, cnt, c]);
          const b = heapView(backend, u, xi * c * co, [1, c, co]);
          try {
            products.push(mm({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } }) as TI);
          } finally {
            dropView(backend, a);
            dropView(backend, b);
          }
        }
        // Offsets are read after every allocation (the heap may have grown; offsets stay valid).
        const tab = backend.typedArrayFromHeap(mtab) as Int32Array;
        products.forEach((m, i) => (tab[i] = heapOffset(backend, m)));
        const [mo, yo, dz] = [heapOffset(backend, mtab), heapOffset(backend, out), heapOffset(backend, dump)];
        if (kind === 'f2x2_3x3') k.wino_output(mo, yo, dz, oh, ow, co, th, tw, t0, cnt);
        else k.wino1d_output(mo, yo, dz, oh, ow, co, th, tw, t0, cnt, vert);
      } finally {
        backend.disposeData(v.dataId);
        for (const m of products) backend.disposeData(m.dataId);
      }
    }
  } catch (e) {
    backend.disposeData(out.dataId);
    throw e;
  } finally {
    for (const t of owned) backend.disposeData(t.dataId);
  }
  return out;
}
