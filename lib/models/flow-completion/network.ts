/**
 * Recurrent Flow Completion network (official `model/recurrent_flow_completion.py`,
 * weights `recurrent_flow_completion.pth`), channels-last:
 * flows [B, N, H, W, 2] (N = T-1), masks [B, N, H, W, 1] → flows [B, N, H, W, 2]
 * (+ edges [B, N, H, W, 1] in training mode). H and W must be multiples of 8.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../../nn/module';
import { Conv2d, Conv3d, LeakyReLU, Sequential } from '../../nn/layers';
import { interpolateBilinear } from '../../ops';
import { checkpoint, checkpointing } from '../../runtime/checkpoint';
import { CHUNK_ELEMENTS, checkpointFrameChunks, mapFrameChunks } from '../../nn/chunks';
import { BidirectionalPropagation } from './propagation';

/** seq's children in checkpointed groups of `group` (e.g. a block and its activation). */
function checkpointSequential(seq: Sequential, x: tf.Tensor, group = 2): tf.Tensor {
  let y = x;
  for (let i = 0; i < seq.length; i += group) {
    const mods = seq.items.slice(i, i + group) as Array<Module & { forward(t: tf.Tensor): tf.Tensor }>;
    const params = mods.flatMap((m) => m.parameters());
    y = checkpoint((t) => mods.reduce((a, m) => m.forward(a), t), [y], params);
  }
  return y;
}

/**
 * Off the tape, a Conv3d whose temporal kernel is 1 mixes no frames, so it runs over chunks of
 * frames (the same values as one call): its convolution working set (≈ output pixels × k² × C_in
 * per frame) stays bounded for a long sub-video instead of growing with the frame count.
 */
function conv3dFramewise(layer: Module & { forward(t: tf.Tensor): tf.Tensor }, x: tf.Tensor): tf.Tensor {
  const conv = layer instanceof Conv3d ? layer : null;
  if (!conv || conv.weight.shape[0] !== 1 || layer.training) return layer.forward(x);
  const k = conv.weight.shape as number[]; // [kT, kH, kW, Cin, Cout]
  const [b, n, h, w, c] = x.shape as [number, number, number, number, number];
  const perFrame = Math.ceil((h * w * c * k[1] * k[2]) / (conv.stride[1] * conv.stride[2]));
  const y = mapFrameChunks(tf.reshape(x, [b * n, 1, h, w, c]), (t) => conv.forward(t), perFrame);
  const out = tf.reshape(y, [b, n, ...y.shape.slice(2)]);
  y.dispose();
  return out;
}

/** ×2 bilinear upsampling (align_corners=True) followed by a conv (`deconv` in the official code). */
export class Deconv extends Module {
  readonly conv: Conv2d;

  constructor(inChannels: number, outChannels: number, kernelSize = 3, padding = 0) {
    super();
    this.conv = this.registerModule('conv', new Conv2d(inChannels, outChannels, kernelSize, { padding }));
  }

  forward(x: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => {
      const [, h, w] = x.shape;
      const up = interpolateBilinear(x as tf.Tensor4D, [2 * h, 2 * w], { alignCorners: true }) as tf.Tensor4D;
      return this.conv.forward(up);
    });
  }
}

/** Pseudo-3-D block: spatial (1,k,k) conv + LReLU(0.2), then a temporal (3,1,1) conv with dilation 2. */
export class P3DBlock extends Module {
  readonly conv1: Sequential;
  readonly conv2: Sequential;

  constructor(inChannels: number, outChannels: number, kernelSize: number, stride: number, padding: number, readonly useResidual = false, bias = true) {
    super();
    this.conv1 = this.registerModule(
      'conv1',
      new Sequential([
        new Conv3d(inChannels, outChannels, [1, kernelSize, kernelSize], { stride: [1, stride, stride], padding: [0, padding, padding], bias }),
        new LeakyReLU(0.2),
      ]),
    );
    this.conv2 = this.registerModule(
      'conv2',
      new Sequential([new Conv3d(outChannels, outChannels, [3, 1, 1], { padding: [2, 0, 0], dilation: [2, 1, 1], bias })]),
    );
  }

