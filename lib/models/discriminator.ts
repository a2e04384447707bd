/**
 * Temporal PatchGAN discriminator (official `model/propainter.py`: `Discriminator`, and
 * `Discriminator_2D` selected by config `model.dis_2d`). Input [B, T, H, W, 3] in [-1, 1] →
 * patch scores [B, T, H', W', 128]. Five spectral-norm Conv3d (`conv.{0,2,4,6,8}.weight_orig|
 * weight_u|weight_v`, no bias) with LeakyReLU(0.2) at odd indices, then a plain Conv3d
 * (`conv.10.weight|bias`). Spectral norm runs one power iteration per training-mode call and
 * updates u/v in place; eval mode uses the stored u/v.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../nn/module';
import { Conv3d, LeakyReLU, Sequential } from '../nn/layers';
import { normal } from '../nn/init';
import { SNConv3d } from '../nn/spectral-norm';

type Triple = [number, number, number];

export interface DiscriminatorOptions {
  inChannels?: number;
  /** Apply a sigmoid to the scores (false for the hinge loss ProPainter trains with). */
  useSigmoid?: boolean;
  /** Spectral norm on the first five convs (true in ProPainter); without it they get biases. */
  useSpectralNorm?: boolean;
  /** BaseNetwork.init_weights('normal', 0.02): N(0, 0.02) conv weights, zero biases. */
  initWeights?: boolean;
}

/** Shared body of both variants: per-layer kernel and padding differ. */
abstract class PatchDiscriminator extends Module {
  readonly conv: Sequential;
  readonly useSigmoid: boolean;

  protected constructor(kernel: Triple, paddings: Triple[], opts: DiscriminatorOptions) {
    super();
    const inCh = opts.inChannels ?? 3;
    const sn = opts.useSpectralNorm ?? true;
    this.useSigmoid = opts.useSigmoid ?? false;
    const nf = 32;
    const chans = [inCh, nf, nf * 2, nf * 4, nf * 4, nf * 4, nf * 4];
    const layers: Module[] = [];
    for (let i = 0; i < 5; i++) {
      const cfg = { stride: [1, 2, 2] as Triple, padding: paddings[i], bias: !sn };
      layers.push(sn ? new SNConv3d(chans[i], chans[i + 1], kernel, cfg) : new Conv3d(chans[i], chans[i + 1], kernel, cfg));
      layers.push(new LeakyReLU(0.2));
    }
    layers.push(new Conv3d(chans[5], chans[6], kernel, { stride: [1, 2, 2], padding: paddings[5] }));
    this.conv = this.registerModule('conv', new Sequential(layers));
    if (opts.initWeights ?? true) this.initWeights(0.02);
  }

  /** N(0, gain) for every conv weight (weight_orig under spectral norm), zeros for biases; u/v kept. */
  initWeights(gain: number): void {
    const init = normal(gain);
    for (const [name, e] of this.namedEntries()) {
      if (e.kind !== 'parameter') continue;
      const torchShape = e.layout.torchShape(e.variable.shape);
      tf.tidy(() => {
        const v = name.endsWith('.bias') ? tf.zeros(torchShape) : tf.tensor(init(torchShape), torchShape, 'float32');
        e.variable.assign(e.layout.fromTorch(v));
      });
    }
  }

  /** xs: [B, T, H, W, C] → [B, T', H', W', 128]. */
  forward(xs: tf.Tensor5D): tf.Tensor5D {
    if (xs.rank !== 5) throw new Error(`${this.constructor.name}: input must be [B, T, H, W, C], got [${xs.shape}]`);
    return tf.tidy(() => {
      const feat = this.conv.forward(xs) as tf.Tensor5D;
      return this.useSigmoid ? (tf.sigmoid(feat) as tf.Tensor5D) : feat;
    });
  }
}

/** 3-D T-PatchGAN: kernels (3,5,5), stride (1,2,2); layer 1 pads (1,1,1) (official quirk), others (1,2,2). */
export class Discriminator extends PatchDiscriminator {
  constructor(opts: DiscriminatorOptions = {}) {
    super([3, 5, 5], [[1, 1, 1], [1, 2, 2], [1, 2, 2], [1, 2, 2], [1, 2, 2], [1, 2, 2]], opts);
  }
}

/** Per-frame variant (`Discriminator_2D`): kernels (1,5,5), padding (0,2,2) in every layer. */
export class Discriminator2D extends PatchDiscriminator {
  constructor(opts: DiscriminatorOptions = {}) {
    super([1, 5, 5], Array.from({ length: 6 }, () => [0, 2, 2] as Triple), opts);
  }
}

/** The discriminator the training config asks for (`model.dis_2d`). */
export function createDiscriminator(opts: DiscriminatorOptions & { dis2d?: boolean } = {}): Discriminator | Discriminator2D {
  return opts.dis2d ? new Discriminator2D(opts) : new Discriminator(opts);
}
