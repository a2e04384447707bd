/**
 * Convolution gradients for the wasm backend, composed from its forward convolutions and GEMMs.
 *
 * - Conv2DBackpropInput: the stock kernel is a naive C++ loop (1–2 GF/s); the input gradient is a
 *   stride-1 convolution of dy with the flipped, in/out-swapped filter (14–23 GF/s at stride 1).
 *   Strided: one small conv per output phase (polyphase), interleaved; zero-inserting dy instead
 *   would do s² times the work.
 * - Conv2DBackpropFilter: missing on wasm. dW[kh,kw,ci,co] = Σ_{b,oh,ow} x[b, oh·s+kh−pT, ow·s+kw−pL, ci]
 *   · dy[b,oh,ow,co]: stride-1 3×3 filters with enough channels as Winograd F(2×2, 3×3)
 *   (wasm-winograd.ts winogradFilterGrad); the rest as a transposed im2col of x (row copies from
 *   channel-major x by the SIMD module's im2col_t; the JS row loop was ~6 % of the flow-completion
 *   train step) times dy, as GEMMs (wasm-gemm.ts) over chunks of ~4k positions. Without the SIMD module (or NCHW): the cpu kernel.
 * - DepthwiseConv2dNativeBackpropInput/Filter: missing on wasm. Input: the transposed conv above
 *   with the depthwise kernel. Filter: the "conv trick" — ONE depthwise conv with (batch, channel)
 *   pairs as channels, dy as the filter and the forward stride as the dilation; batch summed after.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type KernelArgs, type Scope, type TI, type WasmBackend, heapOffset, scoped, stockKernel } from './wasm-util';
import { simdKernels } from './simd';
import { cpuFallback } from './wasm-fallback';
import { winogradFilterGrad } from './wasm-winograd';
import { gemm } from './wasm-gemm';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

/** Tuning switches (benchmarks compare the variants). */
export const convOptions = {
  /** Strided input gradients as s_h·s_w phase convs (true) or one conv of the zero-inserted dy. */
  polyphase: true,
};

interface Phase {
  /** Sub-filter taps: start index in the flipped filter, count (stride s). */
  a0: number;
  taps: number;
  /** dy rows cropped at the start/end, and zero pad before/after, for a stride-1 'valid' conv. */
  cropStart: number;
  cropEnd: number;
  padStart: number;
  padEnd: number;
}

/**
 * One output phase r of a strided transposed conv along one axis: dx[s·q + r] (q < Q) is a
 * stride-1 correlation of dy with the taps k ≡ (r + p) mod s of the filter, flipped.
 * Returns null when the phase receives no taps (it is all zeros).
 */
function phase(r: number, s: number, k: number, p: number, q: number, outLen: number): Phase | null {
  const k0 = (r + p) % s;
  if (k0 >= k) return null;
  const taps = Math.ceil((k - k0) / s);
  const c = (r + p - k0) / s; // dx_r[q] = Σ_j dy[q + c − j] · w[k0 + s·j]
  const top = taps - 1 - c;
  const bottom = q + taps - 1 - top - outLen;
  return {
    a0: k - 1 - k0 - s * (taps - 1),
    taps,
    cropStart: Math.max(0, -top),
    cropEnd: Math.max(0, -bottom),
    padStart: Math.max(0, top),
    padEnd: Math.max(0, bottom),
  };
}

/**
 * Polyphase transposed conv for stride s > 1 (no dilation): the s_h·s_w output phases are
 * stride-1 convs of dy with sub-filters, interleaved afterwards. Does the useful work only, where
 * zero insertion would multiply it by s_h·s_w. Null when a phase would crop away all of dy.
 */
