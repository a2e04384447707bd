/**
 * `propainter compute-flow`: precomputes RAFT flows for a frames tree, as the official
 * scripts/compute_flow.py — for each video folder and each consecutive pair of sorted frames:
 * read (RGB, [0, 1]), bilinear resize (align_corners=False, no antialias) to H×W, map to [-1, 1],
 * RAFT both directions, save `<a>_<b>_f.flo` (a → b) and `<b>_<a>_b.flo` (b → a).
 * Files are the official float16 `.flo` variant unless --float32 (Middlebury). Pairs whose two
 * files already exist with the right size are skipped, so an interrupted run resumes.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import type { CliCommand } from '../command';
import { UserError, intOption } from '../command';
import type { BackendName } from '../../runtime';
import { initRuntime } from '../../runtime';
import { readRgb } from '../../io/image';
import { statFlo, writeFlo } from '../../io/flo';
import { flowFileNames, listFrames, listVideos } from '../../data/layout';
import { RAFT_DEFAULT_ITERS, checkRaftSize, defaultPairChunk, loadRaft, raftBi } from '../../models/raft';
import { checkWritableDir } from '../../io/atomic';
import { isInside } from '../../io/paths';

export interface ComputeFlowOptions {
  rootPath: string;
  savePath: string;
  height?: number;
  width?: number;
  /** RAFT checkpoint (raft-things.pth or our safetensors). */
  raft: string;
  iters?: number;
  float32?: boolean;
  /** Frame pairs per RAFT batch (default: memory-budgeted, see defaultPairChunk). */
  pairChunk?: number;
  /** Only these video folders (default: all). */
  videos?: string[];
  log?: (line: string) => void;
}

export interface ComputeFlowSummary {
  videos: number;
  pairs: number;
  computed: number;
  skipped: number;
  seconds: number;
}

/** Frame file → [1, H, W, 3] in [-1, 1] at the target size (compute_flow.py's preprocessing). */
export async function loadFlowFrame(file: string, h: number, w: number): Promise<tf.Tensor4D> {
  const img = await readRgb(file);
  return tf.tidy(() => {
    // ToTensor: uint8 / 255 in float32; then F.interpolate(bilinear, align_corners=False).
    let x = tf.div(tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3], 'float32'), 255) as tf.Tensor4D;
    if (img.height !== h || img.width !== w) x = tf.image.resizeBilinear(x, [h, w], false, true);
    return tf.sub(tf.mul(x, 2), 1) as tf.Tensor4D;
  });
}

/** True when `file` is a complete .flo of h×w in `encoding`. */
function floDone(file: string, h: number, w: number, encoding: 'float16' | 'float32'): boolean {
  if (!fs.existsSync(file)) return false;
  try {
    const s = statFlo(file);
    return s.width === w && s.height === h && s.encoding === encoding;
  } catch {
    return false;
  }
}

