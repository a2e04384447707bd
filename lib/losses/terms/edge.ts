/** The edge term of trainer_flow_w_edge: EdgeLoss of the edge head against Canny edges of the GT flows. */
import { edgeLossBidirectional } from '../flow';
import type { LossTerm } from '../registry';

export const edge: LossTerm<'flow'> = {
  name: 'edge',
  kind: 'flow',
  weightKey: 'edge_weight',
  defaultWeight: 1,
  log: 'loss/edge_loss',
  doc: 'class-balanced BCE of the edge head (training mode) vs Canny edges of the GT flow, plus 5× on the completed edges, both directions (predEdges, gtEdges, masks)',
  compute: ({ predEdges, gtEdges, masks }) => (predEdges && gtEdges ? edgeLossBidirectional(predEdges, gtEdges, masks) : null),
};
