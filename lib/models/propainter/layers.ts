/**
 * Generator-specific building blocks: tap-major linear layouts for the 7×7 patch features,
 * the ×2 `deconv`, the depthwise pooling conv (computed
 * without depthwise kernels) and small tensor helpers for [B, T, ...] clips.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module, Unary } from '../../nn/module';
import { DEPTHWISE2D, ParamLayout } from '../../nn/layout';
import { Conv2d } from '../../nn/layers';
import { defaultUniform } from '../../nn/init';
import { interpolateBilinear } from '../../ops';

/**
 * Layout of a Linear weight whose OUTPUT features are PyTorch-ordered `c·K + k` (c < C, k < K)
 * and kept tap-major `k·C + c` here; TF.js form [in, K·C].
 */
export function tapMajorOutLayout(name: string, c: number, k: number, inF: number): ParamLayout {
  return {
    name,
    torchShape: () => [c * k, inF],
    tfShape: () => [inF, c * k],
    fromTorch: (x) => tf.tidy(() => tf.transpose(tf.reshape(tf.transpose(tf.reshape(x, [c, k, inF]), [1, 0, 2]), [c * k, inF]))),
    toTorch: (x) => tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(tf.transpose(x), [k, c, inF]), [1, 0, 2]), [c * k, inF])),
  };
}

/** Layout of a Linear weight whose INPUT features are `c·K + k` in PyTorch, tap-major here; TF.js [K·C, out]. */
export function tapMajorInLayout(name: string, c: number, k: number, outF: number): ParamLayout {
  return {
    name,
    torchShape: () => [outF, c * k],
    tfShape: () => [c * k, outF],
    fromTorch: (x) => tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(tf.transpose(x), [c, k, outF]), [1, 0, 2]), [c * k, outF])),
    toTorch: (x) => tf.tidy(() => tf.transpose(tf.reshape(tf.transpose(tf.reshape(x, [k, c, outF]), [1, 0, 2]), [c * k, outF]))),
  };
}

/** Layout of a bias over `c·K + k` features, tap-major here. */
export function tapMajorBiasLayout(name: string, c: number, k: number): ParamLayout {
  return {
    name,
    torchShape: () => [c * k],
    tfShape: () => [c * k],
    fromTorch: (x) => tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(x, [c, k])), [c * k])),
    toTorch: (x) => tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(x, [k, c])), [c * k])),
  };
}

/**
 * nn.Linear whose hidden side (input or output) is a 7×7 patch of C channels, stored tap-major so
 * that fold/unfold need no activation transposes. State-dict names and shapes are nn.Linear's.
 */
export class TapMajorLinear extends Module implements Unary {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(readonly inFeatures: number, readonly outFeatures: number, side: 'in' | 'out', channels: number, taps = 49) {
    super();
    const init = defaultUniform(inFeatures);
    if (side === 'out') {
      if (outFeatures !== channels * taps) throw new Error(`TapMajorLinear: ${outFeatures} outputs are not ${channels}×${taps}`);
      this.weight = this.registerParameter('weight', [outFeatures, inFeatures], init, tapMajorOutLayout('tap_major_out', channels, taps, inFeatures));
      this.bias = this.registerParameter('bias', [outFeatures], init, tapMajorBiasLayout('tap_major_bias', channels, taps));
    } else {
      if (inFeatures !== channels * taps) throw new Error(`TapMajorLinear: ${inFeatures} inputs are not ${channels}×${taps}`);
      this.weight = this.registerParameter('weight', [outFeatures, inFeatures], init, tapMajorInLayout('tap_major_in', channels, taps, outFeatures));
      this.bias = this.registerParameter('bias', [outFeatures], init);
    }
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const y = tf.add(tf.matMul(tf.reshape(x, [-1, this.inFeatures]) as tf.Tensor2D, this.weight as tf.Tensor2D), this.bias);
      return tf.reshape(y, [...lead, this.outFeatures]);
    });
  }
}

/** ×2 bilinear upsampling (align_corners=True) followed by a conv (`deconv` in propainter.py). */
export class Deconv extends Module implements Unary {
  readonly conv: Conv2d;

  constructor(inCh: number, outCh: number, kernel = 3, padding = 1) {
    super();
    this.conv = this.registerModule('conv', new Conv2d(inCh, outCh, kernel, { padding }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const [, h, w] = x.shape;
      return this.conv.forward(interpolateBilinear(x as tf.Tensor4D, [2 * h, 2 * w], { alignCorners: true }));
    });
  }
}

