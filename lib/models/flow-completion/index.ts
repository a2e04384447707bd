/** Recurrent flow completion: the network and the completion entry point used by every consumer. */
import * as tf from '@tensorflow/tfjs-core';
import { RecurrentFlowCompleteNet } from './network';

export { RecurrentFlowCompleteNet, P3DBlock, EdgeDetection, Deconv, flipTime } from './network';
export type { FlowCompleteOutput, FlowCompleteHook } from './network';
export { BidirectionalPropagation, SecondOrderDeformableAlignment } from './propagation';

/**
 * forward_bidirect_flow + combine_flow (as inference, evaluation and the generator trainer call
 * them): flows = [forward, backward] [B, T-1, H, W, 2], masks [B, T, H, W, 1] (1 = hole) →
 * completed [forward, backward] flows: prediction inside the hole, the input flow outside.
 * Runs in the model's current mode; edges (training mode) are discarded.
 */
export function completeFlows(
  model: Pick<RecurrentFlowCompleteNet, 'forwardBidirectFlow' | 'combineFlow'>,
  flows: [tf.Tensor5D, tf.Tensor5D],
  masks: tf.Tensor5D,
): [tf.Tensor5D, tf.Tensor5D] {
  return tf.tidy(() => {
    const pred = model.forwardBidirectFlow(flows, masks);
    return model.combineFlow(flows, pred.flows, masks);
  });
}
