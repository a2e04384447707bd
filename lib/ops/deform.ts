/**
 * Modulated deformable convolution (torchvision.ops.deform_conv2d semantics) on NHWC tensors.
 *
 * Layout trick: the zero-ringed input [N, H+2, W+2, Cin] is viewed as rows of Cin/og channels,
 * row = ((n·(H+2) + y)·(W+2) + x)·og + g, so sampling for (pixel, offset group, tap) gathers
 * exactly the channel slice that group owns, and the gathered rows, in (pixel, g, tap, c) order,
 * already are the im2col matrix [N·Ho·Wo, og·kh·kw·Cin/og]: no transpose of the big tensor.
 * The weight is permuted to match (tiny), and one matMul over all taps produces the output.
 * The op is a single customGrad: only the inputs are saved; the backward pass recomputes the
 * corner gathers (needed anyway for the offset gradient), keeping memory at ~1 im2col matrix.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Pair, pair } from './conv';
import {
  BilinearPlan,
  RingGeometry,
  bilinearPlan,
  bilinearWeights,
  coordinateGradsFromE,
  ringRows,
  sampleCorners,
  sampleCornersBackward,
  unringRows,
} from './sampler';

export interface DeformConv2dOptions {
  bias?: tf.Tensor1D | null;
  /** Modulation [N, Ho, Wo, og·kh·kw] (channel g·kh·kw + k); absent = 1 (DCNv1). */
  mask?: tf.Tensor4D | null;
  stride?: number | Pair;
  padding?: number | Pair;
  dilation?: number | Pair;
  /** Weight groups (torchvision infers them from weight.shape[1]); default 1. */
  groups?: number;
}

interface Geometry {
  n: number;
  h: number;
  w: number;
  cin: number;
  ho: number;
  wo: number;
  kh: number;
  kw: number;
  og: number;
  stride: Pair;
  padding: Pair;
  dilation: Pair;
}

/** Base sampling positions (without offsets), [1, Ho·Wo, 1, kh·kw] each. */
function basePositions(g: Geometry): [tf.Tensor, tf.Tensor] {
  const kk = g.kh * g.kw;
  const by = new Float32Array(g.ho * g.wo * kk);
  const bx = new Float32Array(g.ho * g.wo * kk);
  for (let i = 0; i < g.ho; i++) {
    for (let j = 0; j < g.wo; j++) {
      for (let a = 0; a < g.kh; a++) {
        for (let b = 0; b < g.kw; b++) {
          const o = (i * g.wo + j) * kk + a * g.kw + b;
          by[o] = i * g.stride[0] - g.padding[0] + a * g.dilation[0];
          bx[o] = j * g.stride[1] - g.padding[1] + b * g.dilation[1];
        }
      }
    }
  }
  const shape = [1, g.ho * g.wo, 1, kk];
  return [tf.tensor(by, shape), tf.tensor(bx, shape)];
}

function ringGeometry(g: Geometry): RingGeometry {
  const plane = (g.h + 2) * (g.w + 2) * g.og;
  const base = new Float32Array(g.n * g.og);
  for (let b = 0; b < g.n; b++) for (let k = 0; k < g.og; k++) base[b * g.og + k] = b * plane + k;
  return {
    H: g.h,
    W: g.w,
    rowStride: (g.w + 2) * g.og,
    colStride: g.og,
    rows: g.n * plane,
    base: g.n * g.og > 1 ? tf.tensor(base, [g.n, 1, g.og, 1]) : null,
  };
}

type Sampling = {
  rg: RingGeometry;
  plan: BilinearPlan;
  /** Corner weights including the modulation, [K, 1]. */
  weights: tf.Tensor2D[];
  /** Modulation [K] (null without mask). */
  m: tf.Tensor1D | null;
};

