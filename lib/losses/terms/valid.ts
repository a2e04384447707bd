/** Valid L1 (core/trainer.py): mean absolute error outside the hole, normalised by its share. */
import { validLoss } from '../generator';
import type { LossTerm } from '../registry';

export const valid: LossTerm<'generator'> = {
  name: 'valid',
  kind: 'generator',
  weightKey: 'valid_weight',
  aliases: ['l1_weight'],
  defaultWeight: 1,
  log: 'loss/valid_loss',
  doc: 'L1 of prediction vs ground truth outside the hole / mean(1 − mask) (pred, gt, masks)',
  compute: ({ pred, gt, masks }) => validLoss(pred, gt, masks),
};