function polyphaseTransposedConv(
  s: Scope,
  kernel: 'Conv2D' | 'DepthwiseConv2dNative',
  dy: TI,
  filt: TI,
  outHW: [number, number],
  k: [number, number],
  strides: [number, number],
  padTL: [number, number],
): TI | null {
  const [b, oh, ow] = dy.shape;
  const [sh, sw] = strides;
  const qh = Math.ceil(outHW[0] / sh);
  const qw = Math.ceil(outHW[1] / sw);
  const cOut = kernel === 'Conv2D' ? filt.shape[3] : filt.shape[2] * filt.shape[3];
  const ph = Array.from({ length: sh }, (_, r) => phase(r, sh, k[0], padTL[0], qh, oh));
  const pw = Array.from({ length: sw }, (_, r) => phase(r, sw, k[1], padTL[1], qw, ow));
  if (ph.some((p) => p && p.cropStart + p.cropEnd >= oh) || pw.some((p) => p && p.cropStart + p.cropEnd >= ow)) return null;
  const parts: Array<TI | null> = [];
  for (const a of ph) {
    for (const c of pw) {
      if (!a || !c) {
        parts.push(null); // no taps land on this phase: it stays zero
        continue;
      }
      const taps = (a0: number, n: number, st: number) => Array.from({ length: n }, (_, i) => a0 + st * i);
      const g = s.adopt(filterTaps(s.backend, filt, taps(a.a0, a.taps, sh), taps(c.a0, c.taps, sw)));
      const x = s.slice(dy, [0, a.cropStart, c.cropStart, 0], [b, oh - a.cropStart - a.cropEnd, ow - c.cropStart - c.cropEnd, -1]);
      parts.push(s.run(kernel, { x, filter: g }, {
        strides: [1, 1],
        dilations: [1, 1],
        pad: [[0, 0], [a.padStart, a.padEnd], [c.padStart, c.padEnd], [0, 0]],
        dataFormat: 'NHWC',
      }));
    }
  }
  return s.adopt(interleave(s.backend, parts, [b, outHW[0], outHW[1], cOut], strides, [qh, qw]));
}

/**
 * out[i, j] = filt[rows[i], cols[j]] for a filter [KH, KW, ...]: spatial flips and strided tap
 * subsets as block copies on the heap (the wasm Reverse and StridedSlice kernels take 15–60 ms on
 * a 5×5×128×128 filter, which dominated small transposed convs).
 */
function filterTaps(backend: WasmBackend, filt: TI, rows: readonly number[], cols: readonly number[]): TI {
  const [, kw, c2, c3] = filt.shape;
  const blk = c2 * c3;
  const out = backend.makeOutput([rows.length, cols.length, c2, c3], filt.dtype);
  // Views after the allocation, which may have grown (and detached) the heap.
  const src = backend.typedArrayFromHeap(filt);
  const dst = backend.typedArrayFromHeap(out);
  let o = 0;
  for (const r of rows) {
    for (const c of cols) {
      const i = (r * kw + c) * blk;
      dst.set(src.subarray(i, i + blk), o);
      o += blk;
    }
  }
  return out;
}

/** The filter flipped in both spatial axes. */
function flipSpatial(s: Scope, filt: TI): TI {
  const [kh, kw] = filt.shape;
  const rev = (n: number) => Array.from({ length: n }, (_, i) => n - 1 - i);
  return s.adopt(filterTaps(s.backend, filt, rev(kh), rev(kw)));
}

/**
 * dx[b, s_h·q_h + r_h, s_w·q_w + r_w, :] = phase[r_h·s_w + r_w][b, q_h, q_w, :], written straight
 * into the output heap (the equivalent rank-6 Transpose kernel is ~100× slower).
 */
