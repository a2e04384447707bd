/**
 * Model zoo for analysis and benchmarks: name → how to build the network and run its
 * representative forward (the call the official pipeline makes) at a given size and frame count,
 * with synthetic inputs (values do not change the cost; masks do, for the generator's sparse
 * attention, so a realistic moving hole is used).
 */
import { pseudoRandom } from '../nn/init';
import * as tf from '@tensorflow/tfjs-core';
import { inferenceRefNum, referenceIds } from '../inference/plan';
import type { Module } from '../nn/module';
import { RAFT, RAFT_MIN_SIZE } from './raft';
import { CORR_LEVELS } from './raft/corr';
import { RecurrentFlowCompleteNet, completeFlows } from './flow-completion';
import { InpaintGenerator, inpaintClip } from './propainter';
import { attentionWindowFlags } from './propainter/masks';
import { Discriminator } from './discriminator';
import { InceptionI3d, i3dFeatures } from './i3d';

export const MODEL_NAMES = ['raft', 'flowcomp', 'propainter', 'discriminator', 'i3d'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** Roles of networks: flow estimation, flow completion, inpainting generator, discriminator, features. */
export type NetworkRole = 'flow' | 'flow_completion' | 'generator' | 'discriminator' | 'features';

/** Construction options a role may need (the discriminator's sigmoid for non-hinge GAN losses). */
export interface BuildOptions {
  useSigmoid?: boolean;
}

export interface ForwardOptions {
  height: number;
  width: number;
  /** Frames of the clip (RAFT: ignored, always one pair; generator: local frames). */
  frames: number;
  /** RAFT refinement iterations. */
  iters: number;
  /** Generator: length of the video the local window sits in (decides the reference frames). */
  videoLength: number;
}

export interface ForwardSpec {
  description: string;
  inputs: Record<string, number[]>;
  /** One forward; returns its outputs (the caller disposes them). Intermediates are tidied. */
  run(): tf.TensorContainer;
  notes: string[];
  /** Frees the inputs. */
  dispose(): void;
}

export interface ZooEntry {
  name: ModelName;
  title: string;
  /** Trainable parameters of the official model (spec §8). */
  officialParams: number;
  /** Parameter-table depth and the module paths broken down one level further. */
  depth: number;
  expand: readonly string[];
  /** Height and width must be multiples of this and at least minSize. */
  sizeMultiple: number;
  minSize: number;
  minFrames: number;
  defaultFrames: number;
  /** What --frames means for this model. */
  framesHelp: string;
  /** What the network is for: training configs pick networks of a role (lib/models/networks.ts). */
  role: NetworkRole;
  build(opts?: BuildOptions): Module;
  describe(fo: ForwardOptions): string;
  inputShapes(fo: ForwardOptions): Record<string, number[]>;
  notes(fo: ForwardOptions): string[];
  prepare(model: Module, fo: ForwardOptions): ForwardSpec;
}

// ---------------------------------------------------------------------------------------------
// Synthetic inputs

/**
 * A moving object hole [1, T, H, W, 1] (1 = hole): an ellipse of 0.4·H × 0.24·W (× `scale`)
 * centred vertically, moving from 30 % to 70 % of the width across the clip — an object-removal
 * mask like the DAVIS ones, touching a realistic share of the generator's attention windows.
 */
export function movingHole(frames: number, height: number, width: number, scale = 1): Float32Array {
  const out = new Float32Array(frames * height * width);
  const ry = 0.2 * height * scale;
  const rx = 0.12 * width * scale;
  const cy = height / 2;
  for (let t = 0; t < frames; t++) {
    const cx = width * (0.3 + (0.4 * t) / Math.max(1, frames - 1));
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const d = ((y + 0.5 - cy) / ry) ** 2 + ((x + 0.5 - cx) / rx) ** 2;
        if (d <= 1) out[(t * height + y) * width + x] = 1;
      }
    }
  }
  return out;
}

