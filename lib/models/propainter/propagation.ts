/**
 * The generator's two `BidirectionalPropagation` passes (model/propainter.py):
 *  - `imgPropagation`: parameter-free, full resolution, copies known pixels along the completed
 *    flows into holes where the forward–backward check passes (nearest pixel warps, bilinear mask
 *    warps, threshold 0.1). Out-of-frame sources read 0 for both image and mask, so they count as
 *    known (reproduced as in the official code).
 *  - `FeaturePropagation`: learnable, 1/4 resolution, second-order-free deformable alignment
 *    (max residue 3, the flow added to every (group, tap) offset as (dy, dx)) + residual backbones
 *    and a fusion conv. Module names follow `feat_prop_module.*` of ProPainter.pth.
 * Clips are channels-last: features [B, T, h, w, C], flows [B, T-1, h, w, 2] (dx, dy).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../../nn/module';
import { Conv2d, LeakyReLU, Sequential } from '../../nn/layers';
import { CONV2D } from '../../nn/layout';
import { defaultUniform } from '../../nn/init';
import { deformConv2d, fbConsistencyCheck, flowWarp } from '../../ops';
import { unstackFrames } from './layers';
import { checkpoint } from '../../runtime/checkpoint';
import { ModuleDict } from '../../nn/layers';

export type WarpMode = 'bilinear' | 'nearest';

const binary = (m: tf.Tensor, th = 0.1): tf.Tensor => tf.cast(tf.greater(m, th), 'float32');

/**
 * Non-learnable bidirectional image propagation. maskedFrames [B, T, H, W, C], flows
 * [B, T-1, H, W, 2] each, masks [B, T, H, W, 1] (1 = hole). Returns the propagated frames
 * [B, T, H, W, C] and the updated masks [B, T, H, W, 1]. Not differentiable (thresholds).
 */
export function imgPropagation(
  maskedFrames: tf.Tensor,
  flows: readonly [tf.Tensor, tf.Tensor],
  masks: tf.Tensor,
  interpolation: WarpMode = 'nearest',
): { frames: tf.Tensor5D; masks: tf.Tensor5D } {
  const [fwd, bwd] = flows;
  const t = maskedFrames.shape[1]!;
  if (masks.shape[1] !== t) throw new Error(`imgPropagation: ${t} frames but ${masks.shape[1]} masks`);
  if (fwd.shape[1] !== t - 1 || bwd.shape[1] !== t - 1) {
    throw new Error(`imgPropagation: ${t} frames need ${t - 1} flows per direction, got ${fwd.shape[1]} and ${bwd.shape[1]}`);
  }
  const out = tf.tidy(() => {
    const frameList = unstackFrames(maskedFrames) as tf.Tensor4D[];
    const maskList = unstackFrames(masks) as tf.Tensor4D[];
    const fwdList = unstackFrames(fwd) as tf.Tensor4D[];
    const bwdList = unstackFrames(bwd) as tf.Tensor4D[];
    const frame = (i: number) => frameList[i];
    const mask = (i: number) => maskList[i];
    const step = (cur: tf.Tensor4D, curMask: tf.Tensor4D, prop: tf.Tensor4D, propMask: tf.Tensor4D, fl: tf.Tensor4D, chk: tf.Tensor4D) =>
      tf.tidy(() => {
        const ok = fbConsistencyCheck(fl, chk);
        const warped = flowWarp(prop, fl, { mode: interpolation });
        const srcHole = binary(flowWarp(propMask, fl, { mode: 'bilinear' }));
        const usable = tf.mul(ok, tf.sub(1, srcHole));
        const fill = binary(tf.mul(curMask, usable));
        const feat = tf.add(tf.mul(fill, warped), tf.mul(tf.sub(1, fill), cur)) as tf.Tensor4D;
        const m = binary(tf.mul(curMask, tf.sub(1, usable))) as tf.Tensor4D;
        return { feat, m };
      });
    // Backward pass: T-1 down to 0, source idx+1, flow fwd[idx] (check bwd[idx]).
    const featB: tf.Tensor4D[] = new Array(t);
    const maskB: tf.Tensor4D[] = new Array(t);
    featB[t - 1] = frame(t - 1);
    maskB[t - 1] = mask(t - 1);
    for (let idx = t - 2; idx >= 0; idx--) {
      const r = step(frame(idx), mask(idx), featB[idx + 1], maskB[idx + 1], fwdList[idx], bwdList[idx]);
      featB[idx] = r.feat;
      maskB[idx] = r.m;
      // The input frame is no longer needed (long clips: keep the working set small).
      frame(idx).dispose();
      mask(idx).dispose();
    }
    // Forward pass: 0 .. T-1 on the backward results, source idx-1, flow bwd[idx-1] (check fwd[idx-1]).
    const featF: tf.Tensor4D[] = [featB[0]];
    const maskF: tf.Tensor4D[] = [maskB[0]];
    for (let idx = 1; idx < t; idx++) {
      const r = step(featB[idx], maskB[idx], featF[idx - 1], maskF[idx - 1], bwdList[idx - 1], fwdList[idx - 1]);
      featF.push(r.feat);
      maskF.push(r.m);
      featB[idx].dispose();
      maskB[idx].dispose();
    }
    return { frames: tf.stack(featF, 1) as tf.Tensor5D, masks: tf.stack(maskF, 1) as tf.Tensor5D };
  });
  return out;
}