  forward(x: tf.Tensor): tf.Tensor5D {
    const [b, n, h, w] = x.shape as [number, number, number, number, number];
    const co = (this.conv2.items[0] as Conv3d).outChannels;
    // ≈ 12 activation copies of the block's output per frame (temporal taps, padding, sums).
    const per = Math.max(1, Math.floor(CHUNK_ELEMENTS / (12 * h * w * co)));
    if (this.training || n <= per) return tf.tidy(() => this.block(x));
    // Off the tape, chunks of frames with the temporal conv's 2-frame halo on each side: outputs
    // near an inner chunk edge are dropped, those at the clip's edges see its zero padding, so
    // the values are those of one call while the working set stays bounded.
    const flat = tf.reshape(x, [b, n, -1]);
    const parts: tf.Tensor[] = [];
    for (let a = 0; a < n; a += per) {
      const e = Math.min(n, a + per);
      const s0 = Math.max(0, a - 2);
      const e0 = Math.min(n, e + 2);
      parts.push(tf.tidy(() => {
        const xs = tf.reshape(tf.slice(flat, [0, s0, 0], [b, e0 - s0, -1]), [b, e0 - s0, ...x.shape.slice(2)]);
        const y = this.block(xs);
        return tf.slice(y, [0, a - s0, 0, 0, 0], [b, e - a, -1, -1, -1]);
      }));
    }
    flat.dispose();
    const out = tf.concat(parts, 1) as tf.Tensor5D;
    tf.dispose(parts);
    return out;
  }

  private block(x: tf.Tensor): tf.Tensor5D {
    const [spatial, act] = this.conv1.items as Array<Module & { forward(t: tf.Tensor): tf.Tensor }>;
    const y = this.conv2.forward(act.forward(conv3dFramewise(spatial, x)));
    return (this.useResidual ? tf.add(x, y) : y) as tf.Tensor5D;
  }
}

/** Training-only edge head: flow [N, H, W, 2] → edge probability [N, H, W, 1]. */
export class EdgeDetection extends Module {
  readonly projection: Sequential;
  readonly mid_layer_1: Sequential;
  readonly mid_layer_2: Sequential;
  readonly out_layer: Conv2d;

  constructor(inCh = 2, outCh = 1, midCh = 16) {
    super();
    this.projection = this.registerModule('projection', new Sequential([new Conv2d(inCh, midCh, 3, { padding: 1 }), new LeakyReLU(0.2)]));
    this.mid_layer_1 = this.registerModule('mid_layer_1', new Sequential([new Conv2d(midCh, midCh, 3, { padding: 1 }), new LeakyReLU(0.2)]));
    this.mid_layer_2 = this.registerModule('mid_layer_2', new Sequential([new Conv2d(midCh, midCh, 3, { padding: 1 })]));
    this.out_layer = this.registerModule('out_layer', new Conv2d(midCh, outCh, 1));
  }

  forward(flow: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => {
      const p = this.projection.forward(flow);
      const e = this.mid_layer_2.forward(this.mid_layer_1.forward(p));
      return tf.sigmoid(this.out_layer.forward(tf.leakyRelu(tf.add(p, e), 0.01))) as tf.Tensor4D;
    });
  }
}

/**
 * Receives intermediate results (channels-last; Conv3d stages [B, N, h, w, C], decoder stages
 * [B·N, h, w, C]), e.g. to compare with a fixture's debug tensors. The tensors are released when
 * the call returns: read or clone them inside the hook.
 */
export type FlowCompleteHook = (name: string, value: tf.Tensor) => void;

export interface FlowCompleteOutput {
  /** [B, N, H, W, 2] completed flow field (pixels). */
  flow: tf.Tensor5D;
  /** [B, N, H, W, 1] edge probabilities in training mode, null in eval mode. */
  edge: tf.Tensor5D | null;
}

export class RecurrentFlowCompleteNet extends Module {
  readonly downsample: Sequential;
  readonly encoder1: Sequential;
  readonly encoder2: Sequential;
  readonly mid_dilation: Sequential;
  readonly feat_prop_module: BidirectionalPropagation;
  readonly decoder2: Sequential;
  readonly decoder1: Sequential;
  readonly upsample: Sequential;
  readonly edgeDetector: EdgeDetection;

