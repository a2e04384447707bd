import type { CliCommand } from '../command';
import { UserError } from '../command';
import { BackendName, initRuntime } from '../../runtime';
import { analysisJson, analyzeModel, DEFAULT_FORWARD, formatAnalysis } from '../../models/analyze';
import { ForwardOptions, MODEL_NAMES, getZooEntry, parseSize, validateForward } from '../../models/zoo';

interface AnalyzeCliOptions {
  model?: string;
  size: string;
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
  if (!o.model) throw new UserError(`--model is required; valid models: ${MODEL_NAMES.join(', ')}`);
  try {
    const entry = getZooEntry(o.model);
    const { height, width } = parseSize(o.size);
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

const command: CliCommand = {
  name: 'analyze',
  description: 'parameters per module, multiply-accumulates and peak activation memory of one representative forward of a model',
  configure: (cmd) =>
    cmd
      .option('--model <name>', `${MODEL_NAMES.join(' | ')}`)
      .option('--size <HxW>', 'frame size, height x width', `${DEFAULT_FORWARD.height}x${DEFAULT_FORWARD.width}`)
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
        const { model, fo } = parseAnalyzeOptions(o);
        const depth = o.depth !== undefined ? int('--depth', o.depth) : undefined;
        const rt = await initRuntime({ backend: o.backend });
        const a = await analyzeModel(model, {
          ...fo,
          forward: o.forward,
          mode: o.estimate ? 'estimate' : o.probe ? 'auto' : 'run',
          depth,
          log: (m) => console.error(`[analyze ${model} on ${rt.backend}] ${m}`),
        });
        console.log(o.json ? analysisJson(a) : formatAnalysis(a, { kernels: int('--kernels', o.kernels) }));
        if (!a.matchesOfficial) {
          console.error(`error: ${model} has ${a.totalParams} parameters, the official model ${a.officialParams}`);
          process.exitCode = 1;
        }
      }),
};
export default command;
