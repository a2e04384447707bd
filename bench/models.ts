/**
 * `npm run bench -- models [--size HxW] [--frames N] [--iters N] [--video-length N] [--reps N]
 *  [--models raft,flowcomp,propainter|all] [--no-check]`
 *
 * Forward time of the networks on the current backend, each as the official pipeline calls it
 * (lib/models/zoo.ts): RAFT on one frame pair at 20 iterations, flow completion on 10 frames
 * (9 flows per direction, both directions), the generator on 10 local frames plus the reference
 * frames inference adds for them (7 in an 80-frame video) — at 240×432 unless told otherwise.
 * The first run is profiled (MACs, peak tensor bytes, wasm heap) and doubles as the warm-up;
 * then `--reps` timed runs (default 3). At the default sizes the medians are printed beside the
 * official PyTorch medians of issue 16 (bench/reference.ts). On wasm, a size or frame count above
 * the defaults is first estimated from smaller runs and skipped if it would not fit the heap (OOM
 * is fatal).
 */
import * as tf from '@tensorflow/tfjs-core';
import { applyDetInit } from '../lib/init/apply';
import { DEFAULT_FORWARD, WASM_HEAP_BUDGET, estimateForward, profileForward } from '../lib/models/analyze';
import { ForwardOptions, MODEL_NAMES, ModelName, getZooEntry, parseSize, validateForward } from '../lib/models/zoo';
import { fmtBytes, fmtMs, parseArgs, time, wasmHeapBytes } from './util';
import { PYTORCH_REFERENCE, type ReferenceName, fmtRatio } from './reference';

interface Row {
  model: string;
  /** The issue-16 reference this run reproduces (same size, frames, iterations), if any. */
  reference?: ReferenceName;
  input: string;
  best?: number;
  median?: number;
  runs?: number[];
  macs?: number;
  peakBytes?: number;
  peakActivationBytes?: number;
  heapAfter?: number | null;
  skipped?: string;
}

function intArg(values: Map<string, string>, name: string, dflt: number): number {
  const v = values.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`bench models: --${name} must be a non-negative integer, got "${v}"`);
  return n;
}

