/**
 * `propainter train -c CONFIG [--resume CKPT] [--set key.path=value ...] [--overwrite]`: trains the
 * flow-completion net or ProPainter (by the config's `model`) with the Run engine of lib/train. A
 * config error names the key path and exits non-zero; SIGINT/SIGTERM stops after the current step
 * with a final checkpoint and exits 130 / 143 (a second signal ends the process at once).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CliCommand } from '../command';
import { UserError, collect } from '../command';
import { BackendName, initRuntime } from '../../runtime';
import { TrainConfig, loadConfig } from '../../train/config';
import { checkTrainStepFits } from '../../train/step-memory';
import { ConfigError } from '../../train/schema';
import { Run } from '../../train/loop';

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
      .option('--quiet', 'no progress line')
      .addHelpText(
        'after',
        `
Outputs go to save_dir (default experiments/<name>/): gen_/dis_/opt_/state_NNNNNN checkpoints and
latest.json, log.jsonl (every logged value), tb/ (TensorBoard events: tensorboard --logdir experiments),
config.json. --resume continues in the folder it resumes from. Keys: docs/config.md. Quick CPU runs:
configs/quick_flowcomp.json, then configs/quick_propainter.json. Fine-tuning the released ProPainter:
configs/finetune_propainter.json. Ctrl-C (SIGINT) or SIGTERM stops after the current step with a
checkpoint (exit code 130 / 143); a second one ends the process at once.`,
      )
      .action(async (o: { config?: string; resume?: string; set: string[]; overwrite?: boolean; backend?: BackendName; quiet?: boolean }) => {
        if (!o.config && !o.resume) throw new UserError('train: give -c CONFIG (or --resume CKPT to continue a run with its saved config)');
        let cfg: TrainConfig | undefined;
        try {
          // Read early: config errors cost no backend start, and the device must be chosen before it.
          if (o.config) cfg = loadConfig(o.config, o.set);
        } catch (e) {
          if (e instanceof ConfigError) throw new UserError(e.message);
          throw e;
        }
        // One device: tfjs-node-gpu uses the first visible GPU, so make it the configured one.
        if (cfg && process.env.CUDA_VISIBLE_DEVICES === undefined) process.env.CUDA_VISIBLE_DEVICES = String(cfg.gpu_ids[0]);
        await initRuntime({ backend: o.backend });
        // Before the networks are built (the run checks again before its first step, also after a resume without -c).
        if (cfg && tf.getBackend() === 'wasm') {
          try {
            checkTrainStepFits(cfg);
          } catch (e) {
            throw new UserError((e as Error).message);
          }
        }
        let run;
        try {
          run = await Run.create(o.config ?? null, { resume: o.resume, sets: o.set, overwrite: o.overwrite, handleSignals: true, console: !o.quiet });
        } catch (e) {
          throw new UserError((e as Error).message);
        }
        try {
          await run.train();
        } finally {
          await run.dispose();
        }
      }),
};
export default command;
