/**
 * The program the distributed tests run on every rank (not a test file itself):
 *   node --import tsx test/dist/rank-program.ts MODE [--nproc N] [--mpi openmpi|mpich]
 * From a plain process with --nproc 2 it launches itself through lib/dist; under mpiexec it joins.
 * MODE check  — exact collectives and the training ranks' pieces (lib/train/distributed.ts); each
 *               rank prints `RESULT <json>` on stdout.
 *      die:H  — after one allreduce rank 1 fails by H (kill, throw, async: a throw in a timer, exit0,
 *               mute: a throw with its stderr lost) while rank 0 waits
 *               in the next allreduce.
 *      early:exit3 — rank 1 exits with code 3 before joining; rank 0 waits in MPI_Init.
 *      stop   — steps of 100 ms with agreeToStop(launcherAskedToStop()); prints `STEP r k` and
 *               `STOPPED r k`.
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import { agreeToStop, allreduceMeanTensors, broadcastBytes, broadcastTensors, launcherAskedToStop, runJob, type Communicator } from '../../lib/dist';
import type { MpiFlavour } from '../../lib/dist';
import { UCX_DEFAULTS } from '../../lib/dist/mpi';
import { Module } from '../../lib/nn/module';
import { averageOverRanks, broadcastWeights } from '../../lib/train/distributed';

/** A parameter and a float and an integer buffer whose values differ by rank. */
class Tiny extends Module {
  constructor(rank: number) {
    super();
    this.registerParameter('w', [3], () => Float32Array.from([1, 2, 3], (v) => v + 10 * rank));
    this.registerBuffer('stat', tf.tensor1d([0.5 + rank]));
    this.registerBuffer('index', tf.tensor1d([rank, rank], 'int32'));
  }
}

/**
 * Rank 0's weights everywhere (integer buffers untouched); gradients averaged with a parameter
 * that has a gradient on rank 0 only ('b': counts as zero on rank 1) and one that has none ('c').
 */
