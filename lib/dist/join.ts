/**
 * Joining the job a launcher started: the communicator for this process, the GPU it sees, and the
 * guards that keep a failing rank from leaving its peers blocked.
 *
 * What the launchers already do (measured with Open MPI 4.1 and MPICH 4.0): a rank that dies after
 * MPI_Init (signal, non-zero exit, MPI_Abort) takes the job down within 1–2 s. What they do not:
 * MPICH reports success and Open MPI waits when a rank exits with code 0 without finalizing, and
 * MPICH waits forever when a rank exits before MPI_Init while its peers are in it. The exit guard
 * and the MPI_Init watchdog below close those gaps; lib/dist/launch.ts also watches the ranks it
 * started.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { UserError } from '../cli/command';
import { isRunning } from '../io/pid';
import { SingleProcess, type Communicator } from './communicator';
import type { MpiCommunicator } from './mpi';
import { detectPlacement, type Placement } from './placement';

/** Set by lib/dist/launch.ts in the ranks it starts: the launching process's pid. */
export const LAUNCH_MARKER = 'PROPAINTER_DIST_LAUNCHER';
/** Set by lib/dist/launch.ts: a folder where each rank leaves rank-R.pid when it starts and rank-R.done when it has finalized. */
export const RANK_DIR = 'PROPAINTER_DIST_DIR';
/** Seconds a rank waits in MPI_Init for its peers before it gives up (default 120). */
export const INIT_TIMEOUT = 'PROPAINTER_DIST_INIT_TIMEOUT';

type Env = Record<string, string | undefined>;

/**
 * CUDA_VISIBLE_DEVICES for one rank: `gpuIds[localRank]`, an index into the devices already
 * visible when CUDA_VISIBLE_DEVICES lists them (as PyTorch device ids are), else the device id.
 */
export function gpuForRank(gpuIds: readonly number[], localRank: number, visible: string | undefined): string {
  if (localRank >= gpuIds.length) {
    throw new UserError(`gpu_ids: ${gpuIds.length} entries (${gpuIds.join(', ')}) for local rank ${localRank}: give one GPU per process on this node`);
  }
  const id = gpuIds[localRank];
  if (visible === undefined || visible.trim() === '') return String(id);
  const list = visible.split(',').map((s) => s.trim());
  if (id >= list.length) throw new UserError(`gpu_ids: device ${id} is not among CUDA_VISIBLE_DEVICES=${visible}`);
  return list[id];
}

export interface JoinOptions {
  /** Devices by local rank (the config's gpu_ids); sets CUDA_VISIBLE_DEVICES before any backend starts. */
  gpuIds?: readonly number[];
  /** Processes the command asked for (--nproc); must match the launcher's when given. */
  nproc?: number;
  env?: Env;
}

let joined: Communicator | null = null;
let usr1 = false;
let lastWordsFile: string | null = null;

/**
 * A rank's report of why it ends the job (`propainter: rank R of N …`), on stderr and in the
 * launcher's folder: MPICH's launcher may tear the job down on MPI_Abort before it forwards the
 * aborting rank's stderr, and the launcher names the failed rank from these words.
 */
export function sayLastWords(line: string): void {
  console.error(line);
  if (!lastWordsFile) return;
  try {
    fs.appendFileSync(lastWordsFile, `${line}\n`);
  } catch {
    // The launcher's folder is gone (it ended the job): stderr is all there is.
  }
}

/** The file a rank leaves in the launcher's folder (none when another launcher started us). */
function rankFile(env: Env, rank: number, ext: 'pid' | 'done' | 'last'): string | null {
  const dir = env[RANK_DIR];
  return dir ? path.join(dir, `rank-${rank}.${ext}`) : null;
}

/**
 * Runs `init` (MPI_Init, which blocks until every rank has called it) under a watchdog thread: if
 * it has not returned after the timeout, the watchdog says why and kills this process, which
 * both launchers treat as a failed rank and end the job.
 */
function withInitWatchdog<T>(placement: Placement, env: Env, init: () => T): T {
  const raw = env[INIT_TIMEOUT];
  const seconds = raw === undefined || raw === '' ? 120 : Number(raw);
  if (!(seconds > 0)) throw new UserError(`${INIT_TIMEOUT}=${raw} is not a positive number of seconds`);
  const done = new Int32Array(new SharedArrayBuffer(4));
  const message =
    `propainter: rank ${placement.rank} of ${placement.size}: MPI_Init did not finish within ${seconds} s: ` +
    `another rank exited before joining or never started (see its output); ending this rank\n`;
  // Plain JS: the worker cannot use the tsx loader; fs.writeSync because this thread's stderr is
  // serviced by the main thread, which is blocked.
  const code = `const { workerData: w } = require('worker_threads');
if (Atomics.wait(new Int32Array(w.done), 0, 0, w.ms) === 'timed-out') {
  require('fs').writeSync(2, w.message);
  process.kill(w.pid, 'SIGKILL');
}`;
  const worker = new Worker(code, { eval: true, workerData: { done: done.buffer, ms: seconds * 1000, pid: process.pid, message } });
  worker.unref();
  try {
    return init();
  } finally {
    Atomics.store(done, 0, 1);
    Atomics.notify(done, 0);
  }
}

