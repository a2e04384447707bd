/** LPIPSLoss of core/loss.py: what the official trainer's `perceptual_weight` switches on. */
import * as tf from '@tensorflow/tfjs-core';
import { lpipsLoss } from '../generator';
import { flattenClip } from '../../ops/frames';
import type { LossTerm } from '../registry';

export const lpips: LossTerm<'generator'> = {
  name: 'lpips',
  kind: 'generator',
  weightKey: 'lpips_weight',
  defaultWeight: 0,
  log: 'loss/lpips_loss',
  networks: ['lpips'],
  doc: 'LPIPS(vgg) distance, batch mean (the official LPIPSLoss, its double input normalisation kept); weights from loss.lpips (+ loss.lpips_trunk) (pred, gt)',
  compute: ({ pred, gt }, ctx) => lpipsLoss(ctx.networks.lpips(), flattenClip(pred) as tf.Tensor4D, flattenClip(gt) as tf.Tensor4D),
};
