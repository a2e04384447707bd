/** The warp term of trainer_flow_w_edge: FlowLoss's census `warp_loss` (hard-coded 0.01 there). */
import { censusWarpLoss } from '../flow';
import type { LossTerm } from '../registry';

export const warp: LossTerm<'flow'> = {
  name: 'warp',
  kind: 'flow',
  weightKey: 'warp_weight',
  defaultWeight: 0.01,
  log: 'loss/warp_loss',
  doc: 'census (ternary) photometric loss of each frame vs its neighbour warped by the completed flow, occlusion-weighted, both directions (pred, gt, masks, frames)',
  compute: ({ pred, gt, masks, frames }) => censusWarpLoss(pred, gt, masks, frames),
};
