/**
 * Conv2D for the wasm backend: 3×3 stride-1 convolutions with enough channels as Winograd
 * F(2×2, 3×3): 16 products of 4 instead of 36 multiply-accumulates per 2×2 outputs and channel
 * pair (2.25× fewer). The filter, input and output transforms are SIMD kernels of the pack
 * (./simd.ts) working in place on the heap; the 16 products [tiles, Cin]·[Cin, Cout] are the
 * backend's XNNPACK GEMMs (threaded with PROPAINTER_THREADS). Results equal the direct
 * convolution up to float rounding (relative error ~1e-6). Everything else, and every shape
 * below the thresholds (small channel counts gain nothing: the GEMMs get too thin), runs the
 * stock XNNPACK convolution. Temporary heap: the transformed filter plus, per chunk of tiles,
 * the transformed input and the 16 products (≤ winogradOptions.chunkFloats each).
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdKernels } from './simd';
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
  /** Tiles per chunk are capped so one chunk's transformed input and products stay ≤ this many floats. */
  chunkFloats: 4 * 1024 * 1024,
};

interface Plan {
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

function plan(x: TI, filter: TI, attrs: Record<string, unknown>): Plan | null {
  const o = winogradOptions;
  if (!o.enabled || x.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC') return null;
  const [kh, kw, c, co] = filter.shape;
  if (kh !== 3 || kw !== 3 || c < o.minIn || co < o.minOut) return null;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
    attrs.strides as number | [number, number], attrs.dilations as number | [number, number], attrs.pad as 'valid' | 'same' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined);
  if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  if (info.outHeight < 2 || info.outWidth < 2) return null;
  const [n, h, w] = x.shape;
  return { n, h, w, c, co, oh: info.outHeight, ow: info.outWidth, pT: info.padInfo.top, pL: info.padInfo.left };
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

function winograd(backend: WasmBackend, k: NonNullable<ReturnType<typeof simdKernels>>, x: TI, filter: TI, p: Plan): TI {
  const { n, h, w, c, co, oh, ow, pT, pL } = p;
  const th = Math.ceil(oh / 2);
  const tw = Math.ceil(ow / 2);
  const tiles = n * th * tw;
  const per = Math.max(1, Math.min(tiles, Math.floor(winogradOptions.chunkFloats / (16 * Math.max(c, co)))));
  const mm = stockKernel('BatchMatMul')!;
  const owned: TI[] = [];
  const alloc = (shape: number[], dtype: 'float32' | 'int32' = 'float32', values?: tf.TypedArray): TI => {
    const t = backend.makeOutput(shape, dtype, undefined, values);
    owned.push(t);
    return t;
  };
  const out = backend.makeOutput([n, oh, ow, co], 'float32');
  try {
    const u = alloc([16, c, co]);
    const zero = alloc([c], 'float32', new Float32Array(c));
    const dump = alloc([co]);
    const mtab = alloc([16], 'int32');
    k.wino_weights(heapOffset(backend, filter), heapOffset(backend, u), c * co);
    for (let t0 = 0; t0 < tiles; t0 += per) {
      const cnt = Math.min(per, tiles - t0);
      const v = backend.makeOutput([16, cnt, c], 'float32');
      const products: TI[] = [];
      try {
        k.wino_input(heapOffset(backend, x), heapOffset(backend, zero), heapOffset(backend, v), h, w, c, th, tw, pT, pL, t0, cnt);
        for (let xi = 0; xi < 16; xi++) {
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
        k.wino_output(heapOffset(backend, mtab), heapOffset(backend, out), heapOffset(backend, dump), oh, ow, co, th, tw, t0, cnt);
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
