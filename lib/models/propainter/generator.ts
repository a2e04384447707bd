/**
 * ProPainter's `InpaintGenerator` (model/propainter.py) on channels-last clips.
 *
 * forward(frames [B, T, H, W, 3] in [-1, 1] (image-propagated frames, local then reference),
 *         flows ([B, lt-1, H, W, 2] forward, backward; dx, dy in pixels, between the local frames),
 *         masksIn / masksUpdated [B, T, H, W, 1], numLocal = lt)
 *   eval:  → [B, lt, H, W, 3] (only the local frames are decoded; attention windows from the local masks)
 *   train: → [B, T, H, W, 3]  (all frames decoded; attention windows from all frames' masks)
 *
 * State-dict keys, shapes and order are those of ProPainter.pth; 39,429,667 parameters.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../../nn/module';
import { Conv2d, LeakyReLU, Sequential } from '../../nn/layers';
import { Encoder } from './encoder';
import { Deconv, pipe, splitFrames } from './layers';
import { flattenClip, framesRange } from '../../ops/frames';
import { checkpointFrameChunks } from '../../nn/chunks';
import { FeaturePropagation, WarpMode, imgPropagation } from './propagation';
import { SoftComp, SoftSplit, TemporalSparseTransformerBlock } from './transformer';
import { attentionWindowFlags } from './masks';
import { checkpointing } from '../../runtime/checkpoint';
import { patchCount } from './t2t';

export interface GeneratorOptions {
  /** Feature-warp mode of the feature propagation (official default 'bilinear'). */
  interpolation?: WarpMode;
  /** Temporal dilation of the masked windows' key frames (official default 2). */
  tDilation?: number;
  /**
   * Receives named intermediates while they are alive (copy them out synchronously):
   * encoder [B·T, h, w, 128], feat_prop [B, lt, h, w, 128], ss / transformers [B, T, fh, fw, 512],
   * sc [B·T, h, w, 128], decoder (before tanh) [B·n, H, W, 3].
   */
  debug?: (name: string, t: tf.Tensor) => void;
}

/** `F.interpolate(flow, scale 1/4, bilinear, align_corners=False) / 4` for H, W multiples of 4. */
export function downsampleFlow(flow: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [b, n, hh, ww, c] = flow.shape;
    const h = hh / 4;
    const w = ww / 4;
    // Rows 4i+1 and 4i+2 (a contiguous run per block row), summed.
    const rows = tf.slice(tf.reshape(flow, [b * n * h, 4 * ww * c]), [0, ww * c], [b * n * h, 2 * ww * c]);
    const rsum = tf.sum(tf.reshape(rows, [b * n * h, 2, ww * c]), 1);
    // Columns 4j+1, 4j+2 of each block, averaged over the 4 pixels and divided by 4: a tiny matMul.
    const sel = new Float32Array(4 * c * c);
    for (let ch = 0; ch < c; ch++) {
      sel[(1 * c + ch) * c + ch] = 1 / 16;
      sel[(2 * c + ch) * c + ch] = 1 / 16;
    }
    const out = tf.matMul(tf.reshape(rsum, [b * n * h * w, 4 * c]), tf.tensor2d(sel, [4 * c, c]));
    return tf.reshape(out, [b, n, h, w, c]);
  });
}

/** `F.interpolate(mask, scale 1/4, nearest)`: pixel (4i, 4j) of every 4×4 block. */
export function downsampleMask(mask: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [b, n, hh, ww, c] = mask.shape;
    const h = hh / 4;
    const w = ww / 4;
    const rows = tf.slice(tf.reshape(mask, [b * n * h, 4 * ww * c]), [0, 0], [b * n * h, ww * c]);
    const sel = new Float32Array(4 * c * c);
    for (let ch = 0; ch < c; ch++) sel[ch * c + ch] = 1;
    const out = tf.matMul(tf.reshape(rows, [b * n * h * w, 4 * c]), tf.tensor2d(sel, [4 * c, c]));
    return tf.reshape(out, [b, n, h, w, c]);
  });
}

export class InpaintGenerator extends Module {
  readonly encoder: Encoder;
  readonly decoder: Sequential;
  readonly ss: SoftSplit;
  readonly sc: SoftComp;
  readonly feat_prop_module: FeaturePropagation;
  readonly transformers: TemporalSparseTransformerBlock;
  readonly channel = 128;
  readonly hidden = 512;
  readonly window: [number, number] = [5, 9];

  constructor() {
    super();
    this.encoder = this.registerModule('encoder', new Encoder());
    this.decoder = this.registerModule(
      'decoder',
      new Sequential([
        new Deconv(128, 128, 3, 1), new LeakyReLU(0.2),
        new Conv2d(128, 64, 3, { padding: 1 }), new LeakyReLU(0.2),
        new Deconv(64, 64, 3, 1), new LeakyReLU(0.2),
        new Conv2d(64, 3, 3, { padding: 1 }),
      ]),
    );
    this.ss = this.registerModule('ss', new SoftSplit(this.channel, this.hidden));
    this.sc = this.registerModule('sc', new SoftComp(this.channel, this.hidden));
    // img_prop_module has no parameters: see imgPropagation().
    this.feat_prop_module = this.registerModule('feat_prop_module', new FeaturePropagation(this.channel));
    this.transformers = this.registerModule('transformers', new TemporalSparseTransformerBlock(this.hidden, 4, this.window, [4, 4], 8));
  }

  /**
   * Non-learnable image propagation (`img_propagation`): maskedFrames [B, T, H, W, 3], full-clip
   * completed flows [B, T-1, H, W, 2] each, masks [B, T, H, W, 1] → propagated frames, updated masks.
   */
  imgPropagation(maskedFrames: tf.Tensor, flows: readonly [tf.Tensor, tf.Tensor], masks: tf.Tensor, interpolation: WarpMode = 'nearest') {
    return imgPropagation(maskedFrames, flows, masks, interpolation);
  }

