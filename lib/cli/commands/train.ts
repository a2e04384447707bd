/**
 * `propainter train -c CONFIG [--resume CKPT] [--set key.path=value ...]`: trains the flow-completion
 * net or ProPainter (by the config's `model`) with the Run engine of lib/train. A config error names
 * the key path and exits non-zero; SIGINT/SIGTERM writes a final checkpoint and exits cleanly.
 */
import type { CliCommand } from '../command';
import { UserError, collect } from '../command';
import type { BackendName } from '../../runtime';

const command: CliCommand = {
  name: 'train',
  description: 'train the flow-completion network or ProPainter from a config (documented or official format)',
  configure: (cmd) =>
    cmd
      .option('-c, --config <file>', 'training config (JSON); optional with --resume (the checkpoint holds its config)')
      .option('--resume <ckpt>', 'continue from a checkpoint: experiment folder, latest.json or a *_NNNNNN file')
      .option('--set <key.path=value>', 'override a config value (repeatable), e.g. --set train.lr=5e-5', collect, [] as string[])
      .option('--backend <name>', 'tensorflow | wasm | cpu (default: best available)')
      .option('--quiet', 'no progress line')
      .addHelpText(
        'after',
        `
Outputs go to save_dir (default experiments/<name>/): gen_/dis_/opt_/state_NNNNNN checkpoints and
latest.json, log.jsonl (every logged value), tb/ (TensorBoard events: tensorboard --logdir experiments),
config.json. Quick CPU runs: configs/quick_flowcomp.json, then configs/quick_propainter.json.`,
      )
      .action(async (o: { config?: string; resume?: string; set: string[]; backend?: BackendName; quiet?: boolean }) => {
        if (!o.config && !o.resume) throw new UserError('train: give -c CONFIG (or --resume CKPT to continue a run with its saved config)');
        const { loadConfig } = require('../../train/config') as typeof import('../../train/config');
        const { ConfigError } = require('../../train/schema') as typeof import('../../train/schema');
        let cfg;
        try {
          cfg = o.config ? loadConfig(o.config, o.set) : null;
        } catch (e) {
          if (e instanceof ConfigError) throw new UserError(e.message);
          throw e;
        }
        // One device: tfjs-node-gpu uses the first visible GPU, so make it the configured one.
        if (cfg && process.env.CUDA_VISIBLE_DEVICES === undefined) process.env.CUDA_VISIBLE_DEVICES = String(cfg.gpu_ids[0]);
        const { initRuntime } = require('../../runtime') as typeof import('../../runtime');
        await initRuntime({ backend: o.backend });
        const { Run } = require('../../train/loop') as typeof import('../../train/loop');
        let run;
        try {
          run = await Run.create(cfg, { resume: o.resume, sets: cfg ? [] : o.set, handleSignals: true, console: !o.quiet });
        } catch (e) {
          if (e instanceof ConfigError) throw new UserError(e.message);
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
