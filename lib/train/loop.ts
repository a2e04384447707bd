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
 *
 * On several processes (`comm`, lib/train/distributed.ts) every rank runs this loop on its shard
 * of each batch; rank 0's config, data position and weights are broadcast first, gradients are
 * averaged in applyGradients, only rank 0 writes (logs, TensorBoard, samples, validation,
 * checkpoints), and a stop request on any rank is agreed on before each step so all stop at the
 * same iteration and rank 0 saves once. A batch a rank cannot read is agreed on too (every rank
 * stops, rank 0 saves the last completed iteration, the failing rank ends the job with its error).
 * Any other error on a rank ends the whole job at once (lib/dist runJob aborts every rank, naming
 * it; no rank waits for the others on that path), so only rank 0's own errors leave a checkpoint.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { seedInit } from '../nn/init';
import { ensureDir, removeStaleTemps, writeJsonAtomic } from '../io/atomic';
import type { TestDataset } from '../data/test-dataset';
import { MODELS, ModelKind, TrainConfig, loadConfig, resolveConfig } from './config';
import { learningRate, scheduleFromConfig } from './schedule';
import {
  CheckpointContents, checkpointModel, dropCheckpointsAfter, findCheckpoint, loadCheckpoint, rotateCheckpoints, saveCheckpoint,
} from './checkpoint';
import { BatchSource, DataPosition, batchTensorsAt, ensureSynthSet, loaderSource, progressiveSize, valDataset } from './data';
import type { GradientReducer, Log, StepContext, TrainingSystem } from './system';
import { createSystem } from './systems';
import { CONFIG_FILE, SAMPLES_DIR, latestCheckpoint } from './run-folder';
import { checkTrainStepFits } from './step-memory';
import { BatchTensors, disposeBatchTensors } from '../data/tensors';
import type { RgbImage } from '../viz/image';
import { agreeToStop, launcherAskedToStop, type Communicator } from '../dist';
import { PEER_FAILURE_GRACE_MS, RankReadFailed, agreeAllRead, averageOverRanks, broadcastWeights, shareStart } from './distributed';
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
  /**
   * Start over in a save_dir that holds checkpoints, or resume from a checkpoint that is not its
   * folder's newest: the checkpoints after the start are deleted first. Without it both are
   * errors (so no run overwrites another's checkpoints and latest.json never moves backwards).
   */
  overwrite?: boolean;
  /** Stop cleanly on SIGINT/SIGTERM, exit code 130 / 143 (the CLI turns this on). */
  handleSignals?: boolean;
  /** Batches from elsewhere (tests, notebooks); default: the configured TrainDataset loader. */
  data?: BatchSource;
  /** Builds the system; default by `config.model`. */
  system?: (cfg: TrainConfig, log: Log) => TrainingSystem;
  /** Averages each step's gradients across data-parallel processes (see GradientReducer); default with `comm`: the mean over its ranks. */
  reduceGradients?: GradientReducer;
  /**
   * The job this process is a rank of (lib/dist runJob): data-parallel training over its ranks.
   * Only rank 0 gets the default callbacks and writes files. With `data`, each rank passes its own
   * part of every batch. Notebooks leave it out (one process).
   */
  comm?: Communicator;
  log?: Log;
}

