/**
 * The official inference flags (spec §13.1) as commander options, shared by `propainter inpaint`
 * and the inference fixture cases (which replay the official argument lists).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { OFFICIAL_DEFAULTS, type InpaintJob } from './job';

function int(name: string) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v.trim())) throw new InvalidArgumentError(`${name} must be an integer, got '${v}'`);
    return Number(v);
  };
}

function float(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got '${v}'`);
    return n;
  };
}

/** Adds -i/-m/-o and every official flag with its default. */
export function addInpaintOptions(cmd: Command): Command {
  const d = OFFICIAL_DEFAULTS;
  return cmd
    .requiredOption('-i, --video <path>', 'input video: a folder of frames or a video file (.mp4 .mov .avi …)')
    .option('-m, --mask <path>', 'a folder of per-frame masks or one mask image for every frame (non-zero = remove)')
    .option('-o, --output <dir>', 'output folder (results go to OUTPUT/<video name>/)', 'results')
    .option('--resize_ratio <r>', 'resize scale for processing', float('--resize_ratio'), d.resizeRatio)
    .option('--height <n>', 'processing height (with --width)', int('--height'), d.height)
    .option('--width <n>', 'processing width (with --height)', int('--width'), d.width)
    .option('--mask_dilation <n>', 'mask dilation iterations (flow and image masks)', int('--mask_dilation'), d.maskDilation)
    .option('--ref_stride <n>', 'stride of global reference frames', int('--ref_stride'), d.refStride)
    .option('--neighbor_length <n>', 'length of local neighbouring frames', int('--neighbor_length'), d.neighborLength)
    .option('--subvideo_length <n>', 'sub-video length for long videos (bounds memory)', int('--subvideo_length'), d.subvideoLength)
    .option('--raft_iter <n>', 'RAFT iterations', int('--raft_iter'), d.raftIter)
    .addOption(new Option('--mode <mode>', 'video_inpainting | video_outpainting').choices(['video_inpainting', 'video_outpainting']).default(d.mode))
    .option('--scale_h <s>', 'outpainting scale of the height', float('--scale_h'), d.scaleH)
    .option('--scale_w <s>', 'outpainting scale of the width', float('--scale_w'), d.scaleW)
    .option('--save_fps <n>', 'frames per second of the videos written for a frames folder', int('--save_fps'), d.saveFps)
    .option('--save_frames', 'also write OUTPUT/<name>/frames/NNNN.png', false)
    .option('--fp16', 'half precision (runs in float32 on backends without it; reported)', false);
}

export interface InpaintCliOptions {
  video: string;
  mask?: string;
  output: string;
  resize_ratio: number;
  height: number;
  width: number;
  mask_dilation: number;
  ref_stride: number;
  neighbor_length: number;
  subvideo_length: number;
  raft_iter: number;
  mode: InpaintJob['mode'];
  scale_h: number;
  scale_w: number;
  save_fps: number;
  save_frames: boolean;
  fp16: boolean;
}

/** Commander's options → a job; values the official script would choke on are one-line errors. */
export function jobFromOptions(o: InpaintCliOptions): InpaintJob {
  const positive: Array<[string, number]> = [
    ['--ref_stride', o.ref_stride], ['--subvideo_length', o.subvideo_length], ['--raft_iter', o.raft_iter], ['--save_fps', o.save_fps],
  ];
  for (const [name, v] of positive) if (v < 1) throw new Error(`${name} must be ≥ 1, got ${v}`);
  if (o.neighbor_length < 2) throw new Error(`--neighbor_length must be ≥ 2, got ${o.neighbor_length}`);
  if (o.mask_dilation < 0) throw new Error(`--mask_dilation must be ≥ 0, got ${o.mask_dilation}`);
  if (!(o.resize_ratio > 0)) throw new Error(`--resize_ratio must be > 0, got ${o.resize_ratio}`);
  if ((o.width === -1) !== (o.height === -1)) throw new Error('--width and --height go together (the official script ignores one alone); give both or neither');
  if (o.width !== -1 && (o.width < 1 || o.height < 1)) throw new Error(`--width/--height must be positive, got ${o.width}x${o.height}`);
  if (o.mode === 'video_outpainting' && (!(o.scale_h >= 1) || !(o.scale_w >= 1))) throw new Error(`--scale_h/--scale_w must be ≥ 1 for outpainting, got ${o.scale_h}, ${o.scale_w}`);
  return {
    video: o.video,
    mask: o.mask,
    resizeRatio: o.resize_ratio,
    height: o.height,
    width: o.width,
    maskDilation: o.mask_dilation,
    refStride: o.ref_stride,
    neighborLength: o.neighbor_length,
    subvideoLength: o.subvideo_length,
    raftIter: o.raft_iter,
    mode: o.mode,
    scaleH: o.scale_h,
    scaleW: o.scale_w,
    saveFps: o.save_fps,
  };
}

/** Parses an official argument list (e.g. a fixture case's `official_args`). */
export function parseInpaintArgs(argv: readonly string[]): InpaintCliOptions {
  const cmd = addInpaintOptions(new Command('inpaint')).exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  cmd.parse([...argv], { from: 'user' });
  return cmd.opts<InpaintCliOptions>();
}