/** A smooth synthetic flow field [1, N, H, W, 2] of a few pixels (dx, dy). */
function smoothFlows(n: number, height: number, width: number, seed: number): Float32Array {
  const out = new Float32Array(n * height * width * 2);
  for (let t = 0; t < n; t++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = ((t * height + y) * width + x) * 2;
        out[i] = 2 * Math.sin((x + 3 * t + seed) / 17) + 1;
        out[i + 1] = 1.5 * Math.cos((y - 2 * t + seed) / 13);
      }
    }
  }
  return out;
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Builds a ForwardSpec from input makers and a run function; inputs are created on prepare. */
function spec(
  entry: ZooEntry,
  fo: ForwardOptions,
  makers: Record<string, () => Float32Array>,
  run: (inputs: Record<string, tf.Tensor>) => tf.TensorContainer,
): ForwardSpec {
  const shapes = entry.inputShapes(fo);
  const inputs: Record<string, tf.Tensor> = {};
  try {
    for (const [k, shape] of Object.entries(shapes)) {
      const data = makers[k]();
      if (data.length !== prod(shape)) throw new Error(`zoo ${entry.name}: input ${k} has ${data.length} values for shape [${shape}]`);
      inputs[k] = tf.tensor(data, shape, 'float32');
    }
  } catch (e) {
    tf.dispose(Object.values(inputs));
    throw e;
  }
  return {
    description: entry.describe(fo),
    inputs: shapes,
    run: () => run(inputs),
    notes: entry.notes(fo),
    dispose: () => tf.dispose(Object.values(inputs)),
  };
}

// ---------------------------------------------------------------------------------------------
// Inference windows (spec §13.3 step 5)

export interface InferenceClip {
  localIds: number[];
  refIds: number[];
  /** The window's centre frame f of the official loop. */
  mid: number;
}

/**
 * The frames of one generator call in a video of `videoLength` frames: `numLocal` consecutive
 * local frames around the middle of the video and the reference frames the official inference
 * picks for them — every `refStride`-th frame not among the locals when the video fits in one
 * sub-video (≤ subvideoLength frames), else up to subvideoLength/refStride strided frames within
 * ±4 strides of the window centre (get_ref_index).
 */
export function inferenceClip(videoLength: number, numLocal: number, refStride = 10, subvideoLength = 80): InferenceClip {
  if (numLocal < 1 || numLocal > videoLength) throw new Error(`inferenceClip: ${numLocal} local frames do not fit a ${videoLength}-frame video`);
  const start = Math.max(0, Math.min(videoLength - numLocal, Math.floor(videoLength / 2) - Math.floor(numLocal / 2)));
  const localIds = Array.from({ length: numLocal }, (_, i) => start + i);
  const mid = start + Math.floor(numLocal / 2);
  const refIds = referenceIds(mid, localIds, videoLength, refStride, inferenceRefNum(videoLength, subvideoLength, refStride));
  return { localIds, refIds, mid };
}

// ---------------------------------------------------------------------------------------------
// Entries

