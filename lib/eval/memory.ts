/**
 * Wasm heap needed by an evaluation, so a video that cannot fit is refused before any work (the
 * official protocol runs every stage over each whole video; the wasm heap caps at ~3.9 GiB and
 * running out aborts the process).
 *
 * The completion and the flow-completion evaluation are the inference stages with the
 * evaluation's variants: their estimate is lib/inference's (`estimateInpaintHeap`). I3D (VFID) is
 * evaluation's own; measured on wasm at 240×432 (heap growth of one train-mode-BatchNorm forward
 * over the loaded network: 10 / 20 / 40 / 60 / 80 frames 738 / 1391 / 1470 / 2024 / 2515 MiB).
 * Up to Conv3d_1a's output chunk (Unit3D.chunkValues: 20 frames at 240×432) its transient grows
 * with every frame (≈ 703 bytes per pixel and frame); beyond, the clip-long activations do
 * (≈ 4310 bytes per pixel + 264 per pixel and frame).
 */
import { WASM_HEAP_BUDGET } from '../models/analyze';
import { Unit3D } from '../models/i3d';
import { estimateInpaintHeap, type HeapStage } from '../inference/memory';

/** Heap of the runtime with the I3D weights loaded (measured 100 MiB). */
const I3D_BASE_BYTES = 100 * 2 ** 20;
const I3D_CHUNK_BYTES_PER_PIXEL_FRAME = 703;
const I3D_BYTES_PER_PIXEL = 4310;
const I3D_BYTES_PER_PIXEL_FRAME = 264;
/** Allocator rounding and the spread of the measurements. */
const I3D_MARGIN = 1.1;

/** What runs over a whole video: the ProPainter completion, the flow-completion evaluation, I3D. */
export type WholeVideoNet = 'completion' | 'flowcomp' | 'i3d';

export interface EvalHeapSettings {
  neighborLength: number;
  refStride: number;
  /** Flows loaded (--load_flow): no RAFT. */
  flowsGiven: boolean;
}

/** Frames of Conv3d_1a's first output chunk at height×width (its input frames). */
function i3dChunkFrames(height: number, width: number): number {
  const perFrame = Math.ceil(height / 2) * Math.ceil(width / 2) * 64;
  return 2 * Math.max(1, Math.floor(Unit3D.chunkValues / perFrame));
}

/** Estimated wasm heap for `net` over a whole video of `frames` frames at height×width. */
export function wholeVideoHeapBytes(net: WholeVideoNet, frames: number, height: number, width: number, s: EvalHeapSettings): number {
  const px = height * width;
  if (net === 'i3d') {
    const growth = Math.max(
      I3D_CHUNK_BYTES_PER_PIXEL_FRAME * Math.min(frames, i3dChunkFrames(height, width)),
      I3D_BYTES_PER_PIXEL + I3D_BYTES_PER_PIXEL_FRAME * frames,
    );
    return Math.round(I3D_BASE_BYTES + px * growth * I3D_MARGIN);
  }
  const stages: HeapStage[] = net === 'flowcomp' ? ['raft', 'flow_completion'] : ['raft', 'flow_completion', 'propagation', 'transformer'];
  return estimateInpaintHeap(
    { width, height, frames, subvideoLength: frames, neighborLength: s.neighborLength, refStride: s.refStride, evaluation: true, flowsGiven: s.flowsGiven },
    stages,
  ).bytes;
}

/** The most frames whose whole-video run of `net` fits the budget at height×width. */
export function maxFramesThatFit(net: WholeVideoNet, height: number, width: number, s: EvalHeapSettings, budget = WASM_HEAP_BUDGET): number {
  let n = 2;
  while (n < 100_000 && wholeVideoHeapBytes(net, n + 1, height, width, s) <= budget) n++;
  return n;
}

const WHAT: Record<WholeVideoNet, string> = {
  completion: 'the whole-video ProPainter completion',
  flowcomp: 'the whole-video flow completion',
  i3d: 'I3D over the whole video (VFID)',
};

/**
 * Throws (one line) when a video needs more wasm heap than the budget for `net`: the estimate,
 * the video, and what to change.
 */
export function checkWholeVideoFits(net: WholeVideoNet, video: string, frames: number, height: number, width: number, s: EvalHeapSettings, budget = WASM_HEAP_BUDGET): void {
  const need = wholeVideoHeapBytes(net, frames, height, width, s);
  if (need <= budget) return;
  const gib = (b: number) => (b / 2 ** 30).toFixed(2);
  throw new Error(
    `${video}: ${frames} frames at ${width}x${height} need ~${gib(need)} GiB of wasm heap for ${WHAT[net]} (the official protocol), ` +
      `above the ${gib(budget)} GiB budget; use the tensorflow backend (npm install @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu), ` +
      `or --max_frames ${maxFramesThatFit(net, height, width, s, budget)} (not the official protocol), or a smaller --width / --height`,
  );
}
