/**
 * Spectral normalisation with PyTorch's torch.nn.utils.spectral_norm semantics (ProPainter's
 * model/modules/spectral_norm.py copy): parameter `weight_orig`, buffers `weight_u` (rows) and
 * `weight_v` (columns of the weight viewed as (O, I·kt·kh·kw)). In training mode every forward
 * first runs one power iteration without gradient, updating u and v in place
 * (v = normalize(Wᵀu), u = normalize(Wv), eps 1e-12); then σ = uᵀWv (gradient through W) and
 * the conv uses W/σ. In eval mode the stored u, v are used as they are.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module, Unary } from './module';
import { CONV3D } from './layout';
import { defaultUniform, normal } from './init';
import { PaddingMode, conv3d } from '../ops/conv';
import { noGrad } from '../ops/util';

type Triple = [number, number, number];
const triple = (v: number | Triple): Triple => (typeof v === 'number' ? [v, v, v] : v);

export interface SNConv3dConfig {
  stride?: number | Triple;
  padding?: number | Triple;
  dilation?: number | Triple;
  bias?: boolean;
  paddingMode?: PaddingMode;
  /** Normalisation epsilon of the power iteration (PyTorch default 1e-12). */
  eps?: number;
}

function unitVector(n: number): tf.Tensor1D {
  return tf.tidy(() => {
    const v = tf.tensor1d(normal(1)([n]));
    return tf.div(v, tf.maximum(tf.norm(v), 1e-12)) as tf.Tensor1D;
  });
}

/** Conv3d with spectral-normalised weight; x [B, T, H, W, C] → [B, T', H', W', O]. */
export class SNConv3d extends Module implements Unary {
  readonly bias: tf.Variable | null;
  /** Raw weight, CONV3D layout [kt, kh, kw, I, O] (torch (O, I, kt, kh, kw)). */
  readonly weightOrig: tf.Variable;
  /** [O]. */
  readonly weightU: tf.Variable;
  /** [I·kt·kh·kw] in PyTorch order (i, t, y, x). */
  readonly weightV: tf.Variable;
  readonly kernel: Triple;
  readonly stride: Triple;
  readonly padding: Triple;
  readonly dilation: Triple;
  readonly paddingMode: PaddingMode;
  readonly eps: number;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: number | Triple, cfg: SNConv3dConfig = {}) {
    super();
    this.kernel = triple(kernelSize);
    this.stride = triple(cfg.stride ?? 1);
    this.padding = triple(cfg.padding ?? 0);
    this.dilation = triple(cfg.dilation ?? 1);
    this.paddingMode = cfg.paddingMode ?? 'zeros';
    this.eps = cfg.eps ?? 1e-12;
    const [kt, kh, kw] = this.kernel;
    const cols = inChannels * kt * kh * kw;
    const init = defaultUniform(cols);
    // State-dict order as PyTorch after spectral_norm(): bias, weight_orig, weight_u, weight_v.
    this.bias = cfg.bias === true ? this.registerParameter('bias', [outChannels], init) : null;
    this.weightOrig = this.registerParameter('weight_orig', [outChannels, inChannels, kt, kh, kw], init, CONV3D);
    this.weightU = this.registerBuffer('weight_u', unitVector(outChannels));
    this.weightV = this.registerBuffer('weight_v', unitVector(cols));
  }

  /** v in the TF.js column order (t, y, x, i) of the weight matrix [kt·kh·kw·I, O]. */
  private vToTf(v: tf.Tensor): tf.Tensor2D {
    const [kt, kh, kw] = this.kernel;
    return tf.reshape(tf.transpose(tf.reshape(v, [this.inChannels, kt, kh, kw]), [1, 2, 3, 0]), [1, -1]) as tf.Tensor2D;
  }

  private vToTorch(v: tf.Tensor): tf.Tensor1D {
    const [kt, kh, kw] = this.kernel;
    return tf.reshape(tf.transpose(tf.reshape(v, [kt, kh, kw, this.inChannels]), [3, 0, 1, 2]), [-1]) as tf.Tensor1D;
  }

  /** One power iteration, off the tape; updates weight_u and weight_v in place. */
  powerIteration(): void {
    tf.tidy(() => {
      const both = noGrad(
        (w, u) => {
          const wm = tf.reshape(w, [-1, this.outChannels]) as tf.Tensor2D;
          const normalize = (x: tf.Tensor) => tf.div(x, tf.maximum(tf.norm(x), this.eps));
          const v = this.vToTorch(normalize(tf.matMul(wm, tf.reshape(u, [-1, 1]) as tf.Tensor2D))); // Wᵀu
          const un = normalize(tf.matMul(this.vToTf(v), wm)); // Wv
          return tf.concat([tf.reshape(un, [-1]), v]);
        },
        this.weightOrig,
        this.weightU,
      );
      this.weightU.assign(tf.slice(both, [0], [this.outChannels]));
      this.weightV.assign(tf.slice(both, [this.outChannels], [-1]));
    });
  }

  /** σ = uᵀ W v with the current buffers (gradient through W only). */
  sigma(): tf.Scalar {
    return tf.tidy(() => {
      const wm = tf.reshape(this.weightOrig, [-1, this.outChannels]) as tf.Tensor2D;
      const wv = tf.matMul(this.vToTf(this.weightV), wm); // [1, O]
      return tf.sum(tf.mul(wv, this.weightU)) as tf.Scalar;
    });
  }

  /** The effective weight W/σ in CONV3D layout (training mode runs the power iteration first). */
  weight(): tf.Tensor5D {
    if (this.training) this.powerIteration();
    return tf.tidy(() => tf.div(this.weightOrig, this.sigma()) as tf.Tensor5D);
  }

  forward(x: tf.Tensor): tf.Tensor5D {
    return tf.tidy(() =>
      conv3d(x as tf.Tensor5D, this.weight(), {
        stride: this.stride,
        padding: this.padding,
        dilation: this.dilation,
        paddingMode: this.paddingMode,
        bias: this.bias as tf.Tensor1D | null,
      }),
    );
  }
}
