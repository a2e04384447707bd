/**
 * `propainter train`: the config file and `--set` overrides (these fail while parsing, before a
 * backend starts or a run folder is made), then run folders and checkpoints (corrupt, another
 * model's, another run's, past total_iter), a step that cannot fit the wasm heap, and unreadable
 * training frames.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, HostileRow, lit, Sandbox } from '../harness';
import { writeSafetensors } from '../../../lib/io/safetensors';
import { writeSynthDataset } from '../../../lib/data/prepare';

const QUICK = path.join(ROOT, 'configs', 'quick_flowcomp.json');
const QUICK_PROPAINTER = path.join(ROOT, 'configs', 'quick_propainter.json');

/** The quick flow-completion config with `edit` applied, written to the sandbox. */
function config(s: Sandbox, edit: (text: string) => string): string {
  return s.write('cfg.json', edit(fs.readFileSync(QUICK, 'utf8')));
}

function train(name: string, args: (s: Sandbox) => string[], error: (s: Sandbox) => RegExp): HostileRow {
  return {
    command: 'train',
    name,
    args: (s) => ['train', ...args(s)],
    error,
    check: () => {
      // In this process: the override must not have reached Object.prototype.
      for (const k of ['polluted', 'x']) assert.equal(({} as Record<string, unknown>)[k], undefined, `Object.prototype.${k}`);
    },
  };
}

/**
 * run/: checkpoints of ours (tiny weight files; these rows fail before weights are used) of the
 * quick flow-completion config at `iterations`, latest.json at the last.
 */
function checkpoints(s: Sandbox, iterations: number[]): void {
  const config = JSON.parse(fs.readFileSync(QUICK, 'utf8'));
  const tiny = new Map([['w', { dtype: 'float32' as const, shape: [1], data: Float32Array.of(0) }]]);
  for (const it of iterations) {
    const tag = String(it).padStart(6, '0');
    s.mkdir('run');
    writeSafetensors(s.at('run', `gen_${tag}.safetensors`), tiny);
    writeSafetensors(s.at('run', `opt_${tag}.safetensors`), new Map([['G.step', { dtype: 'int64' as const, shape: [], data: BigInt64Array.of(BigInt(it)) }]]));
    const state = { iteration: it, epoch: 0, rng: { data: { epoch: 0, batch: it } }, config: { ...config, save_dir: 'run' }, extra: { model: config.model } };
    s.write(`run/state_${tag}.json`, JSON.stringify(state));
  }
  s.write('run/latest.json', JSON.stringify({ iteration: iterations.at(-1), state: `state_${String(iterations.at(-1)).padStart(6, '0')}.json` }));
}

/** data/: one synthetic 32×32 JPEG video with .flo flows, every frame cut in half; cfg.json trains on it into out/run. */
async function truncatedFrames(s: Sandbox, skip: boolean): Promise<string[]> {
  await writeSynthDataset({ out: s.at('data'), videos: 1, frames: 6, width: 32, height: 32, seed: 1, format: 'jpg', floEncoding: 'float32', maxSpeed: 2 });
  const video = s.at('data', 'JPEGImages_32_32', 'synth_0000');
  for (const f of fs.readdirSync(video)) {
    const bytes = fs.readFileSync(path.join(video, f));
    fs.writeFileSync(path.join(video, f), bytes.subarray(0, bytes.length >> 1));
  }
  const cfg = {
    model: 'recurrent_flow_completion',
    save_dir: 'out/run',
    datasets: { train: { root: 'data', width: 32, height: 32, num_local_frames: 3, num_ref_frames: 0, load_flow: true, skip_bad_samples: skip } },
    train: { total_iter: 2, batch_size: 1, log_freq: 1, image_freq: 0 },
  };
  return ['-c', s.write('cfg.json', JSON.stringify(cfg)), '--backend', 'wasm', '--quiet'];
}

function run(name: string, args: (s: Sandbox) => string[] | Promise<string[]>, error: (s: Sandbox) => RegExp, output?: string): HostileRow {
  return { command: 'train', name, args: async (s) => ['train', ...(await args(s))], error, output };
}

const frame = (s: Sandbox) => `${lit(s.at('data', 'JPEGImages_32_32', 'synth_0000'))}/\\d{5}\\.jpg: cannot read image \\(`;

