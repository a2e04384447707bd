/**
 * Convolutions with PyTorch semantics on channels-last tensors, differentiable on every backend:
 * explicit (asymmetric) padding, zero or replicate padding, groups, dilation (tfjs-core has no
 * gradient for dilation > 1, so that case is a customGrad built from plain convs), Conv3d as a
 * sum of per-tap 2-D convs over frames, and ConvTranspose2d.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients; every op here is meant to be differentiated.
import '@tensorflow/tfjs-core/dist/register_all_gradients';

export type Pair = [number, number];
export type PaddingMode = 'zeros' | 'replicate';

export function pair(v: number | readonly number[]): Pair {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/** Edge-replicating pad of an NHWC tensor (PyTorch padding_mode='replicate'); differentiable. */
export function replicatePad2d(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  return tf.tidy(() => {
    let y = x;
    const [, h, w] = y.shape;
    if (top > 0 || bottom > 0) {
      const parts: tf.Tensor4D[] = [];
      if (top > 0) parts.push(tf.tile(tf.slice(y, [0, 0, 0, 0], [-1, 1, -1, -1]), [1, top, 1, 1]));
      parts.push(y);
      if (bottom > 0) parts.push(tf.tile(tf.slice(y, [0, h - 1, 0, 0], [-1, 1, -1, -1]), [1, bottom, 1, 1]));
      y = tf.concat(parts, 1);
    }
    if (left > 0 || right > 0) {
      const parts: tf.Tensor4D[] = [];
      if (left > 0) parts.push(tf.tile(tf.slice(y, [0, 0, 0, 0], [-1, -1, 1, -1]), [1, 1, left, 1]));
      parts.push(y);
      if (right > 0) parts.push(tf.tile(tf.slice(y, [0, 0, w - 1, 0], [-1, -1, 1, -1]), [1, 1, right, 1]));
      y = tf.concat(parts, 2);
    }
    return y;
  });
}

/** Pads H and W of an NHWC tensor with zeros or edge replication. */
export function pad2d(x: tf.Tensor4D, padding: Pair, mode: PaddingMode): tf.Tensor4D {
  const [ph, pw] = padding;
  if (ph === 0 && pw === 0) return x;
  if (mode === 'replicate') return replicatePad2d(x, ph, ph, pw, pw);
  return tf.pad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]]);
}

