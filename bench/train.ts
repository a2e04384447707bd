/**
 * `npm run bench -- train [--size 120x216] [--local 5] [--ref 1] [--reps 3] [--only flowcomp|propainter] [--force] [--nproc N [--mpi openmpi|mpich]]`
 *
 * One training step (forward, backward, optimizer update) of each trainer on the current backend,
 * batch 1, `local` + `ref` frames at H×W, through the trainers' own `trainStep`:
 *   - flow completion: Canny edges of the GT flows, forward_bidirect_flow (train mode), flow /
 *     census / edge losses, backward, Adam;
 *   - ProPainter: frozen flow completion + image propagation, generator (train mode, all frames
 *     decoded), hole/valid L1 + hinge adversarial through the spectral-norm discriminator,
 *     backward, Adam on G; discriminator step, Adam on D.
 * Ground-truth flows are given (synthetic smooth fields), as with load_flow: RAFT is not timed
 * (it refuses H < 128 anyway) and pretrained weights are not needed (det-init frozen nets).
 * Prints the median and best time per step (untimed warm-up first) and the best process CPU time
 * (what to compare on a loaded machine with 1 thread), the ratio to the official
 * PyTorch step at the issue-16 size (bench/reference.ts), the peak memory of live tensors
 * (tf.profile) and, on wasm, the heap high-water mark.
 *
 * With `--nproc N`: data-parallel training speed at a total batch of N, side by side — one process
 * with batch N, then N processes (launched through lib/dist, as `propainter train --nproc N` does)
 * with batch 1 each, weights broadcast and gradients averaged over the ranks. Reports steps/s from
 * wall time and from process CPU time (the machine is shared: CPU time is what a rank would take
 * with a core of its own; ranks waiting in MPI poll, so their CPU time includes the waits).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { detectPlacement, runJob, type Communicator, type MpiFlavour } from '../lib/dist';
import { averageOverRanks, broadcastWeights } from '../lib/train/distributed';
import { resolveConfig } from '../lib/train/config';
import type { TrainingSystem } from '../lib/train/system';
import { createSystem } from '../lib/train/systems';
import type { BatchTensors } from '../lib/data/tensors';
import { fmtBytes, fmtMs, parseArgs, wasmHeapBytes } from './util';
import { PYTORCH_REFERENCE, fmtRatio } from './reference';
import { trainStepHeapBytes } from '../lib/train/step-memory';
import { WASM_HEAP_BUDGET } from '../lib/models/analyze';

/** A synthetic training batch of `n` copies of one clip. */
function batch(h: number, w: number, local: number, ref: number, n = 1): BatchTensors {
  if (n > 1) {
    const one = batch(h, w, local, ref);
    const tile = (t: tf.Tensor5D) => tf.concat(new Array<tf.Tensor5D>(n).fill(t), 0);
    const out = { frames: tile(one.frames), masks: tile(one.masks), flowsF: tile(one.flowsF!), flowsB: tile(one.flowsB!) };
    tf.dispose([one.frames, one.masks, one.flowsF!, one.flowsB!]);
    return out;
  }
  return tf.tidy(() => {
    const t = local + ref;
    const ys = tf.reshape(tf.range(0, h), [1, 1, h, 1, 1]);
    const xs = tf.reshape(tf.range(0, w), [1, 1, 1, w, 1]);
    const ts = tf.reshape(tf.range(0, t), [1, t, 1, 1, 1]);
    const ch = tf.reshape(tf.tensor1d([0, 1, 2]), [1, 1, 1, 1, 3]);
    // Smooth moving texture in [-1, 1], an ellipse hole moving right, smooth flows (px).
    const frames = tf.sin(tf.add(tf.add(tf.mul(tf.sub(xs, tf.mul(ts, 1.5)), 0.11), tf.mul(ys, 0.07)), tf.mul(ch, 1.3))) as tf.Tensor5D;
    const dx = tf.div(tf.sub(xs, tf.add(tf.mul(w, 0.4), tf.mul(ts, 1.25))), w * 0.18);
    const dy = tf.div(tf.sub(ys, h * 0.35), h * 0.16);
    const masks = tf.cast(tf.lessEqual(tf.add(tf.square(dx), tf.square(dy)), 1), 'float32') as tf.Tensor5D;
    const n = local - 1;
    const fu = tf.add(1.7, tf.mul(1.1, tf.sin(tf.add(tf.mul(ys, (2 * Math.PI) / h), tf.mul(tf.reshape(tf.range(0, n), [1, n, 1, 1, 1]), 0.5)))));
    const fv = tf.add(0.6, tf.mul(0.9, tf.cos(tf.mul(xs, (2 * Math.PI) / w))));
    // Plus a square object moving 3 px right: flow discontinuities, so the GT flows have Canny edges.
    const obj = tf.cast(tf.logicalAnd(tf.less(tf.abs(tf.sub(xs, w / 2)), w / 8), tf.less(tf.abs(tf.sub(ys, h / 2)), h / 6)), 'float32');
    const f = tf.concat([tf.add(tf.mul(fu, tf.onesLike(tf.add(xs, ys))), tf.mul(obj, 3)), tf.mul(fv, tf.ones([1, n, h, w, 1]))], 4) as tf.Tensor5D;
    return { frames, masks: tf.mul(masks, tf.ones([1, t, 1, 1, 1])) as tf.Tensor5D, flowsF: f, flowsB: tf.neg(f) as tf.Tensor5D } as unknown as tf.TensorContainer;
  }) as unknown as BatchTensors;
}

