/**
 * One inference job as `propainter inpaint` (and the inference fixture cases) run it: the inputs
 * opened from paths as the official script reads them (a frames folder or a video file; a masks
 * folder or one mask image), streamed through `inpaintVideo`, each finished frame resized to the
 * output size and handed to a sink (files for the CLI, comparisons for fixture-check).
 */
import * as fs from 'fs';
import * as path from 'path';
import { isImageFile, isVideoFile, readGrey, readRgb, imageSize, type Image8 } from '../io/image';
import { probeVideo, videoFrames } from '../io/video';
import { listFrames } from '../data/layout';
import { InputError, inpaintVideo, type FrameStream, type InpaintMode, type InpaintModels, type InpaintResult, type MaskInput, type ProgressEvent } from './pipeline';
import { outputImages, type OutputImages } from './output';
import type { Size } from './frames';

/** The official script's arguments (spec §13.1), camel-cased. */
export interface InpaintJob {
  video: string;
  mask?: string;
  resizeRatio: number;
  height: number;
  width: number;
  maskDilation: number;
  refStride: number;
  neighborLength: number;
  subvideoLength: number;
  raftIter: number;
  mode: InpaintMode;
  scaleH: number;
  scaleW: number;
  saveFps: number;
}

export const OFFICIAL_DEFAULTS: Omit<InpaintJob, 'video' | 'mask'> = {
  resizeRatio: 1.0,
  height: -1,
  width: -1,
  maskDilation: 4,
  refStride: 10,
  neighborLength: 10,
  subvideoLength: 80,
  raftIter: 20,
  mode: 'video_inpainting',
  scaleH: 1.0,
  scaleW: 1.2,
  saveFps: 24,
};

export interface OpenedInputs {
  /** Folder name, or the video file name without its extension. */
  name: string;
  frames: FrameStream;
  masks: MaskInput;
  /** From the video file, else --save_fps. */
  fps: number;
  inputSize: Size;
}

/** Reads files in order; a file that cannot be decoded is an InputError naming it. */
async function* readImages(dir: string, names: string[], read: (file: string) => Promise<Image8>): AsyncGenerator<Image8> {
  for (const n of names) {
    try {
      yield await read(path.join(dir, n));
    } catch (e) {
      throw new InputError((e as Error).message);
    }
  }
}

/** A decoded video's frames; a decoding failure is an InputError (its message names the file). */
async function* decodeVideo(file: string): AsyncGenerator<Image8> {
  const it = videoFrames(file)[Symbol.asyncIterator]();
  for (;;) {
    let r: IteratorResult<Image8>;
    try {
      r = await it.next();
    } catch (e) {
      throw new InputError((e as Error).message);
    }
    if (r.done) return;
    yield r.value;
  }
}

/** Opens the job's inputs; every problem is a one-line error naming the path. */
export async function openInputs(job: InpaintJob): Promise<OpenedInputs> {
  const src = job.video;
  if (!fs.existsSync(src)) throw new Error(`input not found: ${src}`);
  let frames: FrameStream;
  let fps = job.saveFps;
  let inputSize: Size;
  let name: string;
  if (fs.statSync(src).isDirectory()) {
    const names = listFrames(src);
    if (names.length === 0) throw new Error(`${src}: no image frames in the folder`);
    inputSize = await imageSize(path.join(src, names[0]));
    frames = { length: names.length, frames: readImages(src, names, readRgb) };
    name = path.basename(path.resolve(src));
  } else if (isVideoFile(path.basename(src))) {
    const info = await probeVideo(src);
    fps = info.fps;
    inputSize = { width: info.width, height: info.height };
    frames = { length: info.frames, frames: decodeVideo(src) };
    name = path.parse(src).name;
  } else {
    throw new Error(`${src}: not a folder of frames or a video file (${['.mp4', '.mov', '.avi', '…'].join(' ')})`);
  }
  let masks: MaskInput = null;
  if (job.mode === 'video_inpainting') {
    const m = job.mask;
    if (!m) throw new Error('-m/--mask is required in video_inpainting mode (a folder of per-frame masks or one mask image)');
    if (!fs.existsSync(m)) throw new Error(`mask not found: ${m}`);
    if (fs.statSync(m).isDirectory()) {
      const names = listFrames(m);
      if (names.length === 0) throw new Error(`${m}: no mask images in the folder`);
      if (names.length !== frames.length) {
        throw new Error(`${m}: ${names.length} masks for ${frames.length} frames of ${src} (give one mask per frame, or a single mask image for all)`);
      }
      masks = names.length === 1 ? await readGrey(path.join(m, names[0])) : { length: names.length, frames: readImages(m, names, readGrey) };
    } else if (isImageFile(path.basename(m))) {
      masks = await readGrey(m);
    } else {
      throw new Error(`${m}: not a mask image or a folder of masks`);
    }
  }
  return { name, frames, masks, fps, inputSize };
}

/** Receives the outputs of each finished frame, in order. */
export interface OutputSink {
  frame(index: number, images: OutputImages): Promise<void>;
}

export interface JobResult extends InpaintResult {
  name: string;
  fps: number;
}

/** Runs a job: inputs → inpaintVideo (streaming) → the sink, each frame at out_size. */
export async function runInpaintJob(
  job: InpaintJob,
  inputs: OpenedInputs,
  models: InpaintModels,
  sink: (sizes: { outSize: Size }) => OutputSink,
  hooks: { onProgress?: (e: ProgressEvent) => void; onNote?: (note: string) => void; stream?: boolean } = {},
): Promise<JobResult> {
  let out: OutputSink | null = null;
  let outSize: Size | null = null;
  const result = await inpaintVideo(
    inputs.frames,
    inputs.masks,
    {
      models,
      mode: job.mode,
      width: job.width,
      height: job.height,
      resizeRatio: job.resizeRatio,
      scaleH: job.scaleH,
      scaleW: job.scaleW,
      maskDilation: job.maskDilation,
      refStride: job.refStride,
      neighborLength: job.neighborLength,
      subvideoLength: job.subvideoLength,
      raftIter: job.raftIter,
      stream: hooks.stream,
      onNote: hooks.onNote,
      onSizes: (s) => {
        outSize = s.outSize;
        out = sink({ outSize });
      },
      onFrame: async (f) => {
        await out!.frame(f.index, outputImages(f, outSize!));
      },
    },
    hooks.onProgress,
  );
  return { ...result, name: inputs.name, fps: inputs.fps };
}
