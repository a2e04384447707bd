/**
 * Flow-completion training (core/trainer_flow_w_edge.py, spec §10.4): ground-truth flows of the
 * local frames from frozen RAFT (eval, no gradient) or from .flo files, Canny edges of those
 * flows, `forward_bidirect_flow` of the flow-completion network named by networks.generator in
 * training mode (flows and edges), the flow loss terms of the registry (flow_weight·(L1 +
 * smoothness) + warp_weight·census + edge_weight·edge by default), one Adam step with the
 * scheduled learning rate.
 */
import * as tf from '@tensorflow/tfjs-core';
import { completeFlows } from '../models/flow-completion';
import { RAFT, raftBi } from '../models/raft';
import { FlowCompleter, buildNetwork } from '../models/networks';
import { flowEdges } from '../ops';
import { flattenClip, framesRange } from '../ops/frames';
import { LossNetworks, activeTerms, lossContext, weightedLoss } from '../losses';
import { epe } from '../eval/metrics';
import type { BatchTensors } from '../data/tensors';
import type { Sample } from '../data/sample';
import type { TrainConfig } from './config';
import type { Adam } from './optim';
import type { CheckpointContents } from './checkpoint';
import { flowToColor } from '../viz/flow';
import { frameGrid, RgbImage } from '../viz/image';
import {
  CheckpointedParts, Log, StepContext, StepResult, SystemState, TrainingSystem, ValidationSample, accumulate, adamFor, applyGradients,
  loadFrozen, loadInitWeights, loadPartsState, namedGrads, partsState, raftWeights, readScalar,
} from './system';

/** Frozen RAFT (eval mode, never on the tape) for ground-truth flows computed on the fly; the weights found are recorded in the config. */
export function frozenRaft(cfg: TrainConfig, log: Log, weights = raftWeights(cfg)): RAFT {
  const raft = new RAFT();
  loadFrozen(raft, weights, cfg, log);
  cfg.networks.raft = weights.record;
  return raft;
}

/** GT flows of a clip [B, L, H, W, 3]: the batch's first L−1 .flo flows, or RAFT's (off the tape). */
export function groundTruthFlows(b: BatchTensors, local: tf.Tensor5D, raft: RAFT | null, iters: number): [tf.Tensor5D, tf.Tensor5D] {
  const n = local.shape[1] - 1;
  if (b.flowsF && b.flowsB) {
    if (b.flowsF.shape[1] < n) throw new Error(`batch has ${b.flowsF.shape[1]} flows per direction, the ${n + 1} local frames need ${n}`);
    return [framesRange(b.flowsF, 0, n) as tf.Tensor5D, framesRange(b.flowsB, 0, n) as tf.Tensor5D];
  }
  if (!raft) {
    throw new Error(
      'no ground-truth flows: this dataset has no .flo flows loaded (datasets.*.load_flow) and RAFT is not loaded ' +
        '(networks.raft is used only when datasets.train.load_flow is false)',
    );
  }
  const { forward, backward } = raftBi(raft, local, { iters });
  return [forward, backward];
}

/** Canny edges of each field of [B, N, H, W, 2] flows → [B, N, H, W, 1] (batch-wide normalisation). */
function edgesOf(flows: tf.Tensor5D): tf.Tensor5D {
  return tf.tidy(() => {
    const [b, n, h, w] = flows.shape;
    return tf.reshape(flowEdges(flattenClip(flows) as tf.Tensor4D), [b, n, h, w, 1]) as tf.Tensor5D;
  });
}

export class FlowCompletionSystem implements TrainingSystem {
  readonly net: FlowCompleter;
  readonly raft: RAFT | null;
  readonly opt: Adam;
  private readonly lossNets: LossNetworks;

  constructor(readonly config: TrainConfig, private readonly log: Log) {
    const raftFrom = config.datasets.train.load_flow ? null : raftWeights(config); // a missing file fails before any build
    this.net = buildNetwork('flow_completion', config.networks.generator);
    if (config.networks.init_generator) loadInitWeights(this.net, config.networks.init_generator, 'networks.init_generator', config, log, 'flow-completion net');
    this.net.train();
    this.raft = raftFrom ? frozenRaft(config, log, raftFrom) : null;
    this.opt = adamFor(this.net, config);
    this.lossNets = new LossNetworks(() => this.config.loss, log);
  }