export type TrainKind = 'flowcomp' | 'propainter';

export interface TrainWorkload {
  /** One training step (forward, backward, optimizer updates); returns the logged scalars. */
  step(iteration: number): Record<string, number>;
  dispose(): void;
}

/**
 * A trainer with det-init networks and a synthetic batch, as the train bench and profiler run it;
 * `batchSize` samples per step; with `comm`, one rank of a data-parallel job (rank 0's weights,
 * gradients averaged over the ranks).
 */
export function trainWorkload(
  kind: TrainKind, h: number, w: number, local: number, ref: number, log: (l: string) => void = () => {},
  opts: { batchSize?: number; comm?: Communicator } = {},
): TrainWorkload {
  const cfg = resolveConfig({
    name: `bench_${kind}`,
    model: kind === 'flowcomp' ? 'recurrent_flow_completion' : 'propainter',
    save_dir: '/dev/null',
    datasets: { train: { root: '-', width: w, height: h, num_local_frames: local, num_ref_frames: ref, load_flow: true } },
    networks: { allow_det_init: true },
    train: { batch_size: 1 },
  });
  const sys: TrainingSystem = createSystem(cfg, log);
  const b = batch(h, w, local, ref, opts.batchSize);
  const comm = opts.comm;
  if (comm) broadcastWeights(comm, sys.dis ? [sys.net, sys.dis] : [sys.net]);
  const reduceGradients = comm ? averageOverRanks(comm, { G: sys.net.namedParameters(), D: sys.dis?.namedParameters() }) : undefined;
  return {
    step: (i) => sys.trainStep([b], { iteration: i, lr: 1e-4, lrD: 1e-4, wantImages: false, reduceGradients }).scalars,
    dispose: () => {
      tf.dispose([b.frames, b.masks, b.flowsF!, b.flowsB!]);
      sys.dispose();
    },
  };
}