function interleave(backend: WasmBackend, parts: Array<TI | null>, outShape: number[], strides: [number, number], q: [number, number]): TI {
  const [b, h, w, c] = outShape;
  const [sh, sw] = strides;
  const [qh, qw] = q;
  const out = backend.makeOutput(outShape, 'float32');
  // Views after the allocation, which may have grown (and detached) the heap.
  const dst = backend.typedArrayFromHeap(out);
  parts.forEach((p, i) => {
    const rh = Math.floor(i / sw);
    const rw = i % sw;
    if (!p) {
      for (let bi = 0; bi < b; bi++) {
        for (let y = rh; y < h; y += sh) {
          for (let x = rw; x < w; x += sw) dst.fill(0, ((bi * h + y) * w + x) * c, ((bi * h + y) * w + x + 1) * c);
        }
      }
      return;
    }
    const src = backend.typedArrayFromHeap(p);
    for (let bi = 0; bi < b; bi++) {
      for (let qy = 0, y = rh; qy < qh && y < h; qy++, y += sh) {
        let so = ((bi * qh + qy) * qw) * c;
        for (let qx = 0, x = rw; qx < qw && x < w; qx++, x += sw, so += c) {
          const o = ((bi * h + y) * w + x) * c;
          if (c >= 16) dst.set(src.subarray(so, so + c), o);
          else for (let k = 0; k < c; k++) dst[o + k] = src[so + k];
        }
      }
    }
  });
  return out;
}

/**
 * Full (transposed) correlation: dx = conv(zeroInsert(dy, s), filt) with stride 1, where `filt`
 * is already flipped and in/out-swapped. `kernel` is 'Conv2D' or 'DepthwiseConv2dNative'.
 * Strided, undilated cases go polyphase instead.
 */
function transposedConv(
  s: Scope,
  kernel: 'Conv2D' | 'DepthwiseConv2dNative',
  dy: TI,
  filt: TI,
  outHW: [number, number],
  effK: [number, number],
  strides: [number, number],
  dil: [number, number],
  padTL: [number, number],
): TI {
  const [b, oh, ow, c] = dy.shape;
  const [sh, sw] = strides;
  if ((sh > 1 || sw > 1) && dil[0] === 1 && dil[1] === 1 && convOptions.polyphase) {
    const o = polyphaseTransposedConv(s, kernel, dy, filt, outHW, effK, strides, padTL);
    if (o) return o;
  }
  let up = dy;
  if (sh > 1 || sw > 1) {
    // (s−1) zeros after every row/column: [B,OH,1,OW,1,C] → pad → [B,OH·sh,OW·sw,C].
    const r = s.reshape(dy, [b, oh, 1, ow, 1, c]);
    const p = s.pad(r, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
    up = s.reshape(p, [b, oh * sh, ow * sw, c]);
  }
  const upH = up.shape[1];
  const upW = up.shape[2];
  // Row j of `up` holds dy row j/s; output row h needs up rows h + pT − (K−1) … h + pT,
  // i.e. `up` placed at offset K−1−pT inside a zero buffer of length H + K − 1.
  const top = effK[0] - 1 - padTL[0];
  const left = effK[1] - 1 - padTL[1];
  const bottom = outHW[0] + effK[0] - 1 - top - upH;
  const right = outHW[1] + effK[1] - 1 - left - upW;
  const cT = Math.max(0, -top);
  const cL = Math.max(0, -left);
  const cB = Math.max(0, -bottom);
  const cR = Math.max(0, -right);
  if (cT + cB > 0 || cL + cR > 0) up = s.slice(up, [0, cT, cL, 0], [b, upH - cT - cB, upW - cL - cR, c]);
  return s.run(kernel, { x: up, filter: filt }, {
    strides: [1, 1],
    dilations: dil,
    pad: [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]],
    dataFormat: 'NHWC',
  });
}

/**
 * Filter-gradient correlation: out[n, kh, kw, o] = Σ_{oh,ow,c} xin[n, kh·d + oh·s − pT, …, c] · f[oh,ow,c,o]
 * as a convolution with stride d (forward dilation) and dilation s (forward stride). Crops xin
 * where the trailing rows/columns are never read (the bottom/right pad would be negative).
 */
