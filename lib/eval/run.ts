/**
 * `propainter evaluate` as a library call: flag-level settings (the official scripts' arguments
 * and defaults) → dataset, weights, networks → the evaluation loop of lib/eval/evaluate. Weights
 * a metric needs but that are absent skip that metric with a note; weights the completion needs
 * are an error naming the file.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import type { Module } from '../nn/module';
import { loadPretrained } from '../models/weights';
import { RecurrentFlowCompleteNet } from '../models/flow-completion';
import { loadRaft, checkRaftSize } from '../models/raft';
import { InceptionI3d, loadI3d } from '../models/i3d';
import { loadLpips } from '../models/lpips';
import { EvalDataset } from './dataset';
import { EVAL_RAFT_CHUNK, FlowSource } from './flows';
import { CompleteVideo, evaluateFlowCompletion, evaluateProPainter, framesFromFolder } from './evaluate';
import type { EvalDatasetName, EvalModel, EvalProtocol, EvalTask, ResultsFile, WeightInfo } from './results';
import { EVAL_WEIGHT_FILES, EvalWeightRole, weightInfo } from './weights';
import { WholeVideoNet, checkWholeVideoFits } from './memory';

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
  raftModelPath?: string;
  fcModelPath?: string;
  propainterModelPath?: string;
  i3dModelPath?: string;
  lpipsModelPath?: string;
  lpipsTrunkPath?: string;
  saveResults?: boolean;
  videos?: string[];
  /** Output folder (default: the official results_eval/… or results_flow/… path). */
  out?: string;
  /** Score the results stored as <dir>/<video>/NNNNN.png instead of running the completion. */
  framesFrom?: string;
  maxFrames?: number;
  fresh?: boolean;
  log?: (line: string) => void;
}

/** The official scripts' result folders. */
export function defaultEvaluationDir(model: EvalModel, dataset: EvalDatasetName, task: EvalTask, refStride: number, neighborLength: number): string {
  return model === 'flowcomp' ? path.join('results_flow', dataset) : path.join('results_eval', `${dataset}_rs_${refStride}_nl_${neighborLength}_${task}`);
}

/** The message when the ProPainter completion is asked for before lib/inference provides it. */
export const PROPAINTER_COMPLETION_PENDING =
  '--model propainter: the ProPainter completion stages (lib/inference, issue #11) are not wired into evaluate yet; ' +
  'score finished frames with --frames_from DIR, or evaluate the flow completion with --model flowcomp';

