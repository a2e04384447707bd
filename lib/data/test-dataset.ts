/**
 * `TestDataset` (spec §11.5, used by evaluation §12.1): one sample = one whole video.
 * Videos are the sorted sub-folders of the mask folder; frames are every image of
 * <frames>/<video>, bilinear-resized to W×H; the mask of frame i is <masks>/<video>/<i:05d>.png,
 * nearest-resized, grey, > 0, dilated with a 3×3 cross `dilation` times (default 4).
 * Always returns the uint8 frames too (the official script's missing-return bug is not ported).
 */
import * as path from 'path';
import { readGrey, resizeNearest } from '../io/image';
import { readFloAsync, resizeFlow } from '../io/flo';
import { resolveInside } from '../io/paths';
import {
  DEFAULT_HEIGHT, DEFAULT_WIDTH, FLOWS_DIR, flowFileNames, listFrames, listVideos, maskFileName, MASKS_DIR,
  openDatasetRoot,
} from './layout';
import { dilateCross } from './masks';
import { loadFrame, putFlow, putFrame, putMask, Sample, SampleSource } from './sample';

export interface TestDatasetOptions {
  /** Dataset root; frames / masks / flows folders default to its layout. */
  root?: string;
  /** Frames folder (`video_root`); required without root. */
  framesDir?: string;
  /** Mask folder (`mask_root`); default <root>/test_masks. */
  masksDir?: string;
  /** Flow folder (`flow_root`); default <root>/flows. */
  flowRoot?: string;
  loadFlow?: boolean;
  width?: number;
  height?: number;
  /** Cross-dilation iterations of the masks (official: 4). */
  dilation?: number;
  /** Only the first N frames of every video (for quick runs). */
  maxFrames?: number;
  /** Explicit video list instead of the mask folder's sub-folders. */
  videos?: string[];
}

export class TestDataset implements SampleSource {
  readonly options: Readonly<TestDatasetOptions>;
  readonly framesDir: string;
  readonly masksDir: string;
  readonly flowRoot: string;
  readonly videoNames: string[];
  readonly frameLists: string[][];
  readonly width: number;
  readonly height: number;
  readonly dilation: number;

  constructor(opts: TestDatasetOptions) {
    this.options = { ...opts };
    this.width = opts.width ?? DEFAULT_WIDTH;
    this.height = opts.height ?? DEFAULT_HEIGHT;
    this.dilation = opts.dilation ?? 4;
    if (opts.root) {
      const root = openDatasetRoot(opts.root, { width: this.width, height: this.height, framesDir: opts.framesDir });
      this.framesDir = root.framesDir;
      this.masksDir = path.resolve(root.root, opts.masksDir ?? MASKS_DIR);
      this.flowRoot = path.resolve(root.root, opts.flowRoot ?? FLOWS_DIR);
    } else {
      if (!opts.framesDir || !opts.masksDir) throw new Error('TestDataset: give root, or framesDir and masksDir');
      this.framesDir = path.resolve(opts.framesDir);
      this.masksDir = path.resolve(opts.masksDir);
      this.flowRoot = path.resolve(opts.flowRoot ?? path.join(path.dirname(this.framesDir), FLOWS_DIR));
    }
    this.videoNames = opts.videos ? [...opts.videos] : listVideos(this.masksDir);
    if (this.videoNames.length === 0) throw new Error(`${this.masksDir}: no mask folders (one per video expected)`);
    this.frameLists = this.videoNames.map((v) => {
      // Listed names may come from a file. The check is on the name, so one inside the frames
      // folder is inside the mask and flow folders too.
      const frames = listFrames(resolveInside(this.framesDir, v, 'videos option: video'));
      if (frames.length === 0) throw new Error(`${path.join(this.framesDir, v)}: empty video (no frames)`);
      return opts.maxFrames ? frames.slice(0, opts.maxFrames) : frames;
    });
  }

  get length(): number {
    return this.videoNames.length;
  }

  /** Mask i of a video: nearest resize, > 0, cross dilation → {0,1}. */
  async loadMask(video: string, i: number): Promise<Uint8Array> {
    const file = path.join(this.masksDir, video, maskFileName(i));
    let m = await readGrey(file);
    m = resizeNearest(m, this.width, this.height);
    const bin = new Uint8Array(m.data.length);
    for (let k = 0; k < bin.length; k++) bin[k] = m.data[k] > 0 ? 1 : 0;
    return this.dilation > 0 ? dilateCross(bin, this.width, this.height, this.dilation) : bin;
  }

  async getItem(index: number, epoch = 0): Promise<Sample> {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new Error(`TestDataset: index ${index} outside [0, ${this.length})`);
    }
    const { width: W, height: H } = this;
    const name = this.videoNames[index];
    const frameList = this.frameLists[index];
    const T = frameList.length;
    const videoDir = path.join(this.framesDir, name);
    const [imgs, masksU8] = await Promise.all([
      Promise.all(frameList.map((f) => loadFrame(path.join(videoDir, f), W, H))),
      Promise.all(frameList.map((_, i) => this.loadMask(name, i))),
    ]);
    const frames = new Float32Array(T * H * W * 3);
    const framesU8 = new Uint8Array(T * H * W * 3);
    const masks = new Float32Array(T * H * W);
    imgs.forEach((img, t) => {
      putFrame(frames, t, img);
      framesU8.set(img.data, t * H * W * 3);
      putMask(masks, t, masksU8[t]);
    });
    let flowsF: Float32Array | null = null;
    let flowsB: Float32Array | null = null;
    const load = this.options.loadFlow && T > 1;
    if (load) {
      const flowDir = path.join(this.flowRoot, name);
      flowsF = new Float32Array((T - 1) * H * W * 2);
      flowsB = new Float32Array((T - 1) * H * W * 2);
      await Promise.all(
        frameList.slice(0, -1).map(async (f, k) => {
          const n = flowFileNames(f, frameList[k + 1]);
          const [ff, fb] = await Promise.all([readFloAsync(path.join(flowDir, n.forward)), readFloAsync(path.join(flowDir, n.backward))]);
          putFlow(flowsF!, k, resizeFlow(ff, H, W).data, W, H);
          putFlow(flowsB!, k, resizeFlow(fb, H, W).data, W, H);
        }),
      );
    }
    return {
      name,
      index,
      epoch,
      T,
      H,
      W,
      frames,
      masks,
      numFlows: load ? T - 1 : 0,
      flowsF,
      flowsB,
      frameIndices: frameList.map((_, i) => i),
      reversed: false,
      flipped: false,
      framesU8,
    };
  }
}
