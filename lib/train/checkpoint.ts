/**
 * Training checkpoints: everything needed to continue exactly — generator (or flow net),
 * discriminator, both optimizers, iteration, data-sampler RNG state, config — as safetensors +
 * JSON in the experiment folder, `NNNNNN` = zero-padded iteration:
 *   gen_NNNNNN.safetensors, dis_NNNNNN.safetensors, opt_NNNNNN.safetensors, state_NNNNNN.json,
 *   latest.json (points at the newest complete checkpoint; written last).
 * Every file is written atomically and the pointer only after all of them, so an interrupted save
 * leaves the previous checkpoint in effect.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { StateDict } from '../io/host-tensor';
import { readSafetensors, writeSafetensors } from '../io/safetensors';
import { writeJsonAtomic } from '../io/atomic';

export interface TrainingState {
  iteration: number;
  epoch: number;
  /** Opaque JSON state of data samplers / RNGs. */
  rng: unknown;
  config: unknown;
  /** Running-average bookkeeping etc. */
  extra?: Record<string, unknown>;
}

export interface CheckpointContents {
  gen: StateDict;
  dis?: StateDict;
  /** Optimizer states, keyed by optimizer name ('G', 'D'). */
  optimizers: Record<string, StateDict>;
  state: TrainingState;
}

export const pad6 = (n: number) => String(n).padStart(6, '0');

export function saveCheckpoint(dir: string, c: CheckpointContents): string {
  fs.mkdirSync(dir, { recursive: true });
  const tag = pad6(c.state.iteration);
  const meta = { format: 'propainter-ts checkpoint v1', iteration: String(c.state.iteration) };
  writeSafetensors(path.join(dir, `gen_${tag}.safetensors`), c.gen, meta);
  if (c.dis) writeSafetensors(path.join(dir, `dis_${tag}.safetensors`), c.dis, meta);
  const opt: StateDict = new Map();
  for (const [name, sd] of Object.entries(c.optimizers)) for (const [k, v] of sd) opt.set(`${name}.${k}`, v);
  writeSafetensors(path.join(dir, `opt_${tag}.safetensors`), opt, meta);
  const statePath = path.join(dir, `state_${tag}.json`);
  writeJsonAtomic(statePath, c.state);
  writeJsonAtomic(path.join(dir, 'latest.json'), { iteration: c.state.iteration, state: path.basename(statePath) });
  return statePath;
}

/** The iteration a latest.json points at; an unreadable file is an error naming it. */
export function latestIteration(file: string): number {
  let it: unknown;
  try {
    it = (JSON.parse(fs.readFileSync(file, 'utf8')) as { iteration?: unknown }).iteration;
  } catch (e) {
    throw new Error(`${file}: unreadable (${(e as Error).message})`);
  }
  if (!Number.isInteger(it) || (it as number) < 0) throw new Error(`${file}: no valid "iteration"`);
  return it as number;
}

/**
 * Resolves `--resume` (an experiment folder, its latest.json, or a state_NNNNNN.json / any
 * NNNNNN-tagged checkpoint file) to the state file of a complete checkpoint.
 */
export function resolveCheckpoint(target: string): string {
  if (!fs.existsSync(target)) throw new Error(`checkpoint not found: ${target}`);
  let dir = target;
  let tag: string | null = null;
  if (fs.statSync(target).isDirectory()) {
    const latest = path.join(target, 'latest.json');
    if (!fs.existsSync(latest)) throw new Error(`${target}: no latest.json (no complete checkpoint in this folder)`);
    tag = pad6(latestIteration(latest));
  } else {
    dir = path.dirname(target);
    if (path.basename(target) === 'latest.json') tag = pad6(latestIteration(target));
    else {
      const m = /_(\d{6,})\.(safetensors|json)$/.exec(path.basename(target));
      if (!m) throw new Error(`${target}: not a checkpoint file (expected gen_/dis_/opt_/state_NNNNNN)`);
      tag = m[1];
    }
  }
  const state = path.join(dir, `state_${tag}.json`);
  for (const f of [state, path.join(dir, `gen_${tag}.safetensors`), path.join(dir, `opt_${tag}.safetensors`)]) {
    if (!fs.existsSync(f)) throw new Error(`incomplete checkpoint ${tag} in ${dir}: ${path.basename(f)} is missing`);
  }
  return state;
}

export function loadCheckpoint(target: string): CheckpointContents {
  const statePath = resolveCheckpoint(target);
  const dir = path.dirname(statePath);
  const tag = /state_(\d+)\.json$/.exec(statePath)![1];
  const state = JSON.parse(fs.readFileSync(statePath, 'utf8')) as TrainingState;
  const gen = readSafetensors(path.join(dir, `gen_${tag}.safetensors`)).tensors;
  const disPath = path.join(dir, `dis_${tag}.safetensors`);
  const dis = fs.existsSync(disPath) ? readSafetensors(disPath).tensors : undefined;
  const optimizers: Record<string, StateDict> = {};
  for (const [k, v] of readSafetensors(path.join(dir, `opt_${tag}.safetensors`)).tensors) {
    const dot = k.indexOf('.');
    const name = k.slice(0, dot);
    (optimizers[name] ??= new Map()).set(k.slice(dot + 1), v);
  }
  return { gen, dis, optimizers, state };
}