export async function run(args: string[]): Promise<void> {
  const { flags, values } = parseArgs(args);
  const size = parseSize(values.get('size') ?? `${DEFAULT_FORWARD.height}x${DEFAULT_FORWARD.width}`);
  const framesArg = values.has('frames') ? intArg(values, 'frames', 10) : undefined;
  const reps = Math.max(1, intArg(values, 'reps', 3));
  const list = values.get('models') ?? 'raft,flowcomp,propainter';
  const names = (list === 'all' ? [...MODEL_NAMES] : list.split(',').map((s) => s.trim())).map((n) => getZooEntry(n).name) as ModelName[];
  const check = !flags.has('no-check');
  const onWasm = tf.getBackend() === 'wasm';
  console.log(`models at ${size.height}x${size.width}; ${reps} timed run(s) after one profiled run; wall-clock times, noisy on a loaded machine (load average ${(require('os') as typeof import('os')).loadavg().map((l) => l.toFixed(1)).join(', ')})`);
  const rows: Row[] = [];
  for (const name of names) {
    const entry = getZooEntry(name);
    const fo: ForwardOptions = {
      ...size,
      frames: framesArg ?? entry.defaultFrames,
      iters: intArg(values, 'iters', DEFAULT_FORWARD.iters),
      videoLength: intArg(values, 'video-length', DEFAULT_FORWARD.videoLength),
    };
    validateForward(entry, fo);
    const t0 = performance.now();
    const model = entry.build();
    try {
      applyDetInit(model);
      model.eval();
      const desc = entry.describe(fo);
      console.log(`\n${entry.title}: ${desc} (built + det-init in ${fmtMs(performance.now() - t0)})`);
      const row: Row = { model: name, input: desc };
      const sameAsReference = fo.height === DEFAULT_FORWARD.height && fo.width === DEFAULT_FORWARD.width &&
        (name === 'raft' ? fo.iters === DEFAULT_FORWARD.iters : fo.frames === DEFAULT_FORWARD.frames && fo.videoLength === DEFAULT_FORWARD.videoLength);
      if (sameAsReference && name in PYTORCH_REFERENCE) row.reference = name as ReferenceName;
      rows.push(row);
      const big = fo.height * fo.width * Math.max(1, fo.frames) > DEFAULT_FORWARD.height * DEFAULT_FORWARD.width * Math.max(1, entry.defaultFrames);
      if (onWasm && check && big) {
        const est = await estimateForward(entry, model, fo, (m) => console.log(`  ${m}`));
        if (est && est.heapNeedBytes > WASM_HEAP_BUDGET) {
          row.skipped = `estimated wasm heap need ${fmtBytes(est.heapNeedBytes)} > ${fmtBytes(WASM_HEAP_BUDGET)} (estimated ${(est.macs / 1e9).toFixed(1)} GMAC)`;
          console.log(`  skipped: ${row.skipped}`);
          continue;
        }
      }
      const spec = entry.prepare(model, fo);
      try {
        const prof = await profileForward(spec.run);
        row.macs = prof.macs;
        row.peakBytes = prof.peakBytes;
        row.peakActivationBytes = prof.peakActivationBytes;
        console.log(
          `  profiled run ${fmtMs(prof.ms)}: ${(prof.macs / 1e9).toFixed(2)} GMAC, peak tensor buffers ${fmtBytes(prof.peakBytes)} ` +
            `(${fmtBytes(prof.peakActivationBytes)} above weights+inputs; tf.profile peakBytes, views counted again: ${fmtBytes(prof.profilePeakBytes)})` +
            (prof.heapAfter != null ? `, wasm heap ${fmtBytes(prof.heapBefore ?? 0)} → ${fmtBytes(prof.heapAfter)}` : ''),
        );
        const t = await time(() => spec.run(), { warmup: 0, reps });
        row.best = t.best;
        row.median = t.median;
        row.runs = t.runs;
        row.heapAfter = wasmHeapBytes();
        console.log(`  timed runs: ${t.runs.map(fmtMs).join(', ')}`);
      } finally {
        spec.dispose();
      }
    } finally {
      model.dispose();
    }
  }
  console.log('\nmodel          best        median      GMAC      GMAC/s   peak tensors (activations)   wasm heap');
  for (const r of rows) {
    if (r.skipped) {
      console.log(`${r.model.padEnd(14)} skipped: ${r.skipped}`);
      continue;
    }
    const rate = r.macs && r.best ? (r.macs / 1e6 / r.best).toFixed(2) : '-';
    console.log(
      `${r.model.padEnd(14)} ${fmtMs(r.best ?? 0).padEnd(11)} ${fmtMs(r.median ?? 0).padEnd(11)} ${((r.macs ?? 0) / 1e9).toFixed(2).padStart(8)} ` +
        `${rate.padStart(8)}   ${`${fmtBytes(r.peakBytes ?? 0)} (${fmtBytes(r.peakActivationBytes ?? 0)})`.padEnd(28)} ${r.heapAfter != null ? fmtBytes(r.heapAfter) : '-'}`,
    );
  }
  if (onWasm) console.log('wasm heap: high-water mark after each model (it never shrinks, so it is cumulative over the models run before)');
  const compared = rows.filter((r) => r.reference && r.median !== undefined);
  if (compared.length > 0) {
    console.log('\nversus official PyTorch 1.13 CPU, 2 threads (issue 16 medians, bench/reference.ts)');
    console.log('work                                                     PyTorch   this run (median)   ratio');
    for (const r of compared) {
      const ref = PYTORCH_REFERENCE[r.reference!];
      console.log(`${ref.work.padEnd(56)} ${`${ref.pytorchS} s`.padStart(7)}   ${fmtMs(r.median!).padStart(17)}   ${fmtRatio(r.reference!, r.median! / 1000)}`);
    }
  }
}
