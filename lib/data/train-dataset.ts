/**
 * `TrainDataset` (spec §11.3): one sample = one clip of `numLocalFrames` consecutive frames plus
 * `numRefFrames` sorted random reference frames from one video, random-shape masks (§11.4),
 * random temporal reversal of the local clip (swapping forward/backward flows) and random
 * horizontal flip (negating flow dx; masks are not flipped, as in the official code).
 *
 * Randomness of sample `index` in `epoch` comes only from `Rng(seed, epoch, index)`, drawn in
 * the official order: masks, pivot, references, reversal, flip.
 */
import * as path from 'path';
import { readFloAsync, resizeFlow } from '../io/flo';
import { resolveInside } from '../io/paths';
import {
  DEFAULT_HEIGHT, DEFAULT_WIDTH, FLOWS_DIR, flowFileNames, listFrames, openDatasetRoot, readIndex,
} from './layout';
import { randomMaskSequence, renderMask } from './masks';
import { Rng } from './rng';
import { loadFrame, putFlow, putFrame, putMask, Sample, SampleSource } from './sample';

export interface TrainDatasetOptions {
  /** Dataset root (JPEGImages_<W>_<H>/ or JPEGImages/, train.json). */
  root: string;
  /** Frames folder instead of the one found under root (absolute or relative to root). */
  framesDir?: string;
  /** Split file; default <root>/train.json. Only its keys are used, like the official code. */
  indexFile?: string;
  /** Explicit video list instead of the split file. */
  videos?: string[];
  /** Precomputed flows root (<flowRoot>/<video>/<a>_<b>_f.flo); default <root>/flows. */
  flowRoot?: string;
  loadFlow?: boolean;
  numLocalFrames?: number;
  numRefFrames?: number;
  width?: number;
  height?: number;
  seed?: number;
  /** Random horizontal flip (default true, as the official loader). */
  flip?: boolean;
  /** Random temporal reversal of the local frames (default true). */
  randomReverse?: boolean;
}

export interface SampleOverrides {
  reverse?: boolean;
  flip?: boolean;
}

/** `_sample_index`: pivot ~ U[0, len−L], locals, then R sorted distinct refs from the rest. */
export function sampleClipIndices(rng: Rng, length: number, numLocal: number, numRef: number): number[] {
  const pivot = rng.randint(0, length - numLocal);
  const local = Array.from({ length: numLocal }, (_, i) => pivot + i);
  const remain: number[] = [];
  for (let i = 0; i < length; i++) if (i < pivot || i >= pivot + numLocal) remain.push(i);
  const refs = rng.sample(remain, numRef).sort((a, b) => a - b);
  return [...local, ...refs];
}

export class TrainDataset implements SampleSource {
  readonly options: Readonly<TrainDatasetOptions>;
  readonly framesDir: string;
  readonly flowRoot: string;
  readonly videoNames: string[];
  readonly frameLists: string[][];
  readonly numLocal: number;
  readonly numRef: number;
  readonly width: number;
  readonly height: number;
  readonly seed: number;
  readonly loadFlow: boolean;

  constructor(opts: TrainDatasetOptions) {
    this.options = { ...opts };
    this.width = opts.width ?? DEFAULT_WIDTH;
    this.height = opts.height ?? DEFAULT_HEIGHT;
    this.numLocal = opts.numLocalFrames ?? 10;
    this.numRef = opts.numRefFrames ?? 6;
    this.seed = opts.seed ?? 0;
    this.loadFlow = !!opts.loadFlow;
    if (this.numLocal < 2) throw new Error(`TrainDataset: numLocalFrames ${this.numLocal} < 2`);
    if (this.numRef < 0) throw new Error(`TrainDataset: numRefFrames ${this.numRef} < 0`);
    const root = openDatasetRoot(opts.root, { width: this.width, height: this.height, framesDir: opts.framesDir });
    this.framesDir = root.framesDir;
    this.flowRoot = path.resolve(root.root, opts.flowRoot ?? FLOWS_DIR);
    let names: string[];
    let source = 'videos option:';
    if (opts.videos) names = [...opts.videos];
    else {
      const indexFile = path.resolve(root.root, opts.indexFile ?? 'train.json');
      names = Object.keys(readIndex(indexFile));
      source = `${indexFile}:`;
    }
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.videoNames = [];
    this.frameLists = [];
    // Keep videos strictly longer than L + R (the official filter).
    for (const v of names) {
      // Names come from a file. A name that stays inside the frames folder stays inside the flow
      // folder too (the check is on the name), so frames and flows are read only from inside.
      const frames = listFrames(resolveInside(this.framesDir, v, `${source} video`));
      if (frames.length > this.numLocal + this.numRef) {
        this.videoNames.push(v);
        this.frameLists.push(frames);
      }
    }
    if (this.videoNames.length === 0) {
      throw new Error(`${this.framesDir}: no video has more than ${this.numLocal + this.numRef} frames (of ${names.length} listed)`);
    }
  }

