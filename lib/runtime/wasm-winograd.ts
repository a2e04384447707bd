/**
 * Conv2D for the wasm backend: 1×1 stride-1 unpadded convolutions run as one GEMM
 * (wasm-gemm.ts pointwiseConv2D, the stock bits); stride-1 convolutions with enough channels run
 * as Winograd minimal filtering, with fewer multiplies per output than the direct convolution:
 * - 3×3 filters: F(4×4, 3×3), 36 products per 4×4 outputs instead of 144 (4× fewer; matrices in
 *   simd/kernels.wat), where it pays (winogradOptions.tile4x4), else F(2×2, 3×3), 16 products
 *   per 2×2 outputs instead of 36 (2.25× fewer);
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
 * pack's SIMD GEMM (wasm-gemm.ts, one thread). Results equal the direct
 * convolution up to float rounding (relative error ~1e-6 for F(2×2), ~1e-5 for F(4×4) and
 * F(4, 5)). Everything else, and every shape below the channel thresholds (the GEMMs get too
 * thin: 64 channels, 16 where F(4×4) applies), runs the stock XNNPACK convolution. Temporary heap: the
 * transformed filter plus, per chunk of tiles, the transformed input and the products
 * (≤ winogradOptions.chunkFloats each); outside gradient recording the transformed filters of
 * live filter tensors stay cached (≤ winogradOptions.cacheFloats, see prepare).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type SimdKernels, simdKernels } from './simd';
import { gemm, pointwiseConv2D } from './wasm-gemm';
import { type KernelArgs, Scope, type TI, type WasmBackend, dropView, heapOffset, heapView, scoped, stockKernel } from './wasm-util';

/** Tuning switches (benchmarks and tests compare the paths). */
export const winogradOptions = {
  enabled: true,
  /**
   * Smallest input and output channel counts sent to Winograd (F(2×2, 3×3), F(4, 5); F(4×4, 3×3)
   * has its own, lower ones below): under 64 the GEMMs get too thin
   * (measured on one thread: 32 → 32 at 122×218 0.8–0.9×, 64 → 64 1.3×, 256 → 192 1.6–1.8×).
   */
  minIn: 64,
  minOut: 64,
  /**
   * Smallest channel counts for 3×3 convs that get F(4×4, 3×3) (see tile4x4): its 4× fewer
   * products pay from 16 channels on with the pack's GEMM (F(2×2) does not below 64). Measured on
   * one thread, CPU ms, stock / F(4×4), min of 9: 4×60×108×32 → 32 13.2 / 6.0, 2×60×108×64 → 32
   * 13.0 / 5.3, 4×120×216×16 → 32 44 / 20, 4×120×216×16 → 16 14.4–15.2 / 13.2–13.9, 1×30×54×80 → 32
   * 2.3 / 1.5; fewer input channels lose or tie (4×120×216×8 → 8 4.5 / 7.0, 4×120×216×2 → 16
   * 19.7 / 23.3), and F(2×2) at 32 channels too (4×15×27×32 → 32 1.5 / 1.7). Fewer output channels
   * win too (2×120×216×32 → 2 6.5 / 4.5, 1×120×216×64 → 3 6.3 / 3.8) but raised the flow-completion
   * train step's wasm heap high-water mark (901 → 913 MiB) for ~15 ms.
   */
  minIn4x4: 16,
  minOut4x4: 16,
  /**
   * Tiles per chunk are capped so one chunk's transformed input and products stay ≤ this many
   * floats (4 MiB each). Larger chunks are up to ~15 % faster on big convs but raised the
   * flow-completion train step's wasm heap high-water mark (914 MiB at 4 M floats, 907 MiB here,
   * 909 MiB with direct convs).
   */
  chunkFloats: 1024 * 1024,
  /**
   * 3×3 filters as F(4×4, 3×3) (36 products per 16 outputs) instead of F(2×2, 3×3) (16 per 4)
   * where it pays: its filter transform and (when measured, with XNNPACK's GEMMs) the packing of 36
   * right-hand sides cost a fixed ~5–8 ms for 384 → 128, so it runs when one image's output has ≥ tile4x4MinTiles 4×4
   * tiles. The choice depends on the conv's per-image shape only, never on the batch size or on
   * what ran before: F(4×4) and F(2×2) round differently (~1e-6), and a result must not depend on
   * how a batch is split over processes (data-parallel training equals one process) or on whether
   * a run was resumed. Measured on one thread, CPU ms, F(2×2) / F(4×4) without the cache:
   * 1×30×54×384 → 128 (112 tiles) 22 / 23, 1×60×108×384 → 128 89 / 77, 5×60×108×384 → 128
   * 405 / 264, 2×120×216×64 → 64 61 / 38; with the cache (RAFT's update block from its second
   * iteration on) F(4×4) wins at 112 tiles too.
   */
  tile4x4: true,
  tile4x4MinTiles: 100,
  /**
   * Heap floats of filter transforms kept for filters used again outside gradient recording: 16 M floats (64 MiB); 0 turns the cache off.
   */
  cacheFloats: 16 * 1024 * 1024,
  /**
   * Filter gradients of stride-1 3×3 convs (Conv2DBackpropFilter) as Winograd F(2×2, 3×3) — see
   * winogradFilterGrad — for at least minGradIn input and minGradOut output channels. Measured on
   * one thread, CPU ms, im2col / Winograd: 1×30×54×320 → 256 ~95 / ~55, 1×60×108×128 → 128 62 / 46,
   * 1×15×27×384 → 128 14 / 10.5, 1×120×216×64 → 64 77 / 75; with XNNPACK's GEMMs 32 channels
   * were too thin (2×120×216×32 → 32 43 / 41–110 by chunk size; in the flow-completion step
   * 32-channel sites went 73 → 109 ms), with the pack's GEMM (CPU ms, min of 7, im2col / Winograd):
   * 4×60×108×32 → 32 14.0 / 12.9, 2×60×108×32 → 32 6.7 / 6.7, 2×60×108×64 → 32 14.7 / 11.1,
   * 2×60×108×32 → 64 13.0 / 11.8, 1×30×54×80 → 32 2.2 / 1.2, 6×30×54×64 → 32 11.0 / 7.5; 16
   * channels lose (4×120×216×16 → 16 15.5 / 21.9, → 32 26.6 / 37.1).
   */
  filterGrad: true,
  minGradIn: 32,
  minGradOut: 32,
  /**
   * Tiles per chunk of the filter gradient: ≤ gradChunkTiles (Zᵀ's rows are a chunk long; longer
   * rows made its transposed stores miss the cache), and V and Zᵀ stay ≤ gradChunkFloats each.
   */
  gradChunkTiles: 512,
  gradChunkFloats: 2 * 1024 * 1024,
};

