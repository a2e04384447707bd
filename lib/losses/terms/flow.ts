/** The flow term of trainer_flow_w_edge: FlowLoss's `loss` (L1 + first/second-order smoothness). */
import { flowL1SmoothLoss } from '../flow';
import type { LossTerm } from '../registry';

export const flow: LossTerm<'flow'> = {
  name: 'flow',
  kind: 'flow',
  weightKey: 'flow_weight',
  defaultWeight: 0.25,
  log: 'loss/flow_loss',
  doc: 'hole- and valid-normalised flow L1 + Charbonnier smoothness (1st and 2nd order) of the completed flow, both directions (pred, gt, masks)',
  compute: ({ pred, gt, masks }) => flowL1SmoothLoss(pred, gt, masks),
};
