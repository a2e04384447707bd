/**
 * ProPainter training (core/trainer.py, spec §10.5). Per micro-batch: GT flows of the local
 * frames (frozen RAFT or .flo), frozen flow completion (`forward_bidirect_flow` + `combine_flow`,
 * eval mode), parameter-free image propagation, the generator in training mode on the updated
 * frames (all T frames decoded), hole/valid L1 (+ VGG19 perceptual/style when weighted) and the
 * adversarial term through the discriminator, whose parameters get no gradient in this step.
 * Then the discriminator step on `comp.detach()`: ½·(hinge(D(gt), real) + hinge(D(comp), fake)).
 */
import * as tf from '@tensorflow/tfjs-core';
import { InpaintGenerator, imgPropagation, inpaintClip } from '../models/propainter';
import { RecurrentFlowCompleteNet, completeFlows } from '../models/flow-completion';
import { Discriminator, Discriminator2D, createDiscriminator } from '../models/discriminator';
import type { RAFT } from '../models/raft';
import type { VGGFeatureExtractor } from '../models/vgg';
import type { LPIPS } from '../models/lpips';
import { adversarialLoss, holeLoss, perceptualLoss, validLoss } from '../losses';
import { psnr, ssim } from '../eval/metrics';
import type { BatchTensors } from '../data/tensors';
import type { Sample } from '../data/sample';
import type { TrainConfig } from './config';
import type { Adam } from './optim';
import { comparisonGrid, frameGrid, maskOverlay, RgbImage } from '../viz/image';
import { frozenRaft, groundTruthFlows } from './flowcomp_system';
import {
  Log, StepContext, StepResult, SystemState, TrainingSystem, accumulate, adamFor, clipRange, flattenTime, loadNetworkWeights,
  namedGrads, optimizerStep, readScalar, ValidationSample,
} from './system';

const PERCEPTUAL_LAYERS: Record<string, number> = { conv3_4: 0.25, conv4_4: 0.25, conv5_4: 0.5 };

/** What the generator sees for one clip, all off the tape. */
interface Prepared {
  frames: tf.Tensor5D;
  masks: tf.Tensor5D;
  flows: [tf.Tensor5D, tf.Tensor5D];
  updatedFrames: tf.Tensor5D;
  updatedMasks: tf.Tensor5D;
  propLocal: tf.Tensor5D;
}

/** SSIM with the official 65-pixel window, or the largest odd window that fits smaller frames. */
export function ssimWindow(h: number, w: number): number {
  const m = Math.min(h, w, 65);
  return m % 2 ? m : m - 1;
}

export class ProPainterSystem implements TrainingSystem {
  readonly net: InpaintGenerator;
  readonly dis: Discriminator | Discriminator2D | null;
  readonly flowNet: RecurrentFlowCompleteNet;
  readonly raft: RAFT | null;
  readonly vgg: VGGFeatureExtractor | null;
  lpips: LPIPS | null = null;
  readonly optG: Adam;
  readonly optD: Adam | null;

  constructor(readonly config: TrainConfig, private readonly log: Log) {
    const n = config.networks;
    this.net = new InpaintGenerator();
    if (n.init_generator) loadNetworkWeights(this.net, n.init_generator, 'networks.init_generator', false, log, 'generator (init)');
    this.net.train();
    this.dis = n.discriminator ? createDiscriminator({ dis2d: n.dis_2d, useSigmoid: config.loss.gan_type !== 'hinge' }) : null;
    if (this.dis && n.init_discriminator) loadNetworkWeights(this.dis, n.init_discriminator, 'networks.init_discriminator', false, log, 'discriminator (init)');
    this.dis?.train();
    this.flowNet = new RecurrentFlowCompleteNet();
    loadNetworkWeights(this.flowNet, n.flow_completion, 'networks.flow_completion', n.allow_det_init, log, 'flow completion (frozen)');
    this.flowNet.requiresGrad(false);
    this.flowNet.eval();
    this.raft = config.datasets.train.load_flow ? null : frozenRaft(config, log);
    const l = config.loss;
    if (l.perceptual_weight > 0 || l.style_weight > 0) {
      if (!l.vgg) throw new Error('loss.vgg: perceptual/style losses need VGG19 weights (torchvision vgg19-dcbb9e9d.pth); set loss.vgg or the weights to 0');
      const { loadVgg19 } = require('../models/vgg') as typeof import('../models/vgg');
      this.vgg = loadVgg19(l.vgg, Object.keys(PERCEPTUAL_LAYERS), { useInputNorm: true, rangeNorm: true });
      log(`perceptual/style loss: VGG19 ${Object.keys(PERCEPTUAL_LAYERS).join(', ')} from ${l.vgg}`);
    } else this.vgg = null;
    const val = config.datasets.val;
    if (val?.lpips) {
      const { loadLpips } = require('../models/lpips') as typeof import('../models/lpips');
      this.lpips = loadLpips(val.lpips, val.lpips_net, { trunk: val.lpips_trunk });
    }
    this.optG = adamFor(this.net, config);
    this.optD = this.dis ? adamFor(this.dis, config) : null;
  }