type Kind = 'f2x2_3x3' | 'f4x4_3x3' | 'f4_5_h' | 'f4_5_v';

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
  if (kind === 'f4x4_3x3') return { points: 36, th: Math.ceil(oh / 4), tw: Math.ceil(ow / 4) };
  return kind === 'f4_5_h' ? { points: 8, th: oh, tw: Math.ceil(ow / 4) } : { points: 8, th: Math.ceil(oh / 4), tw: ow };
}

function plan(x: TI, filter: TI, attrs: Record<string, unknown>): Plan | null {
  const o = winogradOptions;
  if (!o.enabled || x.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC') return null;
  const [kh, kw, c, co] = filter.shape;
  const kind: Kind | null = kh === 3 && kw === 3 ? 'f2x2_3x3' : kh === 1 && kw === 5 ? 'f4_5_h' : kh === 5 && kw === 1 ? 'f4_5_v' : null;
  const narrow = c < o.minIn || co < o.minOut; // Winograd only as F(4×4, 3×3), decided below
  if (!kind || (narrow && (kind !== 'f2x2_3x3' || !o.tile4x4 || c < o.minIn4x4 || co < o.minOut4x4))) return null;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
    attrs.strides as number | [number, number], attrs.dilations as number | [number, number], attrs.pad as 'valid' | 'same' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined);
  if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  if (info.outHeight < 2 || info.outWidth < 2) return null;
  const [n, h, w] = x.shape;
  const wide = kind === 'f2x2_3x3' && o.tile4x4 && info.outHeight >= 4 && info.outWidth >= 4 &&
    Math.ceil(info.outHeight / 4) * Math.ceil(info.outWidth / 4) >= o.tile4x4MinTiles;
  if (narrow && !wide) return null;
  return { kind: wide ? 'f4x4_3x3' : kind, n, h, w, c, co, oh: info.outHeight, ow: info.outWidth, pT: info.padInfo.top, pL: info.padInfo.left };
}

/** Channel counts as the SIMD transforms take them: 4 at a time. */
const up4 = (v: number) => Math.ceil(v / 4) * 4;

/**
 * Chunks [t0, t0 + cnt) of `tiles` tiles, `per` at a time; a remainder under 4 tiles joins the
 * last chunk (the filter gradient's dy transform works on groups of 4 tiles).
 */
