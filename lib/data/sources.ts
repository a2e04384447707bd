/**
 * Loading a video and its masks from user inputs (notebooks, inference): a folder of frames or a
 * video file, and a folder of per-frame masks or one mask image for every frame.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Image8, isVideoFile, readGrey, readRgb, readVideoFrames, resizeLinear, resizeNearest } from '../io/image';
import { listFrames } from './layout';
import { dilateCross } from './masks';

export interface FrameSourceOptions {
  /** Resize every frame to width×height (OpenCV INTER_LINEAR semantics). */
  width?: number;
  height?: number;
  maxFrames?: number;
}

/** RGB frames of a frames folder (sorted) or a video file. */
export async function loadFrameSource(source: string, opts: FrameSourceOptions = {}): Promise<Image8[]> {
  if (!fs.existsSync(source)) throw new Error(`${source}: not found`);
  let frames: Image8[];
  if (fs.statSync(source).isDirectory()) {
    let names = listFrames(source);
    if (opts.maxFrames !== undefined) names = names.slice(0, opts.maxFrames);
    if (names.length === 0) throw new Error(`${source}: no frames`);
    frames = await Promise.all(names.map((n) => readRgb(path.join(source, n))));
  } else if (isVideoFile(path.basename(source))) {
    frames = await readVideoFrames(source, { maxFrames: opts.maxFrames });
    if (frames.length === 0) throw new Error(`${source}: no frames decoded`);
  } else {
    frames = [await readRgb(source)];
  }
  const { width, height } = opts;
  if (width && height) frames = frames.map((f) => (f.width === width && f.height === height ? f : resizeLinear(f, width, height)));
  return frames;
}

export interface MaskSourceOptions {
  width: number;
  height: number;
  /** Number of frames: a single mask image is repeated this many times. */
  count: number;
  /** 3×3-cross dilation iterations (evaluation and inference use 4). */
  dilation?: number;
}

/**
 * {0,1} masks (H·W each, 1 = hole) from a folder of per-frame masks (sorted, first `count`) or
 * one image: nearest resize, grey, > 0, cross dilation. Throws naming the folder when there are
 * fewer masks than frames.
 */
export async function loadMaskSource(source: string, opts: MaskSourceOptions): Promise<Uint8Array[]> {
  if (!fs.existsSync(source)) throw new Error(`${source}: not found`);
  const files = fs.statSync(source).isDirectory() ? listFrames(source).map((n) => path.join(source, n)) : [source];
  if (files.length > 1 && files.length < opts.count) throw new Error(`${source}: ${files.length} masks for ${opts.count} frames`);
  const one = async (file: string): Promise<Uint8Array> => {
    const m = resizeNearest(await readGrey(file), opts.width, opts.height);
    const bin = Uint8Array.from(m.data, (v) => (v > 0 ? 1 : 0));
    return opts.dilation ? dilateCross(bin, opts.width, opts.height, opts.dilation) : bin;
  };
  if (files.length === 1) {
    const m = await one(files[0]);
    return Array.from({ length: opts.count }, () => m);
  }
  return Promise.all(files.slice(0, opts.count).map(one));
}