export async function computeFlow(o: ComputeFlowOptions): Promise<ComputeFlowSummary> {
  const log = o.log ?? ((l: string) => console.log(l));
  const h = o.height ?? 240;
  const w = o.width ?? 432;
  const iters = o.iters ?? RAFT_DEFAULT_ITERS;
  const encoding = o.float32 ? 'float32' : 'float16';
  try {
    checkRaftSize(h, w);
  } catch (e) {
    throw new UserError(`--height ${h} --width ${w}: ${(e as Error).message}`);
  }
  const root = path.resolve(o.rootPath);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new UserError(`${root}: --root_path is not a folder of video frame folders`);
  const save = path.resolve(o.savePath);
  // Flow folders inside the frames folder would be read back as videos on the next run.
  if (isInside(root, save)) throw new UserError(`${save}: --save_path must be outside --root_path ${root}`);
  let videos = listVideos(root);
  if (o.videos) {
    const missing = o.videos.filter((v) => !videos.includes(v));
    if (missing.length) throw new UserError(`${root}: no video folder ${missing.map((m) => `'${m}'`).join(', ')}`);
    videos = o.videos;
  }
  if (videos.length === 0) throw new UserError(`${root}: no video folders`);
  // Everything the run needs is checked before the first flow is computed.
  const frameLists = new Map(videos.map((v) => [v, listFrames(path.join(root, v))]));
  for (const [v, frames] of frameLists) if (frames.length === 0) throw new UserError(`${path.join(root, v)}: empty video (no frames)`);
  if (!fs.existsSync(o.raft)) {
    throw new UserError(
      `RAFT weights not found: ${o.raft}. Pretrained weights (raft-things.pth from the official ProPainter release) ` +
        `are user-supplied and never downloaded by this tool; pass the file with --raft <path>.`,
    );
  }
  try {
    checkWritableDir(save, '--save_path');
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const chunk = o.pairChunk ?? defaultPairChunk(h, w);
  const t0 = Date.now();
  const summary: ComputeFlowSummary = { videos: videos.length, pairs: 0, computed: 0, skipped: 0, seconds: 0 };
  let model: import('../../models/raft').RAFT | null = null;
  try {
    for (const [vi, video] of videos.entries()) {
      const frames = frameLists.get(video)!;
      const outDir = path.join(save, video);
      const pending: number[] = [];
      for (let i = 0; i + 1 < frames.length; i++) {
        const names = flowFileNames(frames[i], frames[i + 1]);
        const done = floDone(path.join(outDir, names.forward), h, w, encoding) && floDone(path.join(outDir, names.backward), h, w, encoding);
        if (!done) pending.push(i);
      }
      const nPairs = Math.max(0, frames.length - 1);
      summary.pairs += nPairs;
      summary.skipped += nPairs - pending.length;
      if (nPairs === 0) {
        log(`Processing: ${video} [${vi + 1}/${videos.length}] — a single frame: no pairs, nothing written`);
        continue;
      }
      log(`Processing: ${video} [${vi + 1}/${videos.length}] — ${nPairs} pairs, ${pending.length} to compute${nPairs - pending.length ? `, ${nPairs - pending.length} already written` : ''}`);
      if (pending.length === 0) continue;
      if (!model) {
        try {
          model = loadRaft(o.raft);
        } catch (e) {
          throw new UserError((e as Error).message);
        }
      }
      // Runs of consecutive pending pairs, cut into chunks: adjacent pairs share frame features.
      let j = 0;
      let doneHere = 0;
      while (j < pending.length) {
        const start = pending[j];
        let c = 1;
        while (c < chunk && j + c < pending.length && pending[j + c] === start + c) c++;
        const tc = Date.now();
        const clip: tf.Tensor4D[] = [];
        try {
          for (let k = start; k <= start + c; k++) clip.push(await loadFlowFrame(path.join(root, video, frames[k]), h, w));
        } catch (e) {
          clip.forEach((t) => t.dispose());
          throw new UserError((e as Error).message);
        }
        const input = tf.tidy(() => tf.expandDims(tf.concat(clip, 0), 0));
        clip.forEach((t) => t.dispose());
        const { forward, backward } = raftBi(model, input, { iters, pairChunk: c });
        input.dispose();
        const fData = await forward.data();
        const bData = await backward.data();
        forward.dispose();
        backward.dispose();
        const per = h * w * 2;
        for (let k = 0; k < c; k++) {
          const names = flowFileNames(frames[start + k], frames[start + k + 1]);
          writeFlo(path.join(outDir, names.forward), { width: w, height: h, data: (fData as Float32Array).slice(k * per, (k + 1) * per) }, encoding);
          writeFlo(path.join(outDir, names.backward), { width: w, height: h, data: (bData as Float32Array).slice(k * per, (k + 1) * per) }, encoding);
        }
        j += c;
        doneHere += c;
        summary.computed += c;
        const secs = (Date.now() - tc) / 1000;
        log(`  ${video}: ${doneHere}/${pending.length} pairs (${frames[start]} … ${frames[start + c]}: ${(secs / c).toFixed(1)} s/pair)`);
      }
    }
  } finally {
    model?.dispose();
  }
  summary.seconds = (Date.now() - t0) / 1000;
  log(`Done: ${summary.videos} videos, ${summary.pairs} pairs (${summary.computed} computed, ${summary.skipped} skipped) in ${summary.seconds.toFixed(1)} s`);
  return summary;
}

const command: CliCommand = {
  name: 'compute-flow',
  description: 'precompute bidirectional RAFT flows (.flo) for every video of a frames folder (scripts/compute_flow.py)',
  configure: (cmd) =>
    cmd
      .requiredOption('-i, --root_path <dir>', 'folder with one sub-folder of frames per video')
      .requiredOption('-o, --save_path <dir>', 'output folder: <save_path>/<video>/<a>_<b>_f.flo, <b>_<a>_b.flo')
      .option('--height <n>', 'flow height (multiple of 8, ≥ 128)', intOption('height'), 240)
      .option('--width <n>', 'flow width (multiple of 8, ≥ 128)', intOption('width'), 432)
      .option('--raft <file>', 'RAFT weights (raft-things.pth, user-supplied; never downloaded)', 'weights/raft-things.pth')
      .option('--iters <n>', 'RAFT refinement iterations', intOption('iters'), 20)
      .option('--float32', 'write standard Middlebury float32 .flo instead of the official float16 variant')
      .option('--pair_chunk <n>', 'frame pairs per RAFT batch (default: fits a correlation budget of 128 MB, 64 MB on wasm)', intOption('pair_chunk'))
      .option('--video <name...>', 'only these video folders')
      .option('--backend <name>', 'tensorflow | wasm | cpu (default: best available)')
      .addHelpText('after', '\nPairs whose two .flo files already exist are skipped, so an interrupted run resumes.')
      .action(
        async (opts: { root_path: string; save_path: string; height: number; width: number; raft: string; iters: number; float32?: boolean; pair_chunk?: number; video?: string[]; backend?: BackendName }) => {
          const rt = await initRuntime({ backend: opts.backend });
          console.log(`backend ${rt.backend}; RAFT ${opts.iters} iterations at ${opts.height}x${opts.width} (HxW); ${opts.float32 ? 'float32' : 'float16'} .flo`);
          await computeFlow({
            rootPath: opts.root_path,
            savePath: opts.save_path,
            height: opts.height,
            width: opts.width,
            raft: opts.raft,
            iters: opts.iters,
            float32: opts.float32,
            pairChunk: opts.pair_chunk,
            videos: opts.video,
          });
        },
      ),
};
export default command;
