/** PerceptualLoss of core/loss.py (VGG19 conv3_4/conv4_4/conv5_4 features, L1, layer weights ¼ ¼ ½). */
import { perceptualLoss } from '../generator';
import { PERCEPTUAL_LAYER_WEIGHTS } from '../../models/vgg';
import type { LossTerm } from '../registry';

export const perceptual: LossTerm<'generator'> = {
  name: 'perceptual',
  kind: 'generator',
  weightKey: 'perceptual_weight',
  defaultWeight: 0,
  log: 'loss/perc_loss',
  networks: ['vgg'],
  doc: 'VGG19 feature L1 (PerceptualLoss, layer weights conv3_4 ¼, conv4_4 ¼, conv5_4 ½) over all frames; VGG19 weights from loss.vgg (pred, gt)',
  compute: ({ pred, gt }, ctx) =>
    perceptualLoss(ctx.vggFeatures(pred), ctx.vggFeatures(gt), { layerWeights: PERCEPTUAL_LAYER_WEIGHTS, perceptualWeight: 1, styleWeight: 0 }).perceptual,
};
