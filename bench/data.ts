/**
 * `npm run bench -- data [--clips N] [--workers 0,2] [--batch B] [--flows]`
 *
 * Training-sample throughput of the data pipeline: TrainDataset clips of 10 local + 6 reference
 * frames at 432×240 from the bundled DAVIS clip (JPEG decode, random-shape masks, flip/reversal,
 * float conversion, batch assembly), through the DataLoader with 0 workers (calling thread) and
 * with worker threads. The first batch (worker start-up) is timed separately. `--flows` adds
 * synthetic ground-truth .flo loading (a temporary synthetic set of the same size).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DataLoader, TrainDataset, TrainDatasetOptions, writeSynthDataset } from '../lib/data';
import { parseArgs } from './util';

const CLIP = path.resolve(__dirname, '..', 'data', 'davis-sample');

export interface DataBenchResult {
  workers: number;
  batchSize: number;
  clips: number;
  firstBatchMs: number;
  clipsPerSecond: number;
  msPerClip: number;
}

async function measure(opts: TrainDatasetOptions, workers: number, batchSize: number, clips: number): Promise<DataBenchResult> {
  const ds = new TrainDataset(opts);
  const batches = Math.max(1, Math.ceil(clips / batchSize));
  // the bundled root has one video: one batch per epoch, so epochs = batches (+1 for the warm-up)
  const loader = new DataLoader(ds, { batchSize, numWorkers: workers, epochs: Infinity, dropLast: false });
  const t0 = performance.now();
  let first = 0;
  let t1 = 0;
  let n = 0;
  for await (const b of loader) {
    if (b.frames.length === 0) throw new Error('empty batch');
    n++;
    if (n === 1) {
      t1 = performance.now();
      first = t1 - t0;
    }
    if (n === batches + 1) break;
  }
  const secs = (performance.now() - t1) / 1000;
  const done = batches * batchSize;
  return { workers, batchSize, clips: done, firstBatchMs: first, clipsPerSecond: done / secs, msPerClip: (secs * 1000) / done };
}

export async function run(args: string[]): Promise<void> {
  const { values, flags } = parseArgs(args);
  const clips = Number(values.get('clips') ?? 24);
  const batchSize = Number(values.get('batch') ?? 1);
  const workers = (values.get('workers') ?? '0,2').split(',').map(Number);
  let opts: TrainDatasetOptions = { root: CLIP, numLocalFrames: 10, numRefFrames: 6, width: 432, height: 240, seed: 0 };
  let tmp: string | null = null;
  if (flags.has('flows')) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-bench-data-'));
    await writeSynthDataset({ out: tmp, videos: 1, frames: 40, width: 432, height: 240, seed: 0 });
    opts = { ...opts, root: tmp, loadFlow: true };
  }
  console.log(
    `data: TrainDataset ${opts.numLocalFrames} local + ${opts.numRefFrames} ref frames, 432×240, ` +
      `${flags.has('flows') ? 'synthetic set with .flo loading' : 'bundled bmx-trees JPEGs'}; ${clips} clips after a warm-up batch; ` +
      `${os.cpus().length} CPU(s)`,
  );
  const results: DataBenchResult[] = [];
  try {
    for (const w of workers) {
      const r = await measure(opts, w, batchSize, clips);
      results.push(r);
      console.log(
        `  workers ${String(w).padEnd(2)} batch ${batchSize}: ${r.clipsPerSecond.toFixed(2).padStart(6)} clips/s ` +
          `(${r.msPerClip.toFixed(0)} ms/clip; first batch ${r.firstBatchMs.toFixed(0)} ms)`,
      );
    }
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (flags.has('json')) console.log(JSON.stringify(results));
}
