/**
 * RAFT's BasicUpdateBlock (motion encoder, separable ConvGRU, flow head, upsampling-mask head),
 * channels-last; every channel concat keeps PyTorch's order on the last axis.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../../nn/module';
import { Conv2d, ReLU, Sequential } from '../../nn/layers';

/** corr_levels · (2·radius + 1)² for the large model. */
export const CORR_PLANES = 4 * 9 * 9;

export class BasicMotionEncoder extends Module {
  readonly convc1 = this.registerModule('convc1', new Conv2d(CORR_PLANES, 256, 1));
  readonly convc2 = this.registerModule('convc2', new Conv2d(256, 192, 3, { padding: 1 }));
  readonly convf1 = this.registerModule('convf1', new Conv2d(2, 128, 7, { padding: 3 }));
  readonly convf2 = this.registerModule('convf2', new Conv2d(128, 64, 3, { padding: 1 }));
  readonly conv = this.registerModule('conv', new Conv2d(64 + 192, 128 - 2, 3, { padding: 1 }));

  /** flow [N,h,w,2], corr [N,h,w,324] → motion features [N,h,w,128] = [out(126), flow(2)]. */
  forward(flow: tf.Tensor4D, corr: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const cor = tf.relu(this.convc2.forward(tf.relu(this.convc1.forward(corr))));
      const flo = tf.relu(this.convf2.forward(tf.relu(this.convf1.forward(flow))));
      const out = tf.relu(this.conv.forward(tf.concat([cor, flo], 3)));
      return tf.concat([out, flow], 3) as tf.Tensor4D;
    });
  }
}

export class SepConvGRU extends Module {
  readonly convz1: Conv2d;
  readonly convr1: Conv2d;
  readonly convq1: Conv2d;
  readonly convz2: Conv2d;
  readonly convr2: Conv2d;
  readonly convq2: Conv2d;

  constructor(hiddenDim = 128, inputDim = 192 + 128) {
    super();
    const c = hiddenDim + inputDim;
    const h = { padding: [0, 2] as [number, number] };
    const v = { padding: [2, 0] as [number, number] };
    this.convz1 = this.registerModule('convz1', new Conv2d(c, hiddenDim, [1, 5], h));
    this.convr1 = this.registerModule('convr1', new Conv2d(c, hiddenDim, [1, 5], h));
    this.convq1 = this.registerModule('convq1', new Conv2d(c, hiddenDim, [1, 5], h));
    this.convz2 = this.registerModule('convz2', new Conv2d(c, hiddenDim, [5, 1], v));
    this.convr2 = this.registerModule('convr2', new Conv2d(c, hiddenDim, [5, 1], v));
    this.convq2 = this.registerModule('convq2', new Conv2d(c, hiddenDim, [5, 1], v));
  }

  private step(h: tf.Tensor4D, x: tf.Tensor4D, convz: Conv2d, convr: Conv2d, convq: Conv2d): tf.Tensor4D {
    return tf.tidy(() => {
      const hx = tf.concat([h, x], 3);
      const z = tf.sigmoid(convz.forward(hx));
      const r = tf.sigmoid(convr.forward(hx));
      const q = tf.tanh(convq.forward(tf.concat([tf.mul(r, h), x], 3)));
      // (1 − z)·h + z·q, in the official operation order.
      return tf.add(tf.mul(tf.sub(1, z), h), tf.mul(z, q)) as tf.Tensor4D;
    });
  }

  forward(h: tf.Tensor4D, x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const h1 = this.step(h, x, this.convz1, this.convr1, this.convq1); // horizontal (1×5)
      return this.step(h1, x, this.convz2, this.convr2, this.convq2); // vertical (5×1)
    });
  }
}

export class FlowHead extends Module {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;

  constructor(inputDim = 128, hiddenDim = 256) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inputDim, hiddenDim, 3, { padding: 1 }));
    this.conv2 = this.registerModule('conv2', new Conv2d(hiddenDim, 2, 3, { padding: 1 }));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => this.conv2.forward(tf.relu(this.conv1.forward(x))));
  }
}

export class BasicUpdateBlock extends Module {
  readonly encoder = this.registerModule('encoder', new BasicMotionEncoder());
  readonly gru = this.registerModule('gru', new SepConvGRU(128, 128 + 128));
  readonly flow_head = this.registerModule('flow_head', new FlowHead(128, 256));
  readonly mask = this.registerModule('mask', new Sequential([new Conv2d(128, 256, 3, { padding: 1 }), new ReLU(), new Conv2d(256, 64 * 9, 1)]));

  /**
   * One refinement step: returns the new hidden state and the flow update. The upsampling mask
   * only matters for the prediction that is upsampled, so it is a separate call (`upMask`).
   */
  forward(net: tf.Tensor4D, inp: tf.Tensor4D, corr: tf.Tensor4D, flow: tf.Tensor4D): { net: tf.Tensor4D; delta: tf.Tensor4D } {
    return tf.tidy(() => {
      const motion = this.encoder.forward(flow, corr);
      const x = tf.concat([inp, motion], 3) as tf.Tensor4D;
      const h = this.gru.forward(net, x);
      return { net: h, delta: this.flow_head.forward(h) };
    });
  }

  /** 0.25 · mask(net): [N, h, w, 576] ("scale mask to balance gradients" in the official code). */
  upMask(net: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => tf.mul(this.mask.forward(net), 0.25) as tf.Tensor4D);
  }
}
