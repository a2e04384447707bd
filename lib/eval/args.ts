/**
 * The flags of `propainter evaluate` — the official evaluation scripts' arguments and defaults
 * (scripts/evaluate_propainter.py, scripts/evaluate_flow_completion.py) and ours — as commander
 * options, shared by the command and the evaluation fixture cases (which replay the official
 * argument lists).
 */
import { Command } from 'commander';
import { UserError, choiceOption, intOption } from '../cli/command';
import type { BackendName } from '../runtime';
import { OFFICIAL_WEIGHT_FILES } from '../inference/models';
import type { EvaluationRequest } from './run';

export interface EvaluateCliOptions {
  model: 'propainter' | 'flowcomp';
  dataset: 'davis' | 'youtube-vos';
  video_root: string;
  mask_root: string;
  flow_root?: string;
  load_flow?: boolean;
  task: 'video_completion' | 'object_removal';
  neighbor_length: number;
  ref_stride: number;
  raft_iter: number;
  width: number;
  height: number;
  weights?: string;
  raft_model_path?: string;
  fc_model_path?: string;
  propainter_model_path?: string;
  i3d_model_path?: string;
  lpips_model_path?: string;
  lpips_trunk_path?: string;
  save_results?: boolean;
  videos?: string[];
  out?: string;
  frames_from?: string;
  max_frames?: number;
  fresh?: boolean;
  det_init?: boolean;
  nproc: number | 'auto';
  num_workers: number;
  backend?: BackendName;
}

/** --load_flow takes the official script's optional value (`--load_flow 1`); false / 0 / no turn it off. */
function flag(name: string) {
  return (v: string): boolean => {
    const s = v.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(s)) return true;
    if (['0', 'false', 'no', 'off'].includes(s)) return false;
    throw new UserError(`--${name} takes no value or one of 1, true, yes, 0, false, no (got '${v}')`);
  };
}

const videoList = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);

/** --nproc: a process count, or auto. */
export const processCount = (v: string): number | 'auto' => (v.trim().toLowerCase() === 'auto' ? 'auto' : intOption('nproc')(v));

/** Adds every flag with its default (the official ones first). */
export function addEvaluateOptions(cmd: Command): Command {
  return cmd
    .option('--model <name>', 'propainter | flowcomp (scripts/evaluate_flow_completion.py)', choiceOption('model', ['propainter', 'flowcomp'] as const), 'propainter')
    .requiredOption('--dataset <name>', 'davis | youtube-vos', choiceOption('dataset', ['davis', 'youtube-vos'] as const))
    .requiredOption('--video_root <dir>', 'one folder of frames per video (e.g. datasets/davis/JPEGImages_432_240)')
    .requiredOption('--mask_root <dir>', 'one folder of masks 00000.png … per video; its sub-folders are the videos evaluated')
    .option('--flow_root <dir>', 'precomputed flows <video>/<a>_<b>_f.flo, <b>_<a>_b.flo (propainter compute-flow)')
    .option('--load_flow [bool]', 'use the flows of --flow_root instead of RAFT', flag('load_flow'))
    .option('--task <name>', 'video_completion | object_removal (no ground truth: time only)', choiceOption('task', ['video_completion', 'object_removal'] as const), 'video_completion')
    .option('--neighbor_length <n>', 'local window length (stride = half of it)', intOption('neighbor_length', 2), 20)
    .option('--ref_stride <n>', 'stride of the reference frames', intOption('ref_stride'), 10)
    .option('--raft_iter <n>', 'RAFT refinement iterations', intOption('raft_iter'), 20)
    .option('--width <n>', 'processing width', intOption('width'), 432)
    .option('--height <n>', 'processing height', intOption('height'), 240)
    .option('--weights <dir>', `folder of the weight files (default weights/; official names: ${Object.values(OFFICIAL_WEIGHT_FILES).join(', ')}; or .safetensors with the same stems)`)
    .option('--raft_model_path <file>', 'RAFT weights (default <weights>/raft-things.pth)')
    .option('--fc_model_path <file>', 'flow-completion weights, or a flow-completion training run folder (its newest checkpoint) (default <weights>/recurrent_flow_completion.pth)')
    .option('--propainter_model_path <file>', 'ProPainter weights, or a ProPainter training run folder (its newest checkpoint) (default <weights>/ProPainter.pth)')
    .option('--i3d_model_path <file>', 'I3D weights for VFID (default <weights>/i3d_rgb_imagenet.pt; absent: VFID skipped)')
    .option('--lpips_model_path <file>', 'LPIPS(alex) heads or full state dict (default <weights>/alex.pth; absent: LPIPS skipped)')
    .option('--lpips_trunk_path <file>', 'torchvision AlexNet for LPIPS (default <weights>/alexnet-owt-7be5be79.pth)')
    .option('--save_results', 'write the completed frames as <out>/<video>/NNNNN.png (flowcomp: forward_png/, backward_png/)')
    .option('--videos <a,b>', 'only these videos', videoList)
    .option('-o, --out <dir>', 'output folder (default: results_eval/<dataset>_rs_<rs>_nl_<nl>_<task> or results_flow/<dataset>)')
    .option('--frames_from <dir>', 'score completed frames stored as <dir>/<video>/NNNNN.png instead of running the completion')
    .option('--max_frames <n>', 'only the first N frames of every video (quick runs; not the official protocol)', intOption('max_frames', 2))
    .option('--fresh', 'start over instead of resuming in the output folder')
    .option('--det_init', 'det-init v1 (UNTRAINED, deterministic) weights for RAFT, flow completion, the generator and I3D where no file is given: smoke runs and baselines, said so in results.json')
    .option('--nproc <n|auto>', 'worker processes evaluating videos in parallel, each with its own backend (results equal one process\'s); auto: the cores, within the memory each process needs', processCount, 'auto')
    .option('--num_workers <n>', 'accepted for compatibility with the official scripts (frames are decoded in parallel by sharp)', intOption('num_workers', 0), 4)
    .option('--backend <name>', 'tensorflow | wasm | cpu (default: best available)');
}

/** Commander's options → the library request (`runEvaluation`). */
export function requestFromOptions(o: EvaluateCliOptions): EvaluationRequest {
  return {
    model: o.model, dataset: o.dataset, videoRoot: o.video_root, maskRoot: o.mask_root, flowRoot: o.flow_root,
    loadFlow: o.load_flow ?? false, task: o.task, neighborLength: o.neighbor_length, refStride: o.ref_stride, raftIter: o.raft_iter,
    width: o.width, height: o.height, weights: o.weights, raftModelPath: o.raft_model_path, fcModelPath: o.fc_model_path,
    propainterModelPath: o.propainter_model_path, i3dModelPath: o.i3d_model_path, lpipsModelPath: o.lpips_model_path,
    lpipsTrunkPath: o.lpips_trunk_path, saveResults: o.save_results, videos: o.videos, out: o.out, framesFrom: o.frames_from,
    maxFrames: o.max_frames, fresh: o.fresh, detInit: o.det_init, nproc: o.nproc,
  };
}

/** Parses an argument list (e.g. a fixture case's `official_args`); errors are one line naming the flag. */
export function parseEvaluateArgs(argv: readonly string[]): EvaluateCliOptions {
  const cmd = addEvaluateOptions(new Command('evaluate')).exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  cmd.parse([...argv], { from: 'user' });
  return cmd.opts<EvaluateCliOptions>();
}
