/** Shared pieces of the evaluation tests: a tiny synthetic dataset and a test double for "complete one video". */
import * as path from 'node:path';
import { writeSynthDataset } from '../../lib/data/prepare';
import { EvalDataset, EvalDatasetOptions } from '../../lib/eval/dataset';
import { CompleteVideo, evaluateProPainter } from '../../lib/eval/evaluate';
import type { EvalProtocol } from '../../lib/eval/results';

export const W = 80;
export const H = 72;

/** 3 videos × 3 frames at 80×72 (PNG frames, float32 flows, random masks) under `dir`/syn. */
export async function evalDataset(dir: string): Promise<string> {
  const root = path.join(dir, 'syn');
  await writeSynthDataset({ out: root, videos: 3, frames: 3, width: W, height: H, seed: 5, format: 'png', floEncoding: 'float32', maxSpeed: 2 });
  return root;
}

export const datasetOptions = (root: string, extra: Partial<EvalDatasetOptions> = {}): EvalDatasetOptions => ({
  videoRoot: path.join(root, `JPEGImages_${W}_${H}`), maskRoot: path.join(root, 'test_masks'), flowRoot: path.join(root, 'flows'),
  loadFlow: true, width: W, height: H, ...extra,
});

export function testProtocol(ds: EvalDataset, extra: Partial<EvalProtocol> = {}): EvalProtocol {
  return {
    model: 'propainter', dataset: 'davis', task: 'video_completion', width: W, height: H, neighbor_length: 10, ref_stride: 10,
    raft_iter: 20, load_flow: true, video_root: ds.videoRoot, mask_root: ds.maskRoot, flow_root: ds.flowRoot, videos: null,
    max_frames: null, frames_from: null, ...extra,
  };
}

/**
 * Test double for the completion: known pixels kept, holes filled with `value` (127.5 by default:
 * not an integer, so saved frames truncate it). Records the videos it completed in `calls`;
 * throws at `failOn` (an interruption).
 */
export function fillHoles(calls: string[] = [], opts: { value?: number; failOn?: string } = {}): CompleteVideo {
  return async (v) => {
    if (v.name === opts.failOn) throw new Error(`interrupted at ${v.name}`);
    calls.push(v.name);
    const out = Float32Array.from(v.framesU8);
    for (let p = 0; p < v.T * v.H * v.W; p++) if (v.masks[p]) out.fill(opts.value ?? 127.5, 3 * p, 3 * p + 3);
    return out;
  };
}

/** evaluateProPainter on the dataset with a completion double, loaded flows (E_warp), saved results. */
export async function evaluateWith(root: string, out: string, complete: CompleteVideo, extra: { fresh?: boolean; protocol?: Partial<EvalProtocol> } = {}) {
  const ds = EvalDataset.open(datasetOptions(root));
  return evaluateProPainter({
    out, protocol: testProtocol(ds, extra.protocol), dataset: ds, weights: {}, complete, flows: { kind: 'loaded' }, completionNeedsFlows: false,
    timed: false, i3d: null, lpips: null, saveResults: true, fresh: extra.fresh, notes: ['VFID skipped: test'], log: () => {},
  });
}
