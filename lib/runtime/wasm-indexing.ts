/**
 * Gather, segment-sum, slicing and copy kernels for the wasm backend.
 *
 * - GatherV2: the stock kernel moves ~100 MB/s and is wrong for batchDims ≥ 1; it is rewritten
 *   as the C++ GatherNd (9× faster on row gathers), with explicit (row, index) pairs when there
 *   are batch or outer dimensions.
 * - UnsortedSegmentSum (the gradient of every gather): missing on wasm; ScatterNd with [n, 1]
 *   indices sums duplicates, which is exactly a segment sum.
 * - Slice/SplitV/Unpack: the stock Slice copies the whole input out of the heap first, then copies one
 *   `subarray` per innermost row (rank ≤ 4) or one element at a time through a TensorBuffer
 *   (rank 5+): seconds for a narrow innermost-axis slice. This version merges contiguous axes and
 *   copies straight between heap views, with a plain loop for short rows.
 * - Tile: block copies instead of the stock kernel's per-element coordinate arithmetic.
 * - Identity / same-dtype Cast: the stock kernels copy the buffer. tfjs-core clones (Identity)
 *   every tensor it saves for backprop, so on wasm each saved activation was held twice. Sharing
 *   the buffer (as Reshape and the cpu backend do) is safe: no wasm kernel writes into its inputs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdKernels } from './simd';
import { type KernelArgs, type TI, type WasmBackend, heapOffset, scoped, size, stockKernel } from './wasm-util';
import { cpuFallback } from './wasm-fallback';

/** Merged (shape, begin, size) of a slice: dims of extent 1 dropped, inner full dims folded. */
function mergeSlice(shape: readonly number[], begin: readonly number[], sz: readonly number[]) {
  const sh: number[] = [];
  const bg: number[] = [];
  const sl: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    sh.push(shape[i]);
    bg.push(begin[i]);
    sl.push(sz[i]);
  }
  // Fold dim i+1 into dim i while dim i+1 is taken whole.
  for (let i = sh.length - 2; i >= 0; i--) {
    if (bg[i + 1] === 0 && sl[i + 1] === sh[i + 1]) {
      bg[i] *= sh[i + 1];
      sl[i] *= sh[i + 1];
      sh[i] *= sh[i + 1];
      sh.splice(i + 1, 1);
      bg.splice(i + 1, 1);
      sl.splice(i + 1, 1);
    }
  }
  if (sh.length === 0) return { sh: [1], bg: [0], sl: [1] };
  return { sh, bg, sl };
}

/** Copies the box (begin, sz) of `src` (shape `shape`) into the dense `dst`. */
function copyBox(src: tf.TypedArray, shape: readonly number[], begin: readonly number[], sz: readonly number[], dst: tf.TypedArray): void {
  const { sh, bg, sl } = mergeSlice(shape, begin, sz);
  const r = sh.length;
  const strides = new Array<number>(r);
  strides[r - 1] = 1;
  for (let i = r - 2; i >= 0; i--) strides[i] = strides[i + 1] * sh[i + 1];
  const run = sl[r - 1];
  let base = 0;
  for (let i = 0; i < r; i++) base += bg[i] * strides[i];
  const rows = size(sl.slice(0, r - 1));
  const idx = new Array<number>(Math.max(0, r - 1)).fill(0);
  let src0 = base;
  let o = 0;
  const long = run >= 16;
  for (let row = 0; row < rows; row++) {
    if (long) {
      dst.set(src.subarray(src0, src0 + run), o);
    } else {
      for (let j = 0; j < run; j++) dst[o + j] = src[src0 + j];
    }
    o += run;
    // Odometer over the outer dims, innermost first.
    for (let d = r - 2; d >= 0; d--) {
      src0 += strides[d];
      if (++idx[d] < sl[d]) break;
      idx[d] = 0;
      src0 -= sl[d] * strides[d];
    }
  }
}

/** Bytes per element of the dtypes the heap copies handle (tfjs-backend-wasm stores bool as bytes). */
const ELEMENT_BYTES: Partial<Record<tf.DataType, number>> = { float32: 4, int32: 4, bool: 1 };

