/**
 * The training loop, as a `Run` that a notebook or the CLI drives:
 *
 *   const run = await Run.create('configs/quick_flowcomp.json', { sets: ['train.total_iter=50'] });
 *   await run.step(10);                        // ten iterations
 *   run.history.map((h) => h.scalars['loss/flow_loss']);
 *   run.config.train.lr = 1e-5;                // takes effect at the next step
 *   await run.validate(); await run.save(); await run.dispose();
 *
 * One iteration, top to bottom: learning rates for this step (pure functions of the iteration)
 * → spatial size (progressive resizing) → grad_accum batches → `system.trainStep` (all model
 * logic: forward, losses, backward, optimizer steps) → record → callbacks (progress line, JSONL,
 * TensorBoard, checkpoints every save_freq, validation every val_freq). No model name appears
 * here: the systems live in systems.ts.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { seedInit } from '../nn/init';
import { writeJsonAtomic } from '../io/atomic';
import type { TestDataset } from '../data/test-dataset';
import { TrainConfig, loadConfig, resolveConfig } from './config';
import { learningRate, scheduleFromConfig } from './schedule';
import { CheckpointContents, findCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint';
import { BatchSource, DataPosition, batchTensorsAt, ensureSynthSet, loaderSource, progressiveSize, valDataset } from './data';
import type { GradientReducer, Log, TrainingSystem } from './system';
import { createSystem } from './systems';
import { CONFIG_FILE, latestCheckpoint } from './run-folder';
import { disposeBatchTensors } from '../data/tensors';
import type { RgbImage } from '../viz/image';
import {
  Callback, CheckpointEvery, ConsoleOptions, ConsoleProgress, JsonlLogger, SampleImages, StopOnSignal, StopReason, TensorBoardLogger, ValidateEvery,
} from './callbacks';

export interface StepRecord {
  /** Iterations completed, this one included. */
  iteration: number;
  epoch: number;
  lr: number;
  lrD: number;
  seconds: number;
  itPerSec: number;
  /** [H, W] trained at (progressive resizing). */
  size: [number, number];
  scalars: Record<string, number>;
}

export interface ValidationRecord {
  iteration: number;
  /** Means over the held-out videos, weighted by frames (PSNR/SSIM) or flows (EPE). */
  metrics: Record<string, number>;
  perVideo: Record<string, Record<string, number>>;
}

export interface RunOptions {
  /** `key.path=value` overrides applied to a config file / object. */
  sets?: string[];
  /**
   * Checkpoint to continue from: a run folder, latest.json or a *_NNNNNN file of ours, or an
   * official set (its folder, latest.ckpt or a gen_/dis_/opt_NNNNNN.pth; give the config too).
   */
  resume?: string;
  /** Extra callbacks, after the default ones. */
  callbacks?: Callback[];
  /** Progress line, JSONL, TensorBoard, checkpoints, validation (default true). */
  defaultCallbacks?: boolean;
  /** Progress-line options, or false for none. */
  console?: boolean | ConsoleOptions;
  /** Stop cleanly on SIGINT/SIGTERM (the CLI turns this on). */
  handleSignals?: boolean;
  /** Batches from elsewhere (tests, notebooks); default: the configured TrainDataset loader. */
  data?: BatchSource;
  /** Builds the system; default by `config.model`. */
  system?: (cfg: TrainConfig, log: Log) => TrainingSystem;
  /** Averages each step's gradients across data-parallel processes (see GradientReducer). */
  reduceGradients?: GradientReducer;
  log?: Log;
}

export class Run {
  iteration = 0;
  readonly history: StepRecord[] = [];
  readonly validations: ValidationRecord[] = [];
  stopRequested = false;
  lastSavedIteration = -1;
  private started = false;
  private ended = false;
  private valSet: TestDataset | null | undefined;

  private constructor(
    /** The resolved config; edit it between steps (lr, loss weights, cadences). */
    readonly config: TrainConfig,
    readonly system: TrainingSystem,
    readonly data: BatchSource,
    readonly callbacks: Callback[],
    readonly log: Log,
    private readonly reduceGradients?: GradientReducer,
  ) {}

