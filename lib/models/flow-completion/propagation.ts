/**
 * The flow-completion network's recurrent bidirectional propagation (official
 * `model/recurrent_flow_completion.py`: `SecondOrderDeformableAlignment`, `BidirectionalPropagation`).
 * Alignment is purely learned (no flow warping): each step deforms the previous two propagated
 * features with offsets predicted from [n-1, current, n-2].
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../../nn/module';
import { CONV2D } from '../../nn/layout';
import { Conv2d, LeakyReLU, ModuleDict, Sequential } from '../../nn/layers';
import { defaultUniform, zeros } from '../../nn/init';
import { deformConv2d } from '../../ops';
import { checkpoint, checkpointing } from '../../runtime/checkpoint';

/**
 * Modulated deformable 3×3 conv (torchvision semantics) whose offsets and masks come from
 * `conv_offset(extraFeat)`: offset = maxResidue·tanh(o[0:18g]), mask = sigmoid(o[18g:27g]).
 * Parameters: `weight` (Cout, Cin, 3, 3), `bias`, `conv_offset.{0,2,4,6}`.
 */
export class SecondOrderDeformableAlignment extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly conv_offset: Sequential;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly deformGroups = 16,
    readonly maxResidueMagnitude = 5,
  ) {
    super();
    // ModulatedDeformConv2d.init_weights: U(±1/sqrt(Cin·9)), zero bias.
    this.weight = this.registerParameter('weight', [outChannels, inChannels, 3, 3], defaultUniform(inChannels * 9), CONV2D);
    this.bias = this.registerParameter('bias', [outChannels], zeros);
    const c = outChannels;
    this.conv_offset = this.registerModule(
      'conv_offset',
      new Sequential([
        new Conv2d(3 * c, c, 3, { padding: 1 }),
        new LeakyReLU(0.1),
        new Conv2d(c, c, 3, { padding: 1 }),
        new LeakyReLU(0.1),
        new Conv2d(c, c, 3, { padding: 1 }),
        new LeakyReLU(0.1),
        new Conv2d(c, 27 * deformGroups, 3, { padding: 1 }),
      ]),
    );
    // init_offset(): the last offset conv starts at zero (offsets 0, masks 0.5).
    const last = this.conv_offset.at(6) as Conv2d;
    tf.tidy(() => {
      last.weight.assign(tf.zerosLike(last.weight));
      last.bias!.assign(tf.zerosLike(last.bias!));
    });
  }

  /** x: [N, H, W, Cin] (features to align), extraFeat: [N, H, W, 3·Cout] (condition). */
  forward(x: tf.Tensor4D, extraFeat: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const o = this.conv_offset.forward(extraFeat) as tf.Tensor4D;
      const nOff = 18 * this.deformGroups;
      const nMask = 9 * this.deformGroups;
      // PyTorch channel order = last-axis order, so the torchvision offset layout carries over.
      const offset = tf.mul(tf.tanh(tf.slice(o, [0, 0, 0, 0], [-1, -1, -1, nOff])), this.maxResidueMagnitude) as tf.Tensor4D;
      const mask = tf.sigmoid(tf.slice(o, [0, 0, 0, nOff], [-1, -1, -1, nMask])) as tf.Tensor4D;
      return deformConv2d(x, offset, this.weight as tf.Tensor4D, {
        bias: this.bias as tf.Tensor1D,
        mask,
        stride: 1,
        padding: 1,
        dilation: 1,
      }) as tf.Tensor4D;
    });
  }
}

const PASSES = ['backward_', 'forward_'] as const;

/**
 * `BidirectionalPropagation(channel)`: a backward pass (frames T-1 → 0) then a forward pass
 * (0 → T-1) that also sees the backward result of the same frame; the two are fused by a 1×1
 * conv and added to the input. x: [B, T, h, w, C] → [B, T, h, w, C].
 */
export class BidirectionalPropagation extends Module {
  readonly deform_align: ModuleDict<SecondOrderDeformableAlignment>;
  readonly backbone: ModuleDict<Sequential>;
  readonly fusion: Conv2d;

