/**
 * `propainter analyze --model NAME` (parameters per module, MACs and memory of one forward) and the
 * guide's model diagnosis `analyze --config CONFIG [--checkpoint CKPT]`: the networks the config
 * trains, with the checkpoint's weights and their per-module statistics and optimizer state.
 */
import type { CliCommand } from '../command';
import { UserError } from '../command';
import { BackendName, initRuntime } from '../../runtime';
import { Analysis, analysisJson, analyzeModel, DEFAULT_FORWARD, formatAnalysis } from '../../models/analyze';
import { ForwardOptions, MODEL_NAMES, getZooEntry, isModelName, parseSize, validateForward } from '../../models/zoo';
import { TrainConfig, loadConfig } from '../../train/config';
import { CheckpointDiagnosis, diagnoseCheckpoint, formatDiagnosis } from '../../train/diagnosis';

interface AnalyzeCliOptions {
  model?: string;
  config?: string;
  checkpoint?: string;
  size?: string;
  frames?: string;
  iters: string;
  videoLength: string;
  json?: boolean;
  forward: boolean;
  probe: boolean;
  estimate?: boolean;
  depth?: string;
  kernels: string;
  backend?: BackendName;
}

function int(name: string, v: string): number {
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n)) throw new UserError(`${name} must be a non-negative integer, got "${v}"`);
  return n;
}

/** Validates everything before any model is built (a typo should not cost a model build). */
export function parseAnalyzeOptions(o: AnalyzeCliOptions): { model: string; fo: ForwardOptions } {
  if (!o.model) throw new UserError(`--model or --config is required; valid models: ${MODEL_NAMES.join(', ')}`);
  try {
    const entry = getZooEntry(o.model);
    const { height, width } = parseSize(o.size ?? `${DEFAULT_FORWARD.height}x${DEFAULT_FORWARD.width}`);
    const fo: ForwardOptions = {
      height,
      width,
      frames: o.frames !== undefined ? int('--frames', o.frames) : entry.defaultFrames,
      iters: int('--iters', o.iters),
      videoLength: int('--video-length', o.videoLength),
    };
    if (o.forward) validateForward(entry, fo);
    return { model: entry.name, fo };
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError((e as Error).message);
  }
}

/** The configured networks to analyze: the trained one (local frames) and the discriminator (whole clip). */
function configuredModels(cfg: TrainConfig): Array<{ name: string; frames: number }> {
  const d = cfg.datasets.train;
  const out = [{ name: cfg.networks.generator, frames: d.num_local_frames }];
  if (cfg.networks.discriminator !== 'none') out.push({ name: cfg.networks.discriminator, frames: d.num_local_frames + d.num_ref_frames });
  return out;
}

const command: CliCommand = {
  name: 'analyze',
  description: 'parameters per module, multiply-accumulates and peak activation memory of one representative forward of a model; with --config/--checkpoint the configured networks and a checkpoint\'s weight statistics',
  configure: (cmd) =>
    cmd
      .option('--model <name>', `${MODEL_NAMES.join(' | ')}`)
      .option('--config <file>', 'a training config: analyze the networks it trains (instead of --model)')
      .option('--checkpoint <ckpt>', 'with --config: load these weights (run folder, checkpoint file, official gen_/opt_NNNNNN.pth set or a weights file) and report per-module weight statistics, iteration and optimizer state')
      .option('--size <HxW>', `frame size, height x width (default ${DEFAULT_FORWARD.height}x${DEFAULT_FORWARD.width}, or the config's)`)
      .option('--frames <n>', 'clip frames (flowcomp: T, T−1 flows; propainter: local frames; discriminator, i3d: T; raft: ignored)')
      .option('--iters <n>', 'RAFT refinement iterations', String(DEFAULT_FORWARD.iters))
      .option('--video-length <n>', 'propainter: video length that decides the reference frames (inference_propainter.py rules)', String(DEFAULT_FORWARD.videoLength))
      .option('--json', 'print the analysis as JSON')
      .option('--no-forward', 'parameter table only (no forward pass)')
      .option('--no-probe', 'on wasm, run the requested size without first estimating its memory from smaller runs')
      .option('--estimate', 'never run the requested size: estimate MACs and memory from smaller probe runs')
      .option('--depth <n>', 'parameter table depth (module path components)')
      .option('--kernels <n>', 'zero-MAC kernels listed by time in the text report', '8')
      .option('--backend <name>', 'tensorflow | wasm | cpu (default: best available)')
      .action(async (o: AnalyzeCliOptions) => {
        if (o.checkpoint && !o.config) throw new UserError('--checkpoint needs --config CONFIG (the networks to load it into)');
        if (o.config && o.model) throw new UserError('give --model or --config, not both');
        let cfg: TrainConfig | null = null;
        if (o.config) {
          try {
            cfg = loadConfig(o.config);
          } catch (e) {
            throw new UserError((e as Error).message);
          }
        }
        // Every option checked before any model is built.
        const size = cfg ? `${cfg.datasets.train.height}x${cfg.datasets.train.width}` : undefined;
        const targets = cfg
          ? configuredModels(cfg).filter((m) => isModelName(m.name)).map((m) => parseAnalyzeOptions({ ...o, model: m.name, size: o.size ?? size, frames: o.frames ?? String(m.frames) }))
          : [parseAnalyzeOptions(o)];
        const depth = o.depth !== undefined ? int('--depth', o.depth) : undefined;
        const rt = await initRuntime({ backend: o.backend });
        let diagnosis: CheckpointDiagnosis | null = null;
        if (cfg && o.checkpoint) {
          try {
            diagnosis = diagnoseCheckpoint(cfg, o.checkpoint, depth ?? 1);
          } catch (e) {
            throw new UserError((e as Error).message);
          }
        }
        const analyses: Analysis[] = [];
        for (const { model, fo } of targets) {
          const a = await analyzeModel(model, {
            ...fo,
            forward: o.forward,
            mode: o.estimate ? 'estimate' : o.probe ? 'auto' : 'run',
            depth,
            log: (m) => console.error(`[analyze ${model} on ${rt.backend}] ${m}`),
          });
          analyses.push(a);
          if (!a.matchesOfficial) {
            console.error(`error: ${model} has ${a.totalParams} parameters, the official model ${a.officialParams}`);
            process.exitCode = 1;
          }
        }
        if (cfg) {
          const skipped = configuredModels(cfg).filter((m) => !isModelName(m.name)).map((m) => `${m.name}: not in the model zoo, no parameter/MAC analysis`);
          if (o.json) console.log(JSON.stringify({ config: o.config, analyses, checkpoint: diagnosis, notes: skipped }, null, 2));
          else console.log([...analyses.map((a) => formatAnalysis(a, { kernels: int('--kernels', o.kernels) })), ...(diagnosis ? [formatDiagnosis(diagnosis)] : []), ...skipped].join('\n\n'));
        } else console.log(o.json ? analysisJson(analyses[0]) : formatAnalysis(analyses[0], { kernels: int('--kernels', o.kernels) }));
      }),
};
export default command;