function sampling(g: Geometry, offset: tf.Tensor4D, mask: tf.Tensor4D | null): Sampling {
  // Tidied so that only the plan survives (the index arithmetic makes ~30 [K] temporaries).
  const make = (): Sampling => {
    const kk = g.kh * g.kw;
    const k = g.n * g.ho * g.wo * g.og * kk;
    // offset channels are (g, tap, [dy, dx]): [K, 2] → [2, K] so dy/dx are outer-axis slices.
    const off = tf.transpose(tf.reshape(offset, [k, 2]));
    const shape = [g.n, g.ho * g.wo, g.og, kk];
    const offY = tf.reshape(tf.slice(off, [0, 0], [1, k]), shape);
    const offX = tf.reshape(tf.slice(off, [1, 0], [1, k]), shape);
    const [by, bx] = basePositions(g);
    const rg = ringGeometry(g);
    const plan = bilinearPlan(tf.add(offX, bx), tf.add(offY, by), rg);
    const m = mask ? (tf.reshape(mask, [k]) as tf.Tensor1D) : null;
    return { rg, plan, weights: bilinearWeights(plan, m ?? undefined), m };
  };
  // (null members are fine for tidy at runtime; the cast only satisfies TensorContainer typing)
  return tf.tidy(make as unknown as () => tf.TensorContainer) as unknown as Sampling;
}

/** The im2col matrix [N·Ho·Wo, og·kk·Cg]. */
function columns(g: Geometry, flat: tf.Tensor2D, s: Sampling): tf.Tensor2D {
  return tf.reshape(sampleCorners(flat, s.plan, s.weights), [g.n * g.ho * g.wo, g.cin * g.kh * g.kw]) as tf.Tensor2D;
}

function core(g: Geometry, hasMask: boolean): (...xs: tf.Tensor[]) => tf.Tensor2D {
  const kk = g.kh * g.kw;
  const cg = g.cin / g.og;
  const kRows = g.n * g.ho * g.wo * g.og * kk;
  return tf.customGrad(((...args: unknown[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const inputs = args as tf.Tensor[];
    save(inputs);
    const [x, offset] = inputs as [tf.Tensor4D, tf.Tensor4D];
    const mask = hasMask ? (inputs[2] as tf.Tensor4D) : null;
    const wMat = inputs[inputs.length - 1] as tf.Tensor2D;
    const s = sampling(g, offset, mask);
    const value = tf.matMul(columns(g, ringRows(x, g.og), s), wMat);
    return {
      value,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [xs, offs] = saved as [tf.Tensor4D, tf.Tensor4D];
        const ms = hasMask ? (saved[2] as tf.Tensor4D) : null;
        const ws = saved[saved.length - 1] as tf.Tensor2D;
        const sm = sampling(g, offs, ms);
        const flat = ringRows(xs, g.og);
        const dcols = tf.reshape(tf.matMul(dy, tf.transpose(ws)), [kRows, cg]) as tf.Tensor2D;
        // One pass per corner, gathering it once: rebuild the im2col matrix (for dW), scatter-add
        // the image gradient dcols·w, and e = Σ_c dcols·v for the coordinate and modulation
        // gradients.
        const { dflat, e, cols } = sampleCornersBackward(dcols, flat, sm.plan, sm.weights, sm.rg.rows, true);
        // Explicit transposes keep both products on the plain 2-D matMul fast path (wasm).
        const dW = tf.matMul(tf.transpose(tf.reshape(cols!, [g.n * g.ho * g.wo, g.cin * kk])), dy);
        const dx = unringRows(dflat, [g.n, g.h, g.w, g.cin]);
        const cgr = coordinateGradsFromE(e, sm.plan);
        let dpx: tf.Tensor = cgr.dx;
        let dpy: tf.Tensor = cgr.dy;
        if (sm.m) {
          dpx = tf.mul(dpx, sm.m);
          dpy = tf.mul(dpy, sm.m);
        }
        // Back to (…, [dy, dx]) channel pairs via a [2, K] → [K, 2] transpose.
        const doff = tf.reshape(tf.transpose(tf.stack([dpy, dpx])), offs.shape);
        const grads: tf.Tensor[] = [dx, doff];
        if (ms) {
          const unmod = bilinearWeights(sm.plan);
          const dm = tf.addN(e.map((ei, i) => tf.mul(ei, tf.reshape(unmod[i], [-1]))));
          grads.push(tf.reshape(dm, ms.shape));
        }
        grads.push(dW);
        return grads;
      },
    };
  }) as any) as (...xs: tf.Tensor[]) => tf.Tensor2D;
}

