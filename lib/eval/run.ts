/**
 * `propainter evaluate` as a library call: flag-level settings (the official scripts' arguments
 * and defaults) → a plan (dataset, weights, what runs) → the evaluation loop of lib/eval/evaluate,
 * in this process or spread over worker processes (lib/eval/pool). Weights a metric needs but
 * that are absent skip that metric with a note; weights the completion needs are an error naming
 * the file and the official one.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import type { Module } from '../nn/module';
import { loadWeights } from '../models/weights';
import { RecurrentFlowCompleteNet } from '../models/flow-completion';
import { RAFT, checkRaftSize } from '../models/raft';
import { InpaintGenerator } from '../models/propainter';
import { InceptionI3d } from '../models/i3d';
import { LPIPS, loadLpips } from '../models/lpips';
import { applyDetInit } from '../init/apply';
import { trainedWeightsFile } from '../train/run-folder';
import { OFFICIAL_WEIGHT_FILES, findWeightFile, missingWeightMessage, type WeightRole } from '../inference/models';
import { EVALUATION_RAFT_CHUNK } from '../inference/plan';
import { EvalDataset, type EvalDatasetOptions } from './dataset';
import type { FlowSource } from './flows';
import { propainterCompletion } from './completion';
import { SSIM_WINDOW } from './metrics';
import {
  CompleteVideo, EvaluationCommon, VideoEvaluation, evaluateVideos, flowCompletionVideoEvaluator, framesFromFolder, propainterVideoEvaluator,
} from './evaluate';
import { DET_INIT_WEIGHTS, RecordStore, type EvalDatasetName, type EvalModel, type EvalProtocol, type EvalTask, type ResultsFile, type WeightInfo } from './results';
import { weightInfo } from './weights';
import { EvalHeapSettings, WholeVideoNet, checkWholeVideoFits, wholeVideoHeapBytes } from './memory';
import { startEvaluationWorkers } from './pool';

export interface EvaluationRequest {
  model?: EvalModel;
  dataset: EvalDatasetName;
  videoRoot: string;
  maskRoot: string;
  flowRoot?: string;
  loadFlow?: boolean;
  task?: EvalTask;
  neighborLength?: number;
  refStride?: number;
  raftIter?: number;
  width?: number;
  height?: number;
  /** Folder of the weight files (default `weights`); the *Path options override single files. */
  weights?: string;
  /** Files (or training run folders: their newest checkpoint) that override the weights folder's. */
  raftModelPath?: string;
  fcModelPath?: string;
  propainterModelPath?: string;
  i3dModelPath?: string;
  lpipsModelPath?: string;
  lpipsTrunkPath?: string;
  /**
   * Det-init v1 (untrained, deterministic) weights instead of files for every network
   * (RAFT, flow completion, generator, I3D) or for the roles listed; a file given explicitly
   * still wins. Smoke runs, the parity fixture, baselines — results.json says so.
   */
  detInit?: boolean | readonly WeightRole[];
  saveResults?: boolean;
  videos?: string[];
  /** Output folder (default: the official results_eval/… or results_flow/… path). */
  out?: string;
  /** Score the results stored as <dir>/<video>/NNNNN.png instead of running the completion. */
  framesFrom?: string;
  maxFrames?: number;
  fresh?: boolean;
  /**
   * Worker processes, each with its own backend, evaluating videos in parallel (results equal a
   * single process's). 'auto': the cores, within the memory a process needs. Default 1 (this process).
   */
  nproc?: number | 'auto';
  log?: (line: string) => void;
}

/** The official scripts' result folders. */
export function defaultEvaluationDir(model: EvalModel, dataset: EvalDatasetName, task: EvalTask, refStride: number, neighborLength: number): string {
  return model === 'flowcomp' ? path.join('results_flow', dataset) : path.join('results_eval', `${dataset}_rs_${refStride}_nl_${neighborLength}_${task}`);
}

/** How a network's weights are obtained: a file, or det-init v1. */
export type WeightSource = { file: string } | { detInit: true };

/**
 * Everything an evaluation process needs, resolved and checked (serialisable: worker processes
 * receive it): the dataset options, the settings, where each network's weights come from.
 */
export interface EvaluationPlan {
  protocol: EvalProtocol;
  dataset: EvalDatasetOptions;
  out: string;
  /** The networks that run, by role. */
  networks: Partial<Record<WeightRole, WeightSource>>;
  /** As results.json records them, by role. */
  weights: Record<string, WeightInfo>;
  notes: string[];
  saveResults: boolean;
  fresh: boolean;
  backend: string;
}

const NETWORK_NAME: Record<WeightRole, string> = {
  raft: 'RAFT', flowComplete: 'flow completion', generator: 'ProPainter generator', i3d: 'I3D', lpips: 'LPIPS', lpipsTrunk: 'LPIPS trunk',
};