function filterGradConv(
  s: Scope,
  kernel: 'Conv2D' | 'DepthwiseConv2dNative',
  xin: TI,
  filt: TI,
  k: [number, number],
  strides: [number, number],
  dil: [number, number],
  padTL: [number, number],
): TI {
  const [n, h, w, c] = xin.shape;
  const [oh, ow] = filt.shape;
  const needH = (k[0] - 1) * dil[0] + (oh - 1) * strides[0] + 1;
  const needW = (k[1] - 1) * dil[1] + (ow - 1) * strides[1] + 1;
  let bottom = needH - h - padTL[0];
  let right = needW - w - padTL[1];
  let x = xin;
  if (bottom < 0 || right < 0) {
    x = s.slice(xin, [0, 0, 0, 0], [n, h + Math.min(0, bottom), w + Math.min(0, right), c]);
    bottom = Math.max(0, bottom);
    right = Math.max(0, right);
  }
  return s.run(kernel, { x, filter: filt }, {
    strides: dil,
    dilations: strides,
    pad: [[0, 0], [padTL[0], bottom], [padTL[1], right], [0, 0]],
    dataFormat: 'NHWC',
  });
}

export function conv2DBackpropInput({ inputs, backend, attrs }: KernelArgs): TI {
  const { dy, filter } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (dataFormat === 'NCHW') {
    // The wasm convolutions are channels-last only; keep the stock behaviour.
    return stockKernel('Conv2DBackpropInput')!({ inputs, backend, attrs }) as TI;
  }
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, 1, pad as Pad, dimRoundingMode);
  return scoped(backend, (s) => {
    const wFlip = flipSpatial(s, s.transpose(filter, [0, 1, 3, 2]));
    return transposedConv(s, 'Conv2D', dy, wFlip, [info.inHeight, info.inWidth], [info.filterHeight, info.filterWidth],
      [info.strideHeight, info.strideWidth], [1, 1], [info.padInfo.top, info.padInfo.left]);
  });
}

/** GEMM depth (columns of one im2col chunk): bounds the chunk, and XNNPACK's GEMM (the fallback) ran long reductions ~2× slower. */
const IM2COL_CHUNK_COLUMNS = 4096;
/** Cap of one im2col chunk, in floats (bounds the extra heap for wide channel counts). */
const IM2COL_CHUNK_FLOATS = 8 * 1024 * 1024;

export function conv2DBackpropFilter({ inputs, backend, attrs }: KernelArgs): TI {
  const { x, dy } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const k = simdKernels(backend);
  if (dataFormat === 'NCHW' || !k) return cpuFallback('Conv2DBackpropFilter')({ inputs, backend, attrs }) as TI;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad as Pad, dimRoundingMode);
  const wino = winogradFilterGrad(backend, x, dy, filterShape, info);
  if (wino) return wino;
  const [b, h, w, c] = x.shape;
  const [kh, kw, , co] = filterShape;
  const [oh, ow, sh, sw, pT, pL] = [info.outHeight, info.outWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left];
  // Per tap column j: the output columns whose input column lies inside x (the rest read the zero padding).
  const cols = new Int32Array(2 * kw);
  for (let j = 0; j < kw; j++) {
    cols[j] = Math.min(ow, Math.max(0, Math.ceil((pL - j) / sw)));
    cols[kw + j] = Math.max(cols[j], Math.min(ow, Math.floor((w - 1 + pL - j) / sw) + 1));
  }
  // dW[(kh,kw,ci), co] = Σ_m im2colᵀ[(kh,kw,ci), m] · dy[m, co], m = (b, oh, ow): fast GEMMs over
  // chunks of output rows, summed. (The batch↔channel conv trick is 1.1–2× slower: its IGEMM
  // reduces over all B·OH·OW positions with a single channel per tap.)
  const rows = b * oh;
  const per = Math.max(1, Math.min(Math.floor(IM2COL_CHUNK_COLUMNS / ow), Math.floor(IM2COL_CHUNK_FLOATS / (kh * kw * c * ow))));
  return scoped(backend, (s) => {
    const xt = s.transpose(x, [3, 0, 1, 2]); // [C, B, H, W]: rows of the im2col copy contiguously
    const dy2 = s.reshape(dy, [rows * ow, co]);
    const colTab = s.adopt(backend.makeOutput([2 * kw], 'int32', undefined, cols));
    let acc: TI | null = null;
    for (let r0 = 0; r0 < rows; r0 += per) {
      const nr = Math.min(per, rows - r0);
      const part = scoped(backend, (t) => {
        const a = t.adopt(backend.makeOutput([1, kh * kw * c, nr * ow], 'float32'));
        k.im2col_t(heapOffset(backend, xt), heapOffset(backend, a), heapOffset(backend, colTab), b, h, w, c, oh, ow, kh, kw, sh, sw, pT, pL, r0, nr);
        const d = t.reshape(t.slice(dy2, [r0 * ow, 0], [nr * ow, co]), [1, nr * ow, co]);
        return t.adopt(gemm(backend, a, d));
      });
      s.adopt(part);
      acc = acc ? s.run('Add', { a: acc, b: part }) : part;
    }
    return s.reshape(acc as TI, [kh, kw, c, co]);
  });
}