/**
 * This process's communicator: MPI when a launcher started more than one process, else one
 * process. Joins once; later calls return the same communicator.
 */
export function joinJob(opts: JoinOptions = {}): Communicator {
  if (joined) return joined;
  const env = opts.env ?? process.env;
  const placement = detectPlacement(env);
  if (!placement || placement.size === 1) {
    if (env[LAUNCH_MARKER]) {
      throw new UserError(`${LAUNCH_MARKER} is set but no MPI launcher environment was found (OMPI_COMM_WORLD_*, PMI_*, SLURM_*)`);
    }
    if (opts.nproc !== undefined && opts.nproc > 1) throw new Error(`joinJob: --nproc ${opts.nproc} outside a launched job (launch it first)`);
    joined = new SingleProcess();
    return joined;
  }
  const pidFile = rankFile(env, placement.rank, 'pid');
  if (pidFile) fs.writeFileSync(pidFile, `${process.pid}\n`);
  lastWordsFile = rankFile(env, placement.rank, 'last');
  const { MpiCommunicator } = require('./mpi') as typeof import('./mpi');
  const comm = withInitWatchdog(placement, env, () => MpiCommunicator.open(placement, env));
  joined = comm;
  // Guards first: from here on, a failing rank takes the job down instead of leaving it waiting.
  installGuards(comm, env);
  if (opts.nproc !== undefined && opts.nproc !== placement.size) {
    throw new UserError(`--nproc ${opts.nproc}, but the ${placement.launcher} launcher started ${placement.size} processes`);
  }
  if (opts.gpuIds) env.CUDA_VISIBLE_DEVICES = gpuForRank(opts.gpuIds, placement.localRank, env.CUDA_VISIBLE_DEVICES);
  const gpu = opts.gpuIds ? `, CUDA_VISIBLE_DEVICES=${env.CUDA_VISIBLE_DEVICES}` : '';
  // One line per rank: MPICH's launcher names a failed process by pid only; this maps it to a rank.
  console.error(`propainter: rank ${comm.rank} of ${comm.size} on ${os.hostname()}, pid ${process.pid}, ${comm.library}${gpu}`);
  return comm;
}

function installGuards(comm: MpiCommunicator, env: Env): void {
  // Leaving without finalize() (an uncaught error, process.exit, a second Ctrl-C) would leave the
  // peers blocked in their next collective, and MPICH's launcher reports success when the exit
  // code was 0. Abort the whole job instead, naming this rank.
  process.on('exit', (code) => {
    if (comm.state === 'aborted') return;
    if (comm.state === 'finalized') {
      const done = rankFile(env, comm.rank, 'done');
      if (done) fs.writeFileSync(done, '');
      return;
    }
    const why = code === 0 ? 'ended before the job finished (no finalize)' : `exited with code ${code}`;
    sayLastWords(`propainter: rank ${comm.rank} of ${comm.size} ${why}; aborting all ranks`);
    comm.abort(code === 0 ? 1 : code);
  });
  // An uncaught error or unhandled rejection ends the process without 'exit' listeners; say which
  // rank failed and take the job down (unless someone handles these errors).
  process.on('uncaughtExceptionMonitor', (err) => {
    if (comm.state !== 'joined' || process.listenerCount('uncaughtException') > 0) return;
    sayLastWords(`propainter: rank ${comm.rank} of ${comm.size} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    comm.abort(1);
  });
  // Both launchers forward SIGUSR1 to every rank: the launcher's "stop after a checkpoint". The
  // listener also keeps Node from opening its inspector on SIGUSR1.
  process.on('SIGUSR1', () => {
    usr1 = true;
  });
}

/**
 * True once the launcher asked the ranks to stop (SIGUSR1, which lib/dist/launch.ts sends on
 * Ctrl-C) or the process that launched this job is gone. Feed it to agreeToStop each step.
 */
export function launcherAskedToStop(env: Env = process.env): boolean {
  if (usr1) return true;
  const pid = Number(env[LAUNCH_MARKER]);
  return Number.isSafeInteger(pid) && pid > 0 && !isRunning(pid);
}