/**
 * torchvision.ops.deform_conv2d on NHWC tensors.
 * input [N, H, W, Cin]; offset [N, Ho, Wo, 2·og·kh·kw] with channel 2·(g·kh·kw + k) = dy and
 * +1 = dx (k = i·kw + j); weight [kh, kw, Cin/groups, Cout] (conv2d layout of a torch
 * (Cout, Cin/groups, kh, kw) weight). Offset groups og are inferred from the offset channels.
 * Gradients w.r.t. input, offset, mask, weight and bias.
 */
export function deformConv2d(input: tf.Tensor4D, offset: tf.Tensor4D, weight: tf.Tensor4D, opts: DeformConv2dOptions = {}): tf.Tensor4D {
  const [n, h, w, cin] = input.shape;
  const [kh, kw, cinG, cout] = weight.shape;
  const groups = opts.groups ?? 1;
  const stride = pair(opts.stride ?? 1);
  const padding = pair(opts.padding ?? 0);
  const dilation = pair(opts.dilation ?? 1);
  if (cinG * groups !== cin) throw new Error(`deformConv2d: input has ${cin} channels, weight expects ${cinG} × ${groups} groups`);
  if (cout % groups !== 0) throw new Error(`deformConv2d: ${cout} output channels not divisible by ${groups} groups`);
  const ho = Math.floor((h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) / stride[0]) + 1;
  const wo = Math.floor((w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) / stride[1]) + 1;
  if (ho <= 0 || wo <= 0) throw new Error(`deformConv2d: input ${h}×${w} too small for kernel ${kh}×${kw}`);
  const kk = kh * kw;
  const offC = offset.shape[3];
  if (offset.rank !== 4 || offset.shape[0] !== n || offset.shape[1] !== ho || offset.shape[2] !== wo || offC % (2 * kk) !== 0) {
    throw new Error(`deformConv2d: offset must be [${n}, ${ho}, ${wo}, 2·og·${kk}], got [${offset.shape}]`);
  }
  const og = offC / (2 * kk);
  if (cin % og !== 0) throw new Error(`deformConv2d: ${cin} input channels not divisible by ${og} offset groups`);
  const mask = opts.mask ?? null;
  if (mask && (mask.rank !== 4 || mask.shape[0] !== n || mask.shape[1] !== ho || mask.shape[2] !== wo || mask.shape[3] !== og * kk)) {
    throw new Error(`deformConv2d: mask must be [${n}, ${ho}, ${wo}, ${og * kk}], got [${mask.shape}]`);
  }
  const g: Geometry = { n, h, w, cin, ho, wo, kh, kw, og, stride, padding, dilation };
  return tf.tidy(() => {
    // Weight groups: expand to a block-diagonal dense filter [kh, kw, Cin, Cout].
    let wd: tf.Tensor4D = weight;
    if (groups > 1) {
      const og2 = cout / groups;
      const parts: tf.Tensor4D[] = [];
      for (let j = 0; j < groups; j++) {
        const wj = tf.slice(weight, [0, 0, 0, j * og2], [-1, -1, -1, og2]);
        parts.push(tf.pad(wj, [[0, 0], [0, 0], [j * cinG, (groups - 1 - j) * cinG], [0, 0]]));
      }
      wd = tf.concat(parts, 3);
    }
    // Rows of the im2col matrix are ordered (offset group, tap, channel within group).
    const wMat = tf.reshape(tf.transpose(tf.reshape(wd, [kk, og, cin / og, cout]), [1, 0, 2, 3]), [kk * cin, cout]);
    const f = core(g, mask !== null);
    const y = mask ? f(input, offset, mask, wMat) : f(input, offset, wMat);
    let out = tf.reshape(y, [n, ho, wo, cout]) as tf.Tensor4D;
    if (opts.bias) out = tf.add(out, opts.bias);
    return out;
  });
}
