/**
 * `propainter evaluate`: the official evaluation protocol (scripts/evaluate_propainter.py and, with
 * --model flowcomp, scripts/evaluate_flow_completion.py) with their flags and defaults; outputs
 * and definitions in docs/evaluation.md. A stopped evaluation resumes in the same output folder.
 */
import type { CliCommand } from '../command';
import { UserError, choiceOption, intOption } from '../command';
import { BackendName, initRuntime } from '../../runtime';
import { runEvaluation } from '../../eval/run';

interface Flags {
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

const command: CliCommand = {
  name: 'evaluate',
  description: 'evaluate on DAVIS / YouTube-VOS with the official protocol (PSNR, SSIM, VFID, E_warp, LPIPS; EPE for --model flowcomp)',
  configure: (cmd) =>
    cmd
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
      .option('--weights <dir>', 'folder of the weight files (official names: raft-things.pth, recurrent_flow_completion.pth, ProPainter.pth, i3d_rgb_imagenet.pt; LPIPS: alex.pth + alexnet-owt-7be5be79.pth)', 'weights')
      .option('--raft_model_path <file>', 'RAFT weights (default <weights>/raft-things.pth)')
      .option('--fc_model_path <file>', 'flow-completion weights (default <weights>/recurrent_flow_completion.pth)')
      .option('--propainter_model_path <file>', 'ProPainter weights (default <weights>/ProPainter.pth)')
      .option('--i3d_model_path <file>', 'I3D weights for VFID (default <weights>/i3d_rgb_imagenet.pt; absent: VFID skipped)')
      .option('--lpips_model_path <file>', 'LPIPS(alex) heads or full state dict (default <weights>/alex.pth; absent: LPIPS skipped)')
      .option('--lpips_trunk_path <file>', 'torchvision AlexNet for LPIPS (default <weights>/alexnet-owt-7be5be79.pth)')
      .option('--save_results', 'write the completed frames as <out>/<video>/NNNNN.png (flowcomp: forward_png/, backward_png/)')
      .option('--videos <a,b>', 'only these videos', videoList)
      .option('-o, --out <dir>', 'output folder (default: results_eval/<dataset>_rs_<rs>_nl_<nl>_<task> or results_flow/<dataset>)')
      .option('--frames_from <dir>', 'score completed frames stored as <dir>/<video>/NNNNN.png instead of running the completion')
      .option('--max_frames <n>', 'only the first N frames of every video (quick runs; not the official protocol)', intOption('max_frames', 2))
      .option('--fresh', 'start over instead of resuming in the output folder')
      .option('--num_workers <n>', 'accepted for compatibility with the official scripts (frames are decoded in parallel by sharp)', intOption('num_workers', 0), 4)
      .option('--backend <name>', 'tensorflow | wasm | cpu (default: best available)')
      .addHelpText(
        'after',
        `
Outputs in the output folder: <dataset>_metrics.txt (the official file, same line format),
results.json (settings, weights with SHA-256, summary, notes), per_video.csv, strips/<video>.jpg,
per_video/<video>.json (one record per finished video: a restarted evaluation skips them) and,
with --save_results, the completed frames. Definitions: docs/evaluation.md.`,
      )
      .action(async (o: Flags) => {
        const rt = await initRuntime({ backend: o.backend });
        console.log(`backend ${rt.backend}`);
        let res;
        try {
          res = await runEvaluation({
            model: o.model, dataset: o.dataset, videoRoot: o.video_root, maskRoot: o.mask_root, flowRoot: o.flow_root,
            loadFlow: o.load_flow === undefined ? false : o.load_flow, task: o.task, neighborLength: o.neighbor_length,
            refStride: o.ref_stride, raftIter: o.raft_iter, width: o.width, height: o.height, weights: o.weights,
            raftModelPath: o.raft_model_path, fcModelPath: o.fc_model_path, propainterModelPath: o.propainter_model_path,
            i3dModelPath: o.i3d_model_path, lpipsModelPath: o.lpips_model_path, lpipsTrunkPath: o.lpips_trunk_path,
            saveResults: o.save_results, videos: o.videos, out: o.out, framesFrom: o.frames_from, maxFrames: o.max_frames, fresh: o.fresh,
          });
        } catch (e) {
          throw new UserError((e as Error).message.split('\n')[0]);
        }
        const s = res.summary;
        const fmt = (v: number | null, d: number, scale = 1) => (v === null ? '–' : (v * scale).toFixed(d));
        console.log(
          res.protocol.model === 'flowcomp'
            ? `EPE ${fmt(s.epe, 4)} over ${s.videos} videos (${s.frames} frames)`
            : `PSNR ${fmt(s.psnr, 2)} SSIM ${fmt(s.ssim, 4)} VFID ${fmt(s.vfid, 3)} E_warp ${fmt(s.ewarp, 3, 1e3)}×10⁻³ LPIPS ${fmt(s.lpips, 4)} over ${s.videos} videos (${s.frames} frames)`,
        );
      }),
};
export default command;