  constructor() {
    super();
    this.downsample = this.registerModule(
      'downsample',
      new Sequential([
        new Conv3d(3, 32, [1, 5, 5], { stride: [1, 2, 2], padding: [0, 2, 2], paddingMode: 'replicate' }),
        new LeakyReLU(0.2),
      ]),
    );
    this.encoder1 = this.registerModule(
      'encoder1',
      new Sequential([new P3DBlock(32, 32, 3, 1, 1), new LeakyReLU(0.2), new P3DBlock(32, 64, 3, 2, 1), new LeakyReLU(0.2)]),
    );
    this.encoder2 = this.registerModule(
      'encoder2',
      new Sequential([new P3DBlock(64, 64, 3, 1, 1), new LeakyReLU(0.2), new P3DBlock(64, 128, 3, 2, 1), new LeakyReLU(0.2)]),
    );
    this.mid_dilation = this.registerModule(
      'mid_dilation',
      new Sequential([
        new Conv3d(128, 128, [1, 3, 3], { padding: [0, 3, 3], dilation: [1, 3, 3] }),
        new LeakyReLU(0.2),
        new Conv3d(128, 128, [1, 3, 3], { padding: [0, 2, 2], dilation: [1, 2, 2] }),
        new LeakyReLU(0.2),
        new Conv3d(128, 128, [1, 3, 3], { padding: [0, 1, 1] }),
        new LeakyReLU(0.2),
      ]),
    );
    this.feat_prop_module = this.registerModule('feat_prop_module', new BidirectionalPropagation(128));
    this.decoder2 = this.registerModule(
      'decoder2',
      new Sequential([new Conv2d(128, 128, 3, { padding: 1 }), new LeakyReLU(0.2), new Deconv(128, 64, 3, 1), new LeakyReLU(0.2)]),
    );
    this.decoder1 = this.registerModule(
      'decoder1',
      new Sequential([new Conv2d(64, 64, 3, { padding: 1 }), new LeakyReLU(0.2), new Deconv(64, 32, 3, 1), new LeakyReLU(0.2)]),
    );
    this.upsample = this.registerModule(
      'upsample',
      new Sequential([new Conv2d(32, 32, 3, { padding: 1 }), new LeakyReLU(0.2), new Deconv(32, 2, 3, 1)]),
    );
    this.edgeDetector = this.registerModule('edgeDetector', new EdgeDetection(2, 1, 16));
  }

  /**
   * One direction: maskedFlows [B, N, H, W, 2] (already zeroed in the hole), masks [B, N, H, W, 1].
   * Returns the predicted flow and, in training mode, the edge map.
   */
  forward(maskedFlows: tf.Tensor5D, masks: tf.Tensor5D, hook?: FlowCompleteHook): FlowCompleteOutput {
    const [b, n, h, w] = maskedFlows.shape;
    if (h % 8 !== 0 || w % 8 !== 0) throw new Error(`RecurrentFlowCompleteNet: H and W must be multiples of 8, got ${h}×${w}`);
    if (masks.shape[0] !== b || masks.shape[1] !== n || masks.shape[2] !== h || masks.shape[3] !== w || masks.shape[4] !== 1) {
      throw new Error(`RecurrentFlowCompleteNet: masks [${masks.shape}] do not match flows [${maskedFlows.shape}] (expected [B, N, H, W, 1])`);
    }
    const training = this.training;
    if (checkpointing()) return this.forwardCheckpointed(maskedFlows, masks, hook);
    // Off the tape every stage's input is released as soon as its output exists and the per-frame
    // decoder runs in frame chunks (mapFrameChunks), so a whole sub-video of flows (inference:
    // up to subvideo_length + 10) fits the wasm heap; the operations are those of one tidy.
    const stage = (input: tf.Tensor, seq: Sequential, name: string, release: boolean): tf.Tensor5D => {
      let cur = input;
      for (const m of seq.items as Array<Module & { forward(t: tf.Tensor): tf.Tensor }>) {
        const next = tf.tidy(() => conv3dFramewise(m, cur));
        if (cur !== input || release) cur.dispose();
        cur = next;
      }
      hook?.(name, cur);
      return cur as tf.Tensor5D;
    };
    const x = stage(tf.concat([maskedFlows, masks], 4), this.downsample, 'downsample', true);
    const featE1 = stage(x, this.encoder1, 'encoder1', true);
    const featE2 = stage(featE1, this.encoder2, 'encoder2', false);
    const featMid = stage(featE2, this.mid_dilation, 'mid_dilation', true);
    const featProp = tf.tidy(() => this.feat_prop_module.forward(featMid));
    featMid.dispose();
    hook?.('feat_prop_module', featProp);
    const [, , h8, w8, c8] = featProp.shape;
    const [, , h4, w4, c4] = featE1.shape;
    const propFlat = tf.reshape(featProp, [b * n, h8, w8, c8]);
    const e1Flat = tf.reshape(featE1, [b * n, h4, w4, c4]);
    tf.dispose([featProp, featE1]);
    const out = tf.tidy(() => {
      let flow: tf.Tensor;
      if (hook) {
        // Debug hooks see whole-clip decoder stages, so decode in one piece.
        const d2 = this.decoder2.forward(propFlat);
        hook('decoder2', d2);
        const featD1 = this.decoder1.forward(tf.add(d2, e1Flat));
        hook('decoder1', featD1);
        flow = this.upsample.forward(featD1);
      } else {
        flow = mapFrameChunks(
          [propFlat, e1Flat],
          (p, e1) => this.upsample.forward(this.decoder1.forward(tf.add(this.decoder2.forward(p), e1))),
          h * w * 32,
        );
      }
      hook?.('upsample', flow);
      const res: tf.Tensor[] = [tf.reshape(flow, [b, n, h, w, 2])];
      if (training) res.push(tf.reshape(this.edgeDetector.forward(flow), [b, n, h, w, 1]));
      return res;
    });
    tf.dispose([propFlat, e1Flat]);
    return { flow: out[0] as tf.Tensor5D, edge: training ? (out[1] as tf.Tensor5D) : null };
  }

