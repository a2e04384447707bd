/** Hole L1 (core/trainer.py): mean absolute error inside the hole, normalised by the hole share. */
import { holeLoss } from '../generator';
import type { LossTerm } from '../registry';

export const hole: LossTerm<'generator'> = {
  name: 'hole',
  kind: 'generator',
  weightKey: 'hole_weight',
  aliases: ['l1_weight'],
  defaultWeight: 1,
  log: 'loss/hole_loss',
  doc: 'L1 of prediction vs ground truth inside the hole / mean(mask) (pred, gt, masks)',
  compute: ({ pred, gt, masks }) => holeLoss(pred, gt, masks),
};
