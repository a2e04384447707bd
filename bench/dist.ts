/**
 * `npm run bench -- dist [--nproc 2] [--mpi openmpi|mpich] [--floats 40000000] [--reps 5] [--no-models]`
 *
 * Gradient averaging between processes on this machine (launched through lib/dist like training
 * will be): the allreduce-mean of `floats` float32 values (40 M ≈ ProPainter's generator and
 * discriminator), then the bucketed path a training step takes — every parameter of ProPainter's
 * generator and discriminator read back from the backend, packed, averaged and uploaded again
 * (allreduceMeanTensors). Prints rank 0's best / median wall time and its process CPU time (a rank
 * waiting in MPI polls, so CPU ≈ wall).
 */
import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_BUCKET_FLOATS, allreduceMeanTensors, planBuckets, runJob, type Communicator, type MpiFlavour } from '../lib/dist';
import { timeAllreduce } from '../lib/dist/selftest';
import { ZOO } from '../lib/models/zoo';
import { fmtMs, parseArgs } from './util';

function summary(ms: number[], cpuMs: number): string {
  const sorted = [...ms].sort((a, b) => a - b);
  return `best ${fmtMs(sorted[0])}, median ${fmtMs(sorted[Math.floor(sorted.length / 2)])} over ${ms.length}; CPU ${fmtMs(cpuMs / ms.length)} per call`;
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

function gradients(comm: Communicator, reps: number): void {
  const models = { G: ZOO.propainter.build(), D: ZOO.discriminator.build() };
  const grads: tf.NamedTensorMap = {};
  for (const [prefix, m] of Object.entries(models)) for (const [name, v] of m.namedParameters()) grads[`${prefix}.${name}`] = v;
  const sizes = Object.entries(grads).map(([n, t]) => [n, t.size] as const);
  const floats = sizes.reduce((a, [, n]) => a + n, 0);
  const buckets = planBuckets(sizes).length;
  const ms: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < reps; r++) {
    comm.barrier();
    const t0 = performance.now();
    tf.dispose(Object.values(allreduceMeanTensors(comm, grads)));
    ms.push(performance.now() - t0);
  }
  const cpu = cpuMs(cpu0);
  if (comm.rank === 0) {
    console.log(
      `ProPainter G + D gradients, ${Object.keys(grads).length} tensors, ${(floats / 1e6).toFixed(1)} M floats in ${buckets} buckets of ≤ ${DEFAULT_BUCKET_FLOATS / (1 << 20)} Mi ` +
        `(read back, allreduce, upload): ${summary(ms, cpu)}`,
    );
  }
  for (const m of Object.values(models)) m.dispose();
}

export async function run(args: string[]): Promise<void> {
  const { flags, values } = parseArgs(args);
  const nproc = Number(values.get('nproc') ?? 2);
  const floats = Number(values.get('floats') ?? 40_000_000);
  const reps = Number(values.get('reps') ?? 5);
  await runJob({ nproc, mpi: values.get('mpi') as MpiFlavour | undefined }, async (comm) => {
    const cpu0 = process.cpuUsage();
    const ms = timeAllreduce(comm, floats, reps);
    const cpu = cpuMs(cpu0);
    if (comm.rank === 0) console.log(`allreduce-mean of ${(floats / 1e6).toFixed(1)} M floats, ${comm.size} processes, ${comm.library}: ${summary(ms, cpu)}`);
    if (!flags.has('no-models')) gradients(comm, reps);
  });
}