const raft: ZooEntry = {
  name: 'raft',
  title: 'RAFT (large)',
  officialParams: 5_257_536,
  depth: 1,
  expand: ['update_block'],
  sizeMultiple: 8,
  minSize: RAFT_MIN_SIZE,
  minFrames: 2,
  defaultFrames: 2,
  framesHelp: 'ignored: always one frame pair',
  role: 'flow',
  build: () => new RAFT(),
  describe: (fo) => `1 frame pair at ${fo.height}x${fo.width}, ${fo.iters} iterations (RAFT.forward, one direction, test mode)`,
  inputShapes: (fo) => ({ image1: [1, fo.height, fo.width, 3], image2: [1, fo.height, fo.width, 3] }),
  notes: (fo) => {
    const h = fo.height / 8;
    const w = fo.width / 8;
    let pyramid = 0;
    for (let l = 0; l < CORR_LEVELS; l++) pyramid += h * w * Math.floor(h / 2 ** l) * Math.floor(w / 2 ** l) * 4;
    return [
      `the correlation lookup (4 levels × 81 bilinear taps per pixel and iteration) runs on the host: not in the MACs (≈${((h * w * 4 * 2 * 81 * 2 * fo.iters) / 1e9).toFixed(3)} GMAC-equivalent, negligible) and its pyramid (${(pyramid / 2 ** 20).toFixed(1)} MiB per pair) is host memory outside tf.memory`,
      'inference (raftBi) runs both directions of every pair in one batch and shares the encoders per frame: per pair ≈ 2× this refinement cost, encoders once per frame',
    ];
  },
  prepare(model, fo) {
    return spec(this, fo, { image1: () => pseudoRandom(fo.height * fo.width * 3, 11), image2: () => pseudoRandom(fo.height * fo.width * 3, 12) }, (x) => {
      const out = (model as RAFT).forward(x.image1 as tf.Tensor4D, x.image2 as tf.Tensor4D, { iters: fo.iters });
      return [out.flowLow, out.flowUp];
    });
  },
};

const flowcomp: ZooEntry = {
  name: 'flowcomp',
  title: 'Recurrent flow completion network',
  officialParams: 5_079_555,
  depth: 1,
  expand: ['feat_prop_module'],
  sizeMultiple: 8,
  minSize: 64,
  minFrames: 2,
  defaultFrames: 10,
  framesHelp: 'frames of the clip (T−1 flows per direction)',
  role: 'flow_completion',
  build: () => new RecurrentFlowCompleteNet(),
  describe: (fo) =>
    `${fo.frames} frames at ${fo.height}x${fo.width} → ${fo.frames - 1} flows per direction: forward_bidirect_flow (the network once per direction) + combine_flow, eval mode`,
  inputShapes: (fo) => ({
    flowsForward: [1, fo.frames - 1, fo.height, fo.width, 2],
    flowsBackward: [1, fo.frames - 1, fo.height, fo.width, 2],
    masks: [1, fo.frames, fo.height, fo.width, 1],
  }),
  notes: () => ['the edge head (4,961 parameters) runs only in training mode and is not in this forward'],
  prepare(model, fo) {
    const n = fo.frames - 1;
    return spec(
      this,
      fo,
      {
        flowsForward: () => smoothFlows(n, fo.height, fo.width, 1),
        flowsBackward: () => smoothFlows(n, fo.height, fo.width, 2).map((v) => -v),
        masks: () => movingHole(fo.frames, fo.height, fo.width),
      },
      (x) => completeFlows(model as RecurrentFlowCompleteNet, [x.flowsForward as tf.Tensor5D, x.flowsBackward as tf.Tensor5D], x.masks as tf.Tensor5D),
    );
  },
};

function generatorClip(fo: ForwardOptions): InferenceClip {
  return inferenceClip(fo.videoLength, fo.frames);
}