function* tileChunks(tiles: number, per: number): Generator<[number, number]> {
  for (let t0 = 0, cnt = 0; t0 < tiles; t0 += cnt) {
    cnt = tiles - t0 < per + 4 ? tiles - t0 : per;
    yield [t0, cnt];
  }
}

/** Heap offsets of the per-point products into `mtab`, read after every allocation (the heap may have grown; offsets stay valid). */
function writeOffsets(backend: WasmBackend, mtab: TI, products: readonly TI[]): void {
  const tab = backend.typedArrayFromHeap(mtab) as Int32Array;
  products.forEach((m, i) => (tab[i] = heapOffset(backend, m)));
}

export function conv2D(args: KernelArgs): TI {
  const { inputs, backend, attrs } = args;
  const { x, filter } = inputs;
  const pw = pointwiseConv2D(backend, x, filter, attrs);
  if (pw) return pw;
  const p = plan(x, filter, attrs);
  const k = p ? simdKernels(backend) : null;
  if (!p || !k) return stockKernel('Conv2D')!(args) as TI;
  if (p.c % 4 === 0 && p.co % 4 === 0) return winograd(backend, k, x, filter, p, filter.dataId);
  // The SIMD transforms take 4 channels at a time: zero channels in and out (RAFT's 256 → 126,
  // flow completion's 258 → 128), sliced off the result.
  const [c4, co4] = [up4(p.c), up4(p.co)];
  return scoped(backend, (s) => {
    const xp = s.pad(x, [[0, 0], [0, 0], [0, 0], [0, c4 - p.c]]);
    const fp = s.pad(filter, [[0, 0], [0, 0], [0, c4 - p.c], [0, co4 - p.co]]);
    const y = s.adopt(winograd(backend, k, xp, fp, { ...p, c: c4, co: co4 }, filter.dataId));
    return s.slice(y, [0, 0, 0, 0], [p.n, p.oh, p.ow, p.co]);
  });
}

/** A filter's transform and the GEMMs' right-hand views over it, one per point. */
interface Prepared {
  kind: Kind;
  c: number;
  co: number;
  u: TI;
  views: TI[];
  /** Heap floats held (the transform). */
  floats: number;
}

/** Per backend: prepared filters by the filter's dataId, in least-recently-used order. */
const caches = new WeakMap<WasmBackend, { entries: Map<object, Prepared>; floats: number }>();

function release(backend: WasmBackend, p: Prepared): void {
  for (const b of p.views) dropView(backend, b);
  backend.disposeData(p.u.dataId);
}

function evict(backend: WasmBackend, key: object): void {
  const cache = caches.get(backend);
  const p = cache?.entries.get(key);
  if (!cache || !p) return;
  cache.entries.delete(key);
  cache.floats -= p.floats;
  release(backend, p);
}

/** Drops every prepared filter of this backend (tests; a gradient tape starting). */
export function clearWinogradCache(backend: WasmBackend): void {
  const cache = caches.get(backend);
  if (cache) for (const key of [...cache.entries.keys()]) evict(backend, key);
}

/**
 * The cache of a backend, created on first use; the backend's disposeData is wrapped once so a
 * filter's entry goes when its buffer is freed (a reassigned variable, a disposed model).
 */
function cacheOf(backend: WasmBackend): { entries: Map<object, Prepared>; floats: number } {
  let cache = caches.get(backend);
  if (!cache) {
    cache = { entries: new Map(), floats: 0 };
    caches.set(backend, cache);
    const dispose = backend.disposeData.bind(backend);
    const entries = cache.entries;
    backend.disposeData = (dataId: object, force?: boolean): boolean => {
      const freed = dispose(dataId, force);
      if (entries.size && entries.has(dataId) && !backend.dataIdMap.has(dataId)) evict(backend, dataId);
      return freed;
    };
  }
  return cache;
}

/**
 * The filter transform of a filter used again: RAFT runs the same update-block convolutions 20
 * times per call. Kept only outside gradient recording (inference, RAFT
 * flows for training): under a tape the filters change every step and the held transforms would
 * raise the train steps' heap high-water marks, so a tape clears the cache. Bounded by
 * winogradOptions.cacheFloats (least recently used first out).
 */
