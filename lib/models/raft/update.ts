/**
 * RAFT's BasicUpdateBlock (motion encoder, separable ConvGRU, flow head, upsampling-mask head),
 * channels-last; every channel concat keeps PyTorch's order on the last axis.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../../nn/module';
import { Conv2d, ReLU, Sequential } from '../../nn/layers';
import { conv2d } from '../../ops/conv';

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

/**
 * The parts of one ConvGRU half that do not change over RAFT's iterations: the context features
 * `inp` are constant, and a convolution is linear in its input channels, so the gates' inp
 * contribution (with the biases) is computed once per refinement instead of every iteration, and
 * the filters are regrouped by input (hidden state, motion features) so each input meets all its
 * gates in one convolution.
 */
interface GruHalf {
  /** conv(inp, W_inp) + bias for the gates z | r | q: [N, h, w, 3·hidden]. */
  context: tf.Tensor4D;
  /** Filters reading the motion features, gates z | r | q: [kh, kw, motion, 3·hidden]. */
  wMotion: tf.Tensor4D;
  /** Filters reading the hidden state, gates z | r: [kh, kw, hidden, 2·hidden]. */
  wHidden: tf.Tensor4D;
  /** convq's filter for r·h: [kh, kw, hidden, hidden]. */
  wQ: tf.Tensor4D;
  padding: [number, number];
}

/** Precomputed context of both GRU halves (SepConvGRU.prepare); dispose after the refinement. */
export interface GruContext {
  halves: [GruHalf, GruHalf];
  dispose(): void;
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

  /**
   * The iteration-invariant part of forward(h, [inp, motion]) for fixed context features `inp`
   * [N, h, w, ctx]: use with forwardPrepared. Same result as forward up to float rounding.
   */
  prepare(inp: tf.Tensor4D): GruContext {
    const hd = this.convz1.outChannels;
    const ci = inp.shape[3];
    const half = (convz: Conv2d, convr: Conv2d, convq: Conv2d): GruHalf =>
      tf.tidy(() => {
        const ws = [convz, convr, convq].map((c) => c.weight as tf.Tensor4D);
        const rows = (w: tf.Tensor4D, from: number, n: number) => tf.slice(w, [0, 0, from, 0], [-1, -1, n, -1]);
        const wInp = tf.concat(ws.map((w) => rows(w, hd, ci)), 3) as tf.Tensor4D;
        const bias = tf.concat([convz, convr, convq].map((c) => c.bias as tf.Tensor1D), 0) as tf.Tensor1D;
        return {
          context: conv2d(inp, wInp, { padding: convz.padding, bias }),
          wMotion: tf.concat(ws.map((w) => rows(w, hd + ci, w.shape[2] - hd - ci)), 3) as tf.Tensor4D,
          wHidden: tf.concat([rows(ws[0], 0, hd), rows(ws[1], 0, hd)], 3) as tf.Tensor4D,
          wQ: rows(ws[2], 0, hd) as tf.Tensor4D,
          padding: convz.padding,
        };
      });
    const halves: [GruHalf, GruHalf] = [half(this.convz1, this.convr1, this.convq1), half(this.convz2, this.convr2, this.convq2)];
    return {
      halves,
      dispose: () => halves.forEach((g) => tf.dispose([g.context, g.wMotion, g.wHidden, g.wQ])),
    };
  }

  /** forward(h, [inp, motion]) with inp's share precomputed by prepare(inp). */
  forwardPrepared(h: tf.Tensor4D, motion: tf.Tensor4D, ctx: GruContext): tf.Tensor4D {
    return tf.tidy(() => ctx.halves.reduce((hh, g) => this.stepPrepared(hh, motion, g), h));
  }

  private stepPrepared(h: tf.Tensor4D, motion: tf.Tensor4D, g: GruHalf): tf.Tensor4D {
    return tf.tidy(() => {
      const hd = h.shape[3];
      const [zrIn, qIn] = tf.split(tf.add(conv2d(motion, g.wMotion, { padding: g.padding }), g.context), [2 * hd, hd], 3);
      const zr = tf.sigmoid(tf.add(zrIn, conv2d(h, g.wHidden, { padding: g.padding })));
      const [z, r] = tf.split(zr, 2, 3);
      const q = tf.tanh(tf.add(conv2d(tf.mul(r, h) as tf.Tensor4D, g.wQ, { padding: g.padding }), qIn));
      return tf.add(tf.mul(tf.sub(1, z), h), tf.mul(z, q)) as tf.Tensor4D;
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
  forward(net: tf.Tensor4D, inp: tf.Tensor4D, corr: tf.Tensor4D, flow: tf.Tensor4D, gruContext?: GruContext): { net: tf.Tensor4D; delta: tf.Tensor4D } {
    return tf.tidy(() => {
      const motion = this.encoder.forward(flow, corr);
      // With the context's share precomputed (`gru.prepare(inp)`, once per refinement), a third of
      // the GRU's multiply-accumulates leave the iteration.
      const h = gruContext ? this.gru.forwardPrepared(net, motion, gruContext) : this.gru.forward(net, tf.concat([inp, motion], 3) as tf.Tensor4D);
      return { net: h, delta: this.flow_head.forward(h) };
    });
  }

  /** 0.25 · mask(net): [N, h, w, 576] ("scale mask to balance gradients" in the official code). */
  upMask(net: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => tf.mul(this.mask.forward(net), 0.25) as tf.Tensor4D);
  }
}
