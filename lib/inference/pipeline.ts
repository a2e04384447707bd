/**
 * `inpaintVideo`: the official inference pipeline (inference_propainter.py, spec §13) over a
 * video of any length, with the evaluation script's variants as options (spec §12.1).
 *
 * Stages, each over the sub-videos its plan (./plan.ts) gives: RAFT chunks → flow completion in
 * padded sub-videos → image propagation in padded sub-videos → generator windows (locals +
 * references) → uint8 compositing and 0.5 blending. Every stage is computed on demand from
 * per-frame host stores, in increasing frame order. Streaming (the default) reads frames as the
 * stages need them, emits each frame as soon as no later window can touch it, and drops what no
 * later sub-video or window reads; since the plans are the same, the results are identical to
 * the whole-clip order (`stream: false`: every stage over the whole video first, as the script
 * runs). Once a video is longer than `subvideoLength`, every stage looks at a bounded
 * neighbourhood, so memory does not grow with the video's length.
 */
import * as tf from '@tensorflow/tfjs-core';
import { toGrey, type Image8 } from '../io/image';
import { raftBi, type RAFT } from '../models/raft';
import { completeFlows, type RecurrentFlowCompleteNet } from '../models/flow-completion';
import { imgPropagation, inpaintClip, type InpaintGenerator } from '../models/propainter';
import {
  EVALUATION_RAFT_CHUNK, FLOW_COMPLETION_PAD, PROPAGATION_PAD, inferenceRefNum, paddedSegments, propagationChunkLength,
  raftChunks, raftClipLengthForWidth, slidingWindows,
  type RaftChunk, type Segment, type Window,
} from './plan';
import {
  blendInto, compositeFrame, inferenceSizes, outpaintCanvas, outpaintMasks, placeOnCanvas, prepareMask, tintMasked, toProcessSize,
  type BlendMode, type FrameMasks, type OutpaintCanvas, type Size, type SizeOptions,
} from './frames';

export interface InpaintModels {
  raft: RAFT;
  flowComplete: RecurrentFlowCompleteNet;
  generator: InpaintGenerator;
}

/** Frames in order with their count known up front (the plans depend on it). */
export interface FrameStream {
  length: number;
  frames: AsyncIterable<Image8> | Iterable<Image8>;
}

export type FrameInput = readonly Image8[] | FrameStream;
/** One grey mask for every frame, one per frame, or null (video_outpainting builds its own). */
export type MaskInput = Image8 | readonly Image8[] | FrameStream | null;

/** Externally supplied raw flows (evaluation's --load_flow): pair k → forward (k→k+1), backward (k+1→k), H·W·2 each at the process size. */
export type FlowProvider = (pair: number) => { forward: Float32Array; backward: Float32Array } | Promise<{ forward: Float32Array; backward: Float32Array }>;

export type InpaintMode = 'video_inpainting' | 'video_outpainting';

export interface InpaintOptions extends SizeOptions {
  models: InpaintModels;
  mode?: InpaintMode;
  /** video_outpainting canvas scales (defaults 1.0 and 1.2). */
  scaleH?: number;
  scaleW?: number;
  /** Dilation iterations of both masks (default 4). */
  maskDilation?: number;
  refStride?: number;
  neighborLength?: number;
  subvideoLength?: number;
  raftIter?: number;
  /** RAFT clip length: 'width' (inference: by frame width), 'evaluation' (60) or a number. */
  raftChunks?: 'width' | 'evaluation' | number;
  /** Raw flows from elsewhere instead of RAFT. */
  flows?: FlowProvider;
  /** Flow completion / image propagation in padded sub-videos (inference) or over the whole video (evaluation). */
  flowCompletion?: 'subvideo' | 'whole';
  propagation?: 'subvideo' | 'whole';
  /** 'inference': get_ref_index with ref_num from the video length; 'all': every strided frame not local (evaluation). */
  references?: 'inference' | 'all';
  blend?: BlendMode;
  /** Read, process and emit frames as a stream (default true); false: every stage over the whole video first. */
  stream?: boolean;
  /** Receives each finished frame in order; without it the frames are collected in the result. */
  onFrame?: (frame: InpaintedFrame) => void | Promise<void>;
  /** Called once the sizes are known (after the first frame is read), before any frame is emitted. */
  onSizes?: (sizes: { inputSize: Size; outSize: Size; processSize: Size; canvas?: OutpaintCanvas }) => void;
  /** Notes for the user (e.g. a mask of another size was resized). */
  onNote?: (note: string) => void;
}