/** Resolves the request into a plan: checks the dataset, the weights and the memory before any work. */
export function planEvaluation(req: EvaluationRequest): EvaluationPlan {
  const model = req.model ?? 'propainter';
  const task = req.task ?? 'video_completion';
  const width = req.width ?? 432;
  const height = req.height ?? 240;
  const refStride = req.refStride ?? 10;
  const neighborLength = req.neighborLength ?? 20;
  const raftIter = req.raftIter ?? 20;
  const framesFrom = req.framesFrom ? path.resolve(req.framesFrom) : null;
  const completes = model === 'propainter' && !framesFrom;
  if (model === 'flowcomp' && framesFrom) throw new Error('--frames_from scores completed frames: it goes with --model propainter');
  // The networks run at the evaluation size (the inference stages would resize otherwise).
  if ((model === 'flowcomp' || completes) && (width % 8 || height % 8)) {
    throw new Error(`--width ${width} --height ${height}: the ${model === 'flowcomp' ? 'flow-completion network' : 'ProPainter completion'} needs multiples of 8`);
  }
  const weightsDir = req.weights ?? 'weights';
  if (req.weights && !fs.existsSync(req.weights)) throw new Error(`${path.resolve(req.weights)}: weights folder not found (--weights)`);
  const explicit: Partial<Record<WeightRole, string | undefined>> = {
    raft: req.raftModelPath, flowComplete: req.fcModelPath, generator: req.propainterModelPath, i3d: req.i3dModelPath,
    lpips: req.lpipsModelPath, lpipsTrunk: req.lpipsTrunkPath,
  };
  const detInit = new Set<WeightRole>(req.detInit === true ? ['raft', 'flowComplete', 'generator', 'i3d'] : req.detInit || []);
  /** Where `role`'s weights come from; null when the folder lacks them (the caller decides: error or note). */
  const sourceOf = (role: WeightRole): WeightSource | null => {
    const given = explicit[role];
    if (given) {
      const file = trainedWeightsFile(given);
      if (!file) throw new Error(missingWeightMessage(path.resolve(given), role));
      return { file: path.resolve(file) };
    }
    if (detInit.has(role)) return { detInit: true };
    const file = findWeightFile(weightsDir, role);
    return file ? { file: path.resolve(file) } : null;
  };
  const officialPath = (role: WeightRole) => path.resolve(weightsDir, OFFICIAL_WEIGHT_FILES[role]);
  const networks: Partial<Record<WeightRole, WeightSource>> = {};
  const notes: string[] = [];
  const need = (role: WeightRole) => {
    const s = sourceOf(role);
    if (!s) throw new Error(missingWeightMessage(officialPath(role), role, true));
    networks[role] = s;
  };
  const optional = (role: WeightRole, skipped: string): boolean => {
    const s = sourceOf(role);
    if (s) networks[role] = s;
    else notes.push(`${skipped} skipped: no weights at ${officialPath(role)}`);
    return !!s;
  };

  const dataset = EvalDataset.open({
    videoRoot: req.videoRoot, maskRoot: req.maskRoot, flowRoot: req.flowRoot, loadFlow: req.loadFlow,
    width, height, videos: req.videos, maxFrames: req.maxFrames,
  });
  const protocol: EvalProtocol = {
    model, dataset: req.dataset, task, width, height, neighbor_length: neighborLength, ref_stride: refStride, raft_iter: raftIter,
    load_flow: !!req.loadFlow, video_root: dataset.videoRoot, mask_root: dataset.maskRoot, flow_root: dataset.flowRoot,
    videos: req.videos?.length ? [...dataset.videoNames] : null, max_frames: req.maxFrames ?? null, frames_from: framesFrom,
  };
  const out = path.resolve(req.out ?? defaultEvaluationDir(model, req.dataset, task, refStride, neighborLength));
  // Saving results (or --fresh) in the folder being scored would overwrite (or delete) its frames.
  if (framesFrom && framesFrom === out) throw new Error(`${out}: --frames_from must not be the output folder`);

  const completion = task === 'video_completion';
  if (model === 'flowcomp') {
    need('flowComplete');
    if (!req.loadFlow) need('raft');
  } else {
    if (completes) {
      need('flowComplete');
      need('generator');
      // The completion (and E_warp) take the loaded flows, else RAFT's.
      if (!req.loadFlow) need('raft');
    }
    if (completion) {
      if (width < SSIM_WINDOW || height < SSIM_WINDOW) notes.push(`SSIM skipped: its official ${SSIM_WINDOW}×${SSIM_WINDOW} window does not fit ${width}x${height} frames`);
      // VFID compares statistics across videos: with one video there is nothing to run I3D for.
      if (dataset.length < 2) notes.push('VFID skipped: it compares feature statistics across videos and needs at least 2 videos');
      else optional('i3d', 'VFID');
      if (optional('lpips', 'LPIPS')) {
        const trunk = sourceOf('lpipsTrunk');
        if (trunk) networks.lpipsTrunk = trunk;
      }
      if (!req.loadFlow && !completes) {
        const raft = sourceOf('raft');
        if (raft) networks.raft = raft;
        else notes.push(`E_warp skipped: it needs flows of the ground-truth frames (--load_flow, or RAFT weights at ${officialPath('raft')})`);
      }
    }
  }
  if (networks.raft) checkRaftSize(height, width);
  if (tf.getBackend() === 'wasm') {
    // The whole-video stages must fit the wasm heap for the longest video: refused up front.
    const i = dataset.frameCounts.indexOf(Math.max(...dataset.frameCounts));
    const video = path.join(dataset.videoRoot, dataset.videoNames[i]);
    const heap = heapSettings(protocol);
    for (const net of wholeVideoNets(protocol, networks)) checkWholeVideoFits(net, video, dataset.frameCounts[i], height, width, heap);
  }
  // Identified by content, so a resume never mixes two checkpoints; listed in one fixed order.
  const weights: Record<string, WeightInfo> = {};
  for (const role of Object.keys(NETWORK_NAME) as WeightRole[]) {
    const s = networks[role];
    if (s) weights[role] = 'file' in s ? weightInfo(s.file) : DET_INIT_WEIGHTS;
  }
  return {
    protocol,
    dataset: {
      videoRoot: dataset.videoRoot, maskRoot: dataset.maskRoot, flowRoot: dataset.flowRoot, loadFlow: dataset.loadFlow,
      width, height, videos: [...dataset.videoNames], maxFrames: req.maxFrames ?? null,
    },
    out,
    networks,
    weights,
    notes,
    saveResults: !!req.saveResults,
    fresh: !!req.fresh,
    backend: tf.getBackend(),
  };
}

