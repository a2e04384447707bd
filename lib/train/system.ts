/**
 * A training "system" (Lightning's term, BasicSR's model wrapper): it owns its networks, loss
 * terms and optimizers and knows how to run one optimisation step; the loop (loop.ts) knows
 * nothing about GANs or flows. This file holds the contract and the shared pieces: gradients
 * keyed by parameter name, the one place where gradients meet the optimizer (`applyGradients`),
 * weight files (init, frozen networks, the guide's default locations), and the state of
 * networks + optimizers for checkpoints.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import type { StateDict } from '../io/host-tensor';
import { loadCheckpoint as readWeightFile } from '../io/checkpoint';
import type { Module } from '../nn/module';
import { applyDetInit } from '../init/apply';
import type { RgbImage } from '../viz/image';
import type { BatchTensors } from '../data/tensors';
import type { Sample } from '../data/sample';
import type { TrainConfig } from './config';
import type { CheckpointContents } from './checkpoint';
import { Adam, adamStateFromTorch, clipGradNorm } from './optim';
import { findRuns, trainedWeightsFile } from './run-folder';
import { DEFAULT_RAFT_WEIGHTS } from '../models/raft';

/** Which optimizer a set of gradients belongs to: the trained network (G) or the discriminator (D). */
export type OptimizerRole = 'G' | 'D';

/**
 * Gradients of one process for one optimizer, averaged over grad_accum, before clipping and the
 * update. Data-parallel training averages them across processes here (lib/train/distributed.ts;
 * in place or by returning a new map; replaced tensors are the hook's to dispose).
 */
export type GradientReducer = (role: OptimizerRole, grads: Map<string, tf.Tensor>) => Map<string, tf.Tensor>;

export interface StepContext {
  /** Iterations completed before this one (0 for the first). */
  iteration: number;
  /** Learning rates for this step (generator / flow net, discriminator). */
  lr: number;
  lrD: number;
  /** Produce sample images for logging this step. */
  wantImages: boolean;
  reduceGradients?: GradientReducer;
  /** Set by applyGradients as an optimizer update begins: a step failing after that leaves half-updated weights. */
  updating?: boolean;
}

export interface StepResult {
  /** Named scalars of this step (already read back from the backend). */
  scalars: Record<string, number>;
  images?: Record<string, RgbImage>;
}

export interface SystemState {
  gen: StateDict;
  dis?: StateDict;
  optimizers: Record<string, StateDict>;
}

export type Log = (line: string) => void;

export interface ValidationSample {
  metrics: Record<string, number>;
  weight: number;
  /** With `images`: input / output / ground truth of a few frames (or flows). */
  images?: Record<string, RgbImage>;
}

export interface TrainingSystem {
  /** One optimisation step over `grad_accum` micro-batches (each disposed by the caller). */
  trainStep(batches: BatchTensors[], ctx: StepContext): StepResult;
  /**
   * Metrics of one held-out video (eval mode, no gradients) and its weight in the average over
   * videos (frames for PSNR/SSIM, flows for EPE, as the official evaluation scripts average).
   */
  validateSample(sample: Sample, opts?: { images?: boolean }): Promise<ValidationSample>;
  state(): SystemState;
  /** Restores networks and optimizers from a checkpoint of ours or an official set. */
  loadState(s: CheckpointContents, source: string): void;
  /** The trained network (generator or flow-completion net). */
  readonly net: Module;
  /** The discriminator trained beside it, if any (data-parallel ranks share its weights too). */
  readonly dis?: Module | null;
  dispose(): void;
}

/**
 * Gradients of `loss` w.r.t. `params`, keyed by parameter name. `loss` runs on the tape; the
 * returned value is the loss (kept). Only the listed variables get gradients, so frozen networks
 * used inside `loss` (the discriminator during the generator step) are left alone.
 */
export function namedGrads(loss: () => tf.Scalar, params: Array<[string, tf.Variable]>): { value: tf.Scalar; grads: Map<string, tf.Tensor> } {
  const { value, grads } = tf.variableGrads(loss, params.map(([, v]) => v));
  const out = new Map<string, tf.Tensor>();
  for (const [name, v] of params) {
    const g = grads[v.name];
    if (g) out.set(name, g);
  }
  return { value, grads: out };
}

/** Adds `b` into `a` (both keyed by parameter name), disposing what it replaces. */
export function accumulate(a: Map<string, tf.Tensor> | null, b: Map<string, tf.Tensor>): Map<string, tf.Tensor> {
  if (!a) return b;
  for (const [k, g] of b) {
    const prev = a.get(k);
    if (prev) {
      a.set(k, tf.add(prev, g));
      prev.dispose();
      g.dispose();
    } else a.set(k, g);
  }
  return a;
}