/**
 * Depthwise conv, kernel = stride = k, no padding (the attention's `pool_layer`), computed as a
 * reshape into k×k blocks, a broadcast multiply and a sum (no depthwise kernels, whose gradients
 * wasm lacks). Weight is (C, 1, k, k) in PyTorch, [k, k, C, 1] here.
 */
export class BlockPool extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(readonly channels: number, readonly k: number) {
    super();
    const init = defaultUniform(k * k);
    this.weight = this.registerParameter('weight', [channels, 1, k, k], init, DEPTHWISE2D);
    this.bias = this.registerParameter('bias', [channels], init);
  }

  /** x [N, H, W, C] → [N, floor(H/k), floor(W/k), C]. */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const [n, h, w, c] = x.shape;
      const k = this.k;
      const ph = Math.floor(h / k);
      const pw = Math.floor(w / k);
      const crop = ph * k === h && pw * k === w ? x : tf.slice(x, [0, 0, 0, 0], [n, ph * k, pw * k, c]);
      const blocks = tf.reshape(crop, [n * ph, k, pw, k * c]);
      // Weight [k, k, C, 1] → [1, k, 1, k·C] matches blocks' (ky, kx·C) axes.
      const wb = tf.reshape(this.weight, [1, k, 1, k * c]);
      // Sum over ky, then over kx (rank ≤ 4 reductions: high-rank transposes are slow on wasm).
      const rows = tf.sum(tf.mul(blocks, wb), 1);
      const s = tf.sum(tf.reshape(rows, [n * ph * pw, k, c]), 1);
      return tf.reshape(tf.add(s, this.bias), [n, ph, pw, c]) as tf.Tensor4D;
    });
  }
}

/**
 * tf.split that also works on the tape for a single piece: tfjs hands a one-output op's gradient
 * a bare tensor, which SplitV's gradient (concat of an array) rejects.
 */
export function split(x: tf.Tensor, sizes: number | number[], axis = 0): tf.Tensor[] {
  const count = typeof sizes === 'number' ? sizes : sizes.length;
  return count === 1 ? [x] : tf.split(x, sizes, axis);
}

/**
 * All frames of a clip [B, T, ...rest] as T tensors [B, ...rest], from one split: on the tape a
 * slice saves (on wasm: copies) its whole input, so slicing a clip frame by frame would cost T
 * copies of it; a split saves nothing. (tf.unstack is avoided: seconds on wasm.)
 */
export function unstackFrames(x: tf.Tensor): tf.Tensor[] {
  return tf.tidy(() => {
    const [b, n, ...rest] = x.shape;
    if (n === 0) return [];
    const inner = rest.reduce((a, v) => a * v, 1);
    const parts = b === 1 ? split(tf.reshape(x, [n, inner]), n, 0) : split(tf.reshape(x, [b, n, inner]), n, 1);
    return parts.map((f) => tf.reshape(f, [b, ...rest]));
  });
}

/** tf.unstack along axis 0 built from one split (the wasm Unpack kernel is very slow). */
export function unstack0(x: tf.Tensor): tf.Tensor[] {
  return tf.tidy(() => {
    const [n, ...rest] = x.shape;
    return split(x, n, 0).map((p) => tf.reshape(p, rest));
  });
}

/** Splits a clip [B, T, ...rest] into consecutive frame ranges of the given lengths (one op). */
export function splitFrames(x: tf.Tensor, sizes: number[]): tf.Tensor[] {
  return tf.tidy(() => {
    const [b, n, ...rest] = x.shape;
    const inner = rest.reduce((a, v) => a * v, 1);
    return split(tf.reshape(x, [b, n, inner]), sizes, 1).map((p, i) => tf.reshape(p, [b, sizes[i], ...rest]));
  });
}

/**
 * Applies `steps` in order, each in its own tidy, disposing every intermediate result as soon as
 * the next one exists (the input `x` is left alone). Safe on the tape too: backprop uses the
 * tensors the engine saved, not these.
 */
export function pipe(x: tf.Tensor, steps: Array<(t: tf.Tensor) => tf.Tensor>): tf.Tensor {
  let cur = x;
  for (const step of steps) {
    const next = tf.tidy(() => step(cur));
    if (cur !== x && next !== cur) cur.dispose();
    cur = next;
  }
  return cur === x ? tf.clone(x) : cur;
}