function prepare(backend: WasmBackend, k: SimdKernels, filter: TI, p: Plan, key: object): Prepared {
  const { kind, c, co } = p;
  const taped = tf.engine().state.gradientDepth > 0;
  const cache = cacheOf(backend);
  if (taped) clearWinogradCache(backend);
  const hit = cache.entries.get(key);
  if (hit && hit.kind === kind && hit.c === c && hit.co === co) {
    cache.entries.delete(key); // re-inserted: most recently used last
    cache.entries.set(key, hit);
    return hit;
  }
  if (hit) evict(backend, key);
  const { points } = tiling(kind, 4, 4);
  const u = backend.makeOutput([points, c, co], 'float32');
  if (kind === 'f2x2_3x3') k.wino_weights(heapOffset(backend, filter), heapOffset(backend, u), c * co);
  else if (kind === 'f4x4_3x3') k.wino4_weights(heapOffset(backend, filter), heapOffset(backend, u), c * co);
  else k.wino1d_weights(heapOffset(backend, filter), heapOffset(backend, u), c * co);
  const views: TI[] = [];
  for (let xi = 0; xi < points; xi++) views.push(heapView(backend, u, xi * c * co, [1, c, co]));
  const prepared: Prepared = { kind, c, co, u, views, floats: points * c * co };
  const budget = winogradOptions.cacheFloats;
  if (taped || prepared.floats > budget) return prepared;
  for (const old of [...cache.entries.keys()]) {
    if (cache.floats + prepared.floats <= budget) break;
    evict(backend, old);
  }
  cache.entries.set(key, prepared);
  cache.floats += prepared.floats;
  return prepared;
}