const heapSettings = (p: EvalProtocol): EvalHeapSettings => ({ neighborLength: p.neighbor_length, refStride: p.ref_stride, flowsGiven: p.load_flow });

function wholeVideoNets(p: EvalProtocol, networks: EvaluationPlan['networks']): WholeVideoNet[] {
  const nets: WholeVideoNet[] = [];
  if (p.model === 'flowcomp') nets.push('flowcomp');
  else if (networks.generator) nets.push('completion');
  if (networks.i3d) nets.push('i3d');
  return nets;
}

/**
 * What one evaluation process needs for a video of `frames` frames: the wasm heap of its
 * largest whole-video stage (on wasm), the video's host arrays (frames, masks, flows, results;
 * ≈ 64 bytes per pixel and frame) and Node's own ~0.5 GiB.
 */
export function evaluationProcessBytes(plan: EvaluationPlan, frames: number): number {
  const { width, height } = plan.protocol;
  const heap = plan.backend === 'wasm' ? Math.max(0, ...wholeVideoNets(plan.protocol, plan.networks).map((n) => wholeVideoHeapBytes(n, frames, height, width, heapSettings(plan.protocol)))) : 0;
  return heap + 64 * frames * height * width + 2 ** 29;
}

/** --nproc auto: the cores, as many as the available memory holds processes of `perProcess` bytes (at least 1). */
export function autoProcessCount(perProcess: number, cores = os.availableParallelism(), available = os.freemem()): number {
  return Math.max(1, Math.min(cores, Math.floor(available / perProcess)));
}

