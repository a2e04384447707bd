/**
 * The evaluation dataset (spec §11.5 `TestDataset`, as both official evaluation scripts read it):
 * videos = sorted sub-folders of `mask_root` (or the `--videos` subset), frames = every image of
 * `video_root/<video>` bilinear-resized to W×H, the mask of frame i = `mask_root/<video>/<i:05d>.png`
 * nearest-resized and dilated with a 3×3 cross 4 times, optional flows from `flow_root`.
 *
 * Everything the official script would trip over later is checked when the dataset is opened, with
 * one-line errors naming the path: a missing root or video folder, a video whose frame and mask
 * counts differ, a mask file missing, names that would leave their root.
 */
import * as fs from 'fs';
import * as path from 'path';
import { childPath, listFrames, listVideos, maskFileName } from '../data/layout';
import { TestDataset } from '../data/test-dataset';
import { isImageFile } from '../io/image';

export interface EvalDatasetOptions {
  /** `--video_root`: one folder of frames per video. */
  videoRoot: string;
  /** `--mask_root`: one folder of masks per video; its sub-folders are the videos. */
  maskRoot: string;
  /** `--flow_root`: `<video>/<a>_<b>_f.flo` and `<b>_<a>_b.flo`; read only with loadFlow. */
  flowRoot?: string | null;
  loadFlow?: boolean;
  width?: number;
  height?: number;
  /** `--videos a,b`: only these videos (in the mask folder's order). */
  videos?: readonly string[] | null;
  /** Only the first N frames of every video (quick runs; not the official protocol). */
  maxFrames?: number | null;
}

/** Forward and backward flows of one video, (T−1)×H×W×2 each, dx then dy, in pixels. */
export interface VideoFlows {
  forward: Float32Array;
  backward: Float32Array;
}

/** One whole video as the evaluation reads it (channels-last host arrays). */
export interface EvalVideo {
  name: string;
  index: number;
  T: number;
  H: number;
  W: number;
  /** T×H×W×3 in [-1, 1]. */
  frames: Float32Array;
  /** T×H×W×3 resized uint8 RGB frames (the ground truth of the metrics). */
  framesU8: Uint8Array;
  /** T×H×W in {0, 1} (1 = hole), dilated. */
  masks: Float32Array;
  /** Flows read from flow_root (loadFlow), else null. */
  flows: VideoFlows | null;
}

function requireDir(dir: string, what: string): string {
  const d = path.resolve(dir);
  let ok = false;
  try {
    ok = fs.statSync(d).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) throw new Error(`${d}: ${what} not found`);
  return d;
}

export class EvalDataset {
  readonly videoRoot: string;
  readonly maskRoot: string;
  readonly flowRoot: string | null;
  readonly width: number;
  readonly height: number;
  readonly loadFlow: boolean;
  private readonly source: TestDataset;

  private constructor(o: EvalDatasetOptions, readonly videoNames: readonly string[], readonly frameCounts: readonly number[]) {
    this.videoRoot = path.resolve(o.videoRoot);
    this.maskRoot = path.resolve(o.maskRoot);
    this.flowRoot = o.flowRoot ? path.resolve(o.flowRoot) : null;
    this.width = o.width ?? 432;
    this.height = o.height ?? 240;
    this.loadFlow = !!o.loadFlow;
    this.source = new TestDataset({
      framesDir: this.videoRoot,
      masksDir: this.maskRoot,
      flowRoot: this.flowRoot ?? undefined,
      loadFlow: this.loadFlow,
      width: this.width,
      height: this.height,
      videos: [...videoNames],
      maxFrames: o.maxFrames ?? undefined,
    });
  }

  /** Opens and validates the dataset; throws one-line errors naming the path at fault. */
  static open(o: EvalDatasetOptions): EvalDataset {
    const videoRoot = requireDir(o.videoRoot, 'video root (--video_root)');
    const maskRoot = requireDir(o.maskRoot, 'mask root (--mask_root)');
    if (o.loadFlow) {
      if (!o.flowRoot) throw new Error('--load_flow needs --flow_root (the folder of precomputed .flo flows)');
      requireDir(o.flowRoot, 'flow root (--flow_root)');
    }
    const listed = listVideos(maskRoot);
    let names: string[];
    if (o.videos && o.videos.length) {
      for (const v of o.videos) {
        const dir = childPath(maskRoot, v, 'video');
        if (!listed.includes(v)) throw new Error(`${dir}: mask folder not found (video '${v}' of --videos)`);
      }
      // Official order (the mask folder's sorted listing), duplicates dropped.
      names = listed.filter((v) => o.videos!.includes(v));
    } else names = listed;
    if (names.length === 0) throw new Error(`${maskRoot}: no mask folders (one per video expected)`);
    const counts = names.map((v) => {
      const frameDir = childPath(videoRoot, v, 'video');
      const frames = listFrames(frameDir);
      if (frames.length < 2) throw new Error(`${frameDir}: ${frames.length} frame(s); evaluating a video needs at least 2`);
      const maskDir = childPath(maskRoot, v, 'video');
      const masks = fs.readdirSync(maskDir).filter(isImageFile);
      if (masks.length !== frames.length) {
        throw new Error(`${maskDir}: ${masks.length} masks for the ${frames.length} frames of ${frameDir}`);
      }
      for (let i = 0; i < frames.length; i++) {
        if (!masks.includes(maskFileName(i))) throw new Error(`${path.join(maskDir, maskFileName(i))}: missing (mask of frame ${frames[i]})`);
      }
      if (o.loadFlow) requireDir(childPath(path.resolve(o.flowRoot!), v, 'video'), 'flow folder of the video');
      return o.maxFrames ? Math.min(frames.length, o.maxFrames) : frames.length;
    });
    return new EvalDataset(o, names, counts);
  }

  get length(): number {
    return this.videoNames.length;
  }

  /** Reads video `index` (frames, masks and, with loadFlow, its flows). */
  async load(index: number): Promise<EvalVideo> {
    const s = await this.source.getItem(index);
    return {
      name: s.name,
      index,
      T: s.T,
      H: s.H,
      W: s.W,
      frames: s.frames,
      framesU8: s.framesU8!,
      masks: s.masks,
      flows: s.flowsF && s.flowsB ? { forward: s.flowsF, backward: s.flowsB } : null,
    };
  }
}