/** Stride-1 'valid' conv with dilation d > 1 and a gradient (built from undilated-gradient convs). */
function dilatedValidConv(d: Pair): (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D {
  return tf.customGrad(((x: tf.Tensor4D, w: tf.Tensor4D, save: tf.GradSaveFunc) => {
    save([x, w]);
    const value = tf.conv2d(x, w, 1, 'valid', 'NHWC', d);
    return {
      value,
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const [kh, kw] = ws.shape;
        const eh = d[0] * (kh - 1);
        const ew = d[1] * (kw - 1);
        // dx: full correlation of dy with the flipped, in/out-swapped filter (same dilation).
        const wFlip = tf.transpose(tf.reverse(ws, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
        const dx = tf.conv2d(tf.pad(dy, [[0, 0], [eh, eh], [ew, ew], [0, 0]]), wFlip, 1, 'valid', 'NHWC', d);
        // dw[i,j,ci,co] = Σ x[b, y + d·i, x + d·j, ci] dy[b, y, x, co]: one conv with batch and
        // channels swapped, the dilation acting as the stride.
        const xt = tf.transpose(xs, [3, 1, 2, 0]) as tf.Tensor4D;
        const dyt = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
        const dw = tf.transpose(tf.conv2d(xt, dyt, d, 'valid'), [1, 2, 0, 3]);
        return [dx, dw];
      },
    };
  }) as any) as (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D;
}

/**
 * Every s-th row/column from 0 (stride applied after a stride-1 conv, for dilation together with
 * stride, which tf.conv2d rejects): pad to a multiple of s, fold s into axes, take index 0.
 */
function subsample(y: tf.Tensor4D, s: Pair): tf.Tensor4D {
  const [n, h, w, c] = y.shape;
  const ho = Math.ceil(h / s[0]);
  const wo = Math.ceil(w / s[1]);
  const p = tf.pad(y, [[0, 0], [0, ho * s[0] - h], [0, wo * s[1] - w], [0, 0]]);
  const r = tf.reshape(p, [n, ho, s[0], wo, s[1], c]);
  return tf.reshape(tf.slice(r, [0, 0, 0, 0, 0, 0], [n, ho, 1, wo, 1, c]), [n, ho, wo, c]) as tf.Tensor4D;
}

const dilatedCache = new Map<string, (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D>();

export interface Conv2dOptions {
  stride?: number | Pair;
  /** Symmetric padding per axis (PyTorch `padding=`), or 'same' for stride-1 odd kernels. */
  padding?: number | Pair | 'same';
  dilation?: number | Pair;
  groups?: number;
  paddingMode?: PaddingMode;
  bias?: tf.Tensor1D | null;
}

/**
 * torch.nn.functional.conv2d on NHWC input with filter [kh, kw, Cin/groups, Cout].
 */
export function conv2d(x: tf.Tensor4D, w: tf.Tensor4D, opts: Conv2dOptions = {}): tf.Tensor4D {
  return tf.tidy(() => {
    const stride = pair(opts.stride ?? 1);
    const dil = pair(opts.dilation ?? 1);
    const groups = opts.groups ?? 1;
    const [kh, kw] = w.shape;
    const padding: Pair =
      opts.padding === 'same' ? [(dil[0] * (kh - 1)) / 2, (dil[1] * (kw - 1)) / 2] : pair(opts.padding ?? 0);
    if (!Number.isInteger(padding[0]) || !Number.isInteger(padding[1])) throw new Error(`conv2d: 'same' needs odd kernels, got ${kh}x${kw}`);
    // Zero padding goes to the conv kernel itself (explicit padding): padding the input first
    // costs a copy of it, and another in the backward pass. The dilated path pads the input.
    const undilated = dil[0] === 1 && dil[1] === 1;
    const inKernel = undilated && (opts.paddingMode ?? 'zeros') === 'zeros' && (padding[0] > 0 || padding[1] > 0);
    const xp = inKernel ? x : pad2d(x, padding, opts.paddingMode ?? 'zeros');
    const convPad: 'valid' | tf.backend_util.ExplicitPadding = inKernel ? [[0, 0], [padding[0], padding[0]], [padding[1], padding[1]], [0, 0]] : 'valid';
    const cin = x.shape[3];
    if (cin !== w.shape[2] * groups) {
      throw new Error(`conv2d: input has ${cin} channels, filter expects ${w.shape[2]} × ${groups} groups`);
    }
    const one = (xi: tf.Tensor4D, wi: tf.Tensor4D): tf.Tensor4D => {
      if (undilated) return tf.conv2d(xi, wi, stride, convPad);
      const key = `${dil[0]},${dil[1]}`;
      let f = dilatedCache.get(key);
      if (!f) dilatedCache.set(key, (f = dilatedValidConv(dil)));
      const y = f(xi, wi);
      return stride[0] === 1 && stride[1] === 1 ? y : subsample(y, stride);
    };
    let y: tf.Tensor4D;
    if (groups === 1) {
      y = one(xp, w);
    } else {
      const cg = cin / groups;
      const og = w.shape[3] / groups;
      const outs: tf.Tensor4D[] = [];
      for (let g = 0; g < groups; g++) {
        const xi = tf.slice(xp, [0, 0, 0, g * cg], [-1, -1, -1, cg]);
        const wi = tf.slice(w, [0, 0, 0, g * og], [-1, -1, -1, og]);
        outs.push(one(xi, wi));
      }
      y = tf.concat(outs, 3);
    }
    return opts.bias ? tf.add(y, opts.bias) : y;
  });
}

export interface Conv3dOptions {
  stride?: [number, number, number];
  padding?: [number, number, number];
  dilation?: [number, number, number];
  paddingMode?: PaddingMode;
  bias?: tf.Tensor1D | null;
}

/**
 * torch Conv3d on [B, T, H, W, C] with filter [kt, kh, kw, Cin, Cout], computed as a sum over
 * temporal taps of 2-D convs on frames batched as [B·T', H, W, C] (the wasm Conv3D kernels are
 * slow or wrong, and this form gets every gradient from conv2d). Padding is zeros or, with
 * paddingMode 'replicate', edge replication along T, H and W (as PyTorch).
 */
export function conv3d(x: tf.Tensor5D, w: tf.Tensor5D, opts: Conv3dOptions = {}): tf.Tensor5D {
  return tf.tidy(() => {
    const [st, sh, sw] = opts.stride ?? [1, 1, 1];
    const [pt, ph, pw] = opts.padding ?? [0, 0, 0];
    const [dt, dh, dw] = opts.dilation ?? [1, 1, 1];
    const [b, t, h, wd, c] = x.shape;
    const [kt, kh, kw, ci, co] = w.shape;
    if (c !== ci) throw new Error(`conv3d: input has ${c} channels, filter expects ${ci}`);
    const tp = t + 2 * pt;
    const tOut = Math.floor((tp - dt * (kt - 1) - 1) / st) + 1;
    if (tOut <= 0) throw new Error(`conv3d: ${t} frames are too few for kernel ${kt} (dilation ${dt}, padding ${pt})`);
    // Rank-3 view [B, Tp, H·W·C]: slicing a rank-5 tensor is slow on wasm.
    let flat = tf.reshape(x, [b, t, h * wd * c]);
    if (pt > 0) {
      if (opts.paddingMode === 'replicate') {
        const edge = (i: number) => tf.tile(tf.slice(flat, [0, i, 0], [b, 1, -1]), [1, pt, 1]);
        flat = tf.concat([edge(0), flat, edge(t - 1)], 1);
      } else {
        flat = tf.pad(flat, [[0, 0], [pt, pt], [0, 0]]);
      }
    }
    const wFlat = tf.reshape(w, [kt, kh * kw * ci * co]);
    let acc: tf.Tensor4D | null = null;
    for (let i = 0; i < kt; i++) {
      const start = i * dt;
      let frames: tf.Tensor;
      if (st === 1) {
        frames = tf.slice(flat, [0, start, 0], [b, tOut, -1]);
      } else {
        // Every st-th frame from `start`: slice, pad to tOut·st, fold the stride into an axis and
        // take index 0 of it (differentiable everywhere, unlike GatherV2 on stock wasm).
        const span = (tOut - 1) * st + 1;
        let s = tf.slice(flat, [0, start, 0], [b, span, -1]);
        if (tOut * st > span) s = tf.pad(s, [[0, 0], [0, tOut * st - span], [0, 0]]);
        frames = tf.slice(tf.reshape(s, [b, tOut, st, h * wd * c]), [0, 0, 0, 0], [b, tOut, 1, -1]);
      }
      const x4 = tf.reshape(frames, [b * tOut, h, wd, c]) as tf.Tensor4D;
      const wi = tf.reshape(tf.slice(wFlat, [i, 0], [1, -1]), [kh, kw, ci, co]) as tf.Tensor4D;
      const y = conv2d(x4, wi, { stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw], paddingMode: opts.paddingMode });
      acc = acc ? (tf.add(acc, y) as tf.Tensor4D) : y;
    }
    let out = acc as tf.Tensor4D;
    if (opts.bias) out = tf.add(out, opts.bias);
    const [, ho, wo] = out.shape;
    return tf.reshape(out, [b, tOut, ho, wo, co]) as tf.Tensor5D;
  });
}

export interface ConvTranspose2dOptions {
  stride?: number | Pair;
  padding?: number | Pair;
  outputPadding?: number | Pair;
  bias?: tf.Tensor1D | null;
}

/**
 * torch conv_transpose2d on NHWC with filter [kh, kw, Cout, Cin]: output size
 * (H−1)·s − 2p + k + output_padding. Computed as the full transposed conv, then cropped.
 */
export function convTranspose2d(x: tf.Tensor4D, w: tf.Tensor4D, opts: ConvTranspose2dOptions = {}): tf.Tensor4D {
  return tf.tidy(() => {
    const [sh, sw] = pair(opts.stride ?? 1);
    const [ph, pw] = pair(opts.padding ?? 0);
    const [oph, opw] = pair(opts.outputPadding ?? 0);
    const [b, h, wd] = x.shape;
    const [kh, kw, co] = w.shape;
    const fullH = (h - 1) * sh + kh;
    const fullW = (wd - 1) * sw + kw;
    let y = tf.conv2dTranspose(x, w, [b, fullH, fullW, co], [sh, sw], 'valid');
    const outH = fullH - 2 * ph + oph;
    const outW = fullW - 2 * pw + opw;
    const extraH = Math.max(0, ph + outH - fullH);
    const extraW = Math.max(0, pw + outW - fullW);
    if (extraH > 0 || extraW > 0) y = tf.pad(y, [[0, 0], [0, extraH], [0, extraW], [0, 0]]);
    y = tf.slice(y, [0, ph, pw, 0], [b, outH, outW, co]) as tf.Tensor4D;
    return opts.bias ? tf.add(y, opts.bias) : y;
  });
}