function winograd(backend: WasmBackend, k: SimdKernels, x: TI, filter: TI, p: Plan, key: object): TI {
  const { kind, n, h, w, c, co, oh, ow, pT, pL } = p;
  const { points, th, tw } = tiling(kind, oh, ow);
  const vert = kind === 'f4_5_v' ? 1 : 0;
  const tiles = n * th * tw;
  const per = Math.max(1, Math.min(tiles, Math.floor(winogradOptions.chunkFloats / (points * Math.max(c, co)))));
  const owned: TI[] = [];
  const alloc = (shape: number[], dtype: 'float32' | 'int32' = 'float32', values?: tf.TypedArray): TI => {
    const t = backend.makeOutput(shape, dtype, undefined, values);
    owned.push(t);
    return t;
  };
  const out = backend.makeOutput([n, oh, ow, co], 'float32');
  let prepared: Prepared | null = null;
  try {
    prepared = prepare(backend, k, filter, p, key);
    const uViews = prepared.views;
    const zero = alloc([c], 'float32', new Float32Array(c));
    const dump = alloc([co]);
    const mtab = alloc([points], 'int32');
    for (const [t0, cnt] of tileChunks(tiles, per)) {
      const v = backend.makeOutput([points, cnt, c], 'float32');
      const products: TI[] = [];
      try {
        const [xo, zo, vo] = [heapOffset(backend, x), heapOffset(backend, zero), heapOffset(backend, v)];
        if (kind === 'f2x2_3x3') k.wino_input(xo, zo, vo, h, w, c, th, tw, pT, pL, t0, cnt);
        else if (kind === 'f4x4_3x3') k.wino4_input(xo, zo, vo, h, w, c, th, tw, pT, pL, t0, cnt);
        else k.wino1d_input(xo, zo, vo, h, w, c, th, tw, pT, pL, t0, cnt, vert);
        for (let xi = 0; xi < points; xi++) {
          const a = heapView(backend, v, xi * cnt * c, [1, cnt, c]);
          try {
            products.push(gemm(backend, a, uViews[xi]));
          } finally {
            dropView(backend, a);
          }
        }
        writeOffsets(backend, mtab, products);
        const [mo, yo, dz] = [heapOffset(backend, mtab), heapOffset(backend, out), heapOffset(backend, dump)];
        if (kind === 'f2x2_3x3') k.wino_output(mo, yo, dz, oh, ow, co, th, tw, t0, cnt);
        else if (kind === 'f4x4_3x3') k.wino4_output(mo, yo, dz, oh, ow, co, th, tw, t0, cnt);
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
    if (prepared && caches.get(backend)?.entries.get(key) !== prepared) release(backend, prepared);
    for (const t of owned) backend.disposeData(t.dataId);
  }
  return out;
}

/**
 * Conv2DBackpropFilter of a stride-1, undilated 3×3 conv (NHWC x [n, h, w, c], dy [n, oh, ow, co],
 * pads pT/pL) as Winograd F(2×2, 3×3): dW = Gᵀ·(Σ_tiles V ⊙ Z)·G per (ci, co), V = Bᵀ·d·B the
 * forward's input transform of the tile's 4×4 input patch, Z = A·dY·Aᵀ of its 2×2 output
 * gradients — the forward's bilinear form differentiated, so exact up to rounding (~1e-6). Per
 * point ξ the sum over tiles is one GEMM Zᵀ_ξ [co, tiles]·V_ξ [tiles, c] (16 products per 4
 * positions instead of 36: 2.25× fewer multiplies than the im2col GEMM, and no JS im2col); chunks
 * of tiles are summed after the output transform; the [3, 3, co, c] result is transposed once.
 * Null (the caller keeps its im2col path) below the channel thresholds, for other filters or
 * strides, or without the SIMD module. The choice depends on the conv's per-image shape only.
 */
export function winogradFilterGrad(backend: WasmBackend, x: TI, dy: TI, filterShape: number[], info: tf.backend_util.Conv2DInfo): TI | null {
  const o = winogradOptions;
  const [kh, kw, c, co] = filterShape;
  if (!o.enabled || !o.filterGrad || x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
  if (kh !== 3 || kw !== 3 || info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  if (c < o.minGradIn || co < o.minGradOut) return null;
  const [oh, ow] = [info.outHeight, info.outWidth];
  const { th, tw } = tiling('f2x2_3x3', oh, ow);
  if (oh < 2 || ow < 2 || th * tw < 4) return null; // wino_dyt works on groups of 4 tiles
  const k = simdKernels(backend);
  if (!k) return null;
  if (c % 4 === 0 && co % 4 === 0) return filterGradF2x2(backend, k, x, dy, co, info, th, tw);
  // The SIMD transforms take 4 channels at a time: zero channels in x and dy (ProPainter's
  // 258 and 261 → 128), sliced off the result.
  return scoped(backend, (s) => {
    const xp = s.pad(x, [[0, 0], [0, 0], [0, 0], [0, up4(c) - c]]);
    const dyp = s.pad(dy, [[0, 0], [0, 0], [0, 0], [0, up4(co) - co]]);
    const dw = s.adopt(filterGradF2x2(backend, k, xp, dyp, up4(co), info, th, tw));
    return s.slice(dw, [0, 0, 0, 0], [3, 3, c, co]);
  });
}

/** winogradFilterGrad for channel counts that are multiples of 4. */
function filterGradF2x2(backend: WasmBackend, k: SimdKernels, x: TI, dy: TI, co: number, info: tf.backend_util.Conv2DInfo, th: number, tw: number): TI {
  const o = winogradOptions;
  const [n, h, w, c] = x.shape;
  const [oh, ow] = [info.outHeight, info.outWidth];
  const tiles = n * th * tw;
  const per = Math.max(4, Math.min(o.gradChunkTiles, Math.floor(o.gradChunkFloats / (16 * Math.max(c, co)))));
  return scoped(backend, (s) => {
    const zero = s.adopt(backend.makeOutput([Math.max(c, co)], 'float32', undefined, new Float32Array(Math.max(c, co))));
    const mtab = s.adopt(backend.makeOutput([16], 'int32'));
    const dwt = s.adopt(backend.makeOutput([3, 3, co, c], 'float32'));
    for (const [t0, cnt] of tileChunks(tiles, per)) {
      const t = new Scope(backend);
      try {
        const v = t.adopt(backend.makeOutput([16, cnt, c], 'float32'));
        const zt = t.adopt(backend.makeOutput([16, co, cnt], 'float32'));
        const [xo, dyo, zo, vo, zto] = [x, dy, zero, v, zt].map((q) => heapOffset(backend, q));
        k.wino_input(xo, zo, vo, h, w, c, th, tw, info.padInfo.top, info.padInfo.left, t0, cnt);
        k.wino_dyt(dyo, zo, zto, oh, ow, co, th, tw, t0, cnt);
        const products: TI[] = [];
        for (let xi = 0; xi < 16; xi++) {
          const a = heapView(backend, zt, xi * co * cnt, [1, co, cnt]);
          const b = heapView(backend, v, xi * cnt * c, [1, cnt, c]);
          try {
            products.push(t.adopt(gemm(backend, a, b)));
          } finally {
            dropView(backend, a);
            dropView(backend, b);
          }
        }
        writeOffsets(backend, mtab, products);
        k.wino_wgrad_output(heapOffset(backend, mtab), heapOffset(backend, dwt), co * c, t0 > 0 ? 1 : 0);
      } finally {
        t.done();
      }
    }
    return s.transpose(dwt, [0, 1, 3, 2]);
  });
}