  /** Flows, flow completion and image propagation of one clip (spec §10.5 steps 2–4). */
  private prepare(b: BatchTensors, lt: number, interp: 'nearest' | 'bilinear'): Prepared {
    const t = b.frames.shape[1];
    const local = clipRange(b.frames, 0, lt);
    const localMasks = clipRange(b.masks, 0, lt);
    const gt = groundTruthFlows(b, local, this.raft, this.config.networks.raft_iters);
    const flows = completeFlows(this.flowNet, gt, localMasks);
    const out = tf.tidy(() => {
      const masked = tf.mul(b.frames, tf.sub(1, b.masks));
      const prop = imgPropagation(clipRange(masked, 0, lt), flows, localMasks, interp);
      const propLocal = tf.add(tf.mul(local, tf.sub(1, localMasks)), tf.mul(prop.frames, localMasks)) as tf.Tensor5D;
      const rest = (x: tf.Tensor) => clipRange(x, lt, t - lt);
      return {
        updatedFrames: (t > lt ? tf.concat([propLocal, rest(masked)], 1) : propLocal) as tf.Tensor5D,
        updatedMasks: (t > lt ? tf.concat([prop.masks, rest(b.masks)], 1) : tf.clone(prop.masks)) as tf.Tensor5D,
        propLocal,
      };
    });
    tf.dispose([local, localMasks, ...gt]);
    return { frames: b.frames, masks: b.masks, flows, ...out };
  }

