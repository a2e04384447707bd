/**
 * The ProPainter completion of one whole evaluation video (spec §12.1 steps 2–6) through the
 * inference stages (lib/inference `inpaintVideo`) with the evaluation script's variants: the
 * video's flows supplied (loaded, or RAFT in 60-frame chunks by lib/eval/flows), flow completion
 * and image propagation over the whole video, windows of `neighbor_length` with every
 * stride-aligned reference, the masks used as the dataset dilated them (no second dilation), and
 * overlapping windows blended in float without re-quantisation.
 */
import type { Image8 } from '../io/image';
import { inpaintVideo, type InpaintModels } from '../inference/pipeline';
import type { CompleteVideo } from './evaluate';

export interface CompletionSettings {
  neighborLength: number;
  refStride: number;
  raftIter: number;
}

/** A CompleteVideo running `models` (their weights are the caller's) with the official evaluation settings. */
export function propainterCompletion(models: InpaintModels, s: CompletionSettings): CompleteVideo {
  return async (video, flows) => {
    const { T, H, W } = video;
    if (!flows) throw new Error(`${video.name}: the ProPainter completion needs the video's flows`);
    const n = H * W * 3;
    const hw = H * W;
    const frames: Image8[] = Array.from({ length: T }, (_, t) => ({ width: W, height: H, channels: 3, data: video.framesU8.subarray(t * n, (t + 1) * n) }));
    const masks: Image8[] = Array.from({ length: T }, (_, t) => {
      const m = new Uint8Array(hw);
      for (let p = 0; p < hw; p++) m[p] = video.masks[t * hw + p] ? 255 : 0;
      return { width: W, height: H, channels: 1, data: m };
    });
    const per = hw * 2;
    const out = new Float32Array(T * n);
    let received = 0;
    await inpaintVideo(frames, masks, {
      models,
      width: W,
      height: H,
      maskDilation: 0,
      neighborLength: s.neighborLength,
      refStride: s.refStride,
      raftIter: s.raftIter,
      flows: (k) => ({ forward: flows.forward.subarray(k * per, (k + 1) * per), backward: flows.backward.subarray(k * per, (k + 1) * per) }),
      flowCompletion: 'whole',
      propagation: 'whole',
      references: 'all',
      blend: 'float',
      onFrame: (f) => {
        out.set(f.resultFloat!, f.index * n);
        received++;
      },
    });
    if (received !== T) throw new Error(`${video.name}: the completion returned ${received} of ${T} frames`);
    return out;
  };
}