/**
 * `DeformableAlignment`: modulated deformable conv 3×3 (16 offset groups) of the previous
 * propagated feature, offsets = 3·tanh(residue) + flow as (dy, dx), masks = sigmoid.
 */
export class DeformableAlignment extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly conv_offset: Sequential;

  constructor(readonly channels: number, readonly deformGroups = 16, readonly maxResidue = 3) {
    super();
    const init = defaultUniform(channels * 9);
    this.weight = this.registerParameter('weight', [channels, channels, 3, 3], init, CONV2D);
    this.bias = this.registerParameter('bias', [channels], init);
    const conv = (i: number, o: number) => new Conv2d(i, o, 3, { padding: 1 });
    this.conv_offset = this.registerModule(
      'conv_offset',
      new Sequential([
        conv(2 * channels + 2 + 1 + 2, channels), new LeakyReLU(0.1),
        conv(channels, channels), new LeakyReLU(0.1),
        conv(channels, channels), new LeakyReLU(0.1),
        conv(channels, 27 * deformGroups),
      ]),
    );
  }

  /** x [N, h, w, C] (un-warped), cond [N, h, w, 2C+5], flow [N, h, w, 2] (dx, dy). */
  forward(x: tf.Tensor4D, cond: tf.Tensor4D, flow: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const out = this.conv_offset.forward(cond) as tf.Tensor4D;
      const n = 9 * this.deformGroups;
      const [residue, maskLogits] = tf.split(out, [2 * n, n], 3) as tf.Tensor4D[];
      // torchvision offset channel 2·(g·9+k) = dy, +1 = dx: the flow reversed to (dy, dx), repeated.
      const flowYX = tf.tile(tf.reverse(flow, 3), [1, 1, 1, n]);
      const offset = tf.add(tf.mul(tf.tanh(residue), this.maxResidue), flowYX) as tf.Tensor4D;
      const mask = tf.sigmoid(maskLogits) as tf.Tensor4D;
      return deformConv2d(x, offset, this.weight as tf.Tensor4D, { bias: this.bias as tf.Tensor1D, mask, padding: 1 });
    });
  }
}

const PASSES = ['backward_1', 'forward_1'] as const;

/** Learnable `BidirectionalPropagation(128)` (`feat_prop_module`). */
export class FeaturePropagation extends Module {
  readonly deform_align: ModuleDict<DeformableAlignment>;
  readonly backbone: ModuleDict<Sequential>;
  readonly fuse: Sequential;

