/**
 * Flows of a whole evaluation video, as both official evaluation scripts obtain them (spec §12.1
 * step 2): read from `flow_root` with `--load_flow`, else RAFT on the ground-truth frames in
 * chunks of 60 frames, consecutive chunks sharing one frame so that no pair is lost — the
 * inference stage's plan (`raftChunks`) and RAFT call (`raftClipFlows`) with the evaluation's
 * chunk length.
 *
 * This is the one place evaluation obtains flows: the completion, E_warp and the flow-completion
 * EPE all take the flows from here.
 */
import type { RAFT } from '../models/raft';
import { EVALUATION_RAFT_CHUNK, raftChunks } from '../inference/plan';
import { raftClipFlows } from '../inference/pipeline';
import type { EvalVideo, VideoFlows } from './dataset';

/** Where an evaluation takes its flows from. */
export type FlowSource = { kind: 'loaded' } | { kind: 'raft'; model: RAFT; iters: number };

/** The video's flows from `source` as host arrays; RAFT runs in clips of `chunk` frames (the official 60). */
export async function videoFlows(video: EvalVideo, source: FlowSource, chunk = EVALUATION_RAFT_CHUNK): Promise<VideoFlows> {
  if (source.kind === 'loaded') {
    if (!video.flows) throw new Error(`${video.name}: flows were not loaded (the dataset was opened without loadFlow)`);
    return video.flows;
  }
  const { T, H, W } = video;
  const per = H * W * 2;
  const frame = H * W * 3;
  const forward = new Float32Array((T - 1) * per);
  const backward = new Float32Array((T - 1) * per);
  for (const c of raftChunks(T, chunk)) {
    const clip = Array.from({ length: c.end - c.start }, (_, i) => video.framesU8.subarray((c.start + i) * frame, (c.start + i + 1) * frame));
    const r = raftClipFlows(source.model, clip, H, W, source.iters);
    r.forward.forEach((f, k) => forward.set(f, (c.start + k) * per));
    r.backward.forEach((b, k) => backward.set(b, (c.start + k) * per));
  }
  return { forward, backward };
}