/**
 * The one place where a step's gradients meet an optimizer: the sums over `accum` micro-batches
 * are averaged, handed to `ctx.reduceGradients` (the data-parallel seam), clipped to global norm
 * `cfg.grad_clip` (0 = off) and applied with learning rate `lr`. Disposes the gradients; returns
 * the pre-clipping norm when clipping is on.
 */
export function applyGradients(role: OptimizerRole, opt: Adam, grads: Map<string, tf.Tensor>, lr: number, accum: number, cfg: TrainConfig, ctx: StepContext): number | null {
  let g = grads;
  if (accum > 1) {
    const scaled = new Map<string, tf.Tensor>();
    for (const [k, t] of g) {
      scaled.set(k, tf.div(t, accum));
      t.dispose();
    }
    g = scaled;
  }
  if (ctx.reduceGradients) g = ctx.reduceGradients(role, g);
  let norm: number | null = null;
  if (cfg.grad_clip > 0) {
    const c = clipGradNorm(g, cfg.grad_clip);
    g = c.grads;
    norm = c.norm;
  }
  ctx.updating = true;
  opt.apply(g, lr);
  tf.dispose([...g.values()]);
  return norm;
}

/** Adam for the trainable parameters of `m`, with the config's betas and weight decay. */
export function adamFor(m: Module, cfg: TrainConfig): Adam {
  return new Adam(m.namedParameters(), { beta1: cfg.train.beta1, beta2: cfg.train.beta2, weightDecay: cfg.train.weight_decay });
}

/** Reads a scalar now (a backend sync point) and disposes it. */
export function readScalar(t: tf.Tensor): number {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
}

/**
 * Loads a state dict into `model`; with `strict` false the keys it lacks keep their values and
 * extra keys are ignored (said once). Errors name `source`.
 */
export function loadInto(model: Module, dict: StateDict, source: string, strict: boolean, log: Log): void {
  try {
    const r = model.loadStateDict(dict, { strict });
    if (r.missing.length || r.unexpected.length) {
      const list = (keys: string[]) => `${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', …' : ''}`;
      log(
        `${source}: strict_load false — ${r.missing.length} key(s) not in the file keep their values${r.missing.length ? ` (${list(r.missing)})` : ''}, ` +
          `${r.unexpected.length} extra key(s) ignored${r.unexpected.length ? ` (${list(r.unexpected)})` : ''}`,
      );
    }
  } catch (e) {
    (e as Error).message = `${source}: ${(e as Error).message}`;
    throw e;
  }
}

/** Loads the weights file or run folder `ref` (config key `key`) into a trained network. */
export function loadInitWeights(model: Module, ref: string, key: string, cfg: TrainConfig, log: Log, what: string): void {
  const file = trainedWeightsFile(ref);
  if (!file) throw new Error(`${key}: no weights at ${path.resolve(ref)} (a .pth / .safetensors file or a run folder with a checkpoint)`);
  loadInto(model, readWeightFile(file), file, cfg.strict_load, log);
  log(`${what}: starts from ${file}`);
}

/** Where a frozen network's weights come from (see findFrozenWeights). */
export interface FrozenWeights {
  /** What the network is, for the log ('flow completion (frozen)'). */
  what: string;
  /** The file to load, or null for det-init v1 weights (networks.allow_det_init). */
  file: string | null;
  /** Why this file (a default location), for the log. */
  label: string;
  /** What to record under `key` in the run's config (so a resume loads the same weights). */
  record: string | undefined;
}

/**
 * Finds a frozen network's weights: the config value `ref` (a file or run folder); without one,
 * det-init when `networks.allow_det_init` (tests and quick runs stay independent of what lies
 * around), else the first default candidate that exists, else a one-line error naming the key,
 * the places looked at and what to provide (`hint`).
 */
export function findFrozenWeights(
  cfg: TrainConfig,
  key: string,
  what: string,
  ref: string | undefined,
  candidates: Array<{ path: string | null; label: string }>,
  hint: string,
): FrozenWeights {
  if (ref) {
    const file = trainedWeightsFile(ref);
    if (file || cfg.networks.allow_det_init) return { what, file, label: '', record: ref };
    throw new Error(`${key}: no weights at ${path.resolve(ref)} (a .pth / .safetensors file or a run folder with a checkpoint), or networks.allow_det_init=true for untrained deterministic weights`);
  }
  if (cfg.networks.allow_det_init) return { what, file: null, label: '', record: undefined };
  for (const c of candidates) {
    const file = c.path ? trainedWeightsFile(c.path) : null;
    if (file) return { what, file, label: c.label, record: c.path! };
  }
  throw new Error(
    `${key}: not set, and there is no ${candidates.map((c) => c.label).join(' and no ')} — ${what} needs trained weights (nothing is downloaded): ` +
      `${hint}, or set ${key} to a .pth / .safetensors file or a run folder`,
  );
}