export const rows: HostileRow[] = [
  train('--set __proto__.polluted=1', () => ['-c', QUICK, '--set', '__proto__.polluted=1'], () => /^invalid config: --set __proto__\.polluted=1: '__proto__' is not a config key$/),
  train('--set train.__proto__.polluted=1', () => ['-c', QUICK, '--set', 'train.__proto__.polluted=1'], () => /'__proto__' is not a config key$/),
  train('--set constructor.prototype.x=1', () => ['-c', QUICK, '--set', 'constructor.prototype.x=1'], () => /^invalid config: --set constructor\.prototype\.x=1: 'constructor' is not a config key$/),
  train('--set train.toString=1 (an inherited name, not a key)', () => ['-c', QUICK, '--set', 'train.toString=1'], () => /^.*quick_flowcomp\.json: invalid config: train\.toString: unknown key \(allowed: /),
  train(
    'a config with a "__proto__" key',
    (s) => ['-c', config(s, (t) => t.replace('"train": {', '"train": {\n    "__proto__": { "polluted": 1 },'))],
    (s) => new RegExp(`^${lit(s.at('cfg.json'))}: invalid config: datasets\\.train\\.__proto__: unknown key`),
  ),
  train('a config that is not JSON', (s) => ['-c', s.write('cfg.json', '{"model": ')], (s) => new RegExp(`^${lit(s.at('cfg.json'))}: invalid config: cannot read JSON: Unexpected end of JSON input$`)),
  train('a config that is a folder', (s) => ['-c', s.mkdir('cfg.json')], (s) => new RegExp(`^${lit(s.at('cfg.json'))}: invalid config: cannot read JSON: EISDIR`)),
  train('a missing config', () => ['-c', 'nope.json'], () => /^nope\.json: invalid config: cannot read JSON: ENOENT/),
  run(
    '--resume: a truncated state_*.json',
    (s) => {
      checkpoints(s, [2]);
      s.write('run/state_000002.json', fs.readFileSync(s.at('run/state_000002.json'), 'utf8').slice(0, 50));
      return ['--resume', 'run'];
    },
    () => /^run\/state_000002\.json: not a valid checkpoint state \(.*JSON.*\); the file is damaged — resume from an earlier checkpoint$/,
  ),
  run(
    '--resume: a latest.json that is not JSON',
    (s) => {
      checkpoints(s, [2]);
      s.write('run/latest.json', '{"iteration": 2');
      return ['--resume', 'run'];
    },
    () => /^run\/latest\.json: not a valid checkpoint pointer \(/,
  ),
  run(
    '--resume: a flow-completion checkpoint with a ProPainter config',
    (s) => {
      checkpoints(s, [2]);
      return ['-c', QUICK_PROPAINTER, '--resume', 'run'];
    },
    () => /^run\/state_000002\.json: this checkpoint is a flow-completion model \(recurrent_flow_completion\), the config trains ProPainter \(propainter\); give the config it was trained with$/,
  ),
  run(
    '--resume past train.total_iter',
    (s) => {
      checkpoints(s, [2]);
      return ['--resume', 'run', '--set', 'train.total_iter=1'];
    },
    () => /^run\/state_000002\.json: the checkpoint is at iteration 2, past train\.total_iter 1 — nothing to train; raise it \(--set train\.total_iter=N\)$/,
  ),
  run(
    '--resume from an older checkpoint than latest.json (would overwrite the later ones)',
    (s) => {
      checkpoints(s, [1, 2]);
      return ['--resume', 'run/state_000001.json'];
    },
    () => /^run: iteration 1 is not the newest checkpoint here \(latest\.json: iteration 2\); .* or give --overwrite to delete the checkpoints after 1$/,
  ),
  run(
    '-c into a folder that holds checkpoints (another run)',
    (s) => {
      checkpoints(s, [2]);
      return ['-c', QUICK, '--set', 'save_dir=run'];
    },
    () => /^run: already holds checkpoints \(latest\.json: iteration 2\); continue them with --resume run, or start over with --overwrite \(deletes them\)$/,
  ),
  run(
    'a step that cannot fit the wasm heap (ProPainter at 864×480)',
    () => ['-c', QUICK_PROPAINTER, '--backend', 'wasm', '--set', 'datasets.train.width=864', '--set', 'datasets.train.height=480'],
    () => /^a propainter training step at 864×480 with 3\+1 frames and 1 sample\(s\) needs ~\d+\.\d GiB of wasm heap .*above the 3\.5 GiB budget; train with the tensorflow backend/,
  ),
  run('a truncated JPEG (skip_bad_samples false)', (s) => truncatedFrames(s, false), (s) => new RegExp(`^${frame(s)}`), 'out'),
  run(
    'every frame truncated (skip_bad_samples true)',
    (s) => truncatedFrames(s, true),
    (s) => new RegExp(`^10 unreadable samples in a row \\(the dataset looks broken\\); the last: ${frame(s)}`),
    'out',
  ),
];