const propainter: ZooEntry = {
  name: 'propainter',
  title: 'ProPainter generator (InpaintGenerator)',
  officialParams: 39_429_667,
  depth: 1,
  expand: ['feat_prop_module', 'transformers', 'transformers.transformer'],
  sizeMultiple: 8,
  minSize: 64,
  minFrames: 1,
  defaultFrames: 10,
  framesHelp: 'local frames of the clip; reference frames are added as inference picks them for a --video-length video',
  role: 'generator',
  build: () => new InpaintGenerator(),
  describe: (fo) => {
    const c = generatorClip(fo);
    return (
      `${c.localIds.length} local + ${c.refIds.length} reference frames at ${fo.height}x${fo.width} (locals ${c.localIds[0]}–${c.localIds[c.localIds.length - 1]}, ` +
      `refs ${c.refIds.join(',') || 'none'} of a ${fo.videoLength}-frame video, ref_stride 10), eval mode, as inference calls it`
    );
  },
  inputShapes: (fo) => {
    const c = generatorClip(fo);
    const t = c.localIds.length + c.refIds.length;
    const lt = c.localIds.length;
    return {
      frames: [1, t, fo.height, fo.width, 3],
      flowsForward: [1, lt - 1, fo.height, fo.width, 2],
      flowsBackward: [1, lt - 1, fo.height, fo.width, 2],
      masksIn: [1, t, fo.height, fo.width, 1],
      masksUpdated: [1, t, fo.height, fo.width, 1],
    };
  },
  notes: (fo) => {
    const c = generatorClip(fo);
    const t = c.localIds.length + c.refIds.length;
    const shape = [1, t, fo.height, fo.width, 1];
    const flags = attentionWindowFlags(movingHole(t, fo.height, fo.width), shape, c.localIds.length, [5, 9])[0];
    const masked = flags.filter(Boolean).length;
    return [
      `hole: a moving ellipse (0.4·H × 0.24·W); ${masked} of ${flags.length} attention windows are masked (masked windows attend to all frames, others per frame): the cost depends on the mask`,
      'image propagation (parameter-free, run over the whole sub-video before the generator) is not part of this forward',
      'the official loop uses up to 11 local frames (neighbor_length 10 → f−5 … f+5): --frames 11 for that window',
    ];
  },
  prepare(model, fo) {
    const c = generatorClip(fo);
    const t = c.localIds.length + c.refIds.length;
    const lt = c.localIds.length;
    const { height: h, width: w } = fo;
    return spec(
      this,
      fo,
      {
        frames: () => pseudoRandom(t * h * w * 3, 21),
        flowsForward: () => smoothFlows(lt - 1, h, w, 1),
        flowsBackward: () => smoothFlows(lt - 1, h, w, 2).map((v) => -v),
        masksIn: () => movingHole(t, h, w),
        masksUpdated: () => movingHole(t, h, w, 0.6),
      },
      (x) =>
        inpaintClip(model as InpaintGenerator, {
          frames: x.frames,
          flows: [x.flowsForward, x.flowsBackward],
          masksIn: x.masksIn,
          masksUpdated: x.masksUpdated,
          numLocal: lt,
        }),
    );
  },
};

const discriminator: ZooEntry = {
  name: 'discriminator',
  title: 'Discriminator (3-D T-PatchGAN, spectral norm)',
  officialParams: 4_461_728,
  depth: 1,
  expand: ['conv'],
  sizeMultiple: 1,
  minSize: 32,
  minFrames: 1,
  defaultFrames: 10,
  framesHelp: 'frames of the clip',
  role: 'discriminator',
  build: (o = {}) => new Discriminator({ useSigmoid: o.useSigmoid }),
  describe: (fo) => `${fo.frames} frames at ${fo.height}x${fo.width}, eval mode (stored spectral-norm u, v; training adds one power iteration per conv)`,
  inputShapes: (fo) => ({ video: [1, fo.frames, fo.height, fo.width, 3] }),
  notes: () => ['Conv3d runs as a sum over temporal taps of Conv2D kernels (lib/ops/conv.ts); the count is the same as a direct Conv3d'],
  prepare(model, fo) {
    return spec(this, fo, { video: () => pseudoRandom(fo.frames * fo.height * fo.width * 3, 31) }, (x) => (model as Discriminator).forward(x.video as tf.Tensor5D));
  },
};

