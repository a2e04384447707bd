/**
 * A training "system" (Lightning's term, BasicSR's model wrapper): it owns its networks, loss
 * terms and optimizers and knows how to run one optimisation step; the loop (loop.ts) knows
 * nothing about GANs or flows. This file holds the contract and the shared pieces: gradients
 * keyed by parameter name, an optimizer step with clipping, weight loading and frozen networks.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import type { StateDict } from '../io/host-tensor';
import type { Module } from '../nn/module';
import type { RgbImage } from '../viz/image';
import type { BatchTensors } from '../data/tensors';
import type { Sample } from '../data/sample';
import type { TrainConfig } from './config';
import { Adam, clipGradNorm } from './optim';

export interface StepContext {
  /** Iterations completed before this one (0 for the first). */
  iteration: number;
  /** Learning rates for this step (generator / flow net, discriminator). */
  lr: number;
  lrD: number;
  /** Produce sample images for logging this step. */
  wantImages: boolean;
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
  loadState(s: SystemState, source: string): void;
  /** The trained network (generator or flow-completion net). */
  readonly net: Module;
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
 * One optimizer update: gradients averaged over `accum` micro-batches, clipped to global norm
 * `clip` (0 = off), applied with learning rate `lr`. Disposes the gradients; returns the
 * pre-clipping norm when clipping is on.
 */
export function optimizerStep(opt: Adam, grads: Map<string, tf.Tensor>, lr: number, accum: number, clip: number): number | null {
  let g = grads;
  if (accum > 1) {
    const scaled = new Map<string, tf.Tensor>();
    for (const [k, t] of g) {
      scaled.set(k, tf.div(t, accum));
      t.dispose();
    }
    g = scaled;
  }
  let norm: number | null = null;
  if (clip > 0) {
    const c = clipGradNorm(g, clip);
    g = c.grads;
    norm = c.norm;
  }
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
 * Resolves a weight reference: a file (.pth / .safetensors), or an experiment folder of ours
 * (its latest.json → gen_NNNNNN.safetensors). Returns null when nothing is there.
 */
export function resolveWeightFile(ref: string): string | null {
  if (!fs.existsSync(ref)) return null;
  if (!fs.statSync(ref).isDirectory()) return ref;
  const latest = path.join(ref, 'latest.json');
  if (!fs.existsSync(latest)) return null;
  const it = (JSON.parse(fs.readFileSync(latest, 'utf8')) as { iteration: number }).iteration;
  const file = path.join(ref, `gen_${String(it).padStart(6, '0')}.safetensors`);
  return fs.existsSync(file) ? file : null;
}

/**
 * Loads the weights `ref` (config key `key`) into `model`. When the file is absent: det-init v1
 * weights if `allowDetInit` (logged), else an error naming the key.
 */
export function loadNetworkWeights(model: Module, ref: string | undefined, key: string, allowDetInit: boolean, log: Log, what: string): void {
  const file = ref ? resolveWeightFile(ref) : null;
  if (file) {
    const { loadWeights } = require('../models/weights') as typeof import('../models/weights');
    loadWeights(model, file);
    log(`${what}: weights from ${file}`);
    return;
  }
  if (!allowDetInit) {
    throw new Error(
      `${key}: ${ref ? `no weights at ${path.resolve(ref)}` : 'not set'} — ${what} needs pretrained weights ` +
        `(official .pth or our .safetensors / experiment folder; nothing is downloaded). ` +
        `Set networks.allow_det_init=true to use deterministic untrained weights instead.`,
    );
  }
  const { applyDetInit } = require('../init/apply') as typeof import('../init/apply');
  applyDetInit(model);
  log(`${what}: ${ref ? `${ref} not found; ` : ''}using det-init v1 weights (untrained; networks.allow_det_init)`);
}

/** Frames start..start+count of a clip [B, T, …] (through a rank-3 view). */
export function clipRange(x: tf.Tensor, start: number, count: number): tf.Tensor5D {
  return tf.tidy(() => {
    const [b, t, ...rest] = x.shape;
    const flat = tf.reshape(x, [b, t, -1]);
    return tf.reshape(tf.slice(flat, [0, start, 0], [b, count, -1]), [b, count, ...rest] as [number, number, number, number, number]);
  });
}

/** [B, T, …] → [B·T, …]. */
export function flattenTime(x: tf.Tensor): tf.Tensor4D {
  return tf.reshape(x, [-1, ...x.shape.slice(2)] as [number, number, number, number]);
}