function sliceInto(backend: WasmBackend, x: TI, begin: number[], sz: number[], outShape: number[] = sz): TI {
  const out = backend.makeOutput(outShape, x.dtype);
  if (size(sz) === 0) return out;
  const { sh, bg, sl } = mergeSlice(x.shape, begin, sz);
  const simd = simdKernels(backend);
  const eb = ELEMENT_BYTES[x.dtype];
  if (simd && eb && sh.length <= 2) {
    // At most one strided axis after merging (e.g. a channel range of NHWC): rows of memory.copy.
    const [rows, w, b0, b1, run] = sh.length === 2 ? [sl[0], sh[1], bg[0], bg[1], sl[1]] : [1, 0, 0, bg[0], sl[0]];
    simd.copy_rows(heapOffset(backend, x) + (b0 * w + b1) * eb, w * eb, heapOffset(backend, out), run * eb, run * eb, rows);
    return out;
  }
  // Views are taken after the allocation, which may have grown (and detached) the heap.
  copyBox(backend.typedArrayFromHeap(x), x.shape, begin, sz, backend.typedArrayFromHeap(out));
  return out;
}

export function slice({ inputs, backend, attrs }: KernelArgs): TI {
  const { x } = inputs;
  if (x.dtype === 'string') return stockKernel('Slice')!({ inputs, backend, attrs }) as TI;
  const [begin, sz] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, attrs.begin as number[], attrs.size as number[]);
  return sliceInto(backend, x, begin, sz);
}

export function splitV({ inputs, backend, attrs }: KernelArgs): TI[] {
  const { x } = inputs;
  if (x.dtype === 'string') return stockKernel('SplitV')!({ inputs, backend, attrs }) as TI[];
  const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, attrs.numOrSizeSplits as number[] | number, axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((n) => {
    const sz = x.shape.slice();
    sz[axis] = n;
    const o = sliceInto(backend, x, begin.slice(), sz);
    begin[axis] += n;
    return o;
  });
}

/** Unpack (tf.unstack, and the gradient of every tf.stack): one heap copy per piece. */
export function unpack({ inputs, backend, attrs }: KernelArgs): TI[] {
  const { value } = inputs;
  if (value.dtype === 'string') return stockKernel('Unpack')!({ inputs, backend, attrs }) as TI[];
  const axis = tf.util.parseAxisParam(attrs.axis as number, value.shape)[0];
  const outShape = value.shape.filter((_, i) => i !== axis);
  const sz = value.shape.slice();
  sz[axis] = 1;
  const begin = new Array<number>(value.shape.length).fill(0);
  return Array.from({ length: value.shape[axis] }, (_, i) => {
    begin[axis] = i;
    return sliceInto(backend, value, begin.slice(), sz, outShape);
  });
}

/**
 * Concat: the stock kernel copies one JS subarray per (outer row, input); here each input is one
 * strided heap copy (rows of memory.copy). Strings, or no SIMD module: stock.
 */
export function concat({ inputs, backend, attrs }: KernelArgs): TI {
  const xs = inputs as unknown as TI[];
  const simd = simdKernels(backend);
  const eb = ELEMENT_BYTES[xs[0].dtype];
  const nonEmpty = xs.filter((t) => size(t.shape) > 0);
  if (!simd || !eb || nonEmpty.length < 2) return stockKernel('Concat')!({ inputs, backend, attrs }) as TI;
  const axis = tf.util.parseAxisParam(attrs.axis as number, xs[0].shape)[0];
  tf.backend_util.assertParamsConsistent(xs.map((t) => t.shape), axis);
  const out = backend.makeOutput(tf.backend_util.computeOutShape(xs.map((t) => t.shape), axis), xs[0].dtype);
  const rows = size(xs[0].shape.slice(0, axis));
  const inner = nonEmpty.map((t) => size(t.shape.slice(axis)) * eb);
  const total = inner.reduce((a, b) => a + b, 0);
  let at = heapOffset(backend, out);
  nonEmpty.forEach((t, i) => {
    simd.copy_rows(heapOffset(backend, t), inner[i], at, total, inner[i], rows);
    at += inner[i];
  });
  return out;
}