function ddpPieces(comm: Communicator): Record<string, unknown> {
  const m = new Tiny(comm.rank);
  broadcastWeights(comm, [m]);
  const weights = Object.fromEntries([...m.namedParameters(), ...m.namedBuffers()].map(([n, v]) => [n, Array.from(v.dataSync())]));
  m.dispose();
  const zero = tf.zeros([2]);
  const params: Array<[string, tf.Variable]> = ['a', 'b', 'c'].map((n) => [n, tf.variable(zero, true, `ddp_${n}_${comm.rank}`)]);
  zero.dispose();
  const grads = new Map<string, tf.Tensor>([['a', tf.tensor1d([2, 4 + comm.rank * 2])]]);
  if (comm.rank === 0) grads.set('b', tf.tensor1d([6, 8]));
  const mean = averageOverRanks(comm, { G: params })('G', grads);
  const averaged = Object.fromEntries([...mean].map(([n, t]) => [n, Array.from(t.dataSync())]));
  tf.dispose([...mean.values(), ...params.map(([, v]) => v)]);
  return { weights, averaged };
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function check(comm: Communicator): Record<string, unknown> {
  const { rank, size } = comm;
  // Ranks hold (rank + 1) · (i % 5 + 1): the mean is (size + 1)/2 · (i % 5 + 1), exact in float32.
  const n = 1000;
  const a = Float32Array.from({ length: n }, (_, i) => (rank + 1) * ((i % 5) + 1));
  comm.allreduceMean(a);
  const want = (size + 1) / 2;
  const allreduceOk = a.every((v, i) => v === want * ((i % 5) + 1));

  const f = rank === 0 ? Float32Array.from({ length: 7 }, (_, i) => i * 0.25 - 1) : new Float32Array(7).fill(NaN);
  comm.broadcast(f);
  const bytes = broadcastBytes(comm, rank === 0 ? new TextEncoder().encode('{"seed":2023,"é":1}') : null);
  comm.barrier();

  // Bucketing: names in a different insertion order per rank, a bucket limit that splits them.
  const shapes: Record<string, number[]> = { 'b.weight': [2, 3], 'a.bias': [4], 'c.w': [5], 'a.weight': [3, 1, 1] };
  const names = rank === 0 ? Object.keys(shapes) : Object.keys(shapes).reverse();
  const grads: tf.NamedTensorMap = {};
  for (const k of names) {
    const len = shapes[k].reduce((x, y) => x * y, 1);
    grads[k] = tf.tensor(Float32Array.from({ length: len }, (_, i) => (rank + 1) * (i + k.length)), shapes[k]);
  }
  const mean = allreduceMeanTensors(comm, grads, { bucketFloats: 8 });
  const weights = broadcastTensors(comm, grads, { bucketFloats: 8 });
  const tensors: Record<string, { shape: number[]; mean: number[]; bcast: number[] }> = {};
  for (const k of Object.keys(shapes)) tensors[k] = { shape: mean[k].shape, mean: Array.from(mean[k].dataSync()), bcast: Array.from(weights[k].dataSync()) };
  tf.dispose([Object.values(grads), Object.values(mean), Object.values(weights)]);
  return {
    rank,
    size,
    kind: comm.kind,
    allreduceOk,
    broadcast: Array.from(f),
    bytes: new TextDecoder().decode(bytes),
    tensors,
    ddp: ddpPieces(comm),
    leaked: tf.memory().numTensors,
    ucx: Object.fromEntries(Object.keys(UCX_DEFAULTS).map((k) => [k, process.env[k]])),
  };
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  // Before joining: rank 1 (by its launcher's variables) leaves at once.
  if (mode.startsWith('early:') && (process.env.OMPI_COMM_WORLD_RANK ?? process.env.PMI_RANK) === '1') {
    console.error('rank 1 leaves before joining');
    process.exit(3);
  }
  const nproc = arg('--nproc');
  await runJob({ nproc: nproc ? Number(nproc) : undefined, mpi: arg('--mpi') as MpiFlavour | undefined }, async (comm) => {
    if (mode === 'check') {
      // The backend training ranks use (wasm and MPI in one process). Loaded here only: the
      // runtime takes seconds to import, and the other modes do not need it.
      const { useBackend } = require('../../lib/runtime') as typeof import('../../lib/runtime');
      await useBackend('wasm');
      console.log(`RESULT ${JSON.stringify(check(comm))}`);
    } else if (mode.startsWith('die:')) {
      const buf = new Float32Array(4);
      comm.allreduceMean(buf);
      if (comm.rank === 1) {
        const how = mode.slice(4);
        if (how === 'kill') {
          fs.writeSync(2, `rank 1 kills itself at ${Date.now()}\n`);
          process.kill(process.pid, 'SIGKILL');
        }
        if (how === 'throw') throw new Error('injected failure');
        if (how === 'mute') {
          // As when MPICH tears the job down before forwarding the rank's stderr.
          process.stderr.write = () => true;
          throw new Error('injected failure, unheard');
        }
        if (how === 'async') {
          // Never returns: finalizing while rank 0 waits in its allreduce would block both.
          setTimeout(() => {
            throw new Error('injected async failure');
          }, 10);
          await new Promise((r) => setTimeout(r, 600_000));
        }
        if (how === 'exit0') process.exit(0);
      }
      comm.allreduceMean(buf);
      console.log(`UNEXPECTED rank ${comm.rank} passed the allreduce`);
    } else if (mode.startsWith('early:')) {
      console.log(`UNEXPECTED rank ${comm.rank} joined`);
    } else if (mode === 'stop') {
      for (let step = 1; step < 600; step++) {
        await new Promise((r) => setTimeout(r, 100));
        console.log(`STEP ${comm.rank} ${step}`);
        if (agreeToStop(comm, launcherAskedToStop())) {
          console.log(`STOPPED ${comm.rank} ${step}`);
          return;
        }
      }
    } else {
      throw new Error(`unknown mode ${mode}`);
    }
  });
}

main().catch((e: Error) => {
  console.error(e.name === 'UserError' ? `error: ${e.message}` : e.stack);
  process.exitCode = (e as { exitCode?: number }).exitCode ?? 1;
});