  trainStep(batches: BatchTensors[], ctx: StepContext): StepResult {
    const cfg = this.config;
    const L = cfg.datasets.train.num_local_frames;
    this.lossNets.ensure(activeTerms('flow', cfg.loss));
    const sums: Record<string, number> = {};
    let grads: Map<string, tf.Tensor> | null = null;
    let images: Record<string, RgbImage> | undefined;
    for (const b of batches) {
      const local = framesRange(b.frames, 0, L) as tf.Tensor5D;
      const localMasks = framesRange(b.masks, 0, L) as tf.Tensor5D;
      const gt = groundTruthFlows(b, local, this.raft, cfg.networks.raft_iters);
      const gtEdges: [tf.Tensor5D, tf.Tensor5D] = [edgesOf(gt[0]), edgesOf(gt[1])];
      let parts: Record<string, tf.Scalar> = {};
      let kept: tf.Tensor[] = [];
      const { value, grads: g } = namedGrads(() => {
        const out = this.net.forwardBidirectFlow(gt, localMasks);
        const r = weightedLoss('flow', cfg.loss, { pred: out.flows, gt, masks: localMasks, frames: local, predEdges: out.edges, gtEdges }, lossContext(cfg.loss, this.lossNets));
        parts = Object.fromEntries(Object.entries(r.parts).map(([k, t]) => [k, tf.keep(t)]));
        if (ctx.wantImages && !images) kept = [tf.keep(out.flows[0]), ...(out.edges ? [tf.keep(out.edges[0])] : [])];
        return r.total;
      }, this.net.namedParameters());
      sums['loss/total'] = (sums['loss/total'] ?? 0) + readScalar(value);
      for (const [k, t] of Object.entries(parts)) sums[k] = (sums[k] ?? 0) + readScalar(t);
      grads = accumulate(grads, g);
      if (kept.length) images = this.sampleImages(gt, gtEdges, localMasks, kept[0] as tf.Tensor5D, kept[1] as tf.Tensor5D | undefined);
      tf.dispose([local, localMasks, ...gt, ...gtEdges, ...kept]);
    }
    const norm = applyGradients('G', this.opt, grads!, ctx.lr, batches.length, cfg, ctx);
    const scalars: Record<string, number> = {};
    for (const [k, v] of Object.entries(sums)) scalars[k] = v / batches.length;
    if (norm !== null) scalars['grad_norm/G'] = norm;
    return { scalars, images };
  }

/** Sample 0, flow index t = min(5, L−2): GT / masked GT / prediction, flows and edges. */
  private sampleImages(gt: tf.Tensor5D[], gtEdges: tf.Tensor5D[], masks: tf.Tensor5D, pred: tf.Tensor5D, predEdge?: tf.Tensor5D): Record<string, RgbImage> {
    const t = Math.min(5, gt[0].shape[1] - 1);
    const out: Record<string, RgbImage> = { 'img/flow-f:gt-pred': this.flowStrip(gt[0], masks, pred, t) };
    if (predEdge) {
      const m = pickFrame(masks, t, 1);
      const ge = pickFrame(gtEdges[0], t, 1);
      const grey = (e: ArrayLike<number>) => ({ shape: [masks.shape[2], masks.shape[3], 1], data: Float32Array.from(e) });
      const gm = Float32Array.from(ge, (v, i) => v * (1 - m[i]));
      out['img/edge-f:gt-pred'] = frameGrid([grey(ge), grey(gm), grey(pickFrame(predEdge, t, 1))], { range: '0..1' });
    }
    return out;
  }

  /** Flow t of sample 0 (default the middle one): GT / GT with the hole blacked out / prediction, one colour scale. */
  private flowStrip(gt: tf.Tensor5D, masks: tf.Tensor5D, pred: tf.Tensor5D, t = Math.floor(gt.shape[1] / 2)): RgbImage {
    const [, , h, w] = gt.shape;
    const m = pickFrame(masks, t, 1);
    const gtF = pickFrame(gt, t, 2);
    let radius = 1e-6;
    for (let i = 0; i < h * w; i++) radius = Math.max(radius, Math.hypot(gtF[2 * i], gtF[2 * i + 1]));
    const color = (f: ArrayLike<number>) => flowToColor({ width: w, height: h, data: f }, { maxRadius: radius });
    const masked = color(gtF);
    for (let i = 0; i < h * w; i++) if (m[i] > 0.5) masked.data.fill(0, 3 * i, 3 * i + 3);
    return frameGrid([color(gtF), masked, color(pickFrame(pred, t, 2))], { range: '0..1' });
  }

  /**
   * EPE of the completed flows against the ground truth over whole frames, both directions
   * (scripts/evaluate_flow_completion.py), weighted by the number of flows.
   */
  async validateSample(s: Sample, opts: { images?: boolean } = {}): Promise<ValidationSample> {
    const cfg = this.config;
    const frames = tf.tensor5d(s.frames, [1, s.T, s.H, s.W, 3]);
    const masks = tf.tensor5d(s.masks, [1, s.T, s.H, s.W, 1]);
    const flows = s.flowsF && s.flowsB
      ? { flowsF: tf.tensor5d(s.flowsF, [1, s.T - 1, s.H, s.W, 2]), flowsB: tf.tensor5d(s.flowsB, [1, s.T - 1, s.H, s.W, 2]) }
      : { flowsF: null, flowsB: null };
    this.net.eval();
    try {
      const gt = groundTruthFlows({ frames, masks, ...flows }, frames, this.raft ?? null, cfg.networks.raft_iters);
      const done = completeFlows(this.net, gt, masks);
      const e = (a: tf.Tensor, b: tf.Tensor) => epe(a.dataSync(), b.dataSync());
      const value = (e(done[0], gt[0]) + e(done[1], gt[1])) / 2;
      const images = opts.images ? { [`val/${s.name}:flow-f:gt-masked-pred`]: this.flowStrip(gt[0], masks, done[0]) } : undefined;
      tf.dispose([...gt, ...done]);
      return { metrics: { epe: value }, weight: s.T - 1, images };
    } finally {
      this.net.train();
      tf.dispose([frames, masks, ...(flows.flowsF ? [flows.flowsF, flows.flowsB!] : [])]);
    }
  }

  private get parts(): CheckpointedParts {
    return { gen: [this.net, this.opt], dis: null };
  }

  state(): SystemState {
    return partsState(this.parts);
  }

  loadState(s: CheckpointContents, source: string): void {
    loadPartsState(this.parts, s, source, this.config, this.log);
  }

  dispose(): void {
    this.net.dispose();
    this.raft?.dispose();
    this.opt.dispose();
    this.lossNets.dispose();
  }
}

/** Frame t of sample 0 of a [1, T, H, W, C] tensor, on the host. */
function pickFrame(x: tf.Tensor5D, t: number, c: number): Float32Array {
  const [, , h, w] = x.shape;
  return tf.tidy(() => tf.slice(x, [0, t, 0, 0, 0], [1, 1, h, w, c]).dataSync() as Float32Array);
}