  /**
   * forward() on the tape, as checkpointed segments (same result): the encoder stages per pair of
   * Sequential children over the whole clip (the P3D blocks mix frames), each recurrent
   * propagation step inside one outer propagation segment (propagation.ts), and the decoder and
   * the edge head per chunk of frames — so only segment boundaries stay alive until the backward,
   * plus one segment's forward+backward at a time. 120×216, 5 frames, wasm: step heap
   * 2.99 → ~0.9 GiB, time ×1.3–1.4. Not wrapped in one outer segment per direction: that lowered
   * the heap of a 120×216 step by only ~0.1 GiB (the loss dominates) for ~20% more time.
   */
  private forwardCheckpointed(maskedFlows: tf.Tensor5D, masks: tf.Tensor5D, hook?: FlowCompleteHook): FlowCompleteOutput {
    const [b, n, h, w] = maskedFlows.shape;
    const training = this.training;
    const out = tf.tidy(() => {
      const inputs = tf.concat([maskedFlows, masks], 4) as tf.Tensor5D;
      const x = checkpointSequential(this.downsample, inputs);
      hook?.('downsample', x);
      const featE1 = checkpointSequential(this.encoder1, x) as tf.Tensor5D;
      hook?.('encoder1', featE1);
      const featE2 = checkpointSequential(this.encoder2, featE1);
      hook?.('encoder2', featE2);
      const featMid = checkpointSequential(this.mid_dilation, featE2) as tf.Tensor5D;
      hook?.('mid_dilation', featMid);
      const featProp = this.feat_prop_module.forward(featMid);
      hook?.('feat_prop_module', featProp);
      const [, , h8, w8, c8] = featProp.shape;
      const [, , h4, w4, c4] = featE1.shape;
      const decode = (p: tf.Tensor, e1: tf.Tensor) =>
        this.upsample.forward(this.decoder1.forward(tf.add(this.decoder2.forward(p), e1)));
      const flow = checkpointFrameChunks(
        [tf.reshape(featProp, [b * n, h8, w8, c8]), tf.reshape(featE1, [b * n, h4, w4, c4])], [this.decoder2, this.decoder1, this.upsample], decode, h * w * 32,
      );
      hook?.('upsample', flow);
      const res: tf.Tensor[] = [tf.reshape(flow, [b, n, h, w, 2])];
      if (training) {
        const edge = checkpointFrameChunks(flow, this.edgeDetector, (f) => this.edgeDetector.forward(f), h * w * 16);
        res.push(tf.reshape(edge, [b, n, h, w, 1]));
      }
      return res;
    });
    return { flow: out[0] as tf.Tensor5D, edge: training ? (out[1] as tf.Tensor5D) : null };
  }