export class Run {
  iteration = 0;
  readonly history: StepRecord[] = [];
  readonly validations: ValidationRecord[] = [];
  stopRequested = false;
  lastSavedIteration = -1;
  /** Where the data continue after the last completed iteration (saved in checkpoints). */
  private dataPosition: DataPosition = { epoch: 0, batch: 0 };
  /** A step failed in the middle of an optimizer update: the weights are half-updated. */
  private halfUpdated = false;
  /** On several processes: all ranks agreed to stop before the next step. */
  private stopAgreed = false;
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
    /** The job's communicator when it has several ranks. */
    readonly comm: Communicator | null = null,
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
    const comm = opts.comm && opts.comm.size > 1 ? opts.comm : null;
    const writer = !comm || comm.rank === 0;
    // The run folder is rank 0's: it checks the resume and claims the folder (the other ranks take its config below).
    if (writer) {
      if (ckpt) checkResumable(ckpt, source, cfg);
      if (found?.format === 'ours') {
        // A run continues in the folder it resumed from, which may be a copy of the one it recorded.
        if (path.resolve(cfg.save_dir) !== path.resolve(found.dir)) log(`${source}: continuing in ${found.dir} (not in save_dir ${cfg.save_dir})`);
        cfg.save_dir = found.dir;
      }
      claimRunFolder(cfg.save_dir, found?.format === 'ours' ? ckpt!.state.iteration : null, !!opts.overwrite, log);
    }
    if (!comm && cfg.gpu_ids.length > 1) log(`gpu_ids: ${cfg.gpu_ids.length} devices listed, but this run is one process (propainter train launches one per device)`);
    // Ours: the saved sampler position. Official: where an uninterrupted run of ours would be.
    let start: DataPosition | number = ckpt?.format === 'official'
      ? ckpt.state.iteration * cfg.grad_accum
      : ((ckpt?.state.rng as { data?: DataPosition } | undefined)?.data ?? { epoch: 0, batch: 0 });
    if (comm) ({ config: cfg, start } = shareStart(comm, { config: cfg, start }));
    seedInit(cfg.seed); // from-scratch weights are a function of the seed
    const system = (opts.system ?? createSystem)(cfg, log);
    let data: BatchSource;
    try {
      if (ckpt) system.loadState(ckpt, source);
      // DDP: every rank starts from rank 0's weights (each loads the optimizer state itself).
      if (comm) broadcastWeights(comm, system.dis ? [system.net, system.dis] : [system.net]);
      if (opts.data) data = opts.data;
      else {
        if (writer) await ensureSynthSet(cfg, log);
        // The other ranks wait until rank 0 has built a synthetic set (a no-op otherwise).
        comm?.barrier();
        data = loaderSource(cfg, start, log, comm ? { rank: comm.rank, count: comm.size } : undefined);
      }
    } catch (e) {
      system.dispose();
      // An official set has no model on record: a generator that does not load may be the other model's.
      let kind: ModelKind | null = null;
      try {
        if (ckpt?.format === 'official') kind = checkpointModel(ckpt);
      } catch {
        // the load error stays the story
      }
      if (kind && kind !== cfg.model) throw new Error(modelMismatch(source, kind, cfg.model));
      throw e;
    }
    const reduce = opts.reduceGradients ?? (comm ? averageOverRanks(comm, { G: system.net.namedParameters(), D: system.dis?.namedParameters() }) : undefined);
    const cbs: Callback[] = [];
    if (writer && (opts.defaultCallbacks ?? true)) {
      if (opts.console !== false) cbs.push(new ConsoleProgress(typeof opts.console === 'object' ? opts.console : {}));
      cbs.push(new JsonlLogger(), new TensorBoardLogger(), new SampleImages(), new CheckpointEvery(), new ValidateEvery());
    }
    if (opts.handleSignals) cbs.push(new StopOnSignal());
    cbs.push(...(opts.callbacks ?? []));
    const run = new Run(cfg, system, data, cbs, log, reduce, comm);
    run.dataPosition = data.position();
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
    for (let i = 0; i < n; i++) {
      // A step blocks the event loop: let a signal that came during the last one be handled now,
      // so that a stop takes effect before another batch is read. Two hops: the signal is read in
      // the event loop's poll phase, and the current loop iteration may be past its poll already.
      await new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
      // Ranks stop together: a signal, stop() or the launcher's request on any rank stops all before this step.
      if (this.comm && !this.stopAgreed && agreeToStop(this.comm, this.stopRequested || launcherAskedToStop())) {
        this.stopRequested = true;
        this.stopAgreed = true;
      }
      if (this.stopping) break;
      if (this.halfUpdated) throw new Error('a step failed during its optimizer update; the weights are half-updated — recreate the run from a checkpoint');
      const t0 = performance.now();
      const it = this.iteration;
      const lr = learningRate(scheduleFromConfig(cfg), it);
      const lrD = learningRate(scheduleFromConfig(cfg, cfg.train.d_lr ?? cfg.train.lr), it);
      const size = progressiveSize(cfg, it);
      const epoch = this.data.position().epoch;
      const batches: BatchTensors[] = [];
      // Sample images are rank 0's to write; the other ranks skip making them.
      const wantImages = cfg.train.image_freq > 0 && (it + 1) % cfg.train.image_freq === 0 && (!this.comm || this.comm.rank === 0);
      const ctx: StepContext = { iteration: it, lr, lrD, wantImages, reduceGradients: this.reduceGradients };
      let res;
      try {
        let readError: unknown = null;
        try {
          for (let k = 0; k < cfg.grad_accum; k++) batches.push(batchTensorsAt(await this.data.next(), size));
        } catch (e) {
          readError = e;
        }
        // Each rank reads its own shard: one that cannot stops every rank before the step's collectives.
        if (this.comm) agreeAllRead(this.comm, readError, it + 1);
        else if (readError) throw readError;
        res = this.system.trainStep(batches, ctx);
      } catch (e) {
        if (ctx.updating) this.halfUpdated = true;
        throw e;
      } finally {
        batches.forEach(disposeBatchTensors);
      }
      this.iteration = it + 1;
      this.dataPosition = this.data.position();
      const seconds = (performance.now() - t0) / 1000;
      const rec: StepRecord = { iteration: this.iteration, epoch, lr, lrD, seconds, itPerSec: 1 / seconds, size, scalars: res.scalars };
      this.history.push(rec);
      out.push(rec);
      for (const cb of this.callbacks) await cb.onStepEnd?.(this, rec, res.images);
    }
    return out;
  }

  /** Whether the loop stops before its next step: on several processes, only once the ranks agreed. */
  private get stopping(): boolean {
    return this.comm ? this.stopAgreed : this.stopRequested;
  }

  /**
   * Trains until train.total_iter (or stop()); runs the end-of-training hooks. An error ends the
   * run with a checkpoint of the last completed iteration when the state is sound (CheckpointEvery).
   */
  async train(): Promise<StopReason> {
    const total = this.config.train.total_iter;
    if (this.iteration >= total) {
      this.log(`${this.config.save_dir}: already at iteration ${this.iteration}, train.total_iter is ${total}: nothing to train (raise train.total_iter to continue)`);
      return 'finished';
    }
    let reason: StopReason = 'finished';
    try {
      while (this.iteration < total && !this.stopping) await this.step(1);
      if (this.stopping && this.iteration < total) reason = 'interrupted';
    } catch (e) {
      try {
        await this.end('error');
      } catch (e2) {
        this.log(`while stopping on the error: ${(e2 as Error).message}`);
      }
      if (e instanceof RankReadFailed && this.comm) {
        // Every rank stopped here: once rank 0 has saved, the failing rank(s) end the job with
        // their own error (lib/dist runJob); the others give them a moment to be the ones heard.
        this.comm.barrier();
        if (e.own !== null) throw e.own;
        await new Promise((resolve) => setTimeout(resolve, PEER_FAILURE_GRACE_MS));
      }
      throw e;
    }
    await this.end(reason);
    return reason;
  }

  /** False after a step failed in the middle of an optimizer update: the weights are then half-updated and are not saved. */
  get stateIsSound(): boolean {
    return !this.halfUpdated;
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

  /**
   * Writes a checkpoint of the current state into save_dir (then deletes those beyond
   * train.keep_checkpoints); returns its state file.
   */
  async save(): Promise<string> {
    if (this.comm && this.comm.rank !== 0) throw new Error(`Run.save on rank ${this.comm.rank}: only rank 0 writes checkpoints`);
    if (this.halfUpdated) throw new Error(`not saving iteration ${this.iteration}: a step failed during its optimizer update and the weights are half-updated`);
    const s = this.system.state();
    const pos = this.dataPosition;
    const callbacks: Record<string, unknown> = {};
    for (const cb of this.callbacks) if (cb.key && cb.state) callbacks[cb.key] = cb.state();
    const statePath = saveCheckpoint(this.config.save_dir, {
      gen: s.gen,
      dis: s.dis,
      optimizers: s.optimizers,
      state: { iteration: this.iteration, epoch: pos.epoch, rng: { data: pos, seed: this.config.seed }, config: this.config, extra: { model: this.config.model, callbacks } },
    });
    this.lastSavedIteration = this.iteration;
    if (this.config.train.keep_checkpoints > 0) rotateCheckpoints(this.config.save_dir, this.config.train.keep_checkpoints);
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
    // Before anything is written: a step the wasm heap cannot hold would abort minutes later.
    // On ranks: every rank checks the same (rank 0's) config and the same process batch before any collective of a step.
    if (tf.getBackend() === 'wasm') checkTrainStepFits(this.config, this.comm?.size);
    this.started = true;
    const dir = this.config.save_dir;
    if (!this.comm || this.comm.rank === 0) {
      ensureDir(dir);
      // Temporary files of saves a SIGKILL cut short (ours only: the atomic writer's names).
      const stale = [dir, path.join(dir, SAMPLES_DIR)].flatMap((d) => removeStaleTemps(d).map((n) => path.join(d, n)));
      if (stale.length) this.log(`${dir}: removed ${stale.length} temporary file(s) of an interrupted save (${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ', …' : ''})`);
      writeJsonAtomic(path.join(dir, CONFIG_FILE), this.config);
    }
    for (const cb of this.callbacks) await cb.onTrainStart?.(this);
  }

  /** onTrainStop on every callback, then onTrainEnd on every callback (each runs even if one before failed; the first error is rethrown). */
  private async end(reason: StopReason): Promise<void> {
    if (!this.started || this.ended) return;
    this.ended = true;
    let error: unknown = null;
    for (const hook of ['onTrainStop', 'onTrainEnd'] as const) {
      for (const cb of this.callbacks) {
        try {
          await cb[hook]?.(this, reason);
        } catch (e) {
          error ??= e;
        }
      }
    }
    if (error) throw error;
  }
}