  get length(): number {
    return this.videoNames.length;
  }

  get clipLength(): number {
    return this.numLocal + this.numRef;
  }

  async getItem(index: number, epoch = 0, overrides: SampleOverrides = {}): Promise<Sample> {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new Error(`TrainDataset: index ${index} outside [0, ${this.length})`);
    }
    const { width: W, height: H, numLocal: L } = this;
    const name = this.videoNames[index];
    const frameList = this.frameLists[index];
    const rng = new Rng(this.seed, epoch, index);
    const maskSeq = randomMaskSequence(rng, frameList.length, H, W);
    const selected = sampleClipIndices(rng, frameList.length, L, this.numRef);
    const reverseDraw = rng.random() < 0.5;
    const flipDraw = rng.random() < 0.5;
    // Drawn even when switched off, so the other draws do not depend on these settings.
    const reversed = overrides.reverse ?? (reverseDraw && this.options.randomReverse !== false);
    const flipped = overrides.flip ?? (flipDraw && this.options.flip !== false);

    const videoDir = path.join(this.framesDir, name);
    const imgsP = Promise.all(selected.map((i) => loadFrame(path.join(videoDir, frameList[i]), W, H)));
    let flowsF: Float32Array[] = [];
    let flowsB: Float32Array[] = [];
    let flowsP: Promise<[Float32Array[], Float32Array[]]> = Promise.resolve([[], []]);
    if (this.loadFlow) {
      const flowDir = path.join(this.flowRoot, name);
      const pairs = selected.slice(0, L - 1).map((i) => flowFileNames(frameList[i], frameList[i + 1]));
      const load = async (file: string) => resizeFlow(await readFloAsync(path.join(flowDir, file)), H, W).data;
      flowsP = Promise.all([
        Promise.all(pairs.map((p) => load(p.forward))),
        Promise.all(pairs.map((p) => load(p.backward))),
      ]);
    }
    // Await both together so a failure in either is never left unhandled.
    const [imgs, [ff, fb]] = await Promise.all([imgsP, flowsP]);
    flowsF = ff;
    flowsB = fb;
    const order = selected.map((_, k) => k);
    if (reversed) {
      // Reverse the local clip only; reversed forward flows are the backward flows and vice versa.
      const loc = order.slice(0, L).reverse();
      order.splice(0, L, ...loc);
      const f = flowsF.slice().reverse();
      flowsF = flowsB.slice().reverse();
      flowsB = f;
    }
    const T = selected.length;
    const frames = new Float32Array(T * H * W * 3);
    const masks = new Float32Array(T * H * W);
    const maskBuf = new Uint8Array(H * W);
    order.forEach((k, t) => {
      putFrame(frames, t, imgs[k], flipped);
      putMask(masks, t, renderMask(maskSeq, selected[k], maskBuf));
    });
    let fF: Float32Array | null = null;
    let fB: Float32Array | null = null;
    if (this.loadFlow) {
      fF = new Float32Array((L - 1) * H * W * 2);
      fB = new Float32Array((L - 1) * H * W * 2);
      for (let k = 0; k < L - 1; k++) {
        putFlow(fF, k, flowsF[k], W, H, flipped);
        putFlow(fB, k, flowsB[k], W, H, flipped);
      }
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
      numFlows: this.loadFlow ? L - 1 : 0,
      flowsF: fF,
      flowsB: fB,
      frameIndices: order.map((k) => selected[k]),
      reversed,
      flipped,
    };
  }
}