/** Pack (tf.stack): the inputs viewed with the new axis, then Concat above (the stock Pack runs the stock Concat). */
export function pack({ inputs, backend, attrs }: KernelArgs): TI {
  const xs = inputs as unknown as TI[];
  const rank = xs[0].shape.length;
  const axis = (attrs.axis as number) < 0 ? (attrs.axis as number) + rank + 1 : (attrs.axis as number);
  return scoped(backend, (s) => {
    const expanded = xs.map((t) => s.reshape(t, [...t.shape.slice(0, axis), 1, ...t.shape.slice(axis)]));
    return s.adopt(concat({ inputs: expanded as unknown as Record<string, TI>, backend, attrs: { axis } }));
  });
}

/**
 * Reverse as block copies on the heap: everything after the last reversed axis moves as one
 * contiguous block (the stock kernel walks element by element: ~60 ms for 2 M floats).
 */
export function reverse({ inputs, backend, attrs }: KernelArgs): TI {
  const { x } = inputs;
  if (x.dtype === 'string') return stockKernel('Reverse')!({ inputs, backend, attrs }) as TI;
  const axes = new Set(tf.util.parseAxisParam(attrs.dims as number | number[], x.shape));
  const out = backend.makeOutput(x.shape.slice(), x.dtype);
  const n = size(x.shape);
  if (n === 0) return out;
  const last = Math.max(-1, ...[...axes].filter((a) => x.shape[a] > 1));
  // Views after the allocation, which may have grown (and detached) the heap.
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  if (last < 0) {
    dst.set(src);
    return out;
  }
  const block = size(x.shape.slice(last + 1));
  const strides = new Array<number>(last + 1);
  strides[last] = block;
  for (let d = last - 1; d >= 0; d--) strides[d] = strides[d + 1] * x.shape[d + 1];
  const idx = new Array<number>(last + 1).fill(0);
  // Destination offset of index 0 along every axis, and its step per axis (negative if reversed).
  let d0 = 0;
  const step = strides.map((st, d) => (axes.has(d) ? -st : st));
  for (let d = 0; d <= last; d++) if (axes.has(d)) d0 += (x.shape[d] - 1) * strides[d];
  const blocks = n / block;
  let so = 0;
  let dof = d0;
  for (let i = 0; i < blocks; i++) {
    if (block >= 16) dst.set(src.subarray(so, so + block), dof);
    else for (let k = 0; k < block; k++) dst[dof + k] = src[so + k];
    so += block;
    // Odometer over axes 0..last, innermost first.
    for (let d = last; d >= 0; d--) {
      dof += step[d];
      if (++idx[d] < x.shape[d]) break;
      idx[d] = 0;
      dof -= step[d] * x.shape[d];
    }
  }
  return out;
}

/**
 * Tile as block copies on the heap: the input's trailing un-repeated axes move as one block, each
 * axis's first copy is then doubled in place (copyWithin) for its repetitions. The stock kernel
 * computes every output element's coordinates in C++ vectors (~100 ms for a 0.4 M-float tile;
 * ProPainter tiles flows and replicate-pads frames with it).
 */
export function tile({ inputs, backend, attrs }: KernelArgs): TI {
  const { x } = inputs;
  if (x.dtype === 'string') return stockKernel('Tile')!({ inputs, backend, attrs }) as TI;
  const reps = attrs.reps as number[];
  const r = x.shape.length;
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  if (size(outShape) === 0) return out;
  // Views after the allocation, which may have grown (and detached) the heap.
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  let last = r - 1;
  while (last >= 0 && reps[last] === 1) last--;
  if (last < 0) {
    dst.set(src);
    return out;
  }
  const block = size(x.shape.slice(last + 1));
  const is = new Array<number>(last + 1);
  const os = new Array<number>(last + 1);
  is[last] = block;
  os[last] = block;
  for (let d = last - 1; d >= 0; d--) {
    is[d] = is[d + 1] * x.shape[d + 1];
    os[d] = os[d + 1] * outShape[d + 1];
  }
  const copy = (from: number, to: number, n: number): void => {
    if (n >= 16) dst.copyWithin(to, from, from + n);
    else for (let k = 0; k < n; k++) dst[to + k] = dst[from + k];
  };
  const fill = (d: number, so: number, oo: number): void => {
    if (d > last) {
      if (block >= 16) dst.set(src.subarray(so, so + block), oo);
      else for (let k = 0; k < block; k++) dst[oo + k] = src[so + k];
      return;
    }
    for (let i = 0; i < x.shape[d]; i++) fill(d + 1, so + i * is[d], oo + i * os[d]);
    const first = x.shape[d] * os[d];
    for (let k = 1; k < reps[d]; k++) copy(oo, oo + k * first, first);
  };
  fill(0, 0, 0);
  return out;
}