  /** Builds a run from a config file, a raw config object (either format) or a resolved config. */
  static async create(config: string | Record<string, unknown> | TrainConfig | null, opts: RunOptions = {}): Promise<Run> {
    const log = opts.log ?? ((l: string) => console.log(l));
    const found = opts.resume ? findCheckpoint(opts.resume) : null;
    if (found?.format === 'official' && !config) {
      throw new Error(`${opts.resume}: an official checkpoint holds no config; give the training config too (-c CONFIG --resume ${opts.resume})`);
    }
    const ckpt: CheckpointContents | null = found ? loadCheckpoint(found) : null;
    const source = found?.file ?? '';
    const resolve = { sets: opts.sets, report: log };
    let cfg: TrainConfig;
    if (typeof config === 'string') cfg = loadConfig(config, opts.sets, log);
    else if (config) cfg = resolveConfig(config as Record<string, unknown>, resolve);
    else if (ckpt) cfg = resolveConfig(ckpt.state.config as Record<string, unknown>, { ...resolve, source });
    else throw new Error('Run.create: give a config (file or object) or a checkpoint to resume');
    if (!ckpt && !opts.data && latestCheckpoint(cfg.save_dir) !== null) {
      log(`${cfg.save_dir} already holds checkpoints (latest.json); starting from scratch — resume with --resume ${cfg.save_dir}`);
    }
    seedInit(cfg.seed); // from-scratch weights are a function of the seed
    const system = (opts.system ?? createSystem)(cfg, log);
    let data: BatchSource;
    // Ours: the saved sampler position. Official: where an uninterrupted run of ours would be.
    const start: DataPosition | number = ckpt?.format === 'official'
      ? ckpt.state.iteration * cfg.grad_accum
      : ((ckpt?.state.rng as { data?: DataPosition } | undefined)?.data ?? { epoch: 0, batch: 0 });
    try {
      if (ckpt) system.loadState(ckpt, source);
      if (opts.data) data = opts.data;
      else {
        await ensureSynthSet(cfg, log);
        data = loaderSource(cfg, start);
      }
    } catch (e) {
      system.dispose();
      throw e;
    }
    const cbs: Callback[] = [];
    if (opts.defaultCallbacks ?? true) {
      if (opts.console !== false) cbs.push(new ConsoleProgress(typeof opts.console === 'object' ? opts.console : {}));
      cbs.push(new JsonlLogger(), new TensorBoardLogger(), new SampleImages(), new CheckpointEvery(), new ValidateEvery());
    }
    if (opts.handleSignals) cbs.push(new StopOnSignal());
    cbs.push(...(opts.callbacks ?? []));
    const run = new Run(cfg, system, data, cbs, log, opts.reduceGradients);
    if (ckpt) {
      run.iteration = ckpt.state.iteration;
      run.lastSavedIteration = ckpt.format === 'ours' ? ckpt.state.iteration : -1;
      const states = (ckpt.state.extra?.callbacks ?? {}) as Record<string, unknown>;
      for (const cb of cbs) if (cb.key && cb.loadState && states[cb.key] !== undefined) cb.loadState(states[cb.key]);
    }
    return run;
  }

  get backend(): string {
    return tf.getBackend();
  }

  /** Runs `n` iterations (fewer if stop() is called); returns their records. */
  async step(n = 1): Promise<StepRecord[]> {
    await this.start();
    const cfg = this.config;
    const out: StepRecord[] = [];
    for (let i = 0; i < n && !this.stopRequested; i++) {
      const t0 = performance.now();
      const it = this.iteration;
      const lr = learningRate(scheduleFromConfig(cfg), it);
      const lrD = learningRate(scheduleFromConfig(cfg, cfg.train.d_lr ?? cfg.train.lr), it);
      const size = progressiveSize(cfg, it);
      const epoch = this.data.position().epoch;
      const batches = [];
      for (let k = 0; k < cfg.grad_accum; k++) batches.push(batchTensorsAt(await this.data.next(), size));
      const wantImages = cfg.train.image_freq > 0 && (it + 1) % cfg.train.image_freq === 0;
      let res;
      try {
        res = this.system.trainStep(batches, { iteration: it, lr, lrD, wantImages, reduceGradients: this.reduceGradients });
      } finally {
        batches.forEach(disposeBatchTensors);
      }
      this.iteration = it + 1;
      const seconds = (performance.now() - t0) / 1000;
      const rec: StepRecord = { iteration: this.iteration, epoch, lr, lrD, seconds, itPerSec: 1 / seconds, size, scalars: res.scalars };
      this.history.push(rec);
      out.push(rec);
      for (const cb of this.callbacks) await cb.onStepEnd?.(this, rec, res.images);
    }
    return out;
  }

