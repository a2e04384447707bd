/**
 * `npm run bench -- inference [--frames N] [--raft-iter N] [--weights DIR]`
 *
 * The whole inference pipeline (lib/inference, streaming, official defaults) on the first N
 * (default 20) frames of the bundled bmx-trees clip at 240×432 with its masks: seconds per frame
 * of each stage (RAFT, flow completion, image propagation, generator windows, read, write) and the
 * peak wasm heap / process RSS. Det-init weights unless --weights names a folder of the three
 * official files (the cost does not depend on the values).
 */
import * as fs from 'fs';
import * as path from 'path';
import { readGrey, readRgb } from '../lib/io/image';
import { listFrames } from '../lib/data/layout';
import { STAGES, detInitModels, disposeModels, estimateInpaintHeap, inpaintVideo, loadInferenceModels } from '../lib/inference';
import { fmtBytes, parseArgs, wasmHeapBytes } from './util';

const CLIP = path.join(__dirname, '..', 'data', 'davis-sample');

function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs(args);
  const n = Number(values.get('frames') ?? 20);
  const raftIter = Number(values.get('raft-iter') ?? 20);
  const framesDir = path.join(CLIP, 'JPEGImages_432_240', 'bmx-trees');
  const masksDir = path.join(CLIP, 'test_masks', 'bmx-trees');
  const names = listFrames(framesDir).slice(0, n);
  const maskNames = listFrames(masksDir).slice(0, n);
  const frames = await Promise.all(names.map((f) => readRgb(path.join(framesDir, f))));
  const masks = await Promise.all(maskNames.map((f) => readGrey(path.join(masksDir, f))));
  const { width, height } = frames[0];
  const est = estimateInpaintHeap({ width, height, frames: n, subvideoLength: 80, neighborLength: 10, refStride: 10 });
  console.log(`inference: ${n} frames ${height}x${width}, official defaults (raft_iter ${raftIter}); estimated heap ${fmtBytes(est.bytes)} (largest call: ${est.largest})`);
  const weights = values.get('weights');
  const models = weights ? loadInferenceModels(weights) : detInitModels();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  try {
    const r = await inpaintVideo(frames, masks, { models, raftIter, onFrame: () => undefined });
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    console.log(`${'stage'.padEnd(16)} ${'seconds'.padStart(9)} ${'s/frame'.padStart(9)}`);
    for (const s of STAGES) console.log(`${s.padEnd(16)} ${r.seconds[s].toFixed(2).padStart(9)} ${(r.seconds[s] / n).toFixed(3).padStart(9)}`);
    console.log(`${'total'.padEnd(16)} ${wall.toFixed(2).padStart(9)} ${(wall / n).toFixed(3).padStart(9)}  (process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s; ${r.windows} windows)`);
    const heap = wasmHeapBytes();
    console.log(`peak wasm heap ${heap === null ? '-' : fmtBytes(heap)} (estimate ${fmtBytes(est.bytes)}), peak RSS ${fmtBytes(peakRss())}`);
  } finally {
    disposeModels(models);
  }
}