  forward(
    frames: tf.Tensor,
    flows: readonly [tf.Tensor, tf.Tensor],
    masksIn: tf.Tensor,
    masksUpdated: tf.Tensor,
    numLocal: number,
    opts: GeneratorOptions = {},
  ): tf.Tensor5D {
    const [b, t, hh, ww, c3] = frames.shape;
    const lt = numLocal;
    const where = 'InpaintGenerator.forward';
    if (frames.rank !== 5 || c3 !== 3) throw new Error(`${where}: frames must be [B, T, H, W, 3], got [${frames.shape}]`);
    if (hh % 4 !== 0 || ww % 4 !== 0) throw new Error(`${where}: H and W must be multiples of 4, got ${hh}x${ww}`);
    if (!Number.isInteger(lt) || lt < 1 || lt > t) throw new Error(`${where}: numLocal ${lt} outside 1..${t}`);
    for (const [name, m] of [['masksIn', masksIn], ['masksUpdated', masksUpdated]] as const) {
      const want = [b, t, hh, ww, 1];
      if (m.shape.length !== 5 || m.shape.some((d, i) => d !== want[i])) throw new Error(`${where}: ${name} must be [${want}], got [${m.shape}]`);
    }
    for (const [name, f] of [['flows[0]', flows[0]], ['flows[1]', flows[1]]] as const) {
      const want = [b, lt - 1, hh, ww, 2];
      if (f.shape.length !== 5 || f.shape.some((d, i) => d !== want[i])) throw new Error(`${where}: ${name} must be [${want}], got [${f.shape}]`);
    }
    const debug = opts.debug;
    const tDilation = opts.tDilation ?? 2;
    // Attention windows: decided on the host from the mask data (all frames in training, local ones in eval).
    const flags = attentionWindowFlags(masksIn.dataSync(), masksIn.shape, this.training ? t : lt, this.window);
    return tf.tidy(() => {
      const h = hh / 4;
      const w = ww / 4;
      const ch = this.channel;
      const encIn = tf.concat([flattenClip(frames), flattenClip(masksIn), flattenClip(masksUpdated)], 3) as tf.Tensor4D;
      // In training every stage is cut into checkpointed segments (recomputed in the backward;
      // runtime/checkpoint.ts): the step's peak memory is the boundaries plus one segment.
      // Per frame the encoder's backward holds ~ hh·ww·64 floats (sum over its layers).
      const enc = checkpointing()
        ? checkpointFrameChunks(encIn, this.encoder, (x) => this.encoder.forward(x as tf.Tensor4D), hh * ww * 64)
        : this.encoder.forward(encIn);
      debug?.('encoder', enc);
      const encClip = tf.reshape(enc, [b, t, h, w, ch]);
      const [local, ref] = lt < t ? (splitFrames(encClip, [lt, t - lt]) as tf.Tensor5D[]) : [encClip as tf.Tensor5D, null];
      const noFlow = () => tf.zeros([b, 0, h, w, 2]) as tf.Tensor5D;
      const dsF = lt > 1 ? (downsampleFlow(flows[0]) as tf.Tensor5D) : noFlow();
      const dsB = lt > 1 ? (downsampleFlow(flows[1]) as tf.Tensor5D) : noFlow();
      const dsMaskLocal = downsampleMask(framesRange(masksIn, 0, lt));
      const dsMaskUpdLocal = downsampleMask(framesRange(masksUpdated, 0, lt));
      const m2 = tf.concat([dsMaskLocal, dsMaskUpdLocal], 4) as tf.Tensor5D;
      const propagated = this.feat_prop_module.forward(local, dsF, dsB, m2, opts.interpolation ?? 'bilinear');
      debug?.('feat_prop', propagated);
      const feats = ref ? (tf.concat([propagated, ref], 1) as tf.Tensor5D) : propagated;
      const featsFlat = tf.reshape(feats, [b * t, h, w, ch]) as tf.Tensor4D;
      const fh = patchCount(h);
      const fw = patchCount(w);
      const tokens4 = checkpointFrameChunks(featsFlat, this.ss, (x) => this.ss.forward(x as tf.Tensor4D), fh * fw * this.hidden);
      const hid = this.hidden;
      const tokens = tf.reshape(tokens4, [b, t, fh, fw, hid]) as tf.Tensor5D;
      debug?.('ss', tokens);
      const trans = this.transformers.forward(tokens, h, w, flags, tDilation);
      debug?.('transformers', trans);
      // Soft composition per chunk of frames: its hidden patches are 49·128 wide per token.
      const sc = checkpointFrameChunks(tf.reshape(trans, [b * t, fh, fw, hid]), this.sc, (x) => this.sc.forward(x as tf.Tensor4D, h, w), fh * fw * 49 * ch);
      debug?.('sc', sc);
      const fused = tf.add(featsFlat, sc);
      const n = this.training ? t : lt;
      const decIn = n === t ? fused : tf.reshape(framesRange(tf.reshape(fused, [b, t, h, w, ch]), 0, n), [b * n, h, w, ch]);
      const layers = this.decoder.items.map((m) => (x: tf.Tensor) => (m as unknown as { forward(x: tf.Tensor): tf.Tensor }).forward(x));
      // Full-resolution 64-channel activations dominate: chunk over frames, free each layer's input.
      const dec = checkpointFrameChunks(decIn, this.decoder, (x) => pipe(x, layers), hh * ww * 64);
      debug?.('decoder', dec);
      return tf.reshape(tf.tanh(dec), [b, n, hh, ww, 3]) as tf.Tensor5D;
    });
  }
}