export function depthwiseConv2dNativeBackpropInput({ inputs, backend, attrs }: KernelArgs): TI {
  const { dy, filter } = inputs;
  const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, dilations, pad as Pad,
    dimRoundingMode, true);
  const [kh, kw, c, m] = filter.shape;
  return scoped(backend, (s) => {
    // dx[.., ch] = Σ_q fullcorr(dy[.., ch·m + q], flip(w[.., ch, q])): a depthwise conv over the
    // C·m channels of dy, then a sum over the multiplier.
    const wFlip = s.reshape(flipSpatial(s, filter), [kh, kw, c * m, 1]);
    const o = transposedConv(s, 'DepthwiseConv2dNative', dy, wFlip, [info.inHeight, info.inWidth],
      [info.effectiveFilterHeight, info.effectiveFilterWidth], [info.strideHeight, info.strideWidth],
      [info.dilationHeight, info.dilationWidth], [info.padInfo.top, info.padInfo.left]);
    if (m === 1) return o;
    const [b, h, w] = o.shape;
    return s.run('Sum', { x: s.reshape(o, [b, h, w, c, m]) }, { axis: [4], keepDims: false });
  });
}

export function depthwiseConv2dNativeBackpropFilter({ inputs, backend, attrs }: KernelArgs): TI {
  const { x, dy } = inputs;
  const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, dilations, pad as Pad,
    dimRoundingMode, true);
  const [b, h, w, c] = x.shape;
  const [kh, kw, , m] = filterShape;
  const [oh, ow] = [dy.shape[1], dy.shape[2]];
  return scoped(backend, (s) => {
    // Channels are independent, so (batch, channel) pairs become the channels of a batch-1
    // depthwise conv whose filter is dy; the batch is summed afterwards.
    const xt = s.reshape(s.transpose(x, [1, 2, 0, 3]), [1, h, w, b * c]);
    const ft = s.reshape(s.transpose(dy, [1, 2, 0, 3]), [oh, ow, b * c, m]);
    const o = filterGradConv(s, 'DepthwiseConv2dNative', xt, ft, [kh, kw], [info.strideHeight, info.strideWidth],
      [info.dilationHeight, info.dilationWidth], [info.padInfo.top, info.padInfo.left]); // [1, KH, KW, B·C·m]
    const r = s.reshape(o, [kh, kw, b, c * m]);
    const summed = b === 1 ? r : s.run('Sum', { x: r }, { axis: [2], keepDims: false });
    return s.reshape(summed, [kh, kw, c, m]);
  });
}