export type StageName = 'read' | 'raft' | 'flow_completion' | 'propagation' | 'transformer' | 'write';
export const STAGES: readonly StageName[] = ['read', 'raft', 'flow_completion', 'propagation', 'transformer', 'write'];

export interface ProgressEvent {
  stage: StageName;
  done: number;
  total: number;
}

export interface InpaintedFrame {
  index: number;
  /** The completed frame at the process size (the canvas in video_outpainting). */
  result: Image8;
  /** Float blend result (blend 'float' only), H·W·3. */
  resultFloat?: Float32Array;
  /** The input with the dilated mask tinted green, at the process size (masked_in). */
  masked: Image8;
}

export interface InpaintResult {
  frames: number;
  inputSize: Size;
  outSize: Size;
  processSize: Size;
  /** video_outpainting: the canvas the networks ran on. */
  canvas?: OutpaintCanvas;
  windows: number;
  /** Wall seconds per stage (own work only: a stage's reads of earlier stages are not counted twice). */
  seconds: Record<StageName, number>;
  /** The frames, when no onFrame sink was given. */
  results?: InpaintedFrame[];
}

/** A problem with the frames or masks given (a one-line message naming the frame, mask or file). */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Per-frame host data, dropped once no later stage reads it. */
class Store<T> {
  private readonly items = new Map<number, T>();
  constructor(private readonly what: string) {}
  has(i: number): boolean {
    return this.items.has(i);
  }
  get(i: number): T {
    const v = this.items.get(i);
    if (v === undefined) throw new Error(`inpaintVideo: ${this.what} ${i} is not available (internal scheduling error)`);
    return v;
  }
  set(i: number, v: T): void {
    this.items.set(i, v);
  }
  delete(i: number): void {
    this.items.delete(i);
  }
  dropBelow(i: number): void {
    for (const k of this.items.keys()) if (k < i) this.items.delete(k);
  }
}

function isStream(x: unknown): x is FrameStream {
  return !!x && typeof x === 'object' && 'frames' in x && 'length' in x && !Array.isArray(x);
}

function iterate(input: readonly Image8[] | FrameStream): Iterator<Image8> | AsyncIterator<Image8> {
  const src = isStream(input) ? input.frames : input;
  const asyncIt = (src as AsyncIterable<Image8>)[Symbol.asyncIterator];
  return asyncIt ? asyncIt.call(src) : (src as Iterable<Image8>)[Symbol.iterator]();
}

const toUnit = (data: Uint8Array): Float32Array => {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.fround(Math.fround(data[i] / 255) * 2) - 1;
  return out;
};

function stack(parts: readonly ArrayLike<number>[], perItem: number): Float32Array {
  const out = new Float32Array(parts.length * perItem);
  parts.forEach((p, i) => out.set(p as Float32Array, i * perItem));
  return out;
}

/**
 * RAFT_bi over one clip of uint8 RGB frames (H·W·3 each, mapped to [-1, 1]): the forward (k→k+1)
 * and backward (k+1→k) flows of its consecutive pairs, H·W·2 each. One call of the RAFT stage;
 * which clips to call it on is the plan's (`raftChunks`).
 */
export function raftClipFlows(raft: RAFT, frames: readonly Uint8Array[], H: number, W: number, iters: number): { forward: Float32Array[]; backward: Float32Array[] } {
  const px = H * W;
  const n = frames.length;
  const input = tf.tensor5d(stack(frames.map(toUnit), px * 3), [1, n, H, W, 3]);
  let out: { forward: tf.Tensor5D; backward: tf.Tensor5D };
  try {
    out = raftBi(raft, input, { iters });
  } finally {
    input.dispose();
  }
  let fd: Float32Array;
  let bd: Float32Array;
  try {
    fd = out.forward.dataSync() as Float32Array;
    bd = out.backward.dataSync() as Float32Array;
  } finally {
    tf.dispose([out.forward, out.backward]);
  }
  const pairs = range(0, n - 1);
  return {
    forward: pairs.map((k) => fd.slice(k * px * 2, (k + 1) * px * 2)),
    backward: pairs.map((k) => bd.slice(k * px * 2, (k + 1) * px * 2)),
  };
}

