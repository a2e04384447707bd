/** lib/dist without starting processes: launcher environments, GPUs, buckets, mpiexec, failure reports. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { copyFloatsInto, useBackend } from '../../lib/runtime';
import {
  SingleProcess,
  allreduceMeanTensors,
  agreeToStop,
  broadcastBytes,
  detectPlacement,
  findMpiexec,
  gpuForRank,
  mpiexecArgs,
  planBuckets,
  runJob,
} from '../../lib/dist';
import { describeFailure, mpiexecFlavour } from '../../lib/dist/launch';

test('detectPlacement reads Open MPI, MPICH (Hydra) and srun environments', () => {
  assert.equal(detectPlacement({}), null);
  assert.deepEqual(detectPlacement({ OMPI_COMM_WORLD_RANK: '3', OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_LOCAL_RANK: '1' }), {
    launcher: 'openmpi',
    rank: 3,
    size: 4,
    localRank: 1,
  });
  assert.deepEqual(detectPlacement({ PMI_RANK: '1', PMI_SIZE: '2', MPI_LOCALRANKID: '1', PMI_FD: '6' }), { launcher: 'hydra', rank: 1, size: 2, localRank: 1 });
  const srun = { SLURM_STEP_ID: '0', SLURM_PROCID: '5', SLURM_STEP_NUM_TASKS: '8', SLURM_NTASKS: '16', SLURM_LOCALID: '1' };
  assert.deepEqual(detectPlacement(srun), { launcher: 'slurm', rank: 5, size: 8, localRank: 1 });
  // A batch script (no job step) is one process even though the allocation has 16 tasks.
  assert.equal(detectPlacement({ SLURM_PROCID: '0', SLURM_NTASKS: '16', SLURM_JOB_ID: '7' }), null);
  // mpirun inside an allocation: Open MPI's variables win over the allocation's.
  assert.equal(detectPlacement({ ...srun, OMPI_COMM_WORLD_RANK: '0', OMPI_COMM_WORLD_SIZE: '2' })?.launcher, 'openmpi');
  assert.throws(() => detectPlacement({ PMI_RANK: 'x', PMI_SIZE: '2' }), /PMI_RANK=x is not an integer/);
  assert.throws(() => detectPlacement({ PMI_RANK: '2', PMI_SIZE: '2' }), /PMI_RANK=2 is not below PMI_SIZE=2/);
});

test('gpuForRank: one device per local rank, indexing CUDA_VISIBLE_DEVICES when set', () => {
  assert.equal(gpuForRank([0, 1, 2, 3], 2, undefined), '2');
  assert.equal(gpuForRank([1, 0], 0, '4,5'), '5');
  assert.throws(() => gpuForRank([0, 1], 2, undefined), /gpu_ids: 2 entries \(0, 1\) for local rank 2/);
  assert.throws(() => gpuForRank([3], 0, '0,1'), /gpu_ids: device 3 is not among CUDA_VISIBLE_DEVICES=0,1/);
});

test('planBuckets groups sorted names up to the limit; a larger tensor gets its own bucket', () => {
  const sizes: Array<[string, number]> = [
    ['b', 4],
    ['a', 3],
    ['d', 20],
    ['c', 2],
    ['e', 1],
  ];
  assert.deepEqual(planBuckets(sizes, 8), [
    { names: ['a', 'b'], floats: 7 },
    { names: ['c'], floats: 2 },
    { names: ['d'], floats: 20 },
    { names: ['e'], floats: 1 },
  ]);
  assert.deepEqual(planBuckets(sizes), [{ names: ['a', 'b', 'c', 'd', 'e'], floats: 30 }]);
});

test('one process: runJob runs the body in place; collectives keep values; tensors come back as new tensors', async () => {
  await useBackend('cpu');
  let seen: string | null = null;
  await runJob({ nproc: 1 }, async (comm) => {
    seen = `${comm.kind} ${comm.rank}/${comm.size}`;
  });
  assert.equal(seen, 'single 0/1');
  const comm = new SingleProcess();
  const buf = Float32Array.of(1, 2.5);
  comm.allreduceMean(buf);
  assert.deepEqual(Array.from(buf), [1, 2.5]);
  assert.deepEqual(Array.from(broadcastBytes(comm, Uint8Array.of(7, 8))), [7, 8]);
  assert.equal(agreeToStop(comm, false), false);
  assert.equal(agreeToStop(comm, true), true);
  const g = { w: tf.tensor([1, 2, 3, 4], [2, 2]) };
  const before = tf.memory().numTensors;
  const mean = allreduceMeanTensors(comm, g);
  assert.notEqual(mean.w, g.w);
  assert.deepEqual(mean.w.shape, [2, 2]);
  assert.deepEqual(Array.from(mean.w.dataSync()), [1, 2, 3, 4]);
  assert.equal(tf.memory().numTensors, before + 1);
  assert.throws(() => allreduceMeanTensors(comm, { i: tf.tensor([1], [1], 'int32') }), /i: a int32 tensor; only float32/);
  tf.dispose([g.w, mean.w]);
});

test('copyFloatsInto writes a tensor at an offset: from the wasm heap, through dataSync elsewhere', async () => {
  await useBackend('cpu');
  const onCpu = tf.tensor([5, 6], [2]);
  for (const backend of ['cpu', 'wasm'] as const) {
    await useBackend(backend);
    const t = tf.tensor([[1.5, -2], [3, 4.25]]);
    const dst = new Float32Array(8).fill(9);
    copyFloatsInto(t, dst, 2);
    // A tensor made under cpu, read while wasm is active, takes the dataSync path.
    copyFloatsInto(onCpu, dst, 6);
    assert.deepEqual(Array.from(dst), [9, 9, 1.5, -2, 3, 4.25, 5, 6], backend);
    t.dispose();
  }
  onCpu.dispose();
  await useBackend('cpu');
  assert.throws(() => copyFloatsInto(tf.tensor([1], [1], 'int32'), new Float32Array(1)), /copyFloatsInto: a int32 tensor/);
});

test('mpiexec: flavour from --version, flags per flavour, a one-line error naming the package when missing', () => {
  assert.equal(mpiexecFlavour('mpiexec (OpenRTE) 4.1.4\n\nReport bugs to http://www.open-mpi.org/community/help/'), 'openmpi');
  assert.equal(mpiexecFlavour('HYDRA build details:\n    Version:                                 4.0.2'), 'mpich');
  assert.equal(mpiexecFlavour('something else'), null);
  const cmd = ['node', 'bin/propainter.js', 'train'];
  assert.deepEqual(mpiexecArgs({ path: '/usr/bin/mpiexec.openmpi', flavour: 'openmpi', version: '' }, 2, cmd, { root: true }), [
    '--oversubscribe',
    '--bind-to',
    'none',
    '--allow-run-as-root',
    '-n',
    '2',
    ...cmd,
  ]);
  assert.deepEqual(mpiexecArgs({ path: '/usr/bin/mpiexec.mpich', flavour: 'mpich', version: '' }, 4, cmd, { root: true }), ['-n', '4', ...cmd]);
  assert.throws(() => findMpiexec(undefined, { PATH: '/nonexistent' }), {
    name: 'UserError',
    message: 'mpiexec not found on PATH: install Open MPI (apt-get install openmpi-bin) or MPICH (apt-get install mpich)',
  });
  assert.throws(() => findMpiexec('mpich', { PATH: '/nonexistent' }), { message: 'mpiexec.mpich / mpiexec.hydra not found on PATH: apt-get install mpich' });
  assert.throws(() => findMpiexec(undefined, { PATH: '/nonexistent', PROPAINTER_MPI: 'lam' }), /PROPAINTER_MPI=lam is not an MPI flavour/);
});

// Excerpts of what the launchers printed in this project's failure tests (Open MPI 4.1.4, MPICH 4.0.2).
const OMPI_KILLED = `--------------------------------------------------------------------------
mpiexec.openmpi noticed that process rank 1 with PID 0 on node vm exited on signal 9 (Killed).
--------------------------------------------------------------------------`;
const OMPI_EXIT = `mpiexec detected that one or more processes exited with non-zero status, thus causing
the job to be terminated. The first process to do so was:

  Process name: [[15733,1],1]
  Exit code:    3`;
const OMPI_IMPROPER = `mpiexec has exited due to process rank 1 with PID 0 on
node vm exiting improperly. There are three reasons this could occur:`;
const HYDRA_KILLED = `propainter: rank 0 of 2 on vm, pid 20454, MPICH 4.0.2
propainter: rank 1 of 2 on vm, pid 20455, MPICH 4.0.2

===================================================================================
=   BAD TERMINATION OF ONE OF YOUR APPLICATION PROCESSES
=   PID 20455 RUNNING AT vm
=   EXIT CODE: 9
=   CLEANING UP REMAINING PROCESSES
=   YOU CAN IGNORE THE BELOW CLEANUP MESSAGES
===================================================================================
YOUR APPLICATION TERMINATED WITH THE EXIT STRING: Killed (signal 9)`;

test('describeFailure names the failed rank from either launcher and from the ranks themselves', () => {
  assert.equal(describeFailure(OMPI_KILLED, 2), 'rank 1 of 2 (on vm) was killed by signal 9 (Killed)');
  assert.equal(describeFailure(OMPI_EXIT, 2), 'rank 1 of 2 exited with code 3');
  assert.equal(describeFailure(OMPI_IMPROPER, 2), 'rank 1 of 2 (on vm) exited without leaving the job (no MPI_Finalize)');
  assert.equal(describeFailure(HYDRA_KILLED, 2, { rankOfPid: new Map([[20455, 1]]) }), 'rank 1 of 2 (pid 20455) on vm ended: Killed (signal 9)');
  assert.equal(describeFailure(HYDRA_KILLED, 2), 'the process with pid 20455 on vm ended: Killed (signal 9)');
  // MPICH named a peer that crashed during the cleanup; the rank seen gone first is named too.
  const crashed = HYDRA_KILLED.replace('PID 20455', 'PID 20454').replace('Killed (signal 9)', 'Segmentation fault (signal 11)');
  assert.equal(
    describeFailure(crashed, 2, { rankOfPid: new Map([[20454, 0], [20455, 1]]), firstGone: { rank: 1, pid: 20455 } }),
    'rank 1 of 2 (pid 20455) ended first; then rank 0 of 2 (pid 20454) on vm ended: Segmentation fault (signal 11)',
  );
  assert.equal(
    describeFailure(`propainter: rank 1 of 2 failed: Error: injected failure\n    at x\n${OMPI_IMPROPER}`, 2),
    'rank 1 of 2 failed: Error: injected failure',
  );
  assert.equal(describeFailure('Abort(1) on node 1 (rank 1 in comm 0): application called MPI_Abort(MPI_COMM_WORLD, 1) - process 1', 2), 'rank 1 of 2 called MPI_Abort (code 1)');
  assert.equal(
    describeFailure('propainter: rank 0 of 2: MPI_Init did not finish within 4 s: another rank exited before joining or never started (see its output); ending this rank\n' + HYDRA_KILLED, 2),
    'rank 0 of 2: MPI_Init did not finish within 4 s: another rank exited before joining or never started (see its output)',
  );
  assert.equal(describeFailure('nothing useful', 2, { ended: 'rank 1 of 2 (pid 9) ended without finishing and mpiexec kept the job running; ended it' }), 'rank 1 of 2 (pid 9) ended without finishing and mpiexec kept the job running; ended it');
  assert.equal(describeFailure('nothing useful', 2), null);
});