  trainStep(batches: BatchTensors[], ctx: StepContext): StepResult {
    const cfg = this.config;
    const lt = cfg.datasets.train.num_local_frames;
    const w = {
      hole: cfg.loss.hole_weight ?? cfg.loss.l1_weight,
      valid: cfg.loss.valid_weight ?? cfg.loss.l1_weight,
      adv: cfg.loss.adversarial_weight,
      perc: cfg.loss.perceptual_weight,
      style: cfg.loss.style_weight,
    };
    const sums: Record<string, number> = {};
    const add = (k: string, v: number) => (sums[k] = (sums[k] ?? 0) + v);
    const comps: tf.Tensor5D[] = [];
    let gradsG: Map<string, tf.Tensor> | null = null;
    let images: Record<string, RgbImage> | undefined;
    // ---- generator step (D parameters frozen: they are not among the differentiated variables) ----
    for (const b of batches) {
      const p = this.prepare(b, lt, cfg.networks.interp_mode);
      const parts: Record<string, tf.Scalar> = {};
      let pred: tf.Tensor5D | null = null;
      const { value, grads } = namedGrads(() => {
        const out = this.net.forward(p.updatedFrames, p.flows, p.masks, p.updatedMasks, lt);
        const comp = tf.add(tf.mul(p.frames, tf.sub(1, p.masks)), tf.mul(out, p.masks)) as tf.Tensor5D;
        comps.push(tf.keep(comp));
        if (ctx.wantImages && !images) pred = tf.keep(out);
        const terms: tf.Scalar[] = [];
        const term = (name: string, t: tf.Scalar) => {
          parts[name] = tf.keep(t);
          terms.push(t);
        };
        term('loss/hole_loss', tf.mul(holeLoss(out, p.frames, p.masks), w.hole) as tf.Scalar);
        term('loss/valid_loss', tf.mul(validLoss(out, p.frames, p.masks), w.valid) as tf.Scalar);
        if (this.vgg && (w.perc > 0 || w.style > 0)) {
          const fx = this.vgg.forward(flattenTime(out));
          const fg = this.vgg.forward(flattenTime(p.frames));
          const r = perceptualLoss(fx, fg, { layerWeights: PERCEPTUAL_LAYERS, perceptualWeight: w.perc, styleWeight: w.style });
          if (r.perceptual) term('loss/perc_loss', r.perceptual);
          if (r.style) term('loss/style_loss', r.style);
        }
        if (this.dis && w.adv > 0) term('loss/gan_loss', tf.mul(adversarialLoss(cfg.loss.gan_type, this.dis.forward(comp), true, false), w.adv) as tf.Scalar);
        return tf.addN(terms) as tf.Scalar;
      }, this.net.namedParameters());
      add('loss/gen_loss', readScalar(value));
      for (const [k, t] of Object.entries(parts)) add(k, readScalar(t));
      gradsG = accumulate(gradsG, grads);
      if (pred) {
        images = this.sampleImages(p, pred);
        (pred as tf.Tensor).dispose();
      }
      tf.dispose([p.flows[0], p.flows[1], p.updatedFrames, p.updatedMasks, p.propLocal]);
    }
    const normG = optimizerStep(this.optG, gradsG!, ctx.lr, batches.length, cfg.grad_clip);
    // ---- discriminator step on the detached compositions ----
    let normD: number | null = null;
    if (this.dis && this.optD) {
      let gradsD: Map<string, tf.Tensor> | null = null;
      batches.forEach((b, i) => {
        // ½·(real + fake) differentiated one term at a time (same D calls in the same order, so the
        // same spectral-norm updates): one discriminator tape alive at a time.
        let total = 0;
        for (const [key, input, isReal] of [['loss/dis_vid_real', b.frames, true], ['loss/dis_vid_fake', comps[i], false]] as const) {
          let term: tf.Scalar | null = null;
          const { value, grads } = namedGrads(() => {
            term = tf.keep(adversarialLoss(cfg.loss.gan_type, this.dis!.forward(input as tf.Tensor5D), isReal, true));
            return tf.mul(term, 0.5) as tf.Scalar;
          }, this.dis!.namedParameters());
          total += readScalar(value);
          add(key, readScalar(term!));
          gradsD = accumulate(gradsD, grads);
        }
        add('loss/dis_loss', total);
      });
      normD = optimizerStep(this.optD, gradsD!, ctx.lrD, batches.length, cfg.grad_clip);
    }
    tf.dispose(comps);
    const scalars: Record<string, number> = {};
    for (const [k, v] of Object.entries(sums)) scalars[k] = v / batches.length;
    if (normG !== null) scalars['grad_norm/G'] = normG;
    if (normD !== null) scalars['grad_norm/D'] = normD;
    return { scalars, images };
  }

  /** Sample 0, frames 0 and 5: masked input / GT / propagated / prediction (official TensorBoard images). */
  private sampleImages(p: Prepared, pred: tf.Tensor5D): Record<string, RgbImage> {
    const [, t, h, w] = p.frames.shape;
    const lt = p.propLocal.shape[1];
    const frame = (x: tf.Tensor, i: number) => tf.tidy(() => ({ shape: [h, w, 3], data: tf.slice(x, [0, i, 0, 0, 0], [1, 1, h, w, 3]).dataSync() }));
    const out: Record<string, RgbImage> = {};
    for (const i of [0, 5]) {
      if (i >= lt || i >= t) continue;
      const masked = tf.tidy(() => tf.mul(p.frames, tf.sub(1, p.masks)));
      out[`img/img:inp-gt-res-${i}`] = frameGrid([frame(masked, i), frame(p.frames, i), frame(p.propLocal, i), frame(pred, i)], { cols: 1 });
      masked.dispose();
    }
    return out;
  }