export function gatherV2({ inputs, backend, attrs }: KernelArgs): TI {
  const { x, indices } = inputs;
  const { axis, batchDims } = attrs as unknown as tf.GatherV2Attrs;
  const stock = () => stockKernel('GatherV2')!({ inputs, backend, attrs }) as TI;
  const n = size(indices.shape);
  if (x.dtype === 'string' || indices.dtype !== 'int32' || n === 0 || size(x.shape) === 0) return stock();
  const parsedAxis = tf.util.parseAxisParam(axis, x.shape)[0];
  const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(x, indices, parsedAxis, batchDims ?? 0);
  const { batchSize, outerSize, dimSize, sliceSize } = info;
  const idx = backend.typedArrayFromHeap(indices);
  for (let i = 0; i < n; i++) {
    const v = idx[i];
    // GatherNd does not bounds-check; keep the stock kernel's error.
    if (!(v >= 0 && v <= dimSize - 1)) throw new Error(`GatherV2: the index value ${v} is not in [0, ${dimSize - 1}]`);
  }
  return scoped(backend, (s) => {
    let g: TI;
    if (batchSize * outerSize === 1) {
      g = s.run('GatherNd', { params: s.reshape(x, [dimSize, sliceSize]), indices: s.reshape(indices, [n, 1]) });
    } else {
      // Pairs (batch·outer row, index) into params viewed as [batch·outer, dim, slice].
      const per = n / batchSize;
      const pairs = new Int32Array(batchSize * outerSize * per * 2);
      const iv = backend.typedArrayFromHeap(indices);
      let p = 0;
      for (let bi = 0; bi < batchSize; bi++) {
        for (let o = 0; o < outerSize; o++) {
          const row = bi * outerSize + o;
          for (let i = 0; i < per; i++) {
            pairs[p++] = row;
            pairs[p++] = iv[bi * per + i];
          }
        }
      }
      const pi = s.adopt(backend.makeOutput([pairs.length / 2, 2], 'int32', undefined, pairs));
      g = s.run('GatherNd', { params: s.reshape(x, [batchSize * outerSize, dimSize, sliceSize]), indices: pi });
    }
    return s.reshape(g, info.outputShape);
  });
}

export function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs): TI {
  const { x, segmentIds } = inputs;
  const numSegments = attrs.numSegments as number;
  const n = size(segmentIds.shape);
  let valid = segmentIds.dtype === 'int32' && n > 0 && size(x.shape) > 0 && x.dtype !== 'string';
  if (valid) {
    const ids = backend.typedArrayFromHeap(segmentIds);
    for (let i = 0; i < n; i++) {
      if (!(ids[i] >= 0 && ids[i] < numSegments)) {
        valid = false; // out-of-range ids are dropped by the cpu kernel; ScatterNd would write out of bounds
        break;
      }
    }
  }
  if (!valid) return cpuFallback('UnsortedSegmentSum')({ inputs, backend, attrs }) as TI;
  const inner = size(x.shape) / n;
  return scoped(backend, (s) => {
    const o = s.run('ScatterNd', { indices: s.reshape(segmentIds, [n, 1]), updates: s.reshape(x, [n, inner]) }, {
      shape: [numSegments, inner],
    });
    return s.reshape(o, [numSegments, ...x.shape.slice(segmentIds.shape.length)]);
  });
}

/** Identity sharing the input buffer (refcounted, like Reshape). */
export function identity({ inputs, backend, attrs }: KernelArgs): TI {
  const { x } = inputs;
  if (x.dtype === 'string') return stockKernel('Identity')!({ inputs, backend, attrs }) as TI;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
}

/** Cast: a shared buffer when the dtype does not change, else the stock conversion. */
export function cast({ inputs, backend, attrs }: KernelArgs): TI {
  const { x } = inputs;
  if (x.dtype !== attrs.dtype) return stockKernel('Cast')!({ inputs, backend, attrs }) as TI;
  return identity({ inputs, backend, attrs });
}
