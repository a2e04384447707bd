/**
 * Which frames each stage of the official scripts processes together (inference_propainter.py,
 * scripts/evaluate_propainter.py; spec §12.1, §13.3). Plans are pure index arithmetic, so the
 * streaming pipeline and a whole-clip run visit exactly the same sub-videos and windows.
 */

/** A RAFT call over frames [start, end): its pairs start … end−2. */
export interface RaftChunk {
  start: number;
  end: number;
}

/** RAFT clip length the inference script picks from the frame width: ≤640 → 12, ≤720 → 8, ≤1280 → 4, else 2. */
export function raftClipLengthForWidth(width: number): number {
  if (width <= 640) return 12;
  if (width <= 720) return 8;
  if (width <= 1280) return 4;
  return 2;
}

/** The evaluation script's fixed RAFT chunk length. */
export const EVALUATION_RAFT_CHUNK = 60;

/**
 * RAFT calls for `length` frames in clips of `clipLength`: one call when the video is not longer,
 * else [0, L), [L−1, 2L), [2L−1, 3L), … (each later chunk starts a frame early so its boundary
 * pair is not lost).
 */
export function raftChunks(length: number, clipLength: number): RaftChunk[] {
  if (!Number.isInteger(clipLength) || clipLength < 2) throw new Error(`RAFT clip length must be an integer ≥ 2, got ${clipLength}`);
  if (length <= clipLength) return [{ start: 0, end: length }];
  const out: RaftChunk[] = [];
  for (let f = 0; f < length; f += clipLength) {
    out.push({ start: f === 0 ? 0 : f - 1, end: Math.min(length, f + clipLength) });
  }
  return out;
}

/** One padded sub-video: processes [start, end) and keeps [keepStart, keepEnd) of it. */
export interface Segment {
  start: number;
  end: number;
  keepStart: number;
  keepEnd: number;
}

/**
 * Padded sub-videos over `n` items (flows or frames): one segment over everything when
 * n ≤ `length`, else for f = 0, length, 2·length, …: process [max(0, f−pad), min(n, f+length+pad))
 * and keep [f, min(n, f+length)). `length` = Infinity gives the whole-video variant.
 */
export function paddedSegments(n: number, length: number, pad: number): Segment[] {
  if (!(length >= 1)) throw new Error(`sub-video length must be ≥ 1, got ${length}`);
  if (n <= length) return [{ start: 0, end: n, keepStart: 0, keepEnd: n }];
  const out: Segment[] = [];
  for (let f = 0; f < n; f += length) {
    out.push({ start: Math.max(0, f - pad), end: Math.min(n, f + length + pad), keepStart: f, keepEnd: Math.min(n, f + length) });
  }
  return out;
}

/** Flow completion pads each sub-video of flows by 5; image propagation pads frames by 10 and uses chunks of min(100, subvideo_length). */
export const FLOW_COMPLETION_PAD = 5;
export const PROPAGATION_PAD = 10;
export const propagationChunkLength = (subvideoLength: number): number => Math.min(100, subvideoLength);

/**
 * Reference frames of a window (get_ref_index). `refNum` = −1: every index 0, stride, 2·stride, …
 * not among the locals (the inference rule for videos within one sub-video, and evaluation's only
 * rule). Otherwise candidates range(max(0, mid − stride·⌊refNum/2⌋), min(length, mid +
 * stride·⌊refNum/2⌋), stride) not among the locals, stopping once more than refNum were taken
 * (so up to refNum + 1, as the official loop does).
 */
export function referenceIds(mid: number, localIds: readonly number[], length: number, refStride: number, refNum: number): number[] {
  const local = new Set(localIds);
  const out: number[] = [];
  if (refNum === -1) {
    for (let i = 0; i < length; i += refStride) if (!local.has(i)) out.push(i);
    return out;
  }
  const half = refStride * Math.floor(refNum / 2);
  for (let i = Math.max(0, mid - half); i < Math.min(length, mid + half); i += refStride) {
    if (local.has(i)) continue;
    if (out.length > refNum) break;
    out.push(i);
  }
  return out;
}

/** One generator call: the local frames (first) and the references. */
export interface Window {
  mid: number;
  localIds: number[];
  refIds: number[];
}

/**
 * Sliding windows over `length` frames: stride = ⌊neighborLength/2⌋; for f = 0, stride, …: locals
 * max(0, f−stride) … min(length−1, f+stride) and their references.
 */
export function slidingWindows(length: number, neighborLength: number, refStride: number, refNum: number): Window[] {
  const stride = Math.floor(neighborLength / 2);
  if (stride < 1) throw new Error(`neighbor_length must be ≥ 2, got ${neighborLength}`);
  if (!(refStride >= 1)) throw new Error(`ref_stride must be ≥ 1, got ${refStride}`);
  const out: Window[] = [];
  for (let f = 0; f < length; f += stride) {
    const localIds: number[] = [];
    for (let i = Math.max(0, f - stride); i < Math.min(length, f + stride + 1); i++) localIds.push(i);
    out.push({ mid: f, localIds, refIds: referenceIds(f, localIds, length, refStride, refNum) });
  }
  return out;
}

/** The inference script's ref_num: −1 (all strided frames) when the video fits one sub-video. */
export function inferenceRefNum(length: number, subvideoLength: number, refStride: number): number {
  return length > subvideoLength ? Math.floor(subvideoLength / refStride) : -1;
}