/** The networks of a plan, loaded in this process, and its per-video evaluation. */
export function openEvaluator(plan: EvaluationPlan, dataset: EvalDataset, log: (line: string) => void): { evaluate: VideoEvaluation; dispose(): void } {
  const owned: Module[] = [];
  const dispose = () => {
    for (const m of owned) m.dispose();
    owned.length = 0;
  };
  const make: Record<WeightRole, (() => Module) | null> = {
    raft: () => new RAFT(), flowComplete: () => new RecurrentFlowCompleteNet(), generator: () => new InpaintGenerator(),
    i3d: () => new InceptionI3d(), lpips: () => new LPIPS({ net: 'alex' }), lpipsTrunk: null,
  };
  const nets: Partial<Record<WeightRole, Module>> = {};
  try {
    // Files first: a bad one fails before seconds of det-init generation. LPIPS files load with their trunk.
    const roles = (Object.keys(plan.networks) as WeightRole[]).filter((r) => make[r] && !(r === 'lpips' && 'file' in plan.networks.lpips!));
    roles.sort((a, b) => Number('detInit' in plan.networks[a]!) - Number('detInit' in plan.networks[b]!));
    for (const role of roles) {
      const s = plan.networks[role]!;
      const m = make[role]!();
      owned.push(m);
      if ('detInit' in s) applyDetInit(m);
      else loadWeights(m, s.file);
      m.eval();
      nets[role] = m;
    }
    const lp = plan.networks.lpips;
    if (lp && 'file' in lp) {
      const trunk = plan.networks.lpipsTrunk;
      nets.lpips = loadLpips(lp.file, 'alex', { trunk: trunk && 'file' in trunk ? trunk.file : undefined });
      owned.push(nets.lpips);
    }
    const common = commonOf(plan, dataset, log);
    const p = plan.protocol;
    const raft = (nets.raft as RAFT | undefined) ?? null;
    const flows: FlowSource | null = p.load_flow ? { kind: 'loaded' } : raft ? { kind: 'raft', model: raft, iters: p.raft_iter } : null;
    if (p.model === 'flowcomp') {
      return { evaluate: flowCompletionVideoEvaluator({ ...common, model: nets.flowComplete as RecurrentFlowCompleteNet, flows: flows! }), dispose };
    }
    let complete: CompleteVideo;
    if (p.frames_from) complete = framesFromFolder(p.frames_from);
    else {
      // With loaded flows RAFT never runs, but InpaintModels holds one.
      const unusedRaft = raft ? null : new RAFT();
      if (unusedRaft) owned.push(unusedRaft);
      const models = { raft: raft ?? unusedRaft!, flowComplete: nets.flowComplete as RecurrentFlowCompleteNet, generator: nets.generator as InpaintGenerator };
      complete = propainterCompletion(models, { neighborLength: p.neighbor_length, refStride: p.ref_stride, raftIter: p.raft_iter });
    }
    const evaluate = propainterVideoEvaluator({
      ...common, complete, flows, completionNeedsFlows: !p.frames_from, timed: !p.frames_from,
      i3d: (nets.i3d as InceptionI3d | undefined) ?? null, lpips: (nets.lpips as LPIPS | undefined) ?? null,
    });
    return { evaluate, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}

function commonOf(plan: EvaluationPlan, dataset: EvalDataset, log: (line: string) => void): EvaluationCommon {
  return {
    out: plan.out, protocol: plan.protocol, dataset, weights: plan.weights, saveResults: plan.saveResults, fresh: plan.fresh,
    notes: plan.notes, backend: plan.backend, log,
  };
}

function describe(plan: EvaluationPlan, videos: number, procs: number): string {
  const p = plan.protocol;
  const where = `${videos} video(s)${procs > 1 ? ` on ${procs} worker processes` : ''} → ${plan.out}`;
  const flows = p.load_flow ? 'flows from --flow_root' : `RAFT ${p.raft_iter} iterations in ${EVALUATION_RAFT_CHUNK}-frame chunks`;
  if (p.model === 'flowcomp') return `flow completion on ${where} (${flows})`;
  if (p.frames_from) return `scoring the frames of ${p.frames_from} on ${where}`;
  const det = Object.values(plan.networks).some((s) => 'detInit' in s) ? '; det-init (UNTRAINED) weights for ' +
    (Object.keys(NETWORK_NAME) as WeightRole[]).filter((r) => plan.networks[r] && 'detInit' in plan.networks[r]!).map((r) => NETWORK_NAME[r]).join(', ') : '';
  return `ProPainter completion on ${where} (${flows}, neighbor_length ${p.neighbor_length}, ref_stride ${p.ref_stride}${det})`;
}

export async function runEvaluation(req: EvaluationRequest): Promise<ResultsFile> {
  const log = req.log ?? ((l: string) => console.log(l));
  const plan = planEvaluation(req);
  const dataset = EvalDataset.open(plan.dataset);
  let procs = 1;
  if (req.nproc === 'auto') procs = autoProcessCount(evaluationProcessBytes(plan, Math.max(...dataset.frameCounts)));
  else if (req.nproc !== undefined) {
    if (!Number.isInteger(req.nproc) || req.nproc < 1) throw new Error(`--nproc ${req.nproc}: give a whole number of processes ≥ 1`);
    procs = req.nproc;
  }
  // No more workers than videos left (a resume skips the recorded ones).
  const store = new RecordStore(plan.out);
  const left = plan.fresh ? dataset.length : dataset.videoNames.filter((v) => !store.has(v)).length;
  procs = Math.max(1, Math.min(procs, left));
  for (const n of plan.notes) log(`note: ${n}`);
  log(describe(plan, dataset.length, procs));
  const common = commonOf(plan, dataset, log);
  if (procs === 1) {
    const ev = openEvaluator(plan, dataset, log);
    try {
      return await evaluateVideos(common, ev.evaluate);
    } finally {
      ev.dispose();
    }
  }
  const pool = await startEvaluationWorkers(plan, procs, (i) => path.join(dataset.videoRoot, dataset.videoNames[i]), log);
  try {
    return await evaluateVideos(common, pool.evaluate, { concurrency: procs });
  } finally {
    await pool.close();
  }
}

