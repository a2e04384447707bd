/**
 * Samples and batches as plain typed arrays in the library's channels-last layout:
 *   frames [T,H,W,3] float32 in [-1,1]; masks [T,H,W,1] in {0,1} (1 = hole);
 *   flows  [L-1,H,W,2] float32 pixels, last axis (dx, dy).
 * A batch stacks B samples along a new leading axis.
 */
import { Image8, readRgb, resizeLinear } from '../io/image';

export interface Sample {
  name: string;
  /** Dataset index and epoch the sample was drawn for. */
  index: number;
  epoch: number;
  T: number;
  H: number;
  W: number;
  frames: Float32Array;
  masks: Float32Array;
  /** Number of flows per direction (L−1 for training samples, T−1 for test videos), 0 if none. */
  numFlows: number;
  flowsF: Float32Array | null;
  flowsB: Float32Array | null;
  /** Video frame index of every sample frame, in sample order (after a temporal reversal). */
  frameIndices: number[];
  reversed: boolean;
  flipped: boolean;
  /** Test samples only: the resized uint8 RGB frames [T,H,W,3] (metrics use them). */
  framesU8?: Uint8Array;
}

/** Anything the loader can draw samples from. */
export interface SampleSource {
  readonly length: number;
  readonly videoNames: readonly string[];
  getItem(index: number, epoch?: number): Promise<Sample>;
}

export interface Batch {
  epoch: number;
  /** Position of this batch within its epoch. */
  batch: number;
  indices: number[];
  names: string[];
  B: number;
  T: number;
  H: number;
  W: number;
  numFlows: number;
  frames: Float32Array;
  masks: Float32Array;
  flowsF: Float32Array | null;
  flowsB: Float32Array | null;
  framesShape: [number, number, number, number, number];
  masksShape: [number, number, number, number, number];
  flowsShape: [number, number, number, number, number] | null;
  frameIndices: number[][];
  reversed: boolean[];
  flipped: boolean[];
  framesU8: Uint8Array | null;
  /** Why samples were skipped and replaced (LoaderOptions.skipBadSamples), each naming the file. */
  skipped?: string[];
}

/** uint8 → float32 in [-1, 1] exactly as `x.float().div(255) * 2.0 - 1.0` in float32. */
export const U8_TO_UNIT = (() => {
  const t = new Float32Array(256);
  for (let v = 0; v < 256; v++) t[v] = Math.fround(Math.fround(Math.fround(v / 255) * 2) - 1);
  return t;
})();

/** Decodes a frame file and resizes it to W×H with OpenCV INTER_LINEAR semantics. */
export async function loadFrame(file: string, width: number, height: number): Promise<Image8> {
  const img = await readRgb(file);
  return img.width === width && img.height === height ? img : resizeLinear(img, width, height);
}

/** Writes an RGB image into `out` at frame slot `t` as [-1,1] floats, optionally mirrored. */
export function putFrame(out: Float32Array, t: number, img: Image8, flip = false): void {
  const { width: W, height: H, data } = img;
  const lut = U8_TO_UNIT;
  const base = t * H * W * 3;
  if (!flip) {
    const n = W * H * 3;
    for (let i = 0; i < n; i++) out[base + i] = lut[data[i]];
    return;
  }
  const row = W * 3;
  for (let y = 0; y < H; y++) {
    let s = y * row;
    let d = base + y * row + row - 3;
    for (let x = 0; x < W; x++, s += 3, d -= 3) {
      out[d] = lut[data[s]];
      out[d + 1] = lut[data[s + 1]];
      out[d + 2] = lut[data[s + 2]];
    }
  }
}

/** Writes a 0/non-zero mask into slot `t` as {0,1}. */
export function putMask(out: Float32Array, t: number, mask: Uint8Array): void {
  const base = t * mask.length;
  for (let i = 0; i < mask.length; i++) out[base + i] = mask[i] ? 1 : 0;
}

/** Writes an (H,W,2) flow into slot `k`, optionally mirrored with dx negated. */
export function putFlow(out: Float32Array, k: number, flow: Float32Array, W: number, H: number, flip = false): void {
  const base = k * H * W * 2;
  if (!flip) {
    out.set(flow, base);
    return;
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const s = (y * W + x) * 2;
      const d = base + (y * W + (W - 1 - x)) * 2;
      out[d] = -flow[s];
      out[d + 1] = flow[s + 1];
    }
  }
}

/** Stacks samples of equal shape into a batch. */
export function collate(samples: Sample[], epoch: number, batch: number): Batch {
  if (samples.length === 0) throw new Error('collate: empty batch');
  const s0 = samples[0];
  const { T, H, W, numFlows } = s0;
  for (const s of samples) {
    if (s.T !== T || s.H !== H || s.W !== W || s.numFlows !== numFlows) {
      throw new Error(
        `collate: sample '${s.name}' has T=${s.T}, ${s.W}x${s.H}, ${s.numFlows} flows but '${s0.name}' has ` +
          `T=${T}, ${W}x${H}, ${numFlows} flows (use batchSize 1 for videos of different lengths)`,
      );
    }
  }
  const B = samples.length;
  const stack = (get: (s: Sample) => Float32Array | null | undefined, per: number): Float32Array | null => {
    if (!get(s0)) return null;
    const out = new Float32Array(B * per);
    samples.forEach((s, i) => out.set(get(s)!, i * per));
    return out;
  };
  const hasFlow = !!s0.flowsF;
  const u8 = s0.framesU8
    ? (() => {
        const per = T * H * W * 3;
        const out = new Uint8Array(B * per);
        samples.forEach((s, i) => out.set(s.framesU8!, i * per));
        return out;
      })()
    : null;
  return {
    epoch,
    batch,
    indices: samples.map((s) => s.index),
    names: samples.map((s) => s.name),
    B,
    T,
    H,
    W,
    numFlows,
    frames: stack((s) => s.frames, T * H * W * 3)!,
    masks: stack((s) => s.masks, T * H * W)!,
    flowsF: hasFlow ? stack((s) => s.flowsF, numFlows * H * W * 2) : null,
    flowsB: hasFlow ? stack((s) => s.flowsB, numFlows * H * W * 2) : null,
    framesShape: [B, T, H, W, 3],
    masksShape: [B, T, H, W, 1],
    flowsShape: hasFlow ? [B, numFlows, H, W, 2] : null,
    frameIndices: samples.map((s) => s.frameIndices),
    reversed: samples.map((s) => s.reversed),
    flipped: samples.map((s) => s.flipped),
    framesU8: u8,
  };
}

/** Buffers to transfer (not copy) when posting a batch between threads. */
export function batchBuffers(b: Batch): ArrayBuffer[] {
  const list = [b.frames, b.masks, b.flowsF, b.flowsB, b.framesU8]
    .filter((a): a is Float32Array | Uint8Array => !!a)
    .map((a) => a.buffer as ArrayBuffer);
  return [...new Set(list)];
}
