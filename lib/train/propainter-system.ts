/**
 * ProPainter training (core/trainer.py, spec §10.5). Per micro-batch: GT flows of the local
 * frames (frozen RAFT or .flo), frozen flow completion (`forward_bidirect_flow` + `combine_flow`,
 * eval mode), parameter-free image propagation, the generator in training mode on the updated
 * frames (all T frames decoded), then the generator loss terms of the registry (hole, valid,
 * perceptual/style/LPIPS when weighted, adversarial through the discriminator, whose parameters
 * get no gradient in this step). Then the discriminator step on `comp.detach()`:
 * ½·(adv(D(gt), real) + adv(D(comp), fake)). Networks come from the registry by config name.
 */
import * as tf from '@tensorflow/tfjs-core';
import { imgPropagation, inpaintClip } from '../models/propainter';
import { completeFlows } from '../models/flow-completion';
import { FlowCompleter, VideoDiscriminator, VideoInpainter, buildNetwork } from '../models/networks';
import type { RAFT } from '../models/raft';
import { LPIPS, loadLpips } from '../models/lpips';
import { framesRange } from '../ops/frames';
import { LossNetworks, activeTerms, adversarialLoss, lossContext, weightedLoss } from '../losses';
import { psnr, ssim } from '../eval/metrics';
import type { BatchTensors } from '../data/tensors';
import type { Sample } from '../data/sample';
import type { TrainConfig } from './config';
import type { Adam } from './optim';
import type { CheckpointContents } from './checkpoint';
import { comparisonGrid, frameGrid, maskOverlay, RgbImage } from '../viz/image';
import { frozenRaft, groundTruthFlows } from './flowcomp-system';
import {
  CheckpointedParts, Log, StepContext, StepResult, SystemState, TrainingSystem, ValidationSample, accumulate, adamFor, applyGradients,
  flowCompletionWeights, loadFrozen, loadInitWeights, loadPartsState, namedGrads, partsState, raftWeights, readScalar,
} from './system';

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
  readonly net: VideoInpainter;
  readonly dis: VideoDiscriminator | null;
  readonly flowNet: FlowCompleter;
  readonly raft: RAFT | null;
  readonly optG: Adam;
  readonly optD: Adam | null;
  /** Frozen networks of the loss terms (VGG19, LPIPS), created when a term first needs them. */
  readonly lossNets: LossNetworks;
  /** The validation LPIPS metric's network, created at the first validation. */
  private lpipsMetric: LPIPS | null = null;

  constructor(readonly config: TrainConfig, private readonly log: Log) {
    const n = config.networks;
    // Frozen networks' weights are looked up first: a missing file fails before any build.
    const flowFrom = flowCompletionWeights(config);
    const raftFrom = config.datasets.train.load_flow ? null : raftWeights(config);
    this.net = buildNetwork('generator', n.generator);
    if (n.init_generator) loadInitWeights(this.net, n.init_generator, 'networks.init_generator', config, log, 'generator');
    this.net.train();
    this.dis = n.discriminator === 'none' ? null : buildNetwork('discriminator', n.discriminator, { useSigmoid: config.loss.gan_type !== 'hinge' });
    if (this.dis && n.init_discriminator) loadInitWeights(this.dis, n.init_discriminator, 'networks.init_discriminator', config, log, 'discriminator');
    this.dis?.train();
    this.flowNet = buildNetwork('flow_completion', n.flow_net);
    loadFrozen(this.flowNet, flowFrom, config, log);
    n.flow_completion = flowFrom.record;
    this.raft = raftFrom ? frozenRaft(config, log, raftFrom) : null;
    this.lossNets = new LossNetworks(() => this.config.loss, log);
    this.optG = adamFor(this.net, config);
    this.optD = this.dis ? adamFor(this.dis, config) : null;
  }

  /** Flows, flow completion and image propagation of one clip (spec §10.5 steps 2–4). */
  private prepare(b: BatchTensors, lt: number, interp: 'nearest' | 'bilinear'): Prepared {
    const t = b.frames.shape[1];
    const local = framesRange(b.frames, 0, lt) as tf.Tensor5D;
    const localMasks = framesRange(b.masks, 0, lt) as tf.Tensor5D;
    const gt = groundTruthFlows(b, local, this.raft, this.config.networks.raft_iters);
    const flows = completeFlows(this.flowNet, gt, localMasks);
    const out = tf.tidy(() => {
      const masked = tf.mul(b.frames, tf.sub(1, b.masks));
      const prop = imgPropagation(framesRange(masked, 0, lt), flows, localMasks, interp);
      const propLocal = tf.add(tf.mul(local, tf.sub(1, localMasks)), tf.mul(prop.frames, localMasks)) as tf.Tensor5D;
      const rest = (x: tf.Tensor) => framesRange(x, lt, t - lt);
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
    this.lossNets.ensure(activeTerms('generator', cfg.loss));
    const sums: Record<string, number> = {};
    const add = (k: string, v: number) => (sums[k] = (sums[k] ?? 0) + v);
    const comps: tf.Tensor5D[] = [];
    let gradsG: Map<string, tf.Tensor> | null = null;
    let images: Record<string, RgbImage> | undefined;
    const dis = this.dis;
    // ---- generator step (D parameters frozen: they are not among the differentiated variables) ----
    for (const b of batches) {
      const p = this.prepare(b, lt, cfg.networks.interp_mode);
      let parts: Record<string, tf.Scalar> = {};
      let pred: tf.Tensor5D | null = null;
      const { value, grads } = namedGrads(() => {
        const out = this.net.forward(p.updatedFrames, p.flows, p.masks, p.updatedMasks, lt);
        const comp = tf.add(tf.mul(p.frames, tf.sub(1, p.masks)), tf.mul(out, p.masks)) as tf.Tensor5D;
        comps.push(tf.keep(comp));
        if (ctx.wantImages && !images) pred = tf.keep(out);
        const inputs = { pred: out, gt: p.frames, masks: p.masks, comp, discriminator: dis ? (v: tf.Tensor5D) => dis.forward(v) : null };
        const r = weightedLoss('generator', cfg.loss, inputs, lossContext(cfg.loss, this.lossNets));
        parts = Object.fromEntries(Object.entries(r.parts).map(([k, t]) => [k, tf.keep(t)]));
        return r.total;
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
    const normG = applyGradients('G', this.optG, gradsG!, ctx.lr, batches.length, cfg, ctx);
    // ---- discriminator step on the detached compositions ----
    let normD: number | null = null;
    if (dis && this.optD) {
      let gradsD: Map<string, tf.Tensor> | null = null;
      batches.forEach((b, i) => {
        // ½·(real + fake) differentiated one term at a time (same D calls in the same order, so the
        // same spectral-norm updates): one discriminator tape alive at a time.
        let total = 0;
        for (const [key, input, isReal] of [['loss/dis_vid_real', b.frames, true], ['loss/dis_vid_fake', comps[i], false]] as const) {
          let term: tf.Scalar | null = null;
          const { value, grads } = namedGrads(() => {
            term = tf.keep(adversarialLoss(cfg.loss.gan_type, dis.forward(input as tf.Tensor5D), isReal, true));
            return tf.mul(term, 0.5) as tf.Scalar;
          }, dis.namedParameters());
          total += readScalar(value);
          add(key, readScalar(term!));
          gradsD = accumulate(gradsD, grads);
        }
        add('loss/dis_loss', total);
      });
      normD = applyGradients('D', this.optD, gradsD!, ctx.lrD, batches.length, cfg, ctx);
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
    const val = this.config.datasets.val;
    if (val?.lpips && !this.lpipsMetric) this.lpipsMetric = loadLpips(val.lpips, val.lpips_net, { trunk: val.lpips_trunk });
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
      if (this.lpipsMetric) {
        const d = tf.tidy(() => {
          const a = tf.sub(tf.div(tf.tensor4d(comp, [1, H, W, 3], 'float32'), 127.5), 1) as tf.Tensor4D;
          const b = tf.sub(tf.div(tf.tensor4d(ref, [1, H, W, 3], 'float32'), 127.5), 1) as tf.Tensor4D;
          return this.lpipsMetric!.forward(a, b);
        });
        lp += readScalar(d);
      }
    }
    const out: Record<string, number> = { psnr: ps / T, ssim: ss / T };
    if (this.lpipsMetric) out.lpips = lp / T;
    const images = opts.images ? { [`val/${s.name}:masked-result-gt`]: comparisonGrid(rows) } : undefined;
    return { metrics: out, weight: T, images };
  }

  private get parts(): CheckpointedParts {
    return { gen: [this.net, this.optG], dis: this.dis && this.optD ? [this.dis, this.optD] : null };
  }

  state(): SystemState {
    return partsState(this.parts);
  }

  loadState(s: CheckpointContents, source: string): void {
    loadPartsState(this.parts, s, source, this.config, this.log);
  }

  dispose(): void {
    for (const m of [this.net, this.dis, this.flowNet, this.raft, this.lpipsMetric]) m?.dispose();
    this.lossNets.dispose();
    this.optG.dispose();
    this.optD?.dispose();
  }
}