/** Resuming `ckpt` with `cfg` makes sense: the same model, and iterations left to train. */
function checkResumable(ckpt: CheckpointContents, source: string, cfg: TrainConfig): void {
  const kind = ckpt.format === 'ours' ? checkpointModel(ckpt) : null;
  if (kind && kind !== cfg.model) throw new Error(modelMismatch(source, kind, cfg.model));
  const it = ckpt.state.iteration;
  if (it > cfg.train.total_iter) {
    throw new Error(`${source}: the checkpoint is at iteration ${it}, past train.total_iter ${cfg.train.total_iter} — nothing to train; raise it (--set train.total_iter=N)`);
  }
}

function modelMismatch(source: string, kind: ModelKind, want: ModelKind): string {
  return `${source}: this checkpoint is a ${MODELS[kind].noun} model (${kind}), the config trains ${MODELS[want].noun} (${want}); give the config it was trained with`;
}

/**
 * Makes sure a run starting at `resumeAt` (a checkpoint of ours in `dir`; null = from scratch or
 * an official set) overwrites no other run's checkpoints: a folder whose latest.json is past the
 * start is an error unless `overwrite`, which deletes the checkpoints after the start.
 */
function claimRunFolder(dir: string, resumeAt: number | null, overwrite: boolean, log: Log): void {
  const latest = latestCheckpoint(dir);
  const start = resumeAt ?? -1;
  if (latest === null || latest <= start) return;
  if (!overwrite) {
    throw new Error(
      resumeAt === null
        ? `${dir}: already holds checkpoints (latest.json: iteration ${latest}); continue them with --resume ${dir}, or start over with --overwrite (deletes them)`
        : `${dir}: iteration ${resumeAt} is not the newest checkpoint here (latest.json: iteration ${latest}); resume ${dir} for the newest, ` +
            `copy the folder to branch off, or give --overwrite to delete the checkpoints after ${resumeAt}`,
    );
  }
  const gone = dropCheckpointsAfter(dir, start);
  log(`${dir}: --overwrite: deleted the checkpoint(s) of iteration ${gone.join(', ')}${resumeAt === null ? '' : ` (after ${resumeAt})`}`);
}
