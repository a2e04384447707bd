/** Style term of core/loss.py's PerceptualLoss: L1 between Gram matrices of the VGG19 features. */
import { perceptualLoss } from '../generator';
import { PERCEPTUAL_LAYER_WEIGHTS } from '../../models/vgg';
import type { LossTerm } from '../registry';

export const style: LossTerm<'generator'> = {
  name: 'style',
  kind: 'generator',
  weightKey: 'style_weight',
  defaultWeight: 0,
  log: 'loss/style_loss',
  networks: ['vgg'],
  doc: 'Gram-matrix L1 of the same VGG19 features (PerceptualLoss style term); VGG19 weights from loss.vgg (pred, gt)',
  compute: ({ pred, gt }, ctx) =>
    perceptualLoss(ctx.vggFeatures(pred), ctx.vggFeatures(gt), { layerWeights: PERCEPTUAL_LAYER_WEIGHTS, perceptualWeight: 0, styleWeight: 1 }).style,
};