  /** Trains until train.total_iter (or stop()); runs the end-of-training hooks. */
  async train(): Promise<StopReason> {
    let reason: StopReason = 'finished';
    try {
      while (this.iteration < this.config.train.total_iter && !this.stopRequested) await this.step(1);
      if (this.stopRequested && this.iteration < this.config.train.total_iter) reason = 'interrupted';
    } catch (e) {
      await this.end('error');
      throw e;
    }
    await this.end(reason);
    return reason;
  }

  /** Asks the loop to stop after the current iteration. */
  stop(): void {
    this.stopRequested = true;
  }

  /** PSNR / SSIM [/ LPIPS] (ProPainter, frame-weighted) or EPE (flow completion, flow-weighted) on datasets.val. */
  async validate(): Promise<ValidationRecord> {
    if (this.valSet === undefined) this.valSet = valDataset(this.config);
    const ds = this.valSet;
    if (!ds) throw new Error('datasets.val: no validation set configured');
    const sums: Record<string, number> = {};
    const perVideo: Record<string, Record<string, number>> = {};
    let total = 0;
    let images: Record<string, RgbImage> | undefined;
    for (let i = 0; i < ds.length; i++) {
      const s = await ds.getItem(i);
      // Sample images of the first held-out video only: enough to watch, cheap to log.
      const { metrics: m, weight, images: im } = await this.system.validateSample(s, { images: i === 0 });
      images ??= im;
      perVideo[s.name] = m;
      for (const [k, v] of Object.entries(m)) sums[k] = (sums[k] ?? 0) + v * weight;
      total += weight;
    }
    const metrics = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / total]));
    const rec: ValidationRecord = { iteration: this.iteration, metrics, perVideo };
    this.validations.push(rec);
    for (const cb of this.callbacks) await cb.onValidationEnd?.(this, rec, images);
    return rec;
  }

  /** Writes a checkpoint of the current state into save_dir; returns its state file. */
  async save(): Promise<string> {
    const s = this.system.state();
    const pos = this.data.position();
    const callbacks: Record<string, unknown> = {};
    for (const cb of this.callbacks) if (cb.key && cb.state) callbacks[cb.key] = cb.state();
    const statePath = saveCheckpoint(this.config.save_dir, {
      gen: s.gen,
      dis: s.dis,
      optimizers: s.optimizers,
      state: { iteration: this.iteration, epoch: pos.epoch, rng: { data: pos, seed: this.config.seed }, config: this.config, extra: { model: this.config.model, callbacks } },
    });
    this.lastSavedIteration = this.iteration;
    for (const cb of this.callbacks) await cb.onSave?.(this, statePath);
    return statePath;
  }

  /** One logged scalar over the run's history ({x: iterations, y: values}) for plots. */
  series(name: string): { x: number[]; y: number[] } {
    const x: number[] = [];
    const y: number[] = [];
    for (const h of this.history) {
      const v = name === 'lr' ? h.lr : name === 'it_per_s' ? h.itPerSec : h.scalars[name];
      if (v !== undefined) {
        x.push(h.iteration);
        y.push(v);
      }
    }
    return { x, y };
  }

  /** Ends the run (closing logs; no checkpoint) and releases every tensor and worker. */
  async dispose(): Promise<void> {
    await this.end('disposed');
    await this.data.close();
    this.system.dispose();
  }

  private async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    fs.mkdirSync(this.config.save_dir, { recursive: true });
    writeJsonAtomic(path.join(this.config.save_dir, CONFIG_FILE), this.config);
    for (const cb of this.callbacks) await cb.onTrainStart?.(this);
  }

  private async end(reason: StopReason): Promise<void> {
    if (!this.started || this.ended) return;
    this.ended = true;
    for (const cb of this.callbacks) await cb.onTrainEnd?.(this, reason);
  }
}
