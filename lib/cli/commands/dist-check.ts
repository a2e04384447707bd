/**
 * `propainter dist-check [--nproc N] [--mpi openmpi|mpich] [--floats N] [--reps K]`: starts (or,
 * under mpiexec / srun, joins) a multi-process job, checks that allreduce-mean, broadcast and
 * barrier give exact values on every rank, and times the allreduce.
 */
import type { CliCommand } from '../command';
import { UserError, intOption } from '../command';
import { MPI_FLAVOURS, MpiFlavour, detectPlacement, runJob } from '../../dist';
import { checkCollectives, timeAllreduce } from '../../dist/selftest';

const command: CliCommand = {
  name: 'dist-check',
  description: 'check and time the MPI collectives of a multi-process job (started here with --nproc, or under mpiexec / srun)',
  configure: (cmd) =>
    cmd
      .option('--nproc <n>', 'processes to start with mpiexec (default 2; under a launcher: must match it when given)', intOption('nproc'))
      .option('--mpi <flavour>', 'openmpi | mpich (default: PROPAINTER_MPI, else the mpiexec on PATH)')
      .option('--floats <n>', 'allreduce size to time, in float32 elements (0: no timing)', intOption('floats', 0), 10_000_000)
      .option('--reps <k>', 'timed allreduces', intOption('reps'), 3)
      .addHelpText(
        'after',
        `
Examples:
  npx propainter dist-check                      two processes on this machine
  mpiexec -n 8 --hostfile hosts npx propainter dist-check --floats 40000000
  srun -n 8 npx propainter dist-check`,
      )
      .action(async (o: { nproc?: number; mpi?: string; floats: number; reps: number }) => {
        if (o.mpi !== undefined && !MPI_FLAVOURS.includes(o.mpi as MpiFlavour)) throw new UserError(`--mpi ${o.mpi}: use one of ${MPI_FLAVOURS.join(', ')}`);
        // Under a launcher its process count applies; from a plain process, two by default.
        const nproc = o.nproc ?? ((detectPlacement()?.size ?? 1) > 1 ? undefined : 2);
        const { floats, reps } = o;
        await runJob({ nproc, mpi: o.mpi as MpiFlavour | undefined }, async (comm) => {
          checkCollectives(comm);
          const ms = floats > 0 ? timeAllreduce(comm, floats, reps) : [];
          if (comm.rank !== 0) return;
          console.log(`dist-check: ${comm.size} process(es), ${comm.library}: allreduce-mean, broadcast and barrier exact on every rank`);
          if (ms.length) {
            const best = Math.min(...ms);
            const med = [...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)];
            console.log(`allreduce-mean of ${floats.toLocaleString('en-US')} floats: best ${best.toFixed(1)} ms, median ${med.toFixed(1)} ms over ${ms.length}`);
          }
        });
      }),
};
export default command;
