/**
 * Flows of a whole evaluation video, as both official evaluation scripts obtain them (spec §12.1
 * step 2): read from `flow_root` with `--load_flow`, else RAFT on the ground-truth frames in
 * chunks of 60 frames, consecutive chunks sharing one frame so that no pair is lost.
 *
 * This is the one place evaluation computes flows: the completion, E_warp and the flow-completion
 * EPE all take the flows from here.
 */
import * as tf from '@tensorflow/tfjs-core';
import { RAFT, raftBi } from '../models/raft';
import type { EvalVideo, VideoFlows } from './dataset';

/** Frames per RAFT call in the official evaluation scripts (`short_len`). */
export const EVAL_RAFT_CHUNK = 60;

/** Where an evaluation takes its flows from. */
export type FlowSource = { kind: 'loaded' } | { kind: 'raft'; model: RAFT; iters: number };

/**
 * RAFT_bi over a whole video [1, T, H, W, 3] in [-1, 1] in the official chunks of `chunk` = 60
 * frames (frames f…f+59 for the first, f−1…f+59 after): forward and backward flows [1, T−1, H, W, 2].
 */
export function evaluationRaftFlows(raft: RAFT, frames: tf.Tensor5D, iters: number, chunk = EVAL_RAFT_CHUNK): { forward: tf.Tensor5D; backward: tf.Tensor5D } {
  const [b, t, h, w] = frames.shape;
  if (t <= chunk) return raftBi(raft, frames, { iters });
  const fwd: tf.Tensor5D[] = [];
  const bwd: tf.Tensor5D[] = [];
  try {
    for (let f = 0; f < t; f += chunk) {
      const start = f === 0 ? 0 : f - 1;
      const end = Math.min(t, f + chunk);
      const clip = tf.slice(frames, [0, start, 0, 0, 0], [b, end - start, h, w, 3]);
      try {
        const r = raftBi(raft, clip, { iters });
        fwd.push(r.forward);
        bwd.push(r.backward);
      } finally {
        clip.dispose();
      }
    }
    return { forward: tf.concat(fwd, 1), backward: tf.concat(bwd, 1) };
  } finally {
    tf.dispose([...fwd, ...bwd]);
  }
}

/** The video's flows from `source` as host arrays. */
export async function videoFlows(video: EvalVideo, source: FlowSource): Promise<VideoFlows> {
  if (source.kind === 'loaded') {
    if (!video.flows) throw new Error(`${video.name}: flows were not loaded (the dataset was opened without loadFlow)`);
    return video.flows;
  }
  const frames = tf.tensor5d(video.frames, [1, video.T, video.H, video.W, 3]);
  let r: { forward: tf.Tensor5D; backward: tf.Tensor5D };
  try {
    r = evaluationRaftFlows(source.model, frames, source.iters);
  } finally {
    frames.dispose();
  }
  try {
    return { forward: (await r.forward.data()) as Float32Array, backward: (await r.backward.data()) as Float32Array };
  } finally {
    r.forward.dispose();
    r.backward.dispose();
  }
}