async function benchOne(kind: TrainKind, h: number, w: number, local: number, ref: number, reps: number, force: boolean): Promise<void> {
  // The estimate training refuses configs with (lib/train/step-memory.ts); --force runs anyway.
  const est = trainStepHeapBytes({ model: kind === 'flowcomp' ? 'recurrent_flow_completion' : 'propainter', height: h, width: w, localFrames: local, refFrames: ref, batch: 1 });
  if (tf.getBackend() === 'wasm' && est > WASM_HEAP_BUDGET && !force) {
    console.log(
      `${kind} train step ${h}×${w}, ${local}+${ref} frames, batch 1: SKIPPED on wasm — needs ≈ ${fmtBytes(est)} of heap ` +
        `(scaled from measured steps), over the ${fmtBytes(WASM_HEAP_BUDGET)} budget. Try --size 64x64 --local 3 --ref 1, the tensorflow backend, or --force.`,
    );
    return;
  }
  const work = trainWorkload(kind, h, w, local, ref, (l) => console.log(`  ${l}`));
  const label = `${kind} train step ${h}×${w}, ${local}+${ref} frames, batch 1`;
  try {
    const step = (i: number) => work.step(i);
    let t0 = performance.now();
    const info = await tf.profile(() => {
      step(0);
    });
    const warm = performance.now() - t0;
    const runs: number[] = [];
    const cpu: number[] = [];
    let scalars: Record<string, number> = {};
    for (let i = 0; i < reps; i++) {
      const c0 = process.cpuUsage();
      t0 = performance.now();
      scalars = step(i + 1);
      runs.push(performance.now() - t0);
      const u = process.cpuUsage(c0);
      cpu.push((u.user + u.system) / 1000);
    }
    const sorted = [...runs].sort((a, b) => a - b);
    const median = sorted.length % 2 ? sorted[sorted.length >> 1] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
    const heap = wasmHeapBytes();
    console.log(
      `${label}: median ${fmtMs(median)}, best ${fmtMs(sorted[0])} of ${runs.length} (first, profiled ${fmtMs(warm)}; ` +
        `best process CPU time ${fmtMs(Math.min(...cpu))}); peak tensors ${fmtBytes(info.peakBytes)}` +
        `${heap !== null ? `, wasm heap ${fmtBytes(heap)}` : ''}; ${Object.entries(scalars).map(([k, v]) => `${k.replace('loss/', '')} ${v.toFixed(4)}`).join(' ')}`,
    );
    // The issue-16 reference: 120×216, 5 local frames (+1 reference frame for ProPainter).
    if (h === 120 && w === 216 && local === 5 && (kind === 'flowcomp' || ref === 1)) {
      const name = kind === 'flowcomp' ? 'train-flowcomp' : 'train-propainter';
      console.log(`  versus official PyTorch (${PYTORCH_REFERENCE[name].work}): ${fmtRatio(name, median / 1000)}`);
    }
  } catch (e) {
    const heap = wasmHeapBytes();
    console.log(`${label}: FAILED — ${(e as Error).message.split('\n')[0]}${heap !== null ? ` (wasm heap ${fmtBytes(heap)}; the wasm32 heap is limited to 4 GiB)` : ''}`);
    if (heap !== null && heap >= 0xf0000000) {
      // An exhausted wasm heap leaves the backend unusable: stop here rather than crash later.
      console.log('wasm heap exhausted: exiting (try a smaller --size or fewer --local/--ref frames, or the tensorflow backend)');
      process.exit(1);
    }
    throw e;
  }
  work.dispose();
}

interface StepTimes {
  /** Wall ms per step (rank 0's, ranks start each step together). */
  wall: number[];
  /** CPU ms per step of each process. */
  cpu: number[];
}