const i3d: ZooEntry = {
  name: 'i3d',
  title: 'I3D (Inception-v1 3-D, VFID features)',
  officialParams: 12_697_264,
  depth: 1,
  expand: [],
  sizeMultiple: 1,
  minSize: 32,
  minFrames: 1,
  defaultFrames: 10,
  framesHelp: 'frames of the clip',
  role: 'features',
  build: () => new InceptionI3d(),
  describe: (fo) => `${fo.frames} frames at ${fo.height}x${fo.width} in [0, 1]: VFID features (up to Mixed_5c, batch-statistics BatchNorm as the official metric, mean over T, H, W)`,
  inputShapes: (fo) => ({ video: [1, fo.frames, fo.height, fo.width, 3] }),
  notes: () => ['the logits layer (410,000 parameters) is counted in the parameters but VFID does not run it'],
  prepare(model, fo) {
    return spec(this, fo, { video: () => pseudoRandom(fo.frames * fo.height * fo.width * 3, 41, 0, 1) }, (x) => i3dFeatures(model as InceptionI3d, x.video));
  },
};

export const ZOO: Readonly<Record<ModelName, ZooEntry>> = { raft, flowcomp, propainter, discriminator, i3d };

export function isModelName(name: string): name is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(name);
}

/** The entry of `name`, or an error listing the valid names. */
export function getZooEntry(name: string): ZooEntry {
  if (!isModelName(name)) throw new Error(`unknown model "${name}"; valid models: ${MODEL_NAMES.join(', ')}`);
  return ZOO[name];
}

/** "240x432" (height x width) → { height, width }. */
export function parseSize(s: string): { height: number; width: number } {
  const m = /^\s*(\d+)\s*[xX×]\s*(\d+)\s*$/.exec(s);
  if (!m || Number(m[1]) <= 0 || Number(m[2]) <= 0) {
    throw new Error(`invalid --size "${s}": expected HEIGHTxWIDTH in pixels, e.g. 240x432`);
  }
  return { height: Number(m[1]), width: Number(m[2]) };
}

/** Valid sizes of an entry, in words. */
export function sizeRule(e: ZooEntry): string {
  const mult = e.sizeMultiple > 1 ? `multiples of ${e.sizeMultiple} and ` : '';
  return `height and width must be ${mult}at least ${e.minSize} (e.g. 240x432${e.minSize <= 128 ? `, ${Math.max(e.minSize, 128)}x${Math.max(e.minSize, 128)}` : ''})`;
}

/** Throws a clear error when the size, frames or iterations are not valid for the model. */
export function validateForward(e: ZooEntry, fo: ForwardOptions): void {
  const { height: h, width: w } = fo;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h % e.sizeMultiple !== 0 || w % e.sizeMultiple !== 0 || h < e.minSize || w < e.minSize) {
    throw new Error(`--size ${h}x${w} is not valid for ${e.name}: ${sizeRule(e)}`);
  }
  if (e.name !== 'raft' && (!Number.isInteger(fo.frames) || fo.frames < e.minFrames)) {
    throw new Error(`--frames ${fo.frames} is not valid for ${e.name}: need an integer ≥ ${e.minFrames} (${e.framesHelp})`);
  }
  if (e.name === 'raft' && (!Number.isInteger(fo.iters) || fo.iters < 1)) throw new Error(`--iters ${fo.iters} is not valid: need a positive integer`);
  if (e.name === 'propainter' && (!Number.isInteger(fo.videoLength) || fo.videoLength < fo.frames)) {
    throw new Error(`--video-length ${fo.videoLength} is not valid: need an integer ≥ --frames (${fo.frames})`);
  }
}

/**
 * Smaller valid sizes (about 1/4 and 1/2 of each side, same aspect where the minimum allows)
 * with distinct pixel counts below the requested one: the probe runs of an estimate.
 */
export function probeSizes(e: ZooEntry, height: number, width: number): Array<[number, number]> {
  const m = e.sizeMultiple;
  const min = Math.ceil(e.minSize / m) * m;
  const side = (v: number, s: number) => Math.max(min, Math.round((v * s) / m) * m);
  const out: Array<[number, number]> = [];
  for (const s of [0.25, 0.5]) {
    const h = side(height, s);
    const w = side(width, s);
    if (h * w >= height * width || out.some(([a, b]) => a * b === h * w)) continue;
    out.push([h, w]);
  }
  return out;
}
