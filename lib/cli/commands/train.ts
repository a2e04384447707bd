/**
 * `propainter train -c CONFIG [--resume CKPT] [--set key.path=value ...] [--overwrite] [--nproc N]`:
 * trains the flow-completion net or ProPainter (by the config's `model`) with the Run engine of
 * lib/train. A config error names the key path and exits non-zero; SIGINT/SIGTERM stops after the
 * current step with a final checkpoint and exits 130 / 143 (a second signal ends the process at
 * once). With several `gpu_ids` (or --nproc N) it starts N data-parallel processes under mpiexec;
 * started by mpiexec / srun it is one of them (docs/distributed.md).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CliCommand } from '../command';
import { UserError, collect, intOption } from '../command';
import { BackendName, initRuntime } from '../../runtime';
import { TrainConfig, loadConfig, resolveConfig } from '../../train/config';
import { findCheckpoint } from '../../train/checkpoint';
import { readRunJson } from '../../train/run-folder';
import { processBatchSize } from '../../train/data';
import { checkTrainStepFits } from '../../train/step-memory';
import { ConfigError } from '../../train/schema';
import { Run } from '../../train/loop';
import { MPI_FLAVOURS, MpiFlavour, detectPlacement, runJob } from '../../dist';

/** The config a run will use, read before any backend or process starts: -c, else the one saved with --resume (ours). */
function configFor(o: { config?: string; resume?: string; set: string[] }): TrainConfig | null {
  try {
    if (o.config) return loadConfig(o.config, o.set);
    const found = findCheckpoint(o.resume!);
    if (found.format !== 'ours') return null; // Run.create says that an official set needs -c
    // A damaged state is named as Run.create would; one without a config is Run.create's to explain.
    const state = readRunJson(found.file, 'checkpoint state') as { config?: unknown } | null;
    const config = state?.config;
    return typeof config === 'object' && config !== null ? resolveConfig(config as Record<string, unknown>, { sets: o.set, source: found.file }) : null;
  } catch (e) {
    if (e instanceof ConfigError) throw new UserError(e.message);
    throw new UserError((e as Error).message);
  }
}

const command: CliCommand = {
  name: 'train',
  description: 'train the flow-completion network or ProPainter from a config (documented, guide or official format)',
  configure: (cmd) =>
    cmd
      .option('-c, --config <file>', 'training config (JSON / JSONC); optional with --resume of our run folders (they hold their config)')
      .option('--resume <ckpt>', 'continue from a checkpoint: run folder, latest.json or a *_NNNNNN file; or an official set (folder, latest.ckpt, gen_/opt_NNNNNN.pth) with -c')
      .option('--set <key.path=value>', 'override a config value (repeatable), e.g. --set train.lr=5e-5', collect, [] as string[])
      .option('--overwrite', 'start over in a save_dir that holds checkpoints (or resume from one that is not its newest): deletes the checkpoints after the start')
      .option('--backend <name>', 'tensorflow | wasm | cpu (default: best available)')
      .option('--nproc <n>', 'data-parallel processes (default: one per gpu_ids entry; on cpu / wasm, e.g. one per core); under mpiexec / srun: must match it when given', intOption('nproc'))
      .option('--mpi <flavour>', 'openmpi | mpich: the MPI to start the processes with (default: PROPAINTER_MPI, else the mpiexec on PATH)')
      .option('--quiet', 'no progress line')
      .addHelpText(
        'after',
        `
Outputs go to save_dir (default experiments/<name>/): gen_/dis_/opt_/state_NNNNNN checkpoints and
latest.json, log.jsonl (every logged value), tb/ (TensorBoard events: tensorboard --logdir experiments),
config.json. --resume continues in the folder it resumes from. Keys: docs/config.md. Quick CPU runs:
configs/quick_flowcomp.json, then configs/quick_propainter.json. Fine-tuning the released ProPainter:
configs/finetune_propainter.json. Ctrl-C (SIGINT) or SIGTERM stops after the current step with a
checkpoint (exit code 130 / 143); a second one ends the process at once.
Several processes (train.batch_size is the total batch, split over them): --nproc 2 on a CPU,
gpu_ids [0, 1] on two GPUs, or start this command with mpiexec / srun; docs/distributed.md.`,
      )
      .action(async (o: { config?: string; resume?: string; set: string[]; overwrite?: boolean; backend?: BackendName; nproc?: number; mpi?: string; quiet?: boolean }) => {
        if (!o.config && !o.resume) throw new UserError('train: give -c CONFIG (or --resume CKPT to continue a run with its saved config)');
        if (o.mpi !== undefined && !MPI_FLAVOURS.includes(o.mpi as MpiFlavour)) throw new UserError(`--mpi ${o.mpi}: use one of ${MPI_FLAVOURS.join(', ')}`);
        // Read early: config errors cost no backend or process start, and devices are chosen before the backend starts.
        const cfg = configFor(o);
        const gpuIds = cfg?.gpu_ids ?? [];
        const launcherSize = detectPlacement()?.size ?? 1;
        // Under a launcher its process count applies; from a plain process, one per listed device.
        const nproc = o.nproc ?? (launcherSize > 1 ? undefined : Math.max(1, gpuIds.length));
        const world = nproc ?? launcherSize;
        if (cfg && world > 1) {
          try {
            processBatchSize(cfg, world);
          } catch (e) {
            throw new UserError((e as Error).message);
          }
        }
        await runJob({ nproc, gpuIds: gpuIds.length > 1 ? gpuIds : undefined, mpi: o.mpi as MpiFlavour | undefined }, async (comm) => {
          // One device: tfjs-node-gpu uses the first visible GPU, so make it the configured one.
          if (comm.size === 1 && gpuIds.length && process.env.CUDA_VISIBLE_DEVICES === undefined) process.env.CUDA_VISIBLE_DEVICES = String(gpuIds[0]);
          await initRuntime({ backend: o.backend });
          // Before the networks are built and before any collective, on every rank alike (the run
          // checks again before its first step).
          if (cfg && tf.getBackend() === 'wasm') {
            try {
              checkTrainStepFits(cfg, comm.size);
            } catch (e) {
              throw new UserError((e as Error).message);
            }
          }
          const lead = comm.rank === 0;
          let run;
          try {
            // Rank 0 speaks for the job; the others' notes would repeat it.
            run = await Run.create(o.config ?? null, { resume: o.resume, sets: o.set, overwrite: o.overwrite, handleSignals: true, console: !o.quiet, comm, log: lead ? undefined : () => {} });
          } catch (e) {
            throw new UserError((e as Error).message);
          }
          try {
            await run.train();
          } finally {
            await run.dispose();
          }
        });
      }),
};
export default command;
