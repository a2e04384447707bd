/**
 * A custom loss term: total variation of the prediction inside the hole, which penalises ragged
 * fills. Importing this file registers it; `"hole_tv_weight": 0.1` in a config's `loss` block
 * switches it on (docs/extending.md).
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerLossTerm } from '../../lib/losses';
import { flattenClip } from '../../lib/ops/frames';

export const holeTv = registerLossTerm({
  name: 'hole_tv',
  kind: 'generator', // a ProPainter (generator) term; 'flow' terms see the flow-completion tensors
  weightKey: 'hole_tv_weight',
  defaultWeight: 0, // off unless configured
  log: 'loss/hole_tv_loss',
  doc: 'mean |difference| to the left and upper neighbour over hole pixels, the seam at the hole border included (pred, masks)',
  compute: ({ pred, masks }) =>
    tf.tidy(() => {
      const x = flattenClip(pred) as tf.Tensor4D; // [B·T, H, W, 3]
      const m = flattenClip(masks) as tf.Tensor4D; // [B·T, H, W, 1], 1 = hole
      const [n, h, w] = x.shape;
      const dx = tf.abs(tf.sub(tf.slice(x, [0, 0, 1, 0], [n, h, w - 1, 3]), tf.slice(x, [0, 0, 0, 0], [n, h, w - 1, 3])));
      const dy = tf.abs(tf.sub(tf.slice(x, [0, 1, 0, 0], [n, h - 1, w, 3]), tf.slice(x, [0, 0, 0, 0], [n, h - 1, w, 3])));
      const inHole = (d: tf.Tensor, mask: tf.Tensor) => tf.div(tf.sum(tf.mul(d, mask)), tf.add(tf.mul(tf.sum(mask), 3), 1e-8));
      return tf.add(
        inHole(dx, tf.slice(m, [0, 0, 1, 0], [n, h, w - 1, 1])),
        inHole(dy, tf.slice(m, [0, 1, 0, 0], [n, h - 1, w, 1])),
      ) as tf.Scalar;
    }),
});