  /**
   * One held-out video (eval mode, a single window with every frame local): flows, completion,
   * propagation, generator; the output pasted into the hole as uint8 (truncated, as the official
   * scripts), then PSNR / SSIM per frame against the resized ground truth, and LPIPS if loaded.
   */
  async validateSample(s: Sample, opts: { images?: boolean } = {}): Promise<ValidationSample> {
    const { T, H, W } = s;
    const frames = tf.tensor5d(s.frames, [1, T, H, W, 3]);
    const masks = tf.tensor5d(s.masks, [1, T, H, W, 1]);
    const batch: BatchTensors = {
      frames,
      masks,
      flowsF: s.flowsF ? tf.tensor5d(s.flowsF, [1, T - 1, H, W, 2]) : null,
      flowsB: s.flowsB ? tf.tensor5d(s.flowsB, [1, T - 1, H, W, 2]) : null,
    };
    const p = this.prepare(batch, T, 'nearest');
    const pred = inpaintClip(this.net, { frames: p.updatedFrames, flows: p.flows, masksIn: masks, masksUpdated: p.updatedMasks, numLocal: T });
    const predData = pred.dataSync();
    tf.dispose([pred, p.flows[0], p.flows[1], p.updatedFrames, p.updatedMasks, p.propLocal, frames, masks, ...(batch.flowsF ? [batch.flowsF, batch.flowsB!] : [])]);
    const gt = s.framesU8!;
    const n = H * W * 3;
    const win = ssimWindow(H, W);
    let ps = 0;
    let ss = 0;
    let lp = 0;
    const shown = opts.images ? [...new Set([0, Math.floor(T / 2), T - 1])] : [];
    const rows: RgbImage[][] = [[], [], []];
    for (let t = 0; t < T; t++) {
      const comp = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const hole = s.masks[t * H * W + Math.floor(i / 3)] > 0.5;
        comp[i] = hole ? Math.trunc(((predData[t * n + i] + 1) / 2) * 255) : gt[t * n + i];
      }
      const ref = gt.subarray(t * n, (t + 1) * n);
      if (shown.includes(t)) {
        const truth = { width: W, height: H, data: ref.slice() };
        rows[0].push(maskOverlay(truth, s.masks.subarray(t * H * W, (t + 1) * H * W)));
        rows[1].push({ width: W, height: H, data: comp });
        rows[2].push(truth);
      }
      const p1 = psnr(comp, ref);
      // A frame identical to the ground truth (PSNR = ∞) counts as 100 dB so the mean stays plottable.
      ps += Number.isFinite(p1) ? p1 : 100;
      ss += ssim(comp, ref, H, W, 3, { winSize: win });
      if (this.lpips) {
        const d = tf.tidy(() => {
          const a = tf.sub(tf.div(tf.tensor4d(comp, [1, H, W, 3], 'float32'), 127.5), 1) as tf.Tensor4D;
          const b = tf.sub(tf.div(tf.tensor4d(ref, [1, H, W, 3], 'float32'), 127.5), 1) as tf.Tensor4D;
          return this.lpips!.forward(a, b);
        });
        lp += readScalar(d);
      }
    }
    const out: Record<string, number> = { psnr: ps / T, ssim: ss / T };
    if (this.lpips) out.lpips = lp / T;
    const images = opts.images ? { [`val/${s.name}:masked-result-gt`]: comparisonGrid(rows) } : undefined;
    return { metrics: out, weight: T, images };
  }

  state(): SystemState {
    const optimizers: Record<string, import('../io/host-tensor').StateDict> = { G: this.optG.stateDict() };
    if (this.optD) optimizers.D = this.optD.stateDict();
    return { gen: this.net.stateDict(), dis: this.dis?.stateDict(), optimizers };
  }

  loadState(s: SystemState, source: string): void {
    const load = (m: { loadStateDict(d: import('../io/host-tensor').StateDict): unknown }, d: import('../io/host-tensor').StateDict, what: string) => {
      try {
        m.loadStateDict(d);
      } catch (e) {
        (e as Error).message = `${source} (${what}): ${(e as Error).message}`;
        throw e;
      }
    };
    load(this.net, s.gen, 'gen');
    if (this.dis) {
      if (!s.dis) throw new Error(`${source}: no discriminator weights (dis_NNNNNN.safetensors)`);
      load(this.dis, s.dis, 'dis');
    }
    if (!s.optimizers.G) throw new Error(`${source}: no optimizer state "G"`);
    this.optG.loadStateDict(s.optimizers.G, `${source} (optimizer G)`);
    if (this.optD) {
      if (!s.optimizers.D) throw new Error(`${source}: no optimizer state "D"`);
      this.optD.loadStateDict(s.optimizers.D, `${source} (optimizer D)`);
    }
    this.log(`resumed from ${source}`);
  }

  dispose(): void {
    for (const m of [this.net, this.dis, this.flowNet, this.raft, this.vgg, this.lpips]) m?.dispose();
    this.optG.dispose();
    this.optD?.dispose();
  }
}