  /**
   * `forward_bidirect_flow`: flows = [forward, backward] each [B, T-1, H, W, 2], masks [B, T, H, W, 1].
   * Zeroes each flow inside its frame's hole (forward uses masks[:, :-1], backward masks[:, 1:]),
   * completes the forward flows, then the backward flows in reversed time order.
   */
  forwardBidirectFlow(
    flows: [tf.Tensor5D, tf.Tensor5D],
    masks: tf.Tensor5D,
    opts: { hook?: (direction: 'forward' | 'backward', name: string, value: tf.Tensor) => void } = {},
  ): { flows: [tf.Tensor5D, tf.Tensor5D]; edges: [tf.Tensor5D, tf.Tensor5D] | null } {
    checkFlowsMasks(flows, masks);
    const hook = opts.hook;
    const outs = tf.tidy(() => {
      const [mF, mB] = splitMasks(masks);
      const fIn = tf.mul(flows[0], tf.sub(1, mF)) as tf.Tensor5D;
      const bIn = tf.mul(flows[1], tf.sub(1, mB)) as tf.Tensor5D;
      const f = this.forward(fIn, mF, hook && ((n, v) => hook('forward', n, v)));
      const bwd = this.forward(flipTime(bIn), flipTime(mB), hook && ((n, v) => hook('backward', n, v)));
      const res: tf.Tensor[] = [f.flow, flipTime(bwd.flow)];
      if (f.edge && bwd.edge) res.push(f.edge, flipTime(bwd.edge));
      return res;
    });
    return {
      flows: [outs[0] as tf.Tensor5D, outs[1] as tf.Tensor5D],
      edges: outs.length === 4 ? [outs[2] as tf.Tensor5D, outs[3] as tf.Tensor5D] : null,
    };
  }

  /** `combine_flow`: predicted flow inside the hole, the given flow outside, per direction. */
  combineFlow(flows: [tf.Tensor5D, tf.Tensor5D], preds: [tf.Tensor5D, tf.Tensor5D], masks: tf.Tensor5D): [tf.Tensor5D, tf.Tensor5D] {
    checkFlowsMasks(flows, masks);
    return tf.tidy(() => {
      const [mF, mB] = splitMasks(masks);
      const comb = (gt: tf.Tensor, pred: tf.Tensor, m: tf.Tensor) => tf.add(tf.mul(pred, m), tf.mul(gt, tf.sub(1, m))) as tf.Tensor5D;
      return [comb(flows[0], preds[0], mF), comb(flows[1], preds[1], mB)] as [tf.Tensor5D, tf.Tensor5D];
    });
  }
}

function checkFlowsMasks(flows: [tf.Tensor, tf.Tensor], masks: tf.Tensor): void {
  const [f, bk] = flows;
  const ms = masks.shape;
  const ok = (s: number[]) => s.length === 5 && s[4] === 2 && s[0] === ms[0] && s[1] === ms[1]! - 1 && s[2] === ms[2] && s[3] === ms[3];
  if (masks.rank !== 5 || masks.shape[4] !== 1) throw new Error(`flow completion: masks must be [B, T, H, W, 1], got [${masks.shape}]`);
  if (!ok(f.shape) || !ok(bk.shape)) {
    throw new Error(`flow completion: flows [${f.shape}] / [${bk.shape}] must be [B, T-1, H, W, 2] for masks [${masks.shape}]`);
  }
}

/** masks[:, :-1] and masks[:, 1:] through a rank-3 view. */
function splitMasks(masks: tf.Tensor5D): [tf.Tensor5D, tf.Tensor5D] {
  const [b, t, h, w, c] = masks.shape;
  const flat = tf.reshape(masks, [b, t, h * w * c]);
  const shape: [number, number, number, number, number] = [b, t - 1, h, w, c];
  return [
    tf.reshape(tf.slice(flat, [0, 0, 0], [b, t - 1, -1]), shape) as tf.Tensor5D,
    tf.reshape(tf.slice(flat, [0, 1, 0], [b, t - 1, -1]), shape) as tf.Tensor5D,
  ];
}

/** torch.flip(x, dims=[1]) through a rank-3 view. */
export function flipTime<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => {
    const [b, t] = x.shape;
    return tf.reshape(tf.reverse(tf.reshape(x, [b, t, -1]), 1), x.shape) as T;
  });
}