  constructor(readonly channels = 128) {
    super();
    this.deform_align = this.registerModule('deform_align', new ModuleDict<DeformableAlignment>());
    this.backbone = this.registerModule('backbone', new ModuleDict<Sequential>());
    const block = () =>
      new Sequential([new Conv2d(2 * channels + 2, channels, 3, { padding: 1 }), new LeakyReLU(0.2), new Conv2d(channels, channels, 3, { padding: 1 })]);
    for (const p of PASSES) {
      this.deform_align.set(p, new DeformableAlignment(channels, 16));
      this.backbone.set(p, block());
    }
    this.fuse = this.registerModule('fuse', block());
  }

  /**
   * x [B, T, h, w, C] local features, 1/4-resolution flows [B, T-1, h, w, 2] (forward, backward),
   * masks [B, T, h, w, 2] (masks_in, masks_updated). Returns fused features [B, T, h, w, C].
   */
  forward(x: tf.Tensor5D, flowsForward: tf.Tensor5D, flowsBackward: tf.Tensor5D, masks: tf.Tensor5D, interpolation: WarpMode = 'bilinear'): tf.Tensor5D {
    return tf.tidy(() => {
      const [b, t, h, w, c] = x.shape;
      const cur0 = unstackFrames(x) as tf.Tensor4D[];
      const m = unstackFrames(masks) as tf.Tensor4D[];
      const fwd = unstackFrames(flowsForward) as tf.Tensor4D[];
      const bwd = unstackFrames(flowsBackward) as tf.Tensor4D[];
      const results: Record<string, tf.Tensor4D[]> = {};
      let cur = cur0;
      for (const pass of PASSES) {
        const backward = pass === 'backward_1';
        const order = Array.from({ length: t }, (_, i) => (backward ? t - 1 - i : i));
        const align = this.deform_align.get(pass);
        const refine = this.backbone.get(pass);
        const out: tf.Tensor4D[] = new Array(t);
        let prop: tf.Tensor4D | null = null;
        const alignParams = align.parameters();
        const refineParams = refine.parameters();
        // Each step is a checkpointed segment in training (runtime/checkpoint.ts): the deformable
        // alignment's sampling intermediates are the largest part of the propagation's memory.
        const refineStep = (p: tf.Tensor, c: tf.Tensor, mm: tf.Tensor) => tf.tidy(() => tf.add(p, refine.forward(tf.concat([c, p, mm], 3))));
        const alignStep = (p: tf.Tensor, c: tf.Tensor, fl: tf.Tensor, chk: tf.Tensor, mm: tf.Tensor) =>
          tf.tidy(() => {
            const ok = fbConsistencyCheck(fl as tf.Tensor4D, chk as tf.Tensor4D);
            const warped = flowWarp(p as tf.Tensor4D, fl as tf.Tensor4D, { mode: interpolation });
            const cond = tf.concat([c, warped, fl, ok, mm], 3) as tf.Tensor4D;
            return refineStep(align.forward(p as tf.Tensor4D, cond, fl as tf.Tensor4D), c, mm);
          });
        for (const idx of order) {
          if (prop === null) {
            prop = checkpoint((c, mm) => refineStep(c, c, mm), [cur[idx], m[idx]], refineParams, { constants: [1] }) as tf.Tensor4D;
          } else {
            const fl = backward ? fwd[idx] : bwd[idx - 1];
            const chk = backward ? bwd[idx] : fwd[idx - 1];
            prop = checkpoint(alignStep, [prop, cur[idx], fl, chk, m[idx]], [...alignParams, ...refineParams], { constants: [2, 3, 4] }) as tf.Tensor4D;
          }
          out[idx] = prop;
        }
        results[pass] = out;
        cur = out;
      }
      const stackT = (list: tf.Tensor4D[]) => tf.reshape(tf.stack(list, 1), [b * t, h, w, -1]) as tf.Tensor4D;
      const fused = this.fuse.forward(
        tf.concat([stackT(results.backward_1), stackT(results.forward_1), tf.reshape(masks, [b * t, h, w, 2])], 3),
      );
      return tf.reshape(tf.add(fused, tf.reshape(x, [b * t, h, w, c])), [b, t, h, w, c]) as tf.Tensor5D;
    });
  }
}