/** Completes the holes of a video (see the file header). Frames are RGB uint8 of one size. */
export async function inpaintVideo(
  frameInput: FrameInput,
  maskInput: MaskInput,
  options: InpaintOptions,
  onProgress?: (e: ProgressEvent) => void,
): Promise<InpaintResult> {
  const { models } = options;
  // RAFT's context encoder has BatchNorm: eval statistics, as the frozen official models run.
  models.raft.eval();
  models.flowComplete.eval();
  const mode = options.mode ?? 'video_inpainting';
  const dilation = options.maskDilation ?? 4;
  const refStride = options.refStride ?? 10;
  const neighborLength = options.neighborLength ?? 10;
  const subvideoLength = options.subvideoLength ?? 80;
  const raftIter = options.raftIter ?? 20;
  const blend = options.blend ?? 'uint8';
  const streaming = options.stream ?? true;
  for (const [name, v] of [['ref_stride', refStride], ['neighbor_length', neighborLength], ['subvideo_length', subvideoLength], ['raft_iter', raftIter]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(dilation) || dilation < 0) throw new Error(`mask_dilation must be an integer ≥ 0, got ${dilation}`);
  const T = frameInput.length;
  if (T < 2) throw new InputError(`the video has ${T} frame(s); inpainting needs at least 2 (flows are computed between frames)`);
  if (mode === 'video_inpainting') {
    if (!maskInput) throw new Error('video_inpainting needs masks');
    const n = isStream(maskInput) || Array.isArray(maskInput) ? (maskInput as { length: number }).length : 1;
    if (n !== 1 && n !== T) throw new InputError(`${T} frames but ${n} masks: give one mask per frame or a single mask for all`);
  }

  const seconds = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<StageName, number>;
  const timed = async <R>(stage: StageName, fn: () => R | Promise<R>): Promise<R> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      seconds[stage] += (performance.now() - t0) / 1000;
    }
  };
  const report = (stage: StageName, done: number, total: number) => onProgress?.({ stage, done, total });

  // ---- input: frames and masks at the process size, read in order as the stages ask ----
  const frameIt = iterate(frameInput as readonly Image8[] | FrameStream);
  const singleMask = maskInput && !isStream(maskInput) && !Array.isArray(maskInput) ? (maskInput as Image8) : null;
  const maskIt = maskInput && !singleMask ? iterate(maskInput as readonly Image8[] | FrameStream) : null;
  let sizes: { inputSize: Size; outSize: Size; processSize: Size; canvas?: OutpaintCanvas } | null = null;
  let fixedMasks: FrameMasks | null = null;
  const orig = new Store<Uint8Array>('frame');
  const masks = new Store<FrameMasks>('mask');
  let read = 0;
  const nextOf = async (it: Iterator<Image8> | AsyncIterator<Image8>, what: string, i: number): Promise<Image8> => {
    const r = await it.next();
    if (r.done) throw new InputError(`${what} ${i} is missing: the input ended after ${i} of ${T}`);
    return r.value;
  };
  let notedMaskSize = false;
  const maskFor = (grey: Image8, i: number): FrameMasks => {
    const ps = sizes!.processSize;
    if (!notedMaskSize && (grey.width !== sizes!.inputSize.width || grey.height !== sizes!.inputSize.height)) {
      notedMaskSize = true;
      options.onNote?.(`mask ${i} is ${grey.width}x${grey.height} but the frames are ${sizes!.inputSize.width}x${sizes!.inputSize.height}: masks are resized (nearest) to the process size ${ps.width}x${ps.height}, as the official script does`);
    }
    return prepareMask(toGrey(grey), ps, dilation);
  };
  const readUpTo = async (last: number): Promise<void> => {
    while (read <= Math.min(last, T - 1)) {
      const i = read;
      await timed('read', async () => {
        const raw = await nextOf(frameIt, 'frame', i);
        if (raw.channels !== 3) throw new InputError(`frame ${i}: expected RGB, got ${raw.channels} channels`);
        if (!sizes) {
          const inputSize = { width: raw.width, height: raw.height };
          const s = inferenceSizes(inputSize, options);
          if (s.processSize.width < 8 || s.processSize.height < 8) throw new InputError(`process size ${s.processSize.width}x${s.processSize.height} is too small (--width/--height/--resize_ratio)`);
          sizes = { inputSize, ...s };
          if (mode === 'video_outpainting') {
            sizes.canvas = outpaintCanvas(s.processSize, options.scaleH ?? 1.0, options.scaleW ?? 1.2);
            fixedMasks = outpaintMasks(s.processSize, sizes.canvas);
          } else if (singleMask) fixedMasks = maskFor(singleMask, 0);
        } else if (raw.width !== sizes.inputSize.width || raw.height !== sizes.inputSize.height) {
          throw new InputError(`frame ${i} is ${raw.width}x${raw.height}, frame 0 is ${sizes.inputSize.width}x${sizes.inputSize.height}: all frames must have one size`);
        }
        let frame = toProcessSize(raw, sizes.processSize);
        if (sizes.canvas) frame = placeOnCanvas(frame, sizes.canvas);
        orig.set(i, frame.data);
        masks.set(i, fixedMasks ?? maskFor(await nextOf(maskIt!, 'mask', i), i));
      });
      read++;
      report('read', read, T);
    }
  };
  await readUpTo(0);
  const S = sizes as unknown as { inputSize: Size; outSize: Size; processSize: Size; canvas?: OutpaintCanvas };
  const W = S.canvas?.width ?? S.processSize.width;
  const H = S.canvas?.height ?? S.processSize.height;
  const px = W * H;
  options.onSizes?.(S);

  // ---- plans ----
  const clipLength = options.raftChunks === 'evaluation' ? EVALUATION_RAFT_CHUNK : typeof options.raftChunks === 'number' ? options.raftChunks : raftClipLengthForWidth(W);
  const chunks: RaftChunk[] = raftChunks(T, clipLength);
  const flowSegs: Segment[] = paddedSegments(T - 1, options.flowCompletion === 'whole' ? Infinity : subvideoLength, FLOW_COMPLETION_PAD);
  const propSegs: Segment[] = paddedSegments(T, options.propagation === 'whole' ? Infinity : propagationChunkLength(subvideoLength), PROPAGATION_PAD);
  const refNum = options.references === 'all' ? -1 : inferenceRefNum(T, subvideoLength, refStride);
  const windows: Window[] = slidingWindows(T, neighborLength, refStride, refNum);

  // ---- RAFT ----
  const rawF = new Store<Float32Array>('raw forward flow');
  const rawB = new Store<Float32Array>('raw backward flow');
  let raftNext = 0; // first chunk not computed
  let rawDone = 0;
  const ensureRaw = async (pair: number): Promise<void> => {
    while (!rawF.has(pair)) {
      if (rawDone >= T - 1) throw new Error(`inpaintVideo: raw flow ${pair} was dropped (internal scheduling error)`);
      if (options.flows) {
        const k = rawDone;
        const f = await options.flows(k);
        if (f.forward.length !== px * 2 || f.backward.length !== px * 2) throw new Error(`flows of pair ${k}: expected ${H}x${W}x2 values`);
        rawF.set(k, f.forward);
        rawB.set(k, f.backward);
        report('raft', ++rawDone, T - 1);
        continue;
      }
      const c = chunks[raftNext];
      await readUpTo(c.end - 1);
      await timed('raft', () => {
        const out = raftClipFlows(models.raft, range(c.start, c.end).map((i) => orig.get(i)), H, W, raftIter);
        out.forward.forEach((f, k) => rawF.set(c.start + k, f));
        out.backward.forEach((b, k) => rawB.set(c.start + k, b));
        rawDone += out.forward.length;
      });
      raftNext++;
      report('raft', rawDone, T - 1);
    }
  };

  // ---- flow completion ----
  const compF = new Store<Float32Array>('completed forward flow');
  const compB = new Store<Float32Array>('completed backward flow');
  let flowDone = 0;
  const flowStage = segmentStage(flowSegs, 'completed flow', (k) => compF.has(k), async (s) => {
    for (let k = s.start; k < s.end; k++) await ensureRaw(k);
    await readUpTo(s.end);
    await timed('flow_completion', () => {
      const n = s.end - s.start;
      const flows: [tf.Tensor5D, tf.Tensor5D] = [
        tf.tensor5d(stack(range(s.start, s.end).map((k) => rawF.get(k)), px * 2), [1, n, H, W, 2]),
        tf.tensor5d(stack(range(s.start, s.end).map((k) => rawB.get(k)), px * 2), [1, n, H, W, 2]),
      ];
      const m = tf.tensor5d(stack(range(s.start, s.end + 1).map((i) => masks.get(i).flow), px), [1, n + 1, H, W, 1]);
      const [pf, pb] = completeFlows(models.flowComplete, flows, m);
      tf.dispose([...flows, m]);
      const fd = pf.dataSync() as Float32Array;
      const bd = pb.dataSync() as Float32Array;
      tf.dispose([pf, pb]);
      for (let k = s.keepStart; k < s.keepEnd; k++) {
        const o = (k - s.start) * px * 2;
        compF.set(k, fd.slice(o, o + px * 2));
        compB.set(k, bd.slice(o, o + px * 2));
      }
    });
    flowDone += s.keepEnd - s.keepStart;
    report('flow_completion', flowDone, T - 1);
  });
  const ensureCompleted = flowStage.ensure;

  // ---- image propagation ----
  const updated = new Store<Float32Array>('propagated frame');
  const updatedMasks = new Store<Float32Array>('updated mask');
  let propDone = 0;
  const propStage = segmentStage(propSegs, 'propagated frame', (i) => updated.has(i), async (s) => {
    for (let k = s.start; k < s.end - 1; k++) await ensureCompleted(k);
    await readUpTo(s.end - 1);
    await timed('propagation', () => {
      const n = s.end - s.start;
      const ids = range(s.start, s.end);
      const out = tf.tidy(() => {
        const frames = tf.tensor5d(stack(ids.map((j) => toUnit(orig.get(j))), px * 3), [1, n, H, W, 3]);
        const m = tf.tensor5d(stack(ids.map((j) => masks.get(j).dilated), px), [1, n, H, W, 1]);
        const fl = ids.slice(0, -1);
        const flows: [tf.Tensor, tf.Tensor] = [
          tf.tensor5d(stack(fl.map((k) => compF.get(k)), px * 2), [1, n - 1, H, W, 2]),
          tf.tensor5d(stack(fl.map((k) => compB.get(k)), px * 2), [1, n - 1, H, W, 2]),
        ];
        const masked = tf.mul(frames, tf.sub(1, m));
        const prop = imgPropagation(masked, flows, m, 'nearest');
        return { frames: tf.add(masked, tf.mul(prop.frames, m)), masks: prop.masks };
      });
      const fd = out.frames.dataSync() as Float32Array;
      const md = out.masks.dataSync() as Float32Array;
      tf.dispose([out.frames, out.masks]);
      for (let j = s.keepStart; j < s.keepEnd; j++) {
        const o = j - s.start;
        updated.set(j, fd.slice(o * px * 3, (o + 1) * px * 3));
        updatedMasks.set(j, md.slice(o * px, (o + 1) * px));
      }
    });
    propDone += s.keepEnd - s.keepStart;
    report('propagation', propDone, T);
  });
  const ensureUpdated = propStage.ensure;

  // ---- windows, compositing, output ----
  const comp = new Store<Float32Array>('composited frame');
  const results: InpaintedFrame[] = [];
  let emitted = 0;
  const emitUpTo = async (end: number): Promise<void> => {
    for (; emitted < end; emitted++) {
      const i = emitted;
      const c = comp.get(i);
      const data = new Uint8Array(c.length);
      for (let j = 0; j < c.length; j++) data[j] = c[j];
      const frame: InpaintedFrame = {
        index: i,
        result: { width: W, height: H, channels: 3, data },
        masked: tintMasked({ width: W, height: H, channels: 3, data: orig.get(i) }, masks.get(i).dilated),
      };
      if (blend === 'float') frame.resultFloat = c;
      comp.delete(i);
      await timed('write', async () => {
        if (options.onFrame) await options.onFrame(frame);
        else results.push(frame);
      });
      report('write', i + 1, T);
    }
  };
  /** Drops what no later window, sub-video or output reads. */
  const evict = (nextWindow: number): void => {
    const w = windows[nextWindow];
    const winLow = w ? Math.min(...w.localIds, ...w.refIds) : T;
    const localLow = w ? w.localIds[0] : T;
    const propLow = propStage.next < propSegs.length ? propSegs[propStage.next].start : T;
    const flowLow = flowStage.next < flowSegs.length ? flowSegs[flowStage.next].start : T;
    const raftLow = options.flows ? rawDone : raftNext < chunks.length ? chunks[raftNext].start : T;
    updated.dropBelow(winLow);
    updatedMasks.dropBelow(winLow);
    compF.dropBelow(Math.min(localLow, propLow));
    compB.dropBelow(Math.min(localLow, propLow));
    rawF.dropBelow(flowLow);
    rawB.dropBelow(flowLow);
    const frameLow = Math.min(winLow, propLow, flowLow, raftLow, emitted);
    orig.dropBelow(frameLow);
    masks.dropBelow(frameLow);
  };

  if (!streaming) {
    await readUpTo(T - 1);
    for (let k = 0; k < T - 1; k++) await ensureRaw(k);
    for (let k = 0; k < T - 1; k++) await ensureCompleted(k);
    for (let i = 0; i < T; i++) await ensureUpdated(i);
  }
  for (let wi = 0; wi < windows.length; wi++) {
    const win = windows[wi];
    const ids = [...win.localIds, ...win.refIds];
    for (const i of ids) await ensureUpdated(i);
    const lt = win.localIds.length;
    for (const k of win.localIds.slice(0, -1)) await ensureCompleted(k);
    await timed('transformer', () => {
      const n = ids.length;
      const pred = tf.tidy(() => {
        const fl = win.localIds.slice(0, -1);
        return inpaintClip(models.generator, {
          frames: tf.tensor5d(stack(ids.map((i) => updated.get(i)), px * 3), [1, n, H, W, 3]),
          flows: [
            tf.tensor5d(stack(fl.map((k) => compF.get(k)), px * 2), [1, lt - 1, H, W, 2]),
            tf.tensor5d(stack(fl.map((k) => compB.get(k)), px * 2), [1, lt - 1, H, W, 2]),
          ],
          masksIn: tf.tensor5d(stack(ids.map((i) => masks.get(i).dilated), px), [1, n, H, W, 1]),
          masksUpdated: tf.tensor5d(stack(ids.map((i) => updatedMasks.get(i)), px), [1, n, H, W, 1]),
          numLocal: lt,
          interpolation: 'bilinear',
          tDilation: 2,
        });
      });
      const pd = pred.dataSync() as Float32Array;
      pred.dispose();
      win.localIds.forEach((idx, j) => {
        const img = compositeFrame(pd.subarray(j * px * 3, (j + 1) * px * 3), orig.get(idx), masks.get(idx).dilated);
        comp.set(idx, blendInto(comp.has(idx) ? comp.get(idx) : null, img, blend));
      });
    });
    report('transformer', wi + 1, windows.length);
    const next = windows[wi + 1];
    await emitUpTo(next ? next.localIds[0] : T);
    if (streaming) evict(wi + 1);
  }

  return {
    frames: T,
    inputSize: S.inputSize,
    outSize: S.outSize,
    processSize: S.processSize,
    canvas: S.canvas,
    windows: windows.length,
    seconds,
    results: options.onFrame ? undefined : results,
  };
}

/**
 * A stage over padded sub-videos: `ensure(i)` runs the segments in order until item i is kept;
 * `next` is the first segment not run (its start bounds what the stage will still read).
 */
function segmentStage(segs: readonly Segment[], what: string, has: (i: number) => boolean, run: (s: Segment) => Promise<void>) {
  const stage = {
    next: 0,
    ensure: async (i: number): Promise<void> => {
      while (!has(i)) {
        const s = segs[stage.next];
        if (!s) throw new Error(`inpaintVideo: ${what} ${i} was dropped (internal scheduling error)`);
        await run(s);
        stage.next++;
      }
    },
  };
  return stage;
}

function range(a: number, b: number): number[] {
  return Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
}