/** Loads what findFrozenWeights found (or det-init v1 weights), logged; freezes the network in eval mode. */
export function loadFrozen(model: Module, w: FrozenWeights, cfg: TrainConfig, log: Log): void {
  if (w.file) {
    loadInto(model, readWeightFile(w.file), w.file, cfg.strict_load, log);
    log(`${w.what}: weights from ${w.file}${w.label ? ` (${w.label})` : ''}`);
  } else {
    applyDetInit(model);
    log(`${w.what}: ${w.record ? `${w.record} not found; ` : ''}using det-init v1 weights (untrained; networks.allow_det_init)`);
  }
  model.requiresGrad(false);
  model.eval();
}

/** RAFT for ground-truth flows: networks.raft, else weights/raft-things.pth. */
export function raftWeights(cfg: TrainConfig): FrozenWeights {
  return findFrozenWeights(cfg, 'networks.raft', 'RAFT (frozen)', cfg.networks.raft, [{ path: DEFAULT_RAFT_WEIGHTS, label: DEFAULT_RAFT_WEIGHTS }],
    'provide weights/raft-things.pth from the official release, or precomputed flows (datasets.train.flow_root, load_flow)');
}

/**
 * The frozen flow-completion network of ProPainter training: networks.flow_completion, else (the
 * guide's workflow) the newest flow-completion run beside this run's folder, else
 * weights/recurrent_flow_completion.pth.
 */
export function flowCompletionWeights(cfg: TrainConfig): FrozenWeights {
  const parent = path.dirname(cfg.save_dir);
  const skipSearch = cfg.networks.flow_completion || cfg.networks.allow_det_init;
  return findFrozenWeights(cfg, 'networks.flow_completion', 'flow completion (frozen)', cfg.networks.flow_completion, [
    { path: skipSearch ? null : findRuns(parent, 'recurrent_flow_completion')[0] ?? null, label: `flow-completion run with a checkpoint in ${parent}/` },
    { path: 'weights/recurrent_flow_completion.pth', label: 'weights/recurrent_flow_completion.pth' },
  ], 'train flow completion first (propainter train -c <flow-completion config>; its run folder there is found) or provide weights/recurrent_flow_completion.pth');
}

/** The networks and optimizers a system checkpoints: the trained one ('G') and maybe a discriminator ('D'). */
export interface CheckpointedParts {
  gen: [Module, Adam];
  dis: [Module, Adam] | null;
}

export function partsState(p: CheckpointedParts): SystemState {
  const optimizers: Record<string, StateDict> = { G: p.gen[1].stateDict() };
  if (p.dis) optimizers.D = p.dis[1].stateDict();
  return { gen: p.gen[0].stateDict(), dis: p.dis?.[0].stateDict(), optimizers };
}

/**
 * Restores networks and optimizers from a checkpoint of ours or an official set (torch Adam
 * states converted against the networks). An official set without dis_/optimD (the flow trainer,
 * or `no_dis`) leaves a discriminator as it is, with a note.
 */
export function loadPartsState(p: CheckpointedParts, s: CheckpointContents, source: string, cfg: TrainConfig, log: Log): void {
  const official = s.format === 'official';
  const optimizer = (role: OptimizerRole, net: Module, opt: Adam) => {
    if (!official) {
      const st = s.optimizers[role];
      if (!st) throw new Error(`${source}: no optimizer state "${role}"`);
      opt.loadStateDict(st, `${source} (optimizer ${role})`);
      return;
    }
    const raw = s.torchOptimizers?.[role];
    const what = `${source} (optim${role})`;
    const { state, layouts, betas } = adamStateFromTorch(raw, net, what);
    opt.loadStateDict(state, what, layouts);
    if (betas && (betas[0] !== cfg.train.beta1 || betas[1] !== cfg.train.beta2)) {
      log(`${what}: saved with betas (${betas.join(', ')}); continuing with the config's (${cfg.train.beta1}, ${cfg.train.beta2})`);
    }
  };
  loadInto(p.gen[0], s.gen, `${source} (gen)`, cfg.strict_load, log);
  optimizer('G', p.gen[0], p.gen[1]);
  if (p.dis) {
    if (official && (!s.dis || !s.torchOptimizers?.D)) {
      log(`${source}: no dis_ / optimD in this official set; the discriminator starts fresh`);
    } else {
      if (!s.dis) throw new Error(`${source}: no discriminator weights (dis_NNNNNN)`);
      loadInto(p.dis[0], s.dis, `${source} (dis)`, cfg.strict_load, log);
      optimizer('D', p.dis[0], p.dis[1]);
    }
  }
  log(`resumed from ${source} at iteration ${s.state.iteration}`);
}
