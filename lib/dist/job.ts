/**
 * One entry point for commands that can run on several processes: started under a launcher
 * (mpiexec, mpirun, srun) it joins the job; asked for `nproc > 1` from a plain process it starts
 * the ranks itself (lib/dist/launch.ts) and only waits; otherwise it runs in this process.
 */
import { UserError } from '../cli/command';
import { errorText } from '../cli/main';
import type { Communicator } from './communicator';
import { LAUNCH_MARKER, joinJob, sayLastWords } from './join';
import { launchRanks } from './launch';
import type { MpiFlavour } from './mpi';
import { detectPlacement } from './placement';

export interface JobOptions {
  /** Processes wanted (--nproc, or the number of gpu_ids); default 1. Under a launcher it must match the launcher's when given. */
  nproc?: number;
  /** Devices by local rank (a config's gpu_ids). */
  gpuIds?: readonly number[];
  /** MPI flavour to launch with (default: PROPAINTER_MPI, else mpiexec on PATH). */
  mpi?: MpiFlavour;
}

/**
 * Runs `body` on every rank with the job's communicator, then leaves the job. A rank whose body
 * throws prints the error with its rank and aborts the whole job (its peers may be blocked in a
 * collective). In the launching process `body` does not run.
 */
export async function runJob(opts: JobOptions, body: (comm: Communicator) => Promise<void>): Promise<void> {
  const nproc = opts.nproc ?? 1;
  if (!Number.isSafeInteger(nproc) || nproc < 1) throw new UserError(`--nproc ${nproc}: give a whole number of processes ≥ 1`);
  const placement = detectPlacement();
  if ((!placement || placement.size === 1) && nproc > 1 && !process.env[LAUNCH_MARKER]) {
    await launchRanks({ nproc, mpi: opts.mpi });
    return;
  }
  const comm = joinJob({ gpuIds: opts.gpuIds, nproc: opts.nproc });
  if (comm.size === 1) {
    await body(comm);
    return;
  }
  try {
    await body(comm);
  } catch (e) {
    // As the CLI reports errors: one line, the stack with --debug (the ranks share the argv).
    sayLastWords(`propainter: rank ${comm.rank} of ${comm.size} failed: ${errorText(e)}`);
    if (process.argv.includes('--debug') && e instanceof Error && e.stack) console.error(e.stack);
    comm.abort((e as { exitCode?: number }).exitCode ?? 1);
  }
  comm.finalize();
}