  constructor(readonly channel: number) {
    super();
    this.deform_align = this.registerModule('deform_align', new ModuleDict<SecondOrderDeformableAlignment>());
    this.backbone = this.registerModule('backbone', new ModuleDict<Sequential>());
    PASSES.forEach((name, i) => {
      this.deform_align.set(name, new SecondOrderDeformableAlignment(2 * channel, channel, 16));
      this.backbone.set(
        name,
        new Sequential([new Conv2d((2 + i) * channel, channel, 3, { padding: 1 }), new LeakyReLU(0.1), new Conv2d(channel, channel, 3, { padding: 1 })]),
      );
    });
    this.fusion = this.registerModule('fusion', new Conv2d(2 * channel, channel, 1));
  }

  forward(x: tf.Tensor5D): tf.Tensor5D {
    // On the tape: each step and the fusion are checkpointed segments (runtime/checkpoint.ts), and
    // the whole module one outer segment around them, so the per-step parameter gradients (kept by
    // the engine until a backward ends) are released before the encoder's backward.
    if (checkpointing()) return checkpoint((y) => this.propagate(y as tf.Tensor5D, true), [x], this.parameters());
    return this.propagate(x, false);
  }

  private propagate(x: tf.Tensor5D, ckpt: boolean): tf.Tensor5D {
    return tf.tidy(() => {
      const [b, t, h, w, c] = x.shape;
      // Frames via a rank-3 view (rank-5 slices are slow on wasm).
      const flat = tf.reshape(x, [b, t, h * w * c]);
      const spatial = Array.from({ length: t }, (_, i) => tf.reshape(tf.slice(flat, [0, i, 0], [b, 1, -1]), [b, h, w, c]) as tf.Tensor4D);
      const feats: Record<string, tf.Tensor4D[]> = {};
      for (const name of PASSES) {
        const out: tf.Tensor4D[] = [];
        const order = name === 'backward_' ? spatial.map((_, i) => t - 1 - i) : spatial.map((_, i) => i);
        let prop = tf.zeros([b, h, w, this.channel]) as tf.Tensor4D;
        order.forEach((idx, i) => {
          const n2 = i === 0 ? null : i > 1 ? out[out.length - 2] : (tf.zerosLike(prop) as tf.Tensor4D);
          const bf = name === 'forward_' ? feats['backward_'][idx] : null;
          prop = this.step(name, prop, spatial[idx], n2, bf, ckpt);
          out.push(prop);
        });
        feats[name] = name === 'backward_' ? out.reverse() : out;
      }
      const fuse = (...fs: tf.Tensor[]) =>
        tf.add(tf.stack(fs.slice(1, t + 1).map((bw, i) => this.fusion.forward(tf.concat([bw, fs[1 + t + i]], 3))), 1), fs[0]) as tf.Tensor5D;
      const all = [x, ...feats['backward_'], ...feats['forward_']];
      return ckpt ? checkpoint(fuse, all, this.fusion.parameters()) : fuse(...all);
    });
  }

  /**
   * One recurrent step of pass `name`: align [prop, n2] conditioned on [prop, cur, n2] (not at the
   * first frame, n2 = null), then prop + backbone([cur, (backward feature,) prop]). With `ckpt`, a
   * checkpointed segment (runtime/checkpoint.ts) over this pass's alignment and backbone.
   */
  private step(name: (typeof PASSES)[number], prop: tf.Tensor4D, cur: tf.Tensor4D, n2: tf.Tensor4D | null, bf: tf.Tensor4D | null, ckpt: boolean): tf.Tensor4D {
    const align = this.deform_align.get(name);
    const backbone = this.backbone.get(name);
    const fn = (...xs: tf.Tensor[]): tf.Tensor4D => {
      let [p, c] = xs as tf.Tensor4D[];
      const m2 = n2 ? (xs[2] as tf.Tensor4D) : null;
      const b = bf ? (xs[xs.length - 1] as tf.Tensor4D) : null;
      if (m2) p = align.forward(tf.concat([p, m2], 3) as tf.Tensor4D, tf.concat([p, c, m2], 3) as tf.Tensor4D);
      return tf.add(p, backbone.forward(tf.concat(b ? [c, b, p] : [c, p], 3))) as tf.Tensor4D;
    };
    const xs = [prop, cur, ...(n2 ? [n2] : []), ...(bf ? [bf] : [])];
    if (!ckpt) return fn(...xs);
    return checkpoint(fn, xs, [...(n2 ? align.parameters() : []), ...backbone.parameters()]);
  }
}