/** `reps` timed steps after one warm-up; with `comm` the ranks start each step together. */
function timeSteps(work: TrainWorkload, reps: number, comm?: Communicator): StepTimes {
  work.step(0);
  const wall: number[] = [];
  let cpuMs = 0;
  for (let i = 1; i <= reps; i++) {
    comm?.barrier(); // not timed: a rank waiting here for a slower one polls
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    work.step(i);
    wall.push(performance.now() - t0);
    const u = process.cpuUsage(cpu0);
    cpuMs += (u.user + u.system) / 1000;
  }
  const mine = cpuMs / reps;
  if (!comm) return { wall, cpu: [mine] };
  const all = new Float32Array(comm.size);
  all[comm.rank] = mine * comm.size; // the mean over ranks puts every rank's own value in its slot
  comm.allreduceMean(all);
  return { wall, cpu: Array.from(all) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Where the ranks leave rank 0's times for the launching process (it prints both rows). */
const RESULT_ENV = 'PROPAINTER_BENCH_TRAIN_RESULT';

/**
 * Per kind: one process with batch `nproc` (here), then `nproc` processes with batch 1 each (one
 * job for all kinds); the launching process prints both rows side by side.
 */
async function benchProcesses(kinds: readonly TrainKind[], h: number, w: number, local: number, ref: number, reps: number, nproc: number, mpi?: MpiFlavour): Promise<void> {
  if ((detectPlacement()?.size ?? 1) > 1) {
    // A rank of the job the launching process started below.
    await runJob({ nproc }, async (comm) => {
      for (const kind of kinds) {
        const work = trainWorkload(kind, h, w, local, ref, () => {}, { comm });
        const t = timeSteps(work, reps, comm);
        work.dispose();
        if (comm.rank === 0 && process.env[RESULT_ENV]) fs.writeFileSync(path.join(process.env[RESULT_ENV]!, `${kind}.json`), JSON.stringify(t));
      }
    });
    return;
  }
  const one = new Map<TrainKind, StepTimes>();
  for (const kind of kinds) {
    const work = trainWorkload(kind, h, w, local, ref, () => {}, { batchSize: nproc });
    one.set(kind, timeSteps(work, reps));
    work.dispose();
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'propainter-bench-'));
  process.env[RESULT_ENV] = dir;
  try {
    await runJob({ nproc, mpi }, async () => {});
    const row = (what: string, t: StepTimes) => {
      const wall = median(t.wall);
      const cpu = Math.max(...t.cpu);
      return `  ${what}: ${fmtMs(wall)} per step (median of ${t.wall.length}) = ${(1000 / wall).toFixed(3)} steps/s; ` +
        `CPU ${t.cpu.map(fmtMs).join(' + ')} per step = ${(1000 / cpu).toFixed(3)} steps/s with a core per process`;
    };
    for (const kind of kinds) {
      const many = JSON.parse(fs.readFileSync(path.join(dir, `${kind}.json`), 'utf8')) as StepTimes;
      const t1 = one.get(kind)!;
      console.log(`${kind} train step ${h}×${w}, ${local}+${ref} frames, total batch ${nproc}:`);
      console.log(row(`1 process, batch ${nproc}        `, t1));
      console.log(row(`${nproc} processes, batch 1 each`, many));
      const speed = (median(t1.wall) / median(many.wall)).toFixed(2);
      const cpuSpeed = (t1.cpu[0] / Math.max(...many.cpu)).toFixed(2);
      console.log(`  speed-up with ${nproc} processes: ${speed}× by wall time, ${cpuSpeed}× by CPU time (load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)`);
    }
  } finally {
    delete process.env[RESULT_ENV];
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<void> {
  const { values, flags } = parseArgs(args);
  if (values.has('nproc')) {
    const nproc = Number(values.get('nproc'));
    if (!Number.isInteger(nproc) || nproc < 2) throw new Error(`--nproc ${values.get('nproc')}: give a whole number ≥ 2`);
    const [h, w] = (values.get('size') ?? '120x216').split('x').map(Number);
    const reps = Math.max(1, Number(values.get('reps') ?? 3));
    const only = values.get('only');
    const kinds = (['flowcomp', 'propainter'] as const).filter((k) => !only || only === k);
    await benchProcesses(kinds, h, w, Number(values.get('local') ?? 5), Number(values.get('ref') ?? 1), reps, nproc, values.get('mpi') as MpiFlavour | undefined);
    return;
  }
  const [h, w] = (values.get('size') ?? '120x216').split('x').map(Number);
  const local = Number(values.get('local') ?? 5);
  const ref = Number(values.get('ref') ?? 1);
  const reps = Math.max(1, Number(values.get('reps') ?? 3));
  const only = values.get('only');
  if (!(h % 8 === 0 && w % 8 === 0)) throw new Error(`--size ${h}x${w}: H and W must be multiples of 8`);
  for (const kind of ['flowcomp', 'propainter'] as const) {
    if (!only || only === kind) await benchOne(kind, h, w, local, ref, reps, flags.has('force'));
  }
}