export async function runEvaluation(req: EvaluationRequest): Promise<ResultsFile> {
  const log = req.log ?? ((l: string) => console.log(l));
  const model = req.model ?? 'propainter';
  const task = req.task ?? 'video_completion';
  const width = req.width ?? 432;
  const height = req.height ?? 240;
  const refStride = req.refStride ?? 10;
  const neighborLength = req.neighborLength ?? 20;
  const raftIter = req.raftIter ?? 20;
  if (model === 'propainter' && !req.framesFrom) throw new Error(PROPAINTER_COMPLETION_PENDING);
  if (model === 'flowcomp' && req.framesFrom) throw new Error('--frames_from scores completed frames: it goes with --model propainter');
  if (model === 'flowcomp' && (width % 8 || height % 8)) throw new Error(`--width ${width} --height ${height}: the flow-completion network needs multiples of 8`);
  const weightsDir = req.weights ?? 'weights';
  if (req.weights && !fs.existsSync(req.weights)) throw new Error(`${path.resolve(req.weights)}: weights folder not found (--weights)`);
  const explicit: Partial<Record<EvalWeightRole, string | undefined>> = {
    raft: req.raftModelPath, flowcomp: req.fcModelPath, propainter: req.propainterModelPath, i3d: req.i3dModelPath,
    lpips: req.lpipsModelPath, lpips_trunk: req.lpipsTrunkPath,
  };
  const fileOf = (role: EvalWeightRole) => explicit[role] ?? path.join(weightsDir, EVAL_WEIGHT_FILES[role]);
  const dataset = EvalDataset.open({
    videoRoot: req.videoRoot, maskRoot: req.maskRoot, flowRoot: req.flowRoot, loadFlow: req.loadFlow,
    width, height, videos: req.videos, maxFrames: req.maxFrames,
  });
  const protocol: EvalProtocol = {
    model, dataset: req.dataset, task, width, height, neighbor_length: neighborLength, ref_stride: refStride, raft_iter: raftIter,
    load_flow: !!req.loadFlow, video_root: dataset.videoRoot, mask_root: dataset.maskRoot, flow_root: dataset.flowRoot,
    videos: req.videos?.length ? [...dataset.videoNames] : null, max_frames: req.maxFrames ?? null,
    frames_from: req.framesFrom ? path.resolve(req.framesFrom) : null,
  };
  const out = req.out ?? defaultEvaluationDir(model, req.dataset, task, refStride, neighborLength);
  // Saving results (or --fresh) in the folder being scored would overwrite (or delete) its frames.
  if (req.framesFrom && path.resolve(req.framesFrom) === path.resolve(out)) throw new Error(`${path.resolve(out)}: --frames_from must not be the output folder`);
  // The whole-video networks must fit the wasm heap for the longest video: refused up front.
  const fits = (net: WholeVideoNet) => {
    if (tf.getBackend() !== 'wasm') return;
    const i = dataset.frameCounts.indexOf(Math.max(...dataset.frameCounts));
    checkWholeVideoFits(net, path.join(dataset.videoRoot, dataset.videoNames[i]), dataset.frameCounts[i], height, width);
  };
  const weights: Record<string, WeightInfo> = {};
  const notes: string[] = [];
  const owned: Module[] = [];
  const load = <M extends Module>(role: EvalWeightRole, make: (file: string) => M): M => {
    const file = fileOf(role);
    const m = make(file);
    owned.push(m);
    weights[role] = weightInfo(file);
    return m;
  };
  const raftFlows = (): FlowSource => {
    checkRaftSize(height, width);
    const raft = load('raft', loadRaft);
    raft.eval();
    return { kind: 'raft', model: raft, iters: raftIter };
  };
  try {
    const common = { out, protocol, dataset, weights, saveResults: req.saveResults, fresh: req.fresh, notes, backend: tf.getBackend(), log };
    if (model === 'flowcomp') {
      fits('flowcomp');
      const net = load('flowcomp', (f) => loadPretrained(() => new RecurrentFlowCompleteNet(), f, 'Flow-completion', 'recurrent_flow_completion.pth from the official ProPainter release'));
      const flows: FlowSource = req.loadFlow ? { kind: 'loaded' } : raftFlows();
      log(`flow completion on ${dataset.length} video(s) (${req.loadFlow ? 'flows from --flow_root' : `RAFT ${raftIter} iterations in ${EVAL_RAFT_CHUNK}-frame chunks`}) → ${path.resolve(out)}`);
      return await evaluateFlowCompletion({ ...common, model: net, flows });
    }
    const complete: CompleteVideo = framesFromFolder(req.framesFrom!);
    const completion = task === 'video_completion';
    const optional = <M extends Module>(role: EvalWeightRole, what: string, make: (file: string) => M): M | null => {
      if (!completion) return null;
      if (!fs.existsSync(fileOf(role))) {
        notes.push(`${what} skipped: no weights at ${path.resolve(fileOf(role))}`);
        return null;
      }
      return load(role, make);
    };
    let i3d: InceptionI3d | null = null;
    if (completion && dataset.length < 2) {
      // VFID compares statistics across videos: with one video there is nothing to run I3D for.
      notes.push('VFID skipped: it compares feature statistics across videos and needs at least 2 videos');
    } else {
      if (completion && fs.existsSync(fileOf('i3d'))) fits('i3d');
      i3d = optional('i3d', 'VFID', loadI3d);
    }
    const lpips = optional('lpips', 'LPIPS', (f) => {
      const trunk = fileOf('lpips_trunk');
      const m = loadLpips(f, 'alex', { trunk: fs.existsSync(trunk) ? trunk : undefined });
      if (fs.existsSync(trunk)) weights.lpips_trunk = weightInfo(trunk);
      return m;
    });
    let flows: FlowSource | null = null;
    if (completion) {
      if (req.loadFlow) flows = { kind: 'loaded' };
      else if (fs.existsSync(fileOf('raft'))) flows = raftFlows();
      else notes.push(`E_warp skipped: it needs flows of the ground-truth frames (--load_flow, or RAFT weights at ${path.resolve(fileOf('raft'))})`);
    }
    for (const n of notes) log(`note: ${n}`);
    log(`scoring the frames of ${path.resolve(req.framesFrom!)} on ${dataset.length} video(s) → ${path.resolve(out)}`);
    return await evaluateProPainter({ ...common, complete, flows, completionNeedsFlows: false, timed: false, i3d, lpips });
  } finally {
    for (const m of owned) m.dispose();
  }
}
