/**
 * Where this process sits in a multi-process job, read from the environment its launcher set:
 * Open MPI's mpiexec/mpirun, MPICH's Hydra mpiexec (PMI), or Slurm's srun. Null when no launcher
 * started us (a plain `node` or `npx` process).
 */
import { UserError } from '../cli/command';

export type LauncherKind = 'openmpi' | 'hydra' | 'slurm';

export interface Placement {
  launcher: LauncherKind;
  rank: number;
  size: number;
  /** Rank among the processes on this node (selects the GPU). */
  localRank: number;
}

type Env = Readonly<Record<string, string | undefined>>;

function int(env: Env, name: string, min: number): number {
  const raw = env[name] as string;
  const v = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(v) || v < min) throw new UserError(`environment variable ${name}=${raw} is not an integer ≥ ${min}`);
  return v;
}

function placed(env: Env, launcher: LauncherKind, rank: string, size: string, local: string | null): Placement {
  const p = { launcher, rank: int(env, rank, 0), size: int(env, size, 1), localRank: local !== null && env[local] !== undefined ? int(env, local, 0) : 0 };
  if (p.rank >= p.size) throw new UserError(`environment variable ${rank}=${p.rank} is not below ${size}=${p.size}`);
  return p;
}

export function detectPlacement(env: Env = process.env): Placement | null {
  // Open MPI first: an mpirun inside a Slurm allocation also carries the allocation's SLURM_*.
  if (env.OMPI_COMM_WORLD_SIZE !== undefined && env.OMPI_COMM_WORLD_RANK !== undefined) {
    return placed(env, 'openmpi', 'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'OMPI_COMM_WORLD_LOCAL_RANK');
  }
  if (env.PMI_SIZE !== undefined && env.PMI_RANK !== undefined) {
    return placed(env, 'hydra', 'PMI_RANK', 'PMI_SIZE', 'MPI_LOCALRANKID');
  }
  // Only a job step (srun) has SLURM_STEP_ID; a batch script's own environment has the allocation's
  // SLURM_NTASKS but is one process, and must not wait for peers that never start.
  if (env.SLURM_STEP_ID !== undefined && env.SLURM_PROCID !== undefined) {
    const size = env.SLURM_STEP_NUM_TASKS !== undefined ? 'SLURM_STEP_NUM_TASKS' : 'SLURM_NTASKS';
    if (env[size] !== undefined) return placed(env, 'slurm', 'SLURM_PROCID', size, 'SLURM_LOCALID');
  }
  return null;
}
